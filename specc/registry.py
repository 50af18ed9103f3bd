"""A registry: a plain, ordered name -> entry table with one `get()` that says
"unknown <kind> 'x'; did you mean 'y'?" on a miss.

Every registry of specc is filled in one visible place, `specc/registries.py`. No TensorFlow
here.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Generic, Iterator, Mapping, Optional, TypeVar

from specc.errors import SpeccError, UsageError
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


def load_conforming(dotted: str, protocol: type) -> object:
    """`load_object(dotted)`, checked against `protocol` (a `typing.Protocol` for a module, or
    a base class for a class); the caller casts it to that type, so mypy checks its uses.

    Raises:
        SpeccError: The implementation lacks a member or a method's parameters differ (a bug
            of specc or of a plugin: exit 70, naming what is wrong).
    """
    found = load_object(dotted)
    problems = conformance_problems(found, protocol)
    if problems:
        raise SpeccError(f"{dotted} does not implement {protocol.__name__}: {'; '.join(problems)}")
    return found


def conformance_problems(found: object, protocol: type) -> list[str]:
    """What `found` (a module, or a class) lacks of `protocol`'s public members: a missing
    member, a method that is not callable or takes other parameters (by name, in order), a
    constant that is callable. Empty when it conforms."""
    problems = []
    for name, wanted in public_members(protocol).items():
        if not hasattr(found, name):
            problems.append(f"no {name}")
        elif inspect.isfunction(wanted):
            problems += _method_problems(name, wanted, getattr(found, name), inspect.isclass(found))
        elif callable(getattr(found, name)):
            problems.append(f"{name} must be a value, not a function")
    return problems


def public_members(protocol: type) -> dict[str, object]:
    """Name -> declaration of each public member of a protocol or base class (its methods,
    properties and annotated attributes, inherited ones included)."""
    members: dict[str, object] = {}
    for cls in reversed(protocol.__mro__):
        if cls.__module__ in ("builtins", "typing", "typing_extensions"):
            continue
        members.update({name: None for name in vars(cls).get("__annotations__", {})})
        members.update({name: value for name, value in vars(cls).items()
                        if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))})
    return {name: value for name, value in members.items() if not name.startswith("_")}


def _method_problems(name: str, wanted: Callable[..., Any], given: object, bound_first: bool) -> list[str]:
    if not callable(given):
        return [f"{name} must be a function"]
    expected = _parameter_names(wanted)[1:]  # the protocol's `self`
    actual = _parameter_names(given)[1 if bound_first else 0:]
    if actual != expected:
        return [f"{name}({', '.join(actual)}) must take ({', '.join(expected)})"]
    return []


def _parameter_names(function: Callable[..., Any]) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: not ours to check
        return []
