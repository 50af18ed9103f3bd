"""`csv`: a CSV file with a header row, read with the csv module only."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from specc.errors import DataError
from specc.data.checks import existing_path, missing_key
from specc.data.table import Table


def load(spec: dict, context: Any) -> Table:
    """The `load(spec, context)` of a data source (see specc/data/sources/__init__.py)."""
    return load_csv(spec, context.base_dir, context.key)


def load_csv(spec: dict, base_dir: Path, key: str) -> Table:
    """Load `data.source.csv` into a Table.

    Numeric feature columns are stacked as float32 under "x" (or under each input name when
    `features` maps input names to columns); categorical columns are kept as strings under
    their own names, with their sorted vocabulary in `Table.categorical`. A label column of
    whole numbers becomes int64, of other numbers float32, of strings class ids (sorted names).

    Args:
        spec: The `csv:` mapping (path, label, features, categorical, delimiter).
        base_dir: The spec file's directory.
        key: Spec key of the source, e.g. "data.source".

    Raises:
        DataError: Missing file or column, ragged rows, a non-number in a numeric column.
    """
    text = spec["path"]
    path = existing_path(text, base_dir, f"{key}.csv.path")
    header, lines, rows = _read(path, text, spec.get("delimiter") or ",")
    columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    label_spec = spec.get("label")
    label_cols = _label_columns(label_spec)
    categorical = list(spec.get("categorical") or [])
    for name in label_cols:
        if name not in columns:
            raise missing_key(text, "column", name, header, f"{key}.csv.label")
    for name in categorical:
        if name not in columns:
            raise missing_key(text, "column", name, header, f"{key}.csv.categorical")
    groups = _feature_groups(spec.get("features", "auto"), header, label_cols, categorical, text, key)
    ctx = _Context(text, key, np.asarray(lines, dtype=np.int64), set(categorical))
    vocab: dict[str, list]  # categorical feature -> its sorted values
    features, vocab = {}, {}
    feature_names = None
    for group, names in groups.items():
        features[group] = _group_array(ctx, group, names, columns, vocab)
        if group == "x":
            feature_names = list(names)
    labels, class_names = _labels(ctx, label_spec, columns)
    return Table(features=features, labels=labels, class_names=class_names,
                 feature_names=feature_names, categorical=vocab, origin=text,
                 rows=ctx.lines, row_word="row", label_columns=label_cols or None,
                 columns=_named_columns(groups, label_spec, categorical))


def read_header(path: Path, text: str, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file (its first row), checked as `load_csv` checks them.

    Args:
        path: The file.
        text: The path as the user wrote it, for messages.
        delimiter: The field delimiter.

    Raises:
        DataError: Not UTF-8, not CSV, empty, or a header with an empty or repeated name.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), None)
    except UnicodeDecodeError as err:
        raise DataError(f"{text}: not a UTF-8 text file ({err.reason} at byte {err.start})",
                        hint="save the CSV as UTF-8") from None
    except csv.Error as err:
        raise DataError(f"{text}: cannot parse the CSV: {err}") from None
    if not header:
        raise DataError(f"{text}: the file is empty; a CSV needs a header row and data rows")
    header = [cell.strip() for cell in header]
    _check_header(header, text, delimiter)
    return header


def spec_columns(spec: dict, header: list, key: str) -> dict:
    """The `Table.columns` that `load_csv(spec)` gives a file with this header, without
    reading its rows.

    Raises:
        DataError: A column the spec names is not in the header.
    """
    label_cols = _label_columns(spec.get("label"))
    categorical = list(spec.get("categorical") or [])
    groups = _feature_groups(spec.get("features", "auto"), header, label_cols, categorical,
                             str(spec.get("path")), key)
    return _named_columns(groups, spec.get("label"), categorical)


def _named_columns(groups: dict, label: Any, categorical: list) -> dict:
    """Table.columns: the columns of each feature key, the label as named, the categorical
    columns among the features."""
    used = {name for names in groups.values() for name in names}
    return {"inputs": {group: list(names) for group, names in groups.items()},
            "labels": dict(label) if isinstance(label, dict) else list(label) if isinstance(label, list) else label,
            "categorical": [name for name in categorical if name in used]}


class _Context:
    """What the column converters need to word their errors."""

    def __init__(self, text: str, key: str, lines: np.ndarray, categorical: set):
        self.text, self.key, self.lines, self.categorical = text, key, lines, categorical


def _read(path: Path, text: str, delimiter: str):
    """Return (header, line numbers, rows); blank lines are skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            lines, rows = [], []
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                lines.append(reader.line_num)
                rows.append([cell.strip() for cell in row])
    except UnicodeDecodeError as err:
        raise DataError(f"{text}: not a UTF-8 text file ({err.reason} at byte {err.start})",
                        hint="save the CSV as UTF-8") from None
    except csv.Error as err:
        raise DataError(f"{text}: cannot parse the CSV: {err}") from None
    if not header:
        raise DataError(f"{text}: the file is empty; a CSV source needs a header row and data rows")
    header = [cell.strip() for cell in header]
    _check_header(header, text, delimiter)
    if not rows:
        raise DataError(f"{text}: the file has a header but no data rows")
    for line, row in zip(lines, rows):
        if len(row) != len(header):
            raise DataError(f"{text}: row {line} has {len(row)} fields but the header has {len(header)}",
                            hint="check the delimiter and quoting of that row")
    return header, lines, rows


