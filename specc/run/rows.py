"""Rows given as JSON objects (column name -> value), checked against a run's input schema and
read into a Table the way `specc predict` reads a CSV file of the same rows.

The schema is what the run recorded of its training data (record.json `columns`): the input
columns by name and which of them hold categories. A row is refused, naming the row and the
column, when it lacks a column, has one the model does not read, holds a value of the wrong
type (a string where a number goes, a list, a boolean) or a number that is not finite; nothing
the schema refuses reaches the model. Accepted rows are read by the shared columnar code
(specc/data/sources/columnar.py) as a CSV file of their cells would be, so the model sees the
same arrays as `specc predict` gives it. No TensorFlow here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np

from specc.data.sources.columnar import Columnar, load_columns
from specc.data.table import Table
from specc.errors import DataError
from specc.shown import name_like
from specc.suggest import did_you_mean, one_of

MAX_SHOWN = 12  # input columns listed in a message


@dataclass(frozen=True)
class InputSchema:
    """The columns a run's model reads, by name.

    Attributes:
        columns: Every input column, in the order of the run's feature groups.
        categorical: The columns that hold categories (strings); the others hold numbers.
        groups: Feature group (model input) -> its columns, as record.json has them.
    """

    columns: tuple
    categorical: frozenset
    groups: dict

    @classmethod
    def of(cls, recorded: dict) -> InputSchema:
        """The schema of record.json `columns` (specc/run/columns.py `run_columns`)."""
        groups = {str(group): [str(name) for name in names] for group, names in recorded["inputs"].items()}
        columns = tuple(dict.fromkeys(name for names in groups.values() for name in names))
        return cls(columns, frozenset(recorded.get("categorical") or []), groups)

    def describe(self) -> list:
        """Each input column with its type, for /metadata."""
        return [{"name": name, "type": "string" if name in self.categorical else "number"} for name in self.columns]


def check_rows(rows: Any, schema: InputSchema) -> list:
    """The rows of a request body: a JSON object (one row) or a list of them.

    Raises:
        DataError: Not rows, no rows, or a row the schema refuses (its message names the row
            and the column).
    """
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list):
        raise DataError(f"the body is {_kind(rows)}: send one row as a JSON object "
                        "(column name -> value) or several as a list of them")
    if not rows:
        raise DataError("the body is an empty list: send at least one row")
    for index, row in enumerate(rows):
        check_row(index, row, schema)
    return rows


def check_row(index: int, row: Any, schema: InputSchema) -> None:
    """Refuse a row that is not an object, lacks or adds a column, or holds a bad value.

    Raises:
        DataError: What is wrong, naming the row and the column.
    """
    if not isinstance(row, dict):
        raise DataError(f"row {index} is {_kind(row)}, not an object of column name -> value")
    missing = [name for name in schema.columns if name not in row]
    if missing:
        others = [str(key) for key in row if key not in schema.columns]
        named = one_of([f"'{name}'" + _maybe(did_you_mean(name, others)) for name in missing], 5)
        raise DataError(f"row {index}: no column{'s' if len(missing) > 1 else ''} {named}",
                        hint=f"the model reads: {_listed(schema.columns)}")
    extra = [key for key in row if key not in schema.columns]
    if extra:
        raise DataError(f"row {index}: column {_shown(extra[0])} is not an input of the model"
                        + _maybe(did_you_mean(str(extra[0]), list(schema.columns))),
                        hint=f"send only the columns the model reads: {_listed(schema.columns)}")
    for name in schema.columns:
        problem = _value_problem(row[name], name in schema.categorical)
        if problem:
            raise DataError(f"row {index}, column '{name}': {problem}")


def _value_problem(value: Any, categorical: bool) -> Optional[str]:
    if categorical:
        if not isinstance(value, str):
            return f"{_kind(value)}, expected a string (the column holds categories)"
        return "is empty" if not value.strip() else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{_kind(value)}, expected a number"
    if not math.isfinite(value):
        return f"{value} is not a finite number"
    return None


def rows_table(rows: list, schema: InputSchema) -> Table:
    """The Table of checked rows, read by the columnar code as their CSV file would be."""
    spec = {"path": "request", "features": schema.groups, "label": None, "categorical": sorted(schema.categorical)}
    return load_columns(_RowsFile(rows, list(schema.columns)), spec, "--input", Columnar("json", "JSON"))


class _RowsFile:
    """Checked JSON rows as a columnar `RowFile`: a header, then rows of text cells."""

    def __init__(self, rows: list, header: list[str]) -> None:
        self.text = "request"
        self.header: Optional[list[str]] = header
        self.rows = rows

    def chunks(self, size: int) -> Iterator[tuple[np.ndarray, list]]:
        for start in range(0, len(self.rows), size):
            part = self.rows[start:start + size]
            # line numbers as a CSV file of the rows has them (the header is line 1)
            yield np.arange(start + 2, start + 2 + len(part)), [[_cell(row[n]) for n in self.header or ()]
                                                                for row in part]

    def column(self, index: int, count: int, size: int) -> Iterator[list[str]]:
        assert self.header is not None
        name = self.header[index]
        for start in range(0, count, size):
            yield [_cell(row[name]) for row in self.rows[start:min(count, start + size)]]


def _cell(value: Any) -> str:
    """A value as a CSV cell holds it: repr of a float keeps every digit (parsed back equal)."""
    return value.strip() if isinstance(value, str) else repr(float(value)) if isinstance(value, float) else str(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {_shown(value)}"
    if isinstance(value, (int, float)):
        return "a number"
    return "a list" if isinstance(value, list) else "an object"


def _shown(value: object) -> str:
    text = str(value)
    return f"'{text}'" if name_like(text) else f"a name of {len(text)} characters"


def _listed(names: tuple) -> str:
    shown = ", ".join(names[:MAX_SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > MAX_SHOWN else "")


def _maybe(text: Optional[str]) -> str:
    return f" ({text})" if text else ""
