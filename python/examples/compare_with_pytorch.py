"""Compare a checkpoint's float model in HF transformers (PyTorch) with the
firmware's int8 network in convnext_mcu, on a folder of pictures.

    pip install ./python torch transformers pillow
    python python/examples/compare_with_pytorch.py models/fmnist-convnext PICTURES_DIR

Prints the top-1 agreement, the logit SQNR and the pictures the two
disagree on. Each picture goes to PyTorch through the checkpoint's image
processor, and to the int8 network as the u8 pixels a camera would give
(convnext_mcu resizes them as that processor does).
"""

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

import convnext_mcu

PICTURES = {".png", ".jpg", ".jpeg", ".bmp"}


def main(model_dir: str, pictures: str) -> None:
    files = sorted(p for p in Path(pictures).iterdir() if p.suffix.lower() in PICTURES)
    if not files:
        sys.exit(f"{pictures}: no .png, .jpg or .bmp pictures")
    processor = AutoImageProcessor.from_pretrained(model_dir)
    reference = AutoModelForImageClassification.from_pretrained(model_dir).eval()
    q = convnext_mcu.Model(model_dir).int8()
    channels = q.input_size[0]
    labels = q.labels
    signal = noise = 0.0
    disagree = []
    for f in files:
        picture = Image.open(f).convert("L" if channels == 1 else "RGB")
        with torch.no_grad():
            inputs = processor(images=picture, return_tensors="pt")
            want = reference(**inputs).logits[0].numpy().astype(np.float64)
        got = q.run(np.asarray(picture)[None])[0].astype(np.float64)
        signal += float(np.sum(want**2))
        noise += float(np.sum((want - got) ** 2))
        if want.argmax() != got.argmax():
            disagree.append((f.name, labels[int(want.argmax())], labels[int(got.argmax())]))
    n = len(files)
    sqnr = 10 * np.log10(signal / noise) if noise > 0 else float("inf")
    print(f"{n} pictures: top-1 agreement {100 * (n - len(disagree)) / n:.2f} %, logit SQNR {sqnr:.1f} dB")
    for name, a, b in disagree:
        print(f"  {name}: PyTorch {a}, int8 {b}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
