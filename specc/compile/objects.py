"""Keras objects named in a spec: activations, initializers, regularizers, constraints.

A spec names them the way Keras does (`he_normal`, `l2`, `max_norm`) or as a one-key mapping
with constructor arguments (`{l2: {l2: 1.0e-4}}`, `{l2: 1.0e-4}`). Unknown names and
arguments become `SpecInvalid` problems with a did-you-mean hint; nothing is evaluated.
"""
from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Callable, Optional

import keras

from specc import catalog
from specc.compile import names
from specc.errors import Problem, SpecInvalid
from specc.suggest import did_you_mean, one_of, suggest

# Layer argument suffix -> kind of Keras object it takes.
ARG_KINDS = (("activation", "activations"), ("initializer", "initializers"),
             ("regularizer", "regularizers"), ("constraint", "constraints"))
KIND_WORDS = {"activations": "activation", "initializers": "initializer",
              "regularizers": "regularizer", "constraints": "constraint"}


def kind_of_arg(arg: str) -> Optional[str]:
    """The kind of Keras object a layer argument takes (`kernel_initializer` -> initializers)."""
    for suffix, kind in ARG_KINDS:
        if arg == suffix or arg.endswith("_" + suffix):
            return kind
    return None


def as_floats(kind: str, name: str, args: dict) -> dict:
    """`args` with whole numbers turned into floats where the argument takes a float.

    YAML reads `learning_rate: 1` and `momentum: 0` as integers, and some Keras checks
    refuse an int where they want a float (`SGD(momentum=0)`); the catalog knows which
    arguments are floats (their default is one).
    """
    entry = catalog.entry(kind, name) or {}
    floats = {arg["name"] for arg in entry.get("args", []) if arg.get("type") == "number"}
    return {arg: float(value) if arg in floats and type(value) is int else value for arg, value in args.items()}


def problem(path: tuple, message: str, hint: Optional[str], where: Optional[Callable]) -> SpecInvalid:
    """A SpecInvalid with one problem placed at `path`."""
    position = where(path) if where else None
    return SpecInvalid([Problem(tuple(path), message, hint, position)])


@lru_cache(maxsize=None)
def init_arg_names(cls) -> tuple[tuple, tuple, bool]:
    """(argument names, required names, takes **kwargs) of a class's constructor chain.

    Walks the MRO while each `__init__` forwards `**kwargs`, so base-class arguments
    (`name`, `dtype`, `trainable`, ...) count as known.
    """
    names: list = []
    required: list = []
    open_kwargs = True
    first = True
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__ or klass is object:
            continue
        try:
            params = inspect.signature(klass.__dict__["__init__"]).parameters.values()
        except (TypeError, ValueError):
            break
        has_kwargs = False
        for p in list(params)[1:]:
            if p.kind is p.VAR_KEYWORD:
                has_kwargs = True
            elif p.kind is not p.VAR_POSITIONAL and p.name not in names:
                names.append(p.name)
                if first and p.default is p.empty:
                    required.append(p.name)
        first = False
        if not has_kwargs:
            open_kwargs = False
            break
        if klass.__name__ == "Layer" and klass.__module__.startswith("keras"):
            break
    return tuple(names), tuple(required), open_kwargs


def check_args(cls, args: dict, what: str, path: tuple, where: Optional[Callable], skip: tuple = ()) -> None:
    """Raise SpecInvalid for arguments `cls` does not take or required ones that are missing."""
    names, required, _ = init_arg_names(cls)
    problems = []
    for arg in args:
        if arg not in names:
            hint = did_you_mean(arg, names) or f"{what} takes: {one_of(names, 16)}"
            problems.append(Problem(tuple(path) + (arg,), f"unknown argument '{arg}' for {what}", hint,
                                    where(tuple(path) + (arg,)) if where else None))
    suggested = {s for arg in args if arg not in names for s in suggest(arg, names)}
    for arg in required:
        if arg not in args and arg not in skip and arg not in suggested:
            problems.append(Problem(tuple(path), f"{what} needs the argument '{arg}'",
                                    f"add `{arg}: ...` to {what}", where(tuple(path)) if where else None))
    if problems:
        raise SpecInvalid(problems)


def keras_object(kind: str, value: Any, path: tuple, where: Optional[Callable] = None) -> Any:
    """Turn a spec value into what a Keras layer takes for an object argument.

    Args:
        kind: `activations`, `initializers`, `regularizers` or `constraints`.
        value: None, a name (`he_normal`), or `{name: {args}}` / `{name: value}`.
        path: Spec path of the value, for error messages.
        where: Maps a spec path to a Position (or None).

    Returns:
        The name itself (validated; Keras resolves it and serializes it back as the name),
        or a constructed Keras object when arguments were given.

    Raises:
        SpecInvalid: Unknown name or argument.
    """
    word = KIND_WORDS[kind]
    if value is None:
        return value
    if isinstance(value, str):
        _check_name(kind, value, path, where)
        return value
    if isinstance(value, dict) and len(value) == 1:
        name, args = next(iter(value.items()))
        _check_name(kind, name, path, where, with_args=kind != "activations")
        if kind == "activations":
            if args:
                raise problem(path, f"activation '{name}' cannot take arguments here",
                              f"use the activation as a layer instead, e.g. `{name}` or "
                              "`activation: {activation: " + name + "}` without arguments", where)
            return name
        cls = names.classes(kind).get(name) or type(getattr(keras, kind).get(name))
        if args is None or args == {}:
            return cls()
        if not isinstance(args, dict):
            first = [a["name"] for a in (catalog.entry(kind, name) or {}).get("args", [])[:1]]
            args = as_floats(kind, name, {first[0]: args})[first[0]] if first else args
            try:
                return cls(args)
            except Exception as err:  # noqa: BLE001
                raise problem(path, f"{word} '{name}' does not take {args!r}: {_first_line(err)}",
                              f"write it with named arguments: {{{name}: {{...}}}}", where)
        check_args(cls, args, f"{word} '{name}'", tuple(path) + (name,), where)
        try:
            return cls(**as_floats(kind, name, args))
        except Exception as err:  # noqa: BLE001
            raise problem(tuple(path) + (name,), f"{word} '{name}': {_first_line(err)}", None, where)
    raise problem(path, f"expected a {word} name or {{name: {{args}}}}, found {value!r}",
                  f"{word}s: {one_of(names.names(kind))}", where)


def _check_name(kind: str, name: Any, path: tuple, where, with_args: bool = False) -> None:
    if isinstance(name, str) and (name in names.names(kind) or with_args and name in names.classes(kind)):
        return
    if names.resolves(kind, name):
        return
    raise names.unknown(kind, name, path, where)


def _first_line(err: BaseException) -> str:
    """The informative part of a Keras error message (ANSI codes and call dumps removed)."""
    from specc.compile.shapes import clean_message

    return clean_message(err)
