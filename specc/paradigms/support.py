"""The support set of `specc predict RUN --with support=...`: a few labelled examples of the
classes a few-shot model is to tell apart (typically classes it never saw in training).

The setting is a path (an .npz with `x` and `y`, or a folder with one sub-folder of images
per class, read at the model's input size) or a `data.source` mapping (e.g. a CSV with its
label column), relative to the working directory as `--input` is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from specc.data.sources import load_source
from specc.data.table import Table
from specc.errors import DataError, UsageError

KEY = "--with support"


def support_source(value: Any, shape: list) -> dict:
    """The data source a `support` setting names; `shape` is the model's input shape.

    Raises:
        UsageError: Neither a source mapping nor a path predict can read as a support set.
    """
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value:
        raise UsageError(f"{KEY}: expected a path or a data source mapping, got {value!r}",
                         "e.g. --with support=support.npz (arrays x and y)")
    path = Path(value)
    if path.is_dir():
        color = "grayscale" if len(shape) > 2 and shape[2] == 1 else "rgb"
        return {"image_folder": {"path": value, "size": list(shape[:2]), "color": color}}
    if path.suffix.lower() == ".npz":
        return {"npz": {"path": value, "features": "x", "labels": "y"}}
    if path.suffix.lower() == ".csv":
        raise UsageError(f"{KEY}={value}: a CSV file needs its label column named",
                         f"--with 'support={{csv: {{path: {value}, label: LABEL_COLUMN}}}}'")
    raise UsageError(f"{KEY}={value}: not an .npz file, an image folder or a data source mapping",
                     "e.g. --with support=support.npz (arrays x and y)")


def load_support(value: Any, shape: list) -> tuple:
    """(table, class ids, class names) of a support set: the names are its folder names or
    string labels, else its integer class ids themselves.

    Raises:
        UsageError, DataError: It cannot be read, or has fewer than 2 classes.
    """
    table = load_source(support_source(value, shape), Path.cwd(), 0, key=KEY)
    labels = _one_label_array(table)
    if labels.dtype.kind in "iu":
        ids = labels.astype(np.int64)
        present = np.unique(ids)
        names = [_name(table, int(c)) for c in present]
    else:
        names_array, ids = np.unique(labels.astype(str), return_inverse=True)
        names = [str(n) for n in names_array]
    if len(np.unique(ids)) < 2:
        raise DataError(f"{table.origin}: a support set needs at least 2 classes to choose between, "
                        f"found {len(np.unique(ids))}", hint="give a few labelled examples of each class")
    return table, ids, names


def _one_label_array(table: Table) -> np.ndarray:
    labels = table.labels
    if isinstance(labels, dict) and len(labels) == 1:
        labels = next(iter(labels.values()))
    if labels is None or isinstance(labels, dict) or np.asarray(labels).ndim != 1:
        raise DataError(f"{table.origin}: a support set needs one class label per sample",
                        hint="an .npz with arrays x (samples) and y (their classes)")
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            raise DataError(f"{table.origin}: the support labels are not class ids or names")
        labels = labels.astype(np.int64)
    return labels


def _name(table: Table, class_id: int) -> Any:
    names = table.class_names
    return str(names[class_id]) if names and 0 <= class_id < len(names) else class_id
