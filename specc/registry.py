"""A registry: a plain, ordered name -> entry table with one `get()` that says
"unknown <kind> 'x'; did you mean 'y'?" on a miss.

Every registry of specc is filled in one visible place, `specc/registries.py`. No TensorFlow
here.
"""
from __future__ import annotations

import importlib
from typing import Generic, Iterator, Mapping, Optional, TypeVar

from specc.errors import UsageError
from specc.suggest import did_you_mean, one_of

T = TypeVar("T")


class UnknownName(UsageError):
    """A name that is not in a registry (exit code 2 on the command line)."""

    def __init__(self, kind: str, name: object, known: list[str]):
        hint = did_you_mean(str(name), known) or f"known {kind}s: {one_of(known, 16)}"
        super().__init__(f"unknown {kind} '{name}'", hint)
        self.kind, self.name, self.known = kind, name, known


class Registry(Generic[T]):
    """Name -> entry, in the order the entries were given.

    Args:
        kind: What an entry is, in messages (`export format`, `task type`).
        entries: The entries, keyed by name.
    """

    def __init__(self, kind: str, entries: Mapping[str, T]):
        self.kind = kind
        self._entries: dict[str, T] = dict(entries)

    def get(self, name: str) -> T:
        """The entry of `name`.

        Raises:
            UnknownName: `name` is not registered (the message suggests close names).
        """
        if not isinstance(name, str) or name not in self._entries:
            raise UnknownName(self.kind, name, self.names())
        return self._entries[name]

    def find(self, name: object) -> Optional[T]:
        """The entry of `name`, or None."""
        return self._entries.get(name) if isinstance(name, str) else None

    def add(self, name: str, entry: T) -> None:
        """Register `entry` under `name` (a plugin's or a test's kind; the built-in ones are
        listed in specc/registries.py).

        Raises:
            ValueError: `name` is already registered.
        """
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def remove(self, name: str) -> None:
        """Forget the entry of `name` (what `add` registered)."""
        del self._entries[name]

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def load_object(dotted: str) -> object:
    """Import `package.module:attribute` (or a whole `package.module`) when it is needed.

    Registries in the core layer name implementations in higher layers this way, so that
    importing a registry never imports TensorFlow or a layer above it.
    """
    module_name, _, attribute = dotted.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module
