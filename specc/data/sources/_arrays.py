"""Reading NumPy files safely (no pickles) and giving their arrays the models' dtypes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from specc.errors import DataError


def feature_array(array: np.ndarray) -> np.ndarray:
    """Numbers become float32 (the models' input dtype); strings stay strings."""
    if array.dtype.kind in "biuf":
        return array.astype(np.float32)
    if array.dtype.kind in "US":
        return array.astype(str).astype(object)
    return array


def label_array(array: np.ndarray) -> np.ndarray:
    """Whole-number labels become int64 class ids; other numbers float32."""
    if array.dtype.kind in "biu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array


def load_npy(path: Path, text: str) -> Any:
    """The array of an .npy file, or the NpzFile of an .npz archive (numpy.load's own answer)."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if not (magic.startswith(b"\x93NUMPY") or magic.startswith(b"PK")):
        raise DataError(f"{text}: not a NumPy .npy / .npz file",
                        hint="write it with numpy.save / numpy.savez")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise DataError(f"{text}: cannot read the array ({err})",
                        hint="save it with numpy.save / numpy.savez without object arrays") from None
    except (OSError, EOFError) as err:
        raise DataError(f"{text}: not a NumPy file or truncated ({err})") from None
