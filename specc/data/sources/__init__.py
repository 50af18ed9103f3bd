"""Data sources: one module per `data.source` form, each with one call signature,

    load(spec, context: SourceContext) -> Table

and one line in `specc.registries.DATA_SOURCES`. `load_source` picks the module by the
form's name, loads, checks the table (non-empty, lengths agree, finite features) and
describes it. Only the image_folder and tfrecord readers use TensorFlow, imported inside
them; the others need numpy (and scikit-learn for builtin data sets).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specc.data.checks import check_table, missing_key
from specc.data.table import Table, describe
from specc.errors import DataError, UsageError
from specc.registries import DATA_SOURCES


@dataclass(frozen=True)
class SourceContext:
    """What a source may need besides its own mapping.

    Attributes:
        base_dir: The folder relative paths are relative to (the spec's).
        seed: The spec's seed (synthetic data without its own seed uses it).
        key: Where the source is in the spec, for messages (`data.source`, `--data`).
    """

    base_dir: Path
    seed: int
    key: str = "data.source"


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
    missing = DATA_SOURCES.get(form).missing()
    if missing:
        raise UsageError(f"the {form} source of {key} needs {', '.join(missing)}, not installed",
                         DATA_SOURCES.get(form).install_hint())
    module = importlib.import_module(DATA_SOURCES.get(form).module)
    table = module.load(spec, SourceContext(Path(base_dir), seed, key))
    check_table(table)
    name = table.origin if form != "builtin" else str(spec)
    table.description = describe(name, table)
    return table


__all__ = ["SourceContext", "Table", "load_source"]
