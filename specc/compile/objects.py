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
from keras.src.utils.naming import to_snake_case

from specc.errors import Problem, SpecInvalid
from specc.suggest import did_you_mean, one_of, suggest

# Layer argument suffix -> kind of Keras object it takes.
ARG_KINDS = (("activation", "activations"), ("initializer", "initializers"),
             ("regularizer", "regularizers"), ("constraint", "constraints"))
KIND_WORDS = {"activations": "activation", "initializers": "initializer",
              "regularizers": "regularizer", "constraints": "constraint"}
_NOT_NAMES = {"get", "serialize", "deserialize", "initializer", "regularizer", "constraint"}


def kind_of_arg(arg: str) -> Optional[str]:
    """The kind of Keras object a layer argument takes (`kernel_initializer` -> initializers)."""
    for suffix, kind in ARG_KINDS:
        if arg == suffix or arg.endswith("_" + suffix):
            return kind
    return None


@lru_cache(maxsize=None)
def object_classes(kind: str) -> dict:
    """snake_case name -> class for initializers, regularizers, constraints (from the catalog
    and from Keras itself)."""
    module = getattr(keras, kind)
    table = {}
    try:
        from specc.catalog import load_catalog

        for name, entry in load_catalog().get(kind, {}).items():
            cls = getattr(module, entry.get("class") or "", None)
            if inspect.isclass(cls):
                table[name] = cls
    except Exception:  # noqa: BLE001 - the catalog is optional here
        pass
    for attr in dir(module):
        obj = getattr(module, attr)
        if attr.startswith("_") or not inspect.isclass(obj) or to_snake_case(attr) in _NOT_NAMES:
            continue
        table.setdefault(to_snake_case(attr), obj)
        table.setdefault(attr.lower(), obj)
    return table


@lru_cache(maxsize=None)
def known_names(kind: str) -> tuple:
    """The snake_case names a spec may use for one kind (`activations`, `initializers`, ...)."""
    module = getattr(keras, kind)
    names = []
    if kind == "activations":
        names = [a for a in dir(module) if not a.startswith("_") and a not in _NOT_NAMES
                 and callable(getattr(module, a))]
    else:
        names = _without_drawing(lambda: [n for n in object_classes(kind) if _gettable(kind, n)])
    try:
        from specc.catalog import names as catalog_names

        names += [n for n in catalog_names(kind) if n not in names]
    except Exception:  # noqa: BLE001 - the catalog is optional here
        pass
    return tuple(sorted(dict.fromkeys(names)))


def _without_drawing(probe: Callable):
    """Run `probe` and put Python's and NumPy's random state back: making an initializer
    to see whether a name resolves draws a seed, which would change the weights of the
    next model built in this process (two trainings in one session would differ)."""
    import random

    import numpy as np

    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        return probe()
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _gettable(kind: str, name: str) -> bool:
    """Whether Keras resolves the name alone, or it names a class (`constant` needs a value)."""
    try:
        getattr(keras, kind).get(name)
        return True
    except Exception:  # noqa: BLE001
        return name in object_classes(kind) and name == to_snake_case(object_classes(kind)[name].__name__)


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


def check_args(cls, args: dict, what: str, path: tuple, where, skip: tuple = ()) -> None:
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


def keras_object(kind: str, value: Any, path: tuple, where=None) -> Any:
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
        cls = object_classes(kind).get(name) or type(getattr(keras, kind).get(name))
        if args is None or args == {}:
            return cls()
        if not isinstance(args, dict):
            try:
                return cls(args)
            except Exception as err:  # noqa: BLE001
                raise problem(path, f"{word} '{name}' does not take {args!r}: {_first_line(err)}",
                              f"write it with named arguments: {{{name}: {{...}}}}", where)
        check_args(cls, args, f"{word} '{name}'", tuple(path) + (name,), where)
        try:
            return cls(**args)
        except Exception as err:  # noqa: BLE001
            raise problem(tuple(path) + (name,), f"{word} '{name}': {_first_line(err)}", None, where)
    raise problem(path, f"expected a {word} name or {{name: {{args}}}}, found {value!r}",
                  f"{word}s: {one_of(known_names(kind))}", where)


def _check_name(kind: str, name: Any, path: tuple, where, with_args: bool = False) -> None:
    names = known_names(kind)
    if isinstance(name, str) and (name in names or with_args and name in object_classes(kind)):
        return
    try:
        getattr(keras, kind).get(name)
        return
    except Exception:  # noqa: BLE001
        pass
    word = KIND_WORDS[kind]
    hint = did_you_mean(str(name), names) or f"{word}s: {one_of(names, 20)}"
    raise problem(path, f"unknown {word} '{name}'", hint, where)


def _first_line(err: BaseException) -> str:
    """The informative part of a Keras error message (ANSI codes and call dumps removed)."""
    from specc.compile.shapes import clean_message

    return clean_message(err)
