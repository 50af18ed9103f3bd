"""Reading NumPy files safely (no pickles) and giving their arrays the models' dtypes."""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from specc.errors import DataError
from specc.shown import shown_value


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
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{text}: not a NumPy file or truncated ({type(err).__name__})",
                        hint="write it again with numpy.save / numpy.savez") from None


def archive_array(archive: Any, name: str, text: str) -> np.ndarray:
    """One array of an .npz archive: numpy reads it only now, so a damaged member or an object
    array shows here."""
    try:
        return archive[name]
    except ValueError:
        raise DataError(f"{text}: array {shown_value(name)} holds Python objects (an object array), which "
                        "numpy reads only through a pickle",
                        hint="save numbers or strings (e.g. array.astype('float32')); specc loads no pickles") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DataError(f"{text}: array {shown_value(name)} cannot be read ({type(err).__name__}): the archive "
                        "is truncated or damaged", hint="write it again with numpy.savez") from None
