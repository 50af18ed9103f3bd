"""Checks that turn bad data into a DataError naming the file, the row/column and what to do."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from specc.errors import DataError
from specc.data.table import Table, label_count
from specc.registries import task_type

FINITE_BLOCK_ROWS = 1 << 16   # rows of a feature array checked for NaN / inf at a time


def did_you_mean(name: object, options: Iterable[object]) -> str:
    """Return " (did you mean 'x'?)" for the closest of `options`, or ""."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def existing_path(text: str, base_dir: Path, key: str, folder: bool = False) -> Path:
    """Resolve a spec path against the spec's directory and make sure it exists.

    Args:
        text: The path as written in the spec.
        base_dir: The spec file's directory.
        key: The spec key the path came from, e.g. "data.source.csv.path".
        folder: True when a directory is expected.

    Raises:
        DataError: The file or folder does not exist (or is the wrong kind).
    """
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    kind = "folder" if folder else "file"
    if not path.exists():
        raise DataError(
            f"{text}: {kind} not found (from {key}; looked for {path.absolute()})",
            hint="relative paths are relative to the spec file's directory",
        )
    if folder and not path.is_dir():
        raise DataError(f"{text}: is a file, but {key} needs a folder")
    if not folder and path.is_dir():
        raise DataError(f"{text}: is a folder, but {key} needs a file")
    return path


def missing_key(origin: str, what: str, name: object, available: Sequence[object], key: str) -> DataError:
    """Build the error for a column / array key that is not in the data."""
    listed = ", ".join(repr(str(a)) for a in available) or "none"
    return DataError(
        f"{origin}: no {what} '{name}'{did_you_mean(name, available)}; available: {listed}",
        hint=f"fix {key}",
    )


def check_table(table: Table) -> None:
    """Check that a table is non-empty, its arrays agree in length and features are finite.

    Raises:
        DataError: On the first problem found.
    """
    n = len(table)
    if n == 0 or not table.features:
        raise DataError(f"{table.origin}: the data set is empty (0 samples)",
                        hint="point the source at a file with data in it")
    for key, array in table.features.items():
        if len(array) != n:
            raise DataError(
                f"{table.origin}: feature '{key}' has {len(array)} samples but the others have {n}",
                hint="every feature array needs one entry per sample")
    labelled = label_count(table.labels)
    if labelled is not None and labelled != n:
        source = table.label_origin or table.origin
        raise DataError(
            f"{table.origin} has {n} samples but {source} has {labelled} labels",
            hint="features and labels need the same number of samples, in the same order")
    if isinstance(table.labels, dict):
        for name, array in table.labels.items():
            if len(array) != n:
                raise DataError(f"{table.origin}: labels '{name}' have {len(array)} entries, not {n}")
    for key, array in table.features.items():
        _check_finite(table, key, array)


def _check_finite(table: Table, key: str, array: np.ndarray) -> None:
    if not np.issubdtype(array.dtype, np.floating):
        return
    position: Optional[tuple] = None   # of the first non-finite value
    count = 0
    # A block of rows at a time: a mask of the whole array would add a byte per value to
    # the peak memory of loading a large file.
    for start in range(0, len(array), FINITE_BLOCK_ROWS):
        bad = ~np.isfinite(array[start:start + FINITE_BLOCK_ROWS])
        found = int(np.count_nonzero(bad))
        if found and position is None:
            index = [int(i) for i in np.argwhere(bad)[0]]
            position = (start + index[0], *index[1:])
        count += found
    if position is None:
        return
    value = array[position]
    more = count - 1
    extra = f" ({more} more non-finite value{'s' if more != 1 else ''} in the features)" if more else ""
    raise DataError(
        f"{table.where(position[0])}, {_column(table, key, position[1:])}: "
        f"{_show(value)} in the features; features must be finite numbers{extra}",
        hint="fill in or drop the missing / infinite values before training",
    )


