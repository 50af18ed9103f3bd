"""The in-memory form of a data set: named feature arrays, labels and where they came from."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Union

import numpy as np

Labels = Union[np.ndarray, dict, None]


@dataclass
class Table:
    """One data set (a whole source, or one split of it) held as numpy arrays.

    Attributes:
        features: One array per named feature group, first axis = samples. Single-input
            data uses the key "x"; CSV categorical columns are kept as string arrays under
            their column names.
        labels: Label array, a dict of arrays (one per model output), or None.
        class_names: Names of the class ids when labels were strings or folder names.
        output_class_names: For labels per output (a dict), the class names of each output
            whose labels were strings.
        feature_names: Names of the columns of features["x"] when it is a 2-D table.
        categorical: Vocabulary (sorted distinct values) of each categorical feature key.
        description: One line for humans, e.g. "digits: 1797 samples, 64 features, 10 classes".
        origin: What the user named as the source (a path as written in the spec, or
            "builtin digits"); used in error messages.
        label_origin: Where the labels came from when that differs from origin (npy).
        rows: The user-facing number of each sample in its source: its 0-based index (the
            data rows of a CSV file after its header, as predict's `row` counts them; the
            first axis of an array). Kept through splits.
        row_word: How to call one of those numbers in a message ("row" or "sample").
        lines: The line of each sample in its file (a CSV file's header is line 1), for
            messages; None for sources without lines. Kept through splits.
        label_columns: Names of the label column(s) for messages (CSV), else None.
        columns: Where each array came from in a CSV file, so that other files can be read
            by column name: {"inputs": {feature key: [column, ...]}, "labels": the label
            column(s) as the source named them (a name, a list, or {output: column}, or
            None), "categorical": [column, ...]}. None for sources without columns.
    """

    features: dict
    labels: Labels = None
    class_names: Optional[list] = None
    output_class_names: Optional[dict] = None
    feature_names: Optional[list] = None
    categorical: dict = field(default_factory=dict)
    description: str = ""
    origin: str = ""
    label_origin: Optional[str] = None
    rows: Optional[np.ndarray] = None
    row_word: str = "sample"
    lines: Optional[np.ndarray] = None
    label_columns: Optional[list] = None
    columns: Optional[dict] = None

    def __len__(self) -> int:
        for array in self.features.values():
            return int(len(array))
        return 0

    def where(self, index: int) -> str:
        """Name sample `index` of this table for a message, e.g. "data/x.csv: row 14"."""
        number = int(self.rows[index]) if self.rows is not None else int(index)
        if self.lines is not None:
            return f"{self.origin}: {row_text(number, int(self.lines[index]))}"
        return f"{self.origin}: {self.row_word} {number}"

    def where_label(self, index: int) -> str:
        """Like where(), but naming the file the labels came from."""
        text = self.where(index)
        if self.label_origin and self.label_origin != self.origin:
            text = self.label_origin + text[len(self.origin):]
        return text

    def take(self, indices: np.ndarray) -> "Table":
        """Return a new Table holding only the samples at `indices` (in that order)."""
        indices = np.asarray(indices, dtype=np.int64)
        features = {k: v[indices] for k, v in self.features.items()}
        if isinstance(self.labels, dict):
            labels = {k: v[indices] for k, v in self.labels.items()}
        elif self.labels is not None:
            labels = self.labels[indices]
        else:
            labels = None
        rows = self.rows[indices] if self.rows is not None else indices
        lines = self.lines[indices] if self.lines is not None else None
        part = replace(self, features=features, labels=labels, rows=rows, lines=lines)
        part.description = describe(self.description.split(":")[0] or self.origin, part)
        return part


def row_text(row: int, line: int) -> str:
    """`row 3 (line 5 of the file)`: a CSV sample as predict's `row` numbers it (from 0, after
    the header) and where an editor finds it."""
    return f"row {row} (line {line} of the file)"


def label_count(labels: Labels) -> Optional[int]:
    """Return the number of samples in `labels` (array or dict of arrays), or None."""
    if labels is None:
        return None
    if isinstance(labels, dict):
        for array in labels.values():
            return int(len(array))
        return None
    return int(len(labels))


def describe(name: str, table: Table) -> str:
    """Build the one-line description of a table, e.g. "iris: 150 samples, 4 features, 3 classes"."""
    parts = [f"{len(table)} samples"]
    x = table.features.get("x")
    if x is not None:
        per_sample = x.shape[1:]
        if len(per_sample) == 1:
            parts.append(f"{per_sample[0]} features")
        else:
            parts.append("shape " + "x".join(str(d) for d in per_sample))
    others = [k for k in table.features if k != "x"]
    if others:
        parts.append("inputs " + ", ".join(others))
    if table.class_names is not None:
        parts.append(f"{_classes_held(table)} classes")
    elif isinstance(table.labels, np.ndarray) and np.issubdtype(table.labels.dtype, np.integer):
        parts.append(f"{len(np.unique(table.labels))} classes")
    elif isinstance(table.labels, np.ndarray):
        width = 1 if table.labels.ndim == 1 else int(np.prod(table.labels.shape[1:]))
        parts.append(f"{width} target{'s' if width != 1 else ''}")
    elif isinstance(table.labels, dict):
        parts.append("outputs " + ", ".join(table.labels))
    return f"{name}: " + ", ".join(parts)


def _classes_held(table: Table) -> int:
    """The classes the samples hold: a split without the held-out classes (data.split.hold_out,
    data.select) counts only those it has, not every class name of the source."""
    labels = table.labels
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer):
        return len(np.unique(labels))
    return len(table.class_names or [])
