"""`npy`: NumPy .npy files, one per feature group and one for the labels."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from specc.data.checks import existing_path
from specc.data.sources._arrays import feature_array, label_array, load_npy
from specc.data.table import Table
from specc.errors import DataError


def load(spec: dict, context: Any) -> Table:
    """Features (one .npy file, or input name -> file) and optional labels (.npy)."""
    base_dir, key = context.base_dir, context.key
    wanted = spec["features"]
    if isinstance(wanted, dict):
        features = {k: feature_array(npy_file(v, base_dir, f"{key}.npy.features.{k}"))
                    for k, v in wanted.items()}
        origin = next(iter(wanted.values()))
    else:
        features = {"x": feature_array(npy_file(wanted, base_dir, f"{key}.npy.features"))}
        origin = wanted
    label_text = spec.get("labels")
    labels = None
    if label_text:
        labels = label_array(npy_file(label_text, base_dir, f"{key}.npy.labels"))
    n = len(next(iter(features.values())))
    return Table(features=features, labels=labels, origin=origin, label_origin=label_text,
                 rows=np.arange(n, dtype=np.int64))


def npy_file(text: str, base_dir: Path, key: str) -> np.ndarray:
    array = load_npy(existing_path(text, base_dir, key), text)
    if hasattr(array, "files"):
        raise DataError(f"{text}: is an .npz archive, not a single array", hint="use the npz: form")
    if array.ndim == 0:
        raise DataError(f"{text}: holds a single number, not an array of samples")
    return array
