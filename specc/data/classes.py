"""Number the string class labels of one table as another numbering has them.

A CSV's string labels become class ids in sorted order of the names *that file* holds, so a
test file, or new data given to `specc evaluate --data`, that lacks a class or holds one
more would number them differently from the training data: the same id would mean another
class. Every table whose labels are names is renumbered here to the training data's ids
(one array of labels with `class_names`, or one array per output with `output_class_names`).
"""
from __future__ import annotations

from typing import Callable, Optional, cast

import numpy as np

from specc.data.table import Table
from specc.errors import DataError

# (the table, the unknown class names, the known ones) -> the error to raise
Mismatch = Callable[[Table, list, list], DataError]


def align_classes(table: Table, class_names: Optional[list], output_class_names: Optional[dict],
                  mismatch: Mismatch) -> None:
    """Renumber `table`'s labels in place to the given names (its own label array, or each
    output's); a class the given names lack is `mismatch`'s error."""
    if table.class_names and class_names and not isinstance(table.labels, dict):
        table.labels = _renumbered(cast(np.ndarray, table.labels), table.class_names, class_names, table, mismatch)
        table.class_names = list(class_names)
    if table.output_class_names and output_class_names and isinstance(table.labels, dict):
        for output, names in table.output_class_names.items():
            target = output_class_names.get(output)
            if target and output in table.labels:
                table.labels[output] = _renumbered(table.labels[output], names, target, table, mismatch)
                table.output_class_names[output] = list(target)


def _renumbered(labels: np.ndarray, names: list, target: list, table: Table, mismatch: Mismatch) -> np.ndarray:
    if names == target:
        return labels
    index = {name: i for i, name in enumerate(target)}
    unknown = [name for name in names if name not in index]
    if unknown:
        raise mismatch(table, unknown, target)
    ids = np.array([index[name] for name in names], dtype=np.int64)
    return ids[labels]
