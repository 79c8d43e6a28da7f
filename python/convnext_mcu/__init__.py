"""ConvNeXt on microcontrollers, from Python.

``Model(path)`` loads a checkpoint folder (``config.json`` and
``model.safetensors``, as ``save_pretrained`` writes them) and runs the
float reference, the numbers HF transformers computes. ``Model.int8()``
calibrates the firmware's int8 network, whose ``run_raw`` returns the int32
logits a Cortex-M board computes, bit for bit.

    >>> import convnext_mcu, numpy as np
    >>> m = convnext_mcu.Model("models/fmnist-convnext")
    >>> q = m.int8()
    >>> images = np.load("models/fmnist-convnext/test_images.npy")[:8]
    >>> q.run_raw(images).shape
    (8, 10)
"""

from __future__ import annotations

import os
from typing import List, Sequence, Tuple, Union

import numpy as np

from ._native import Error, Int8, Model, __version__, default_calibration_method, read_pictures

__all__ = [
    "Error",
    "Int8",
    "Model",
    "__version__",
    "classify",
    "default_calibration_method",
    "read_pictures",
]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classify(
    model: Union[Model, str, os.PathLike],
    images: Union[np.ndarray, str, os.PathLike, Sequence[Union[str, os.PathLike]]],
    top: int = 3,
    precision: str = "int8",
) -> List[List[Tuple[str, float]]]:
    """The ``top`` classes of each image, most probable first, as
    ``(label, probability)`` pairs.

    ``model`` is a :class:`Model` or a checkpoint folder; ``images`` are
    uint8 images ``(N, H, W[, C])``, float32 pixel_values ``(N, C, H, W)``,
    a ``.npy`` file of either, or picture files (PNG, JPEG, BMP; one path or
    a list), each resized as the model's processor says. ``precision`` is
    ``"int8"`` (the firmware's network, calibrated on the folder's
    calibration images), ``"f16"`` or ``"f32"``.
    """
    if not isinstance(model, Model):
        model = Model(os.fspath(model))
    if top < 1:
        raise Error(f"top={top}: expected at least 1")
    if precision == "int8":
        run = model.int8().run
    elif precision in ("f32", "f16"):
        def run(x):
            return model.run(x, precision=precision)
    else:
        raise Error(f'precision {precision!r}: expected "int8", "f16" or "f32"')
    if isinstance(images, (str, os.PathLike)):
        path = os.fspath(images)
        images = np.load(path) if path.endswith(".npy") else [path]
    if isinstance(images, np.ndarray):
        logits = run(images)
    else:
        # Pictures, each at its own size until the processor resizes it.
        pictures = read_pictures([os.fspath(p) for p in images], model.input_size[0])
        logits = np.concatenate([run(p[None]) for p in pictures])
    probs = _softmax(np.asarray(logits))
    labels: Sequence[str] = model.labels
    out = []
    for p in probs:
        order = np.argsort(-p, kind="stable")[:top]
        out.append([(labels[i], float(p[i])) for i in order])
    return out
