#!/usr/bin/env python3
"""Make the float reference fixtures the Rust tests compare against.

Each model fixture is a folder under tests/fixtures/models/<name>/ holding a
checkpoint exactly as `save_pretrained` (or timm's `save_for_hf`) writes it,
`inputs.npy` (N, C, H, W) float32 pixel values, and the reference outputs of
HF transformers (or timm) in float32: `logits.npy`, `pooler_output.npy`,
`last_hidden_state.npy`, `hidden_states_<i>.npy`.

Weights are randomised with realistic magnitudes: HF's own init sets the layer
scale to 1e-6, which makes every block nearly the identity and hides bugs.

Preprocessing fixtures (tests/fixtures/preprocess/) are real photos from
scikit-image run through HF's Pillow-based ConvNeXt image processor.

    python3 scripts/make_fixtures.py --out tests/fixtures          # the small, committed set
    python3 scripts/make_fixtures.py --big /tmp/big                # + tiny-224 (28M params), on demand
    python3 scripts/make_fixtures.py --only backbone_v2            # just the backbone and V2 cases
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import transformers
from transformers import (ConvNextBackbone, ConvNextConfig, ConvNextForImageClassification,
                          ConvNextModel, ConvNextV2Backbone, ConvNextV2Config,
                          ConvNextV2ForImageClassification, ConvNextV2Model)


def randomise(model, seed):
    """Replace every parameter with values of realistic size."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_scale" in name or name.endswith("gamma"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.8 + 0.2)
            elif ".grn." in name:
                # GRN is zero-initialised (the identity); make it matter.
                scale = 0.5 if name.endswith("weight") else 0.1
                p.copy_(scale * torch.randn(p.shape, generator=g))
            elif p.ndim == 1 and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


def round_to(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())


def save_inputs(out, inputs):
    """`inputs.npy`, and the processor that says what they are: pixel_values
    at the checkpoint's own size (no resize), normalised with HF's class
    defaults (mean = std = 0.5), so u8 images made from them (x * 0.5 + 0.5)
    are the int8 network's camera input."""
    from transformers import ConvNextImageProcessor
    np.save(os.path.join(out, "inputs.npy"), inputs.numpy().astype(np.float32))
    c = inputs.shape[1]
    ConvNextImageProcessor(do_resize=False, image_mean=[0.5] * c,
                           image_std=[0.5] * c).save_pretrained(out)


def save_outputs(out, inputs, logits, pooler, last, hidden):
    save_inputs(out, inputs)
    if logits is not None:
        np.save(os.path.join(out, "logits.npy"), logits.numpy().astype(np.float32))
    np.save(os.path.join(out, "pooler_output.npy"), pooler.numpy().astype(np.float32))
    np.save(os.path.join(out, "last_hidden_state.npy"), last.numpy().astype(np.float32))
    for i, h in enumerate(hidden or []):
        np.save(os.path.join(out, f"hidden_states_{i}.npy"), h.numpy().astype(np.float32))


def hf_case(root, name, cfg, shape, classify=True, labels=10, dtype=torch.float32, seed=0):
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    if classify:
        cfg = dict(cfg, id2label={i: f"class_{i}" for i in range(labels)},
                   label2id={f"class_{i}": i for i in range(labels)})
    config = ConvNextConfig(**cfg)
    model = (ConvNextForImageClassification if classify else ConvNextModel)(config).eval()
    randomise(model, seed)
    if dtype != torch.float32:
        round_to(model, dtype)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        base = model.convnext if classify else model
        o = base(x, output_hidden_states=True)
        logits = model.classifier(o.pooler_output) if classify else None
        if classify:
            assert torch.allclose(logits, model(x).logits)
    save_outputs(out, x, logits, o.pooler_output, o.last_hidden_state, o.hidden_states)
    model.to(dtype).save_pretrained(out)
    print(name, "params", sum(p.numel() for p in model.parameters()), "input", tuple(shape))


def save_feature_maps(out, names, maps):
    for stage, m in zip(names, maps):
        np.save(os.path.join(out, f"feature_maps_{stage}.npy"), m.numpy().astype(np.float32))


