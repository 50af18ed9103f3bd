"""Data sources: one module per `data.source` form, each a `DataSource`
(specc/data/sources/protocol.py) with one call signature,

    load(spec, context: SourceContext) -> Table

and one line in `specc.registries.DATA_SOURCES`. `load_source` picks the module by the
form's name, loads, checks the table (non-empty, lengths agree, finite features) and
describes it. Only the image_folder and tfrecord readers use TensorFlow, imported inside
them; the others need numpy (and scikit-learn for builtin data sets).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from specc.data.checks import check_table, missing_key
from specc.data.sources.protocol import DataSource, SourceContext
from specc.data.table import Table, describe
from specc.errors import DataError, UsageError
from specc.registries import DATA_SOURCES
from specc.registry import load_conforming


def load_source(source: Any, base_dir: Path, seed: int, key: str = "data.source") -> Table:
    """Load one data source into a checked Table.

    Args:
        source: The source mapping with exactly one form, e.g. {"builtin": "digits"} or
            {"csv": {"path": "data/x.csv", "label": "species", ...}}.
        base_dir: Directory that relative paths are relative to (the spec's directory).
        seed: The spec's seed (used by synthetic data without its own seed).
        key: Spec key of `source`, used in messages (e.g. "data.split.test.source").

    Returns:
        The Table, after check_table (non-empty, lengths agree, finite features).

    Raises:
        DataError: Anything wrong with the data, naming the file and row/column.
        UsageError: The source needs a package that is not installed (naming its pip extra).
    """
    if not isinstance(source, dict) or len(source) != 1:
        raise DataError(f"{key} must have exactly one of: {', '.join(DATA_SOURCES.names())}")
    (form, spec), = source.items()
    if form not in DATA_SOURCES:
        raise missing_key(key, "source form", form, DATA_SOURCES.names(), key)
    info = DATA_SOURCES.get(form)
    missing = info.missing()
    if missing:
        raise UsageError(f"the {form} source of {key} needs {', '.join(missing)}, not installed",
                         info.install_hint())
    table = source_module(info.module).load(spec, SourceContext(Path(base_dir), seed, key))
    check_table(table)
    name = table.origin if form != "builtin" else str(spec)
    table.description = describe(name, table)
    return table


def source_module(dotted: str) -> DataSource:
    """The source module `dotted` (`specc.data.sources.csv`), checked against `DataSource`.

    Raises:
        SpeccError: It has no `load(spec, context)` (a bug: exit 70).
    """
    return cast(DataSource, load_conforming(dotted, DataSource))


__all__ = ["DataSource", "SourceContext", "Table", "load_source", "source_module"]
