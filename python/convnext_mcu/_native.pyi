"""Type stubs of the native module (see ``convnext_mcu``)."""

import os
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Error(ValueError):
    """What the engine refuses, with the CLI's message."""

ArrayOrPath = Union[npt.ArrayLike, str, os.PathLike]

class Model:
    """A checkpoint folder: the float reference network."""

    def __init__(self, path: Union[str, os.PathLike]) -> None: ...
    @property
    def labels(self) -> List[str]:
        """The class names, index by index."""
    @property
    def input_size(self) -> Tuple[int, int, int]:
        """``(C, H, W)`` of the pixel_values the processor makes."""
    @property
    def config(self) -> Dict[str, Any]:
        """The checkpoint's ``config.json``."""
    @property
    def path(self) -> str:
        """The checkpoint's folder."""
    def run(
        self,
        pixel_values: npt.ArrayLike,
        precision: str = "f32",
        output: str = "logits",
    ) -> npt.NDArray[np.float32]:
        """The float network's ``output`` ("logits", "pooler_output",
        "last_hidden_state") at ``precision`` ("f32" or "f16") for float32
        pixel_values ``(N, C, H, W)`` or uint8 images ``(N, H, W[, C])``."""
    def feature_maps(
        self,
        pixel_values: npt.ArrayLike,
        out_features: Optional[List[str]] = None,
    ) -> Dict[str, npt.NDArray[np.float32]]:
        """The backbone's feature maps, stage name to ``(N, C, H, W)``."""
    def int8(
        self,
        calibration: Optional[ArrayOrPath] = None,
        calibration_file: Optional[Union[str, os.PathLike]] = None,
        method: str = "percentile:0.9999",
        f16_blocks: int = 0,
    ) -> "Int8":
        """The firmware's int8 network, calibrated or read from a saved
        calibration."""

class Int8:
    """The int8 network of a :class:`Model`, as the firmware computes it."""

    @property
    def logit_scale(self) -> float:
        """A logit is the int32 logit times this."""
    @property
    def input_size(self) -> Tuple[int, int, int]:
        """``(C, H, W)`` of the inputs it was calibrated for."""
    @property
    def labels(self) -> List[str]:
        """The class names, index by index."""
    @property
    def arena_bytes(self) -> int:
        """Bytes of the arena the firmware's ``forward`` needs."""
    @property
    def weights_bytes(self) -> int:
        """Bytes of the parameters."""
    @property
    def macs(self) -> int:
        """Multiply-accumulates of one inference."""
    def run_raw(self, images: npt.ArrayLike) -> npt.NDArray[np.int32]:
        """The firmware's int32 logits ``(N, labels)``, bit for bit."""
    def run(self, images: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """``run_raw`` times ``logit_scale``, float32 ``(N, labels)``."""
    def ops(self) -> List[Dict[str, Any]]:
        """Each op of the plan: name, output shape, MACs, weight bytes,
        arena bytes."""
    def report(self) -> Dict[str, Any]:
        """``convnext report --json`` as a dict (SQNR per op on the
        calibration images)."""
    def save_calibration(self, path: Union[str, os.PathLike]) -> None:
        """Write the calibration as ``convnext calibrate`` does."""
    def compile(self, out_dir: Union[str, os.PathLike], name: str = "model") -> str:
        """Generate the firmware's Rust module; returns its path."""

def read_pictures(paths: List[Union[str, os.PathLike]], channels: int) -> List[npt.NDArray[np.uint8]]:
    """Decode picture files (PNG, JPEG, BMP) as a model with ``channels``
    channels takes them: ``(H, W)`` or ``(H, W, 3)`` uint8 each."""

def default_calibration_method() -> str:
    """The range rule used unless told otherwise."""
