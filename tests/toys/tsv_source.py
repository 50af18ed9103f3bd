"""A test-only columnar data source: tab-separated text (`.tsv`), one row a line, no quoting.

This module and one registry line (tests/test_source_registry.py) are all a new columnar
source is: the column planning, the label typing, validate's checks of the header, and the
by-name reading of predict and evaluate come from specc/data/sources/columnar.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from specc.data.checks import existing_path
from specc.data.sources.columnar import Columnar, checked_header, load_columns
from specc.data.table import Table

FORM = "tsv"
SOURCE = Columnar(FORM)

SCHEMA = {
    "description": "A tab-separated file with a header row (a test's source).",
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {"type": "string"},
        "label": {"type": ["string", "array", "object", "null"], "items": {"type": "string"},
                  "additionalProperties": {"type": "string"}},
        "features": {"anyOf": [{"const": "auto"}, {"type": "array", "items": {"type": "string"}},
                               {"type": "object", "additionalProperties": {"type": "array"}}]},
        "categorical": {"type": "array", "items": {"type": "string"}},
    },
}


def load(spec: dict, context: Any) -> Table:
    """The `load(spec, context)` of a data source."""
    with TsvFile(_path(spec, context), str(spec["path"])) as file:
        return load_columns(file, spec, context.key, SOURCE)


def read_header(spec: dict, context: Any) -> list[str]:
    """The `read_header(spec, context)` of a columnar source: the first line only."""
    with TsvFile(_path(spec, context), str(spec["path"])) as file:
        return checked_header(file.header, file.text, SOURCE)


def _path(spec: dict, context: Any) -> Path:
    return existing_path(str(spec["path"]), context.base_dir, f"{context.key}.{FORM}.path")


class TsvFile:
    """A `RowFile` (specc/data/sources/columnar.py) over a tab-separated file."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self._handle = open(path, encoding="utf-8")
        first = self._handle.readline()
        self.header: Optional[list[str]] = _cells(first) if first.strip() else None
        self._line = 1

    def __enter__(self) -> "TsvFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.close()

    def chunks(self, size: int) -> Iterator[tuple[np.ndarray, list]]:
        lines: list[int] = []
        rows: list[list[str]] = []
        for text in self._handle:
            self._line += 1
            if not text.strip():
                continue
            lines.append(self._line)
            rows.append(_cells(text))
            if len(rows) == size:
                yield np.asarray(lines, dtype=np.int64), rows
                lines, rows = [], []
        if rows:
            yield np.asarray(lines, dtype=np.int64), rows

    def column(self, index: int, count: int, size: int) -> Iterator[list[str]]:
        with open(self.path, encoding="utf-8") as handle:
            next(handle, None)
            cells: list[str] = []
            for text in handle:
                if count == 0:
                    break
                if text.strip():
                    cells.append(_cells(text)[index])
                    count -= 1
                if len(cells) == size:
                    yield cells
                    cells = []
            if cells:
                yield cells


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.rstrip("\r\n").split("\t")]
