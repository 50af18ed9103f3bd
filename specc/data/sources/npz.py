"""`npz`: arrays of a NumPy .npz archive."""
from __future__ import annotations

from typing import Any

import numpy as np

from specc.data.checks import existing_path, missing_key
from specc.data.sources._arrays import archive_array, feature_array, label_array, load_npy
from specc.data.table import Labels, Table
from specc.errors import DataError


def load(spec: dict, context: Any) -> Table:
    """Arrays of an .npz archive: features (one key, or input name -> key) and labels."""
    base_dir, key = context.base_dir, context.key
    text = spec["path"]
    path = existing_path(text, base_dir, f"{key}.npz.path")
    archive = load_npy(path, text)
    if not hasattr(archive, "files"):
        raise DataError(f"{text}: is a single array, not an .npz archive", hint="use the npy: form")
    with archive:
        names = list(archive.files)

        def get(name: object, what: str) -> np.ndarray:
            if name not in names:
                raise missing_key(text, "array", name, names, f"{key}.npz.{what}")
            return archive_array(archive, str(name), text)

        wanted = spec.get("features") or "x"
        if isinstance(wanted, str):
            features = {"x": feature_array(get(wanted, "features"))}
        elif isinstance(wanted, dict):
            features = {k: feature_array(get(v, "features")) for k, v in wanted.items()}
        else:
            features = {k: feature_array(get(k, "features")) for k in wanted}
        label = spec.get("labels", "y")
        labels: Labels
        if label is None:
            labels = None
        elif isinstance(label, dict):
            labels = {k: label_array(get(v, "labels")) for k, v in label.items()}
        else:
            labels = label_array(get(label, "labels"))
    n = len(next(iter(features.values())))
    return Table(features=features, labels=labels, origin=text, rows=np.arange(n, dtype=np.int64))