def _column(table: Table, key: str, rest: tuple) -> str:
    """Name the column at `rest` (index past the sample axis) of feature `key`."""
    if key == "x" and len(rest) == 1 and table.feature_names and rest[0] < len(table.feature_names):
        return f"column '{table.feature_names[rest[0]]}'"
    prefix = "" if key == "x" else f"feature '{key}' "
    if not rest:
        return f"{prefix}".strip() or "value"
    if len(rest) == 1:
        return f"{prefix}column {rest[0]}"
    return f"{prefix}position {list(rest)}"


def _show(value) -> str:
    value = float(value)
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(int(value)) if value.is_integer() else repr(value)


def check_labels(table: Table, task: dict, source_key: str = "data.source") -> None:
    """Check the labels against the task: classes, 0/1 values, shapes, finiteness.

    Args:
        table: The data (any split).
        task: The spec's task, e.g. {"type": "multiclass", "classes": 10},
            {"type": "binary"}, {"type": "multilabel", "labels": 5},
            {"type": "regression", "targets": 1}, or {"outputs": {name: task, ...}}.
        source_key: Where the user names the data, for hints (`data.source`, `--data`).

    Raises:
        DataError: The labels are missing, of the wrong shape, or outside the classes.
    """
    outputs = task.get("outputs")
    if outputs:
        _check_outputs(table, outputs, source_key)
        return
    declared = task_type(task)
    if declared is None or declared.labels is None:
        return
    labels = table.labels
    if isinstance(labels, dict):
        if len(labels) != 1:
            raise DataError(f"{table.origin}: there are several label sets ({', '.join(labels)}) "
                            f"but the task has one output", hint="use task.outputs, one per label set")
        labels = next(iter(labels.values()))
    column = table.label_columns[0] if table.label_columns and len(table.label_columns) == 1 else None
    _check_one(table, labels, task, "task", column, source_key)


def _check_outputs(table: Table, outputs: dict, source_key: str) -> None:
    labels = table.labels
    if not isinstance(labels, dict):
        if len(outputs) == 1 and labels is not None:
            name, sub = next(iter(outputs.items()))
            _check_one(table, labels, sub, f"task.outputs.{name}", None, source_key)
            return
        raise DataError(f"{table.origin}: the task has outputs {', '.join(outputs)} "
                        f"but the data has a single label set",
                        hint="give one label column per output (label: {output: column})")
    for name, sub in outputs.items():
        declared = task_type(sub)
        if declared is None or declared.labels is None:
            continue
        if name not in labels:
            raise missing_key(table.origin, "labels for output", name, list(labels), "the label mapping")
        column = None
        if table.label_columns and len(table.label_columns) == len(labels):
            column = dict(zip(labels, table.label_columns)).get(name)
        _check_one(table, labels[name], sub, f"task.outputs.{name}", column, source_key)


def _check_one(table: Table, labels, task: dict, key: str, column: Optional[str], source_key: str) -> None:
    kind = task.get("type")
    if labels is None:
        raise DataError(f"{table.origin}: there are no labels, but {key}.type is {kind}",
                        hint=f"name the label column / array in {source_key}")
    labels = np.asarray(labels)
    declared = task_type(task)
    if declared is None or declared.labels is None:
        return
    if declared.class_labels and not (np.issubdtype(labels.dtype, np.number) or labels.dtype == bool):
        raise DataError(f"{table.origin}: labels of dtype {labels.dtype} are not numbers ({key}.type: {kind})")
    LABEL_CHECKS[declared.labels](table, labels, task, key, column)


def _at(table: Table, index: int, column: Optional[str]) -> str:
    text = table.where_label(index)
    return f"{text}, column '{column}'" if column else text


def _first_bad(table: Table, labels: np.ndarray, bad: Union[np.ndarray, np.bool_], column: Optional[str],
               message: str) -> None:
    """Raise for the first sample flagged in `bad` (a boolean array over samples)."""
    if bad.any():
        index = int(np.argmax(bad))
        value = labels[index]
        shown = _show(value) if np.ndim(value) == 0 else str(np.asarray(value).tolist())
        count = int(bad.sum())
        tail = f" ({count - 1} more bad label{'s' if count > 2 else ''})" if count > 1 else ""
        raise DataError(f"{_at(table, index, column)}: label {shown} {message}{tail}")


