"""Import the plugin modules a spec lists under `plugins:`.

A plugin is a plain Python module that registers custom layers (or losses, metrics, ...)
with `@keras.saving.register_keras_serializable(package=...)` when imported. It is looked up
on `sys.path` with the spec's directory put in front for the duration of the import, so a
`my_layers.py` next to the spec just works. Only module names are accepted; nothing is ever
evaluated from a string.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from contextlib import contextmanager
from typing import Callable, Iterable, Optional, Union

from specc.errors import Problem, SpecInvalid

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def load_plugins(names: Iterable[str], spec_dir: Optional[Union[str, os.PathLike[str]]] = None,
                 where: Optional[Callable] = None) -> list:
    """Import each plugin module; return the modules.

    Args:
        names: Module names (`my_layers`, `package.module`).
        spec_dir: Directory searched first (the spec's directory; str or Path). None: from the
            position of `plugins` given by `where`, else the current directory.
        where: Maps a spec path to a Position (also used to find the spec's directory).

    Raises:
        SpecInvalid: A name is not a module name, cannot be found, or fails to import.
    """
    names = list(names or [])
    if not names:
        return []
    problems, modules = [], []
    for index, name in enumerate(names):
        path = ("plugins", index)
        position = where(path) if where else None
        directory = os.fspath(spec_dir) if spec_dir else (
            os.path.dirname(os.path.abspath(position.file))
            if position and os.path.isfile(position.file) else os.getcwd())
        directory = os.path.abspath(directory)
        if not isinstance(name, str) or not _MODULE.match(name):
            problems.append(Problem(path, f"plugin {name!r} is not a Python module name",
                                    "write the module's import name, e.g. `plugins: [my_layers]`",
                                    position, code="plugin"))
            continue
        try:
            with _on_path(directory):
                modules.append(importlib.import_module(name))
        except ModuleNotFoundError as err:
            missing = err.name or name
            if missing == name or name.startswith(missing + "."):
                hint = (f"put {name.replace('.', '/')}.py next to the spec ({directory}) or install the "
                        "package that provides it")
                problems.append(Problem(path, f"plugin '{name}' cannot be found", hint, position,
                                        code="plugin"))
            else:
                problems.append(Problem(path, f"plugin '{name}' imports '{missing}', which is not installed",
                                        f"pip install the package that provides '{missing}'", position,
                                        code="plugin"))
        except Exception as err:  # noqa: BLE001 - the plugin's own error, reported without a traceback
            problems.append(Problem(path, f"plugin '{name}' failed to import: "
                                    f"{type(err).__name__}: {err}",
                                    "fix the plugin module (run `python -c 'import " + name + "'` to see "
                                    "the traceback)", position, code="plugin"))
    if problems:
        raise SpecInvalid(problems)
    return modules


@contextmanager
def _on_path(directory: str):
    """Put `directory` first on sys.path while importing."""
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)
    try:
        importlib.invalidate_caches()
        yield
    finally:
        if added:
            try:
                sys.path.remove(directory)
            except ValueError:
                pass