def v2_case(root, name, cfg, shape, kind="classify", labels=10, seed=0):
    """A ConvNeXt V2 (GRN, no layer scale): classifier, base model or backbone."""
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    if kind == "classify":
        cfg = dict(cfg, id2label={i: f"class_{i}" for i in range(labels)},
                   label2id={f"class_{i}": i for i in range(labels)})
    config = ConvNextV2Config(**cfg)
    cls = {"classify": ConvNextV2ForImageClassification, "base": ConvNextV2Model,
           "backbone": ConvNextV2Backbone}[kind]
    model = cls(config).eval()
    randomise(model, seed)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        if kind == "backbone":
            o = model(x, output_hidden_states=True)
            save_inputs(out, x)
            save_feature_maps(out, model.out_features, o.feature_maps)
            for i, h in enumerate(o.hidden_states):
                np.save(os.path.join(out, f"hidden_states_{i}.npy"), h.numpy().astype(np.float32))
        else:
            base = model.convnextv2 if kind == "classify" else model
            o = base(x, output_hidden_states=True)
            logits = model.classifier(o.pooler_output) if kind == "classify" else None
            if logits is not None:
                assert torch.allclose(logits, model(x).logits)
            save_outputs(out, x, logits, o.pooler_output, o.last_hidden_state, o.hidden_states)
    model.save_pretrained(out)
    print(name, "v2", kind, "params", sum(p.numel() for p in model.parameters()), "input", tuple(shape))


def backbone_case(root, name, cfg, shape, seed=0):
    """A ConvNextBackbone with its own (randomised) hidden_states_norms."""
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    model = ConvNextBackbone(ConvNextConfig(**cfg)).eval()
    randomise(model, seed)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        o = model(x, output_hidden_states=True)
    save_inputs(out, x)
    save_feature_maps(out, model.out_features, o.feature_maps)
    for i, h in enumerate(o.hidden_states):
        np.save(os.path.join(out, f"hidden_states_{i}.npy"), h.numpy().astype(np.float32))
    model.save_pretrained(out)
    print(name, "backbone", model.out_features, "input", tuple(shape))


def classifier_as_backbone_case(root, name, cfg, shape, seed=0):
    """A classifier checkpoint whose config names out_features: the feature
    maps are what ConvNextBackbone.from_pretrained makes of it (its
    hidden_states_norms are not in the checkpoint, so they start as the
    identity affine)."""
    hf_case(root, name, cfg, shape, labels=4, seed=seed)
    out = os.path.join(root, name)
    backbone = ConvNextBackbone.from_pretrained(out).eval()
    x = torch.from_numpy(np.load(os.path.join(out, "inputs.npy")))
    with torch.no_grad():
        o = backbone(x)
    save_feature_maps(out, backbone.out_features, o.feature_maps)
    print(name, "as backbone", backbone.out_features)


def timm_case(root, name, model_args, shape, num_classes, seed=0):
    import timm
    from timm.models.convnext import ConvNeXt
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    model = ConvNeXt(num_classes=num_classes, **model_args).eval()
    randomise(model, seed)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        feats = model.forward_features(x)
        pooled = model.forward_head(feats, pre_logits=True)
        logits = model(x)
        hidden = [model.stem(x)]
        for s in model.stages:
            hidden.append(s(hidden[-1]))
    save_outputs(out, x, logits, pooled, feats, hidden)
    model.pretrained_cfg = {"architecture": "convnext_custom", "num_classes": num_classes}
    timm.models.save_for_hf(model, out, model_args=model_args, safe_serialization=True)
    print(name, "timm", timm.__version__, "params", sum(p.numel() for p in model.parameters()))


