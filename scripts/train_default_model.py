#!/usr/bin/env python3
"""Train the bundled default model: an HF `ConvNextForImageClassification` on
Fashion-MNIST, sized for a microcontroller (int8 weights <= 512 KiB, largest
activation <= 32 KiB).

Data: the official IDX files from Debian's `dataset-fashion-mnist`
(/usr/share/datasets/fashion-mnist), or any folder given with --data.
The 60k training split is divided (seeded) into 55k for training and 5k for
validation; configurations are compared on validation only. The 10k test split
is used once, for the numbers in the model card.

    python3 scripts/train_default_model.py train --name c40 --widths 40 80 160 \
        --depths 2 2 1 --patch 2 --epochs 100 --out runs/c40
    python3 scripts/train_default_model.py export --run runs/c40 \
        --out models/fmnist-convnext

Deterministic for a given seed, device and library versions (cuDNN may pick
different algorithms on other GPUs). Runs on a CPU too, only slower.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from transformers import (AutoModelForImageClassification, ConvNextConfig,
                          ConvNextForImageClassification, ConvNextV2Config,
                          ConvNextV2ForImageClassification)

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Mean and std of the training pixels (rescaled to 0..1).
MEAN, STD = 0.2860, 0.3530
VAL_IMAGES = 5000
CALIBRATION_IMAGES = 512


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = load_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    y = load_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    return x, y


def train_val_indices(n, seed=0):
    perm = np.random.default_rng(seed).permutation(n)
    return perm[VAL_IMAGES:], perm[:VAL_IMAGES]


def normalize(u8, device):
    """Same arithmetic as the image processor: rescale in f64, cast, normalize in f32."""
    x = torch.tensor((u8.astype(np.float64) * (1 / 255)).astype(np.float32), device=device)
    return ((x - np.float32(MEAN)) / np.float32(STD)).unsqueeze(1)


def augment(x, gen):
    """Random 2-pixel translation (background fill) and horizontal flip, on device."""
    b, _, h, w = x.shape
    pad = 2
    bg = (0.0 - MEAN) / STD
    padded = F.pad(x, (pad, pad, pad, pad), value=bg)
    dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=gen)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]
    out = padded[torch.arange(b, device=x.device)[:, None, None], 0, rows, cols].unsqueeze(1)
    flip = torch.rand(b, device=x.device, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


@torch.no_grad()
def accuracy(model, x, y, bs=2000):
    model.eval()
    correct = 0
    for i in range(0, len(x), bs):
        correct += (model(x[i:i + bs]).logits.argmax(-1) == y[i:i + bs]).sum().item()
    return correct / len(x)


def cmd_train(a):
    torch.manual_seed(a.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    xtr_u8, ytr_all = load_split(a.data, "train")
    xte_u8, yte = load_split(a.data, "test")
    tr_idx, va_idx = train_val_indices(len(xtr_u8))
    xtr = normalize(xtr_u8[tr_idx], device)
    ytr = torch.tensor(ytr_all[tr_idx].astype(np.int64), device=device)
    xva = normalize(xtr_u8[va_idx], device)
    yva = torch.tensor(ytr_all[va_idx].astype(np.int64), device=device)
    xte = normalize(xte_u8, device)
    yte_t = torch.tensor(yte.astype(np.int64), device=device)

    common = dict(
        num_channels=1, patch_size=a.patch, num_stages=len(a.widths),
        hidden_sizes=a.widths, depths=a.depths, hidden_act="gelu",
        drop_path_rate=a.drop_path, image_size=28,
        id2label={i: c for i, c in enumerate(CLASSES)},
        label2id={c: i for i, c in enumerate(CLASSES)},
    )
    # V2: GRN in every block, no layer scale.
    if a.v2:
        config, cls = ConvNextV2Config(**common), ConvNextV2ForImageClassification
    else:
        config, cls = ConvNextConfig(**common, layer_scale_init_value=1e-6), ConvNextForImageClassification
    model = cls(config).to(device)
    ema = cls(config).to(device)
    ema.load_state_dict(model.state_dict())
    ema.eval()
    n_params = sum(p.numel() for p in model.parameters())

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr,
                            fused=device == "cuda")
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    steps_per_epoch = len(xtr) // a.batch
    total = steps_per_epoch * a.epochs
    warmup = steps_per_epoch * a.warmup_epochs

    def lr_at(step):
        if step < warmup:
            return a.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return a.lr * 0.5 * (1 + math.cos(math.pi * t))

    log = []
    t0 = time.time()
    step = 0
    epochs = a.epochs
    epoch = 0
    while epoch < epochs:
        model.train()
        perm = torch.randperm(len(xtr), device=device, generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * a.batch:(i + 1) * a.batch]
            xb = augment(xtr[idx], gen)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = F.cross_entropy(model(xb).logits, ytr[idx], label_smoothing=a.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                d = min(a.ema, (1 + step) / (10 + step))
                torch._foreach_lerp_(ema_params, model_params, 1 - d)
            step += 1
        if epoch == 0 and a.time_budget:
            # Fit the schedule to the time budget; the total only matters after warmup.
            epochs = max(a.warmup_epochs + 1, min(a.epochs, int(a.time_budget / (time.time() - t0))))
            total = steps_per_epoch * epochs
            print(a.name, "epochs", epochs, flush=True)
        epoch += 1
        if epoch % 10 == 0 or epoch == epochs:
            entry = {"epoch": epoch, "loss": loss.item(), "val_acc": accuracy(model, xva, yva),
                     "val_acc_ema": accuracy(ema, xva, yva), "seconds": time.time() - t0}
            log.append(entry)
            print(a.name, json.dumps(entry), flush=True)
    seconds = time.time() - t0
    result = {
        "name": a.name, "widths": a.widths, "depths": a.depths, "patch": a.patch,
        "params": n_params, "epochs": epochs, "batch": a.batch, "lr": a.lr,
        "seconds": seconds, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "val_acc_ema": accuracy(ema, xva, yva), "val_acc": accuracy(model, xva, yva),
        "test_acc_ema": accuracy(ema, xte, yte_t), "log": log,
        "torch": torch.__version__,
    }
    os.makedirs(a.out, exist_ok=True)
    ema.save_pretrained(a.out)
    with open(os.path.join(a.out, "train_result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(a.name, "done", json.dumps({k: v for k, v in result.items() if k != "log"}), flush=True)


def image_processor():
    try:
        from transformers import ConvNextImageProcessorPil as Proc
    except ImportError:
        from transformers import ConvNextImageProcessor as Proc
    # The 28x28 images pass through resize unchanged (crop_pct 1 -> shortest edge
    # 28 -> crop 28); other sizes, e.g. from a camera, are scaled like HF does.
    return Proc(size={"shortest_edge": 28}, crop_pct=1.0, resample=2, do_resize=True,
                do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                image_mean=[MEAN], image_std=[STD])


def cmd_export(a):
    # Reference logits are computed on the CPU in strict f32: on a GPU, cuDNN's
    # convolutions use TF32 by default and drift ~4e-4 from true f32.
    device = "cpu"
    model = AutoModelForImageClassification.from_pretrained(a.run).to(device).eval()
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out)
    proc = image_processor()
    proc.save_pretrained(a.out)
    xtr_u8, _ = load_split(a.data, "train")
    xte_u8, yte = load_split(a.data, "test")
    tr_idx, _ = train_val_indices(len(xtr_u8))
    cal = xtr_u8[np.sort(tr_idx[:CALIBRATION_IMAGES])]
    np.save(os.path.join(a.out, "calibration_images.npy"), cal)
    np.save(os.path.join(a.out, "test_images.npy"), xte_u8)
    np.save(os.path.join(a.out, "test_labels.npy"), yte)
    # Reference logits: HF's own processor, then the float model.
    pix = proc(images=[im[:, :, None] for im in xte_u8], return_tensors="np",
               input_data_format="channels_last")["pixel_values"].astype(np.float32)
    mine = normalize(xte_u8, "cpu").numpy()
    print("processor vs manual normalize max diff", float(np.abs(pix - mine).max()), pix.shape)
    logits = []
    with torch.no_grad():
        for i in range(0, len(pix), 1000):
            logits.append(model(torch.tensor(pix[i:i + 1000], device=device)).logits.float().cpu().numpy())
    logits = np.concatenate(logits)
    np.save(os.path.join(a.out, "test_logits.npy"), logits)
    acc = float((logits.argmax(-1) == yte).mean())
    print("export test accuracy", acc)
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump({"test_images": int(len(yte)), "f32_accuracy": acc,
                   "calibration_images": int(len(cal)),
                   "transformers": __import__("transformers").__version__,
                   "torch": torch.__version__}, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--name", default="run")
    t.add_argument("--widths", type=int, nargs="+", default=[40, 80, 160])
    t.add_argument("--depths", type=int, nargs="+", default=[2, 2, 1])
    t.add_argument("--patch", type=int, default=2)
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--batch", type=int, default=256)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--weight-decay", type=float, default=0.05)
    t.add_argument("--warmup-epochs", type=int, default=3)
    t.add_argument("--drop-path", type=float, default=0.1)
    t.add_argument("--label-smoothing", type=float, default=0.1)
    t.add_argument("--ema", type=float, default=0.999)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--v2", action="store_true", help="ConvNeXt V2 (GRN, no layer scale)")
    t.add_argument("--time-budget", type=float, default=0.0,
                   help="seconds: cut the epoch count so training ends within it")
    t.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    t.add_argument("--out", required=True)
    e = sub.add_parser("export")
    e.add_argument("--run", required=True)
    e.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    e.add_argument("--out", required=True)
    a = p.parse_args()
    {"train": cmd_train, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()
