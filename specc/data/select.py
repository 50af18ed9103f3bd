"""Classes named in a spec (`data.select`, `data.split.hold_out`, `by: class` lists): by id or
by name, found in a Table, and the selection of some classes of a source."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from specc.data.checks import did_you_mean
from specc.data.table import Table, describe
from specc.errors import DataError


def class_labels(table: Table, key: str) -> np.ndarray:
    """The class id of each sample; a DataError when the labels are not one class id each.

    Args:
        table: The data.
        key: The spec key that needs classes, for the message (e.g. "data.select").
    """
    labels = table.labels
    if isinstance(labels, np.ndarray) and labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if not isinstance(labels, np.ndarray) or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{table.origin}: {key} names classes, but the labels are not one class id per sample",
                        hint=f"remove {key}, or use a source whose labels are classes")
    return labels


def class_ids(table: Table, wanted: Sequence, key: str) -> list[int]:
    """The class ids of `wanted` (ids or names) in `table`, in the order given.

    An integer is a class id: an index into the data's class names when it has them, else a
    label value the data holds. A string is a class name.

    Raises:
        DataError: A class the data does not have, naming the classes it has.
    """
    present = [int(c) for c in np.unique(class_labels(table, key))]
    return [_class_id(table, value, present, key) for value in wanted]


def _class_id(table: Table, value: object, present: list, key: str) -> int:
    names = table.class_names
    if isinstance(value, str):
        if names and value in names:
            return names.index(value)
        if not names:
            raise DataError(f"{table.origin}: {key} names class '{value}', but the data's classes have no "
                            f"names (its labels are class ids: {_listed(present)})",
                            hint=f"name the classes in {key} by id")
        raise DataError(f"{table.origin}: {key} names class '{value}', which the data does not have"
                        f"{did_you_mean(value, names)}", hint=f"the classes: {_known(table, present)}")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        count = len(names) if names else None
        if (count is not None and 0 <= value < count) or (count is None and int(value) in present):
            return int(value)
    raise DataError(f"{table.origin}: {key} names class {value!r}, which the data does not have",
                    hint=f"the classes: {_known(table, present)}")


def _known(table: Table, present: list) -> str:
    """The classes of a table for a hint: `0 (setosa), 1 (versicolor), ...` or the ids."""
    if table.class_names:
        shown = [f"{i} ({name})" if str(i) != str(name) else str(i) for i, name in enumerate(table.class_names)]
        return _listed(shown)
    return _listed(present)


def _listed(values: Sequence, limit: int = 20) -> str:
    text = ", ".join(str(v) for v in list(values)[:limit])
    return text + (", ..." if len(values) > limit else "")


def select_classes(table: Table, select: Optional[dict]) -> Table:
    """`data.select`: keep the samples of some classes, renumbered 0, 1, ... in id order.

    Args:
        table: The loaded data.source.
        select: {"classes": [...]} (keep these) or {"exclude": [...]} (drop these), or None.

    Returns:
        The table with only the kept classes; class names follow them (a source without
        names gets the kept ids as names, so predictions still say which class is which).

    Raises:
        DataError: A class the data lacks, or fewer than one class left.
    """
    if not select:
        return table
    (how, wanted), = select.items()
    key = f"data.select.{how}"
    labels = class_labels(table, key)
    named = set(class_ids(table, wanted, key))
    present = [int(c) for c in np.unique(labels)]
    kept = sorted(named) if how == "classes" else [c for c in present if c not in named]
    if not kept:
        raise DataError(f"{table.origin}: data.select.exclude drops every class the data has "
                        f"({_listed(present)})", hint="exclude fewer classes")
    index = np.flatnonzero(np.isin(labels, kept))
    part = table.take(index)
    part.labels = np.searchsorted(np.asarray(kept), labels[index]).astype(np.int64)
    part.class_names = [table.class_names[c] for c in kept] if table.class_names else [str(c) for c in kept]
    part.description = describe(table.description.split(":")[0] or table.origin, part)
    return part


def keep_classes_of(table: Table, names: list, key: str) -> Table:
    """`data.select` on an explicit split source: the samples of the classes the training data
    kept, numbered as training numbers them; samples of other classes are dropped (the
    selection applies to every source of the spec's data).

    Args:
        table: The explicit split, as loaded.
        names: The class names of the selected training data (`select_classes` gives every
            selected table names; a class of a source without names is named by its id).
        key: Where the source is in the spec, for messages.

    Raises:
        DataError: The labels are not class ids, or no sample is of a kept class.
    """
    labels = class_labels(table, key)
    own = np.asarray(table.class_names, dtype=object)[labels] if table.class_names else labels.astype(str)
    index = {name: i for i, name in enumerate(names)}
    kept = np.flatnonzero(np.isin(own.astype(str), list(index)))
    if len(kept) == 0:
        raise DataError(f"{table.origin}: none of its samples is of the classes data.select keeps "
                        f"({_listed(names)})", hint=f"check {key}, or data.select")
    part = table.take(kept)
    part.labels = np.array([index[str(name)] for name in own[kept]], dtype=np.int64)
    part.class_names = list(names)
    part.description = describe(table.description.split(":")[0] or table.origin, part)
    return part
