import os
from typing import List, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._native import Error as Error
from ._native import Int8 as Int8
from ._native import Model as Model
from ._native import __version__ as __version__
from ._native import default_calibration_method as default_calibration_method
from ._native import read_pictures as read_pictures

def classify(
    model: Union[Model, str, os.PathLike],
    images: Union[npt.ArrayLike, str, os.PathLike, Sequence[Union[str, os.PathLike]]],
    top: int = 3,
    precision: str = "int8",
) -> List[List[Tuple[str, float]]]: ...
