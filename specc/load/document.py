"""A loaded spec: plain data and where each value came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from specc.errors import Position


@dataclass
class Document:
    """A loaded spec: plain data and where each value came from.

    Attributes:
        data: Plain JSON-like data (dict/list/str/int/float/bool/None).
        positions: Path tuple -> Position of the value at that path.
        key_positions: Path tuple -> Position of the mapping key naming that path.
        files: Files read, extends first, the spec itself last.
        extends: The spec's own `extends:` entries as written (the key is not in `data`).
    """

    data: dict
    positions: dict[tuple, Position]
    key_positions: dict[tuple, Position]
    files: list[str]
    extends: list[str] = field(default_factory=list)

    def position_of(self, path: Sequence[Any]) -> Optional[Position]:
        """Return the position of `path`, else of its nearest known ancestor."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get(())

    def key_position_of(self, path: Sequence[Any]) -> Optional[Position]:
        """Return the position of the key naming `path` if known, else `position_of(path)`."""
        return self.key_positions.get(tuple(path)) or self.position_of(path)
