"""`csv`: a CSV file with a header row, read with the csv module only.

A columnar source (specc/data/sources/columnar.py decides which column becomes what, reads
the cells into typed arrays and words the errors): this module opens the file, whose rows
the csv module reads in chunks (specc/data/sources/_csv_parse.py). A file that is not UTF-8
or not CSV is an error wherever in the file that shows.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from specc.data.checks import existing_path
from specc.data.sources._csv_parse import CsvFile
from specc.data.sources.columnar import Columnar, checked_header, load_columns
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
    The file is read in chunks, so memory holds the arrays, not the rows as strings.

    Args:
        spec: The `csv:` mapping (path, label, features, categorical, delimiter).
        base_dir: The spec file's directory.
        key: Spec key of the source, e.g. "data.source".

    Raises:
        DataError: Missing file or column, ragged rows, a non-number in a numeric column.
    """
    text = spec["path"]
    path = existing_path(text, base_dir, f"{key}.csv.path")
    delimiter = spec.get("delimiter") or ","
    with CsvFile(path, text, delimiter) as file:
        return load_columns(file, spec, key, Columnar("csv", "CSV", delimiter))


def read_header(spec: dict, context: Any) -> list[str]:
    """The column names of the source's file (the `read_header` of a columnar source).

    Raises:
        DataError: No such file; not UTF-8, not CSV, empty, or a header with an empty or
            repeated name.
    """
    text = str(spec["path"])
    path = existing_path(text, context.base_dir, f"{context.key}.csv.path")
    return file_header(path, text, spec.get("delimiter") or ",")


def file_header(path: Path, text: str, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file (its first row), checked as `load_csv` checks them.

    Args:
        path: The file.
        text: The path as the user wrote it, for messages.
        delimiter: The field delimiter.

    Raises:
        DataError: Not UTF-8, not CSV, empty, or a header with an empty or repeated name.
    """
    with CsvFile(path, text, delimiter) as file:
        return checked_header(file.header, text, Columnar("csv", "CSV", delimiter))