def timm_pretrained_cfg_case(root, seed=30):
    """A timm ConvNeXt saved as a user would (save_for_hf with a
    pretrained_cfg and label_names, no preprocessor_config.json), a picture,
    and timm's own eval transform and probabilities for it."""
    import timm
    from PIL import Image
    from timm.models.convnext import ConvNeXt
    out = os.path.join(root, "timm_pretrained_cfg")
    os.makedirs(out, exist_ok=True)
    model_args = dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64))
    labels = ["frog", "cat", "dog", "bird", "ship"]
    model = ConvNeXt(num_classes=len(labels), **model_args).eval()
    randomise(model, seed)
    model.pretrained_cfg = dict(architecture="convnext_custom", input_size=(3, 64, 64),
                                interpolation="bicubic", crop_pct=0.875, crop_mode="center",
                                mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                                num_classes=len(labels))
    timm.models.save_for_hf(model, out, model_config=dict(label_names=labels),
                            model_args=model_args, safe_serialization=True)
    # A smooth, non-square picture: resize, crop and normalisation all matter.
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:90, 0:120]
    rgb = np.stack([xx * 2.0, yy * 2.5, (xx + yy) * 1.2], -1) + g.normal(0, 12, (90, 120, 3))
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(os.path.join(out, "picture.png"))
    cfg = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**cfg)
    x = transform(Image.open(os.path.join(out, "picture.png")).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        probs = torch.softmax(model(x), -1)[0]
    np.save(os.path.join(out, "picture_pixel_values.npy"), x.numpy().astype(np.float32))
    with open(os.path.join(out, "picture_probabilities.json"), "w") as f:
        json.dump({"timm": timm.__version__, "transform": repr(transform), "labels": labels,
                   "probabilities": [float(p) for p in probs]}, f, indent=1)
    print("timm_pretrained_cfg", dict(zip(labels, probs.tolist())))


def preprocess_cases(root):
    from skimage import data
    try:
        from transformers import ConvNextImageProcessorPil as Proc
    except ImportError:
        from transformers import ConvNextImageProcessor as Proc
    out = os.path.join(root, "preprocess")
    os.makedirs(out, exist_ok=True)
    photos = {"chelsea": data.chelsea(), "coffee": data.coffee(),
              "astronaut": data.astronaut(), "camera": data.camera()[:, :, None]}
    for k, v in photos.items():
        np.save(os.path.join(out, f"{k}.npy"), np.ascontiguousarray(v.astype(np.uint8)))
    imagenet = dict(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    cases = [
        ("chelsea", "chelsea_224_bicubic", dict(size={"shortest_edge": 224}, crop_pct=0.875, resample=3, **imagenet), True),
        ("coffee", "coffee_160_bilinear", dict(size={"shortest_edge": 160}, crop_pct=0.9, resample=2), True),
        ("astronaut", "astronaut_96_bicubic", dict(size={"shortest_edge": 96}, resample=3), True),
        ("chelsea", "chelsea_384_bilinear", dict(size={"shortest_edge": 384}, resample=2), False),
        ("coffee", "coffee_400_bicubic", dict(size={"shortest_edge": 400}, resample=3), False),
        ("camera", "camera_64_bilinear", dict(size={"shortest_edge": 64}, crop_pct=1.0, resample=2,
                                               image_mean=[0.5], image_std=[0.25]), True),
    ]
    manifest = []
    for photo, name, kw, keep_float in cases:
        img = photos[photo]
        proc = Proc(**kw)
        full = proc(images=img, return_tensors="np", input_data_format="channels_last")["pixel_values"][0]
        raw = Proc(**dict(kw, do_rescale=False, do_normalize=False))(
            images=img, return_tensors="np", input_data_format="channels_last")["pixel_values"][0]
        assert np.all(raw == np.round(raw)), name
        np.save(os.path.join(out, f"{name}.u8.npy"), raw.astype(np.uint8))
        if keep_float:
            np.save(os.path.join(out, f"{name}.npy"), full.astype(np.float32))
        cfg = proc.to_dict()
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(cfg, f, indent=1, default=str)
        manifest.append({"name": name, "photo": photo, "shape": list(full.shape), "float": keep_float})
        print(name, raw.shape, full.dtype)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"processor": Proc.__name__, "transformers": transformers.__version__, "cases": manifest}, f, indent=1)