def _check_header(header: list, text: str, delimiter: str) -> None:
    seen = set()
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"{text}: row 1, column {i + 1} has an empty name; every column needs a header")
        if name in seen:
            raise DataError(f"{text}: row 1: the column name '{name}' appears twice")
        seen.add(name)
    if len(header) == 1:
        for other in (";", "\t", "|", ","):
            if other != delimiter and other in header[0]:
                raise DataError(f"{text}: the header has a single column '{header[0]}'",
                                hint=f"is the delimiter {other!r}? set delimiter: {other!r}")


def _label_columns(label) -> list:
    if label is None:
        return []
    if isinstance(label, str):
        return [label]
    if isinstance(label, dict):
        return list(label.values())
    return list(label)


def _feature_groups(features, header, label_cols, categorical, text, key) -> dict:
    """Map feature key -> list of columns."""
    where = f"{key}.csv.features"
    if isinstance(features, dict):
        groups = {name: list(cols) for name, cols in features.items()}
    else:
        chosen = [c for c in header if c not in label_cols] if features in (None, "auto") else list(features)
        numeric = [c for c in chosen if c not in categorical]
        groups = {"x": numeric} if numeric else {}
        for name in categorical:
            if name in chosen:
                groups[name] = [name]
    for cols in groups.values():
        for name in cols:
            if name not in header:
                raise missing_key(text, "column", name, header, where)
            if name in label_cols:
                raise DataError(f"{text}: column '{name}' is both a label and a feature", hint=f"fix {where}")
    if not groups:
        raise DataError(f"{text}: no feature columns are left besides the label(s)", hint=f"check {where}")
    return groups


def _group_array(ctx: _Context, group: str, names: list, columns: dict, vocab: dict) -> np.ndarray:
    kinds = {name in ctx.categorical for name in names}
    if kinds == {True}:
        values = np.array([columns[n] for n in names], dtype=object).T
        for i, name in enumerate(names):
            empty = np.flatnonzero(values[:, i] == "")
            if len(empty):
                raise DataError(f"{ctx.text}: row {ctx.lines[empty[0]]}, column '{name}' is empty",
                                hint="fill in the missing category or drop the row")
        vocab[group] = sorted(set(values.ravel().tolist()))
        return values[:, 0] if len(names) == 1 else values
    if len(kinds) == 2:
        raise DataError(f"{ctx.text}: input '{group}' mixes categorical and numeric columns",
                        hint="give categorical columns their own input")
    return np.stack([_numbers(ctx, name, columns[name]) for name in names], axis=1).astype(np.float32)


def _numbers(ctx: _Context, name: str, cells: list) -> np.ndarray:
    """Convert one column to float64, naming the first cell that is not a number."""
    try:
        return np.asarray(cells, dtype=np.float64)
    except ValueError:
        pass
    for i, cell in enumerate(cells):
        if cell == "":
            raise DataError(f"{ctx.text}: row {ctx.lines[i]}, column '{name}' is empty",
                            hint="fill in the missing value or drop the row")
        try:
            float(cell)
        except ValueError:
            raise DataError(
                f"{ctx.text}: row {ctx.lines[i]}, column '{name}': '{cell}' is not a number",
                hint=f"fix the value, or list '{name}' under {ctx.key}.csv.categorical "
                     f"if the column holds categories") from None
    raise DataError(f"{ctx.text}: column '{name}' cannot be read as numbers")


def _labels(ctx: _Context, label, columns: dict):
    """Return (labels, class_names) for the label spec (str, list, dict or None)."""
    if label is None:
        return None, None
    if isinstance(label, str):
        return _label_column(ctx, label, columns[label])
    if isinstance(label, dict):
        return {out: _label_column(ctx, col, columns[col])[0] for out, col in label.items()}, None
    stacked = [_numbers(ctx, col, columns[col]) for col in label]
    return np.stack(stacked, axis=1).astype(np.float32), None


def _label_column(ctx: _Context, name: str, cells: list):
    for i, cell in enumerate(cells):
        if cell == "":
            raise DataError(f"{ctx.text}: row {ctx.lines[i]}, column '{name}' is empty; every row needs a label")
    try:
        values = np.asarray(cells, dtype=np.float64)
    except ValueError:
        names = sorted(set(cells))
        index = {n: i for i, n in enumerate(names)}
        return np.array([index[c] for c in cells], dtype=np.int64), names
    finite = np.isfinite(values)
    if finite.all() and (values == np.round(values)).all():
        return values.astype(np.int64), None
    return values.astype(np.float32), None