def _flat(table: Table, labels: np.ndarray, key: str, kind: str, hint: str) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:
        return labels[:, 0]
    if labels.ndim != 1:
        raise DataError(f"{table.origin}: {kind} labels must be one value per sample, "
                        f"got shape {list(labels.shape)}", hint=hint)
    return labels


def _multiclass(table, labels, task, key, column) -> None:
    classes = task.get("classes")
    if task.get("encoding") == "one_hot":
        _one_hot(table, labels, classes, key, column)
        return
    labels = _flat(table, labels, key, "multiclass", "for one-hot labels set task.encoding: one_hot")
    names = table.class_names
    if classes and names and len(names) > classes:
        raise DataError(
            f"{table.origin}: the labels have {len(names)} classes ({', '.join(map(str, names[:12]))}"
            f"{', ...' if len(names) > 12 else ''}) but {key}.classes is {classes}",
            hint=f"set {key}.classes: {len(names)}")
    values = labels.astype(np.float64)
    _first_bad(table, labels, ~np.isfinite(values) | (values != np.round(values)), column,
               "is not a class id (a whole number)")
    _first_bad(table, labels, values < 0, column, "is negative; class ids start at 0")
    if classes:
        _first_bad(table, labels, values >= classes, column,
                   f"is outside the classes 0..{classes - 1} ({key}.classes: {classes})")


def _one_hot(table, labels, classes, key, column) -> None:
    if labels.ndim != 2 or (classes and labels.shape[1] != classes):
        raise DataError(f"{table.origin}: one-hot labels need shape [samples, {classes or 'classes'}], "
                        f"got {list(labels.shape)}", hint=f"or set {key}.encoding: sparse for class ids")
    values = labels.astype(np.float64)
    not01 = ~np.isin(values, (0.0, 1.0)).all(axis=1)
    _first_bad(table, labels, not01 | (values.sum(axis=1) != 1), column, "is not a one-hot row")


def _binary(table, labels, task, key, column) -> None:
    labels = _flat(table, labels, key, "binary", "for several 0/1 labels per sample use type: multilabel")
    if table.class_names and len(table.class_names) > 2:
        raise DataError(f"{table.origin}: binary labels need 2 classes, the data has "
                        f"{len(table.class_names)} ({', '.join(map(str, table.class_names[:12]))})",
                        hint=f"use {key}.type: multiclass")
    values = labels.astype(np.float64)
    _first_bad(table, labels, ~np.isin(values, (0.0, 1.0)), column,
               f"is not 0 or 1 ({key}.type: binary)")


def _multilabel(table, labels, task, key, column) -> None:
    count = task.get("labels")
    if labels.ndim != 2 or (count and labels.shape[1] != count):
        raise DataError(f"{table.origin}: multilabel labels need shape [samples, {count or 'labels'}] "
                        f"of 0/1, got {list(labels.shape)}", hint=f"check {key}.labels")
    values = labels.astype(np.float64)
    _first_bad(table, labels, ~np.isin(values, (0.0, 1.0)).all(axis=1), column,
               f"has values other than 0 and 1 ({key}.type: multilabel)")


def _regression(table, labels, task, key, column) -> None:
    if not (np.issubdtype(labels.dtype, np.number) or labels.dtype == bool):
        raise DataError(f"{table.origin}: regression targets of dtype {labels.dtype} are not numbers")
    targets = task.get("targets")
    width = 1 if labels.ndim == 1 else int(np.prod(labels.shape[1:]))
    if targets and width != targets:
        raise DataError(f"{table.origin}: the data has {width} target(s) per sample "
                        f"but {key}.targets is {targets}", hint=f"set {key}.targets: {width}")
    values = labels.astype(np.float64).reshape(len(labels), -1)
    _first_bad(table, labels, ~np.isfinite(values).all(axis=1), column,
               "is not a finite number; regression targets must be finite")


# What each kind of label (TaskType.labels, specc/tasks) must look like.
LABEL_CHECKS = {"class_ids": _multiclass, "zero_one": _binary, "zero_one_rows": _multilabel,
                "numbers": _regression}
