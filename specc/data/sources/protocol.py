"""What a data source module is, typed: `DataSource`, and the `SourceContext` its `load`
gets besides its own mapping. No TensorFlow here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from specc.data.table import Table


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


class DataSource(Protocol):
    """A data source module (`specc/data/sources/<form>.py`, named by its line in
    `specc.registries.DATA_SOURCES`); `specc.data.sources.source_module` checks a module
    against it when it is loaded, `tests/test_registries.py` checks every registered one."""

    def load(self, spec: Any, context: SourceContext) -> Table:
        """The source's samples (its own mapping of the spec is `spec`), unchecked: the
        caller checks the table (non-empty, lengths agree, finite features).

        Raises:
            DataError: Anything wrong with the data, naming the file and row or column.
        """