def backbone_v2_cases(models, small):
    every = ["stem", "stage1", "stage2", "stage3", "stage4"]
    backbone_case(models, "backbone_all", dict(small, out_features=every), (2, 3, 68, 92), seed=20)
    backbone_case(models, "backbone_gray", dict(num_channels=1, patch_size=2, num_stages=3,
                                                hidden_sizes=[16, 24, 32], depths=[1, 2, 1],
                                                out_indices=[0, 2]), (2, 1, 30, 26), seed=21)
    classifier_as_backbone_case(models, "classifier_out_features",
                                dict(small, out_features=["stage1", "stage3"]), (2, 3, 64, 72), seed=22)
    v2_case(models, "v2_classifier", small, (2, 3, 68, 92), seed=23)
    v2_case(models, "v2_base_gray", dict(num_channels=1, patch_size=2, num_stages=3,
                                         hidden_sizes=[16, 24, 32], depths=[1, 2, 1]),
            (2, 1, 28, 36), kind="base", seed=24)
    v2_case(models, "v2_backbone", dict(small, out_features=["stem", "stage2", "stage4"]),
            (1, 3, 64, 64), kind="backbone", seed=25)
    v2_case(models, "v2_relu", dict(small, hidden_act="relu"), (2, 3, 64, 48), labels=5, seed=26)
    # timm's ConvNeXt V2 layout (convnextv2_atto's arguments, smaller).
    timm_case(models, "timm_v2", dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64), use_grn=True,
                                      ls_init_value=None, conv_mlp=True), (2, 3, 64, 64), 5, seed=27)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="tests/fixtures")
    p.add_argument("--only", choices=["backbone_v2", "timm_pretrained_cfg"],
                   help="write only these fixtures")
    p.add_argument("--big", help="also write the tiny-224 (28M params) fixture here")
    a = p.parse_args()
    models = os.path.join(a.out, "models")
    small = dict(hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 2, 1])
    if a.only == "timm_pretrained_cfg":
        timm_pretrained_cfg_case(models)
        return
    backbone_v2_cases(models, small)
    timm_pretrained_cfg_case(models)
    if a.only == "backbone_v2":
        return
    hf_case(models, "narrow_224", dict(hidden_sizes=[16, 32, 64, 128], depths=[3, 3, 9, 3]), (1, 3, 224, 224), labels=1000)
    hf_case(models, "three_stage", dict(num_stages=3, hidden_sizes=[24, 48, 96], depths=[2, 2, 2],
                                        layer_norm_eps=1e-2), (2, 3, 64, 64), labels=7, seed=1)
    hf_case(models, "non_square", small, (2, 3, 100, 76), labels=5, seed=2)
    hf_case(models, "relu", dict(small, hidden_act="relu"), (2, 3, 64, 48), seed=3)
    hf_case(models, "gelu_new", dict(small, hidden_act="gelu_new"), (2, 3, 48, 64), seed=4)
    # transformers 5.x has no "selu" in ACT2FN, so HF cannot build that case.
    hf_case(models, "no_layer_scale", dict(small, layer_scale_init_value=0.0), (2, 3, 64, 64), seed=6)
    hf_case(models, "gray_28", dict(num_channels=1, patch_size=2, num_stages=3, hidden_sizes=[16, 32, 64],
                                    depths=[1, 1, 1]), (3, 1, 28, 28), seed=7)
    hf_case(models, "base_model_f16", small, (2, 3, 64, 64), classify=False, dtype=torch.float16, seed=8)
    hf_case(models, "bf16", small, (2, 3, 64, 64), dtype=torch.bfloat16, seed=9)
    timm_case(models, "timm_conv_mlp", dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64), conv_mlp=True),
              (2, 3, 64, 64), 6, seed=10)
    timm_case(models, "timm_linear_mlp", dict(depths=(1, 1, 1, 1), dims=(16, 32, 48, 64)), (2, 3, 64, 64), 4, seed=11)
    preprocess_cases(a.out)
    if a.big:
        hf_case(a.big, "tiny_224", dict(hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 9, 3]), (2, 3, 224, 224), labels=1000)


if __name__ == "__main__":
    main()
