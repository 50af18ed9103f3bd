"""A stable content hash of a Table, recorded in run records."""
from __future__ import annotations

import hashlib

import numpy as np

from specc.data.table import Table


def fingerprint(table: Table) -> str:
    """Return "sha256:<hex>" over the feature and label arrays and the class names.

    Covers each array's name, dtype, shape and bytes (strings as UTF-8), in sorted key
    order, so it is the same across runs and machines of the same byte order, and changes
    when any single value changes. Where the data came from (paths, descriptions) is not
    part of it.
    """
    digest = hashlib.sha256()
    for name in sorted(table.features):
        _add(digest, f"feature:{name}", table.features[name])
    labels = table.labels
    if isinstance(labels, dict):
        for name in sorted(labels):
            _add(digest, f"labels:{name}", labels[name])
    elif labels is not None:
        _add(digest, "labels", labels)
    if table.class_names is not None:
        digest.update(("classes:" + "\x00".join(map(str, table.class_names))).encode("utf-8"))
    for output, names in sorted((table.output_class_names or {}).items()):
        digest.update((f"classes:{output}:" + "\x00".join(map(str, names))).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def _add(digest, name: str, array) -> None:
    array = np.asarray(array)
    if array.dtype.kind in "OU":
        data = "\x00".join(str(v) for v in array.ravel()).encode("utf-8")
        dtype = "str"
    else:
        little = array.dtype.newbyteorder("<")
        data = np.ascontiguousarray(array, dtype=little).tobytes()
        dtype = little.str
    header = f"{name}|{dtype}|{list(array.shape)}|{len(data)}\n"
    digest.update(header.encode("utf-8"))
    digest.update(data)
