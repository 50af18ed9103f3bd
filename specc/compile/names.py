"""One lookup of Keras's names: layers, losses, metrics, optimizers, schedules, activations,
initializers, regularizers and constraints.

A spec names Keras objects the way Keras spells them in snake_case (`sparse_categorical_
crossentropy`, `adamw`, `cosine_decay`, `he_normal`, `l2`, `max_norm`). The shipped catalog
(specc/catalog, generated from the installed Keras) is the first source of each table and
must be there (a missing catalog is an internal error, not a silent fallback); the Keras
modules themselves add what the catalog does not list (e.g. classes a plugin registered).
"""
from __future__ import annotations

import importlib
import inspect
from functools import lru_cache
from typing import Any, Callable, Optional

import keras
from keras.src.utils.naming import to_snake_case

from specc import catalog
from specc.errors import Problem, SpecInvalid
from specc.suggest import did_you_mean, one_of

# kind -> the Keras module holding its classes
MODULES = {"losses": keras.losses, "metrics": keras.metrics, "optimizers": keras.optimizers,
           "schedules": keras.optimizers.schedules, "activations": keras.activations,
           "initializers": keras.initializers, "regularizers": keras.regularizers,
           "constraints": keras.constraints}
WORDS = {"losses": "loss", "metrics": "metric", "optimizers": "optimizer", "schedules": "schedule",
         "activations": "activation", "initializers": "initializer", "regularizers": "regularizer",
         "constraints": "constraint", "layers": "layer"}
# Names in the modules that are not objects a spec can name.
NOT_NAMES = {"get", "serialize", "deserialize", "initializer", "regularizer", "constraint",
             "optimizer", "loss_scale_optimizer", "multi_optimizer", "optimizer_map"}
NOT_CLASSES = {"Optimizer", "LossScaleOptimizer", "MultiOptimizer", "OptimizerMap"}
# keras.layers classes a spec cannot name: abstract bases, cells, and layers that wrap code.
EXCLUDED = {"Layer", "InputLayer", "Wrapper", "RNN", "Lambda", "TFSMLayer", "JaxLayer", "FlaxLayer",
            "TorchModuleWrapper", "Pipeline", "StackedRNNCells", "GRUCell", "LSTMCell",
            "SimpleRNNCell"}


def _spellings(kind: str, attr: str) -> list[str]:
    """How a spec spells a Keras class name: `RMSprop` -> rmsprop (optimizers keep Keras's
    lower case); `GlorotNormal` -> glorot_normal (and glorotnormal); `MeanSquaredError` ->
    mean_squared_error."""
    if kind == "optimizers":
        return [attr.lower()]
    if kind in ("initializers", "regularizers", "constraints"):
        return [to_snake_case(attr), attr.lower()]
    return [to_snake_case(attr)]


@lru_cache(maxsize=None)
def classes(kind: str) -> dict:
    """snake_case name -> class of one kind (catalog first, then the Keras module)."""
    module = MODULES[kind]
    table: dict = {}
    for name, entry in catalog.entries(kind).items():
        cls = getattr(module, entry.get("class") or "", None)
        if inspect.isclass(cls):
            table[name] = cls
    for attr in dir(module):
        obj = getattr(module, attr)
        if attr.startswith("_") or not inspect.isclass(obj) or attr in NOT_CLASSES:
            continue
        for spelled in _spellings(kind, attr):
            if spelled not in NOT_NAMES:
                table.setdefault(spelled, obj)
    return table


def get_class(kind: str, name: str) -> Optional[type]:
    """The class a name (or an alias of the catalog, `mse`) stands for, or None."""
    found = classes(kind).get(name)
    if found is None:
        alias = (catalog.entry(kind, name) or {}).get("alias_of")
        found = classes(kind).get(alias) if alias else None
    return found


@lru_cache(maxsize=None)
def names(kind: str) -> tuple:
    """Every name a spec may use for one kind, sorted (for messages and checks)."""
    found = set(catalog.names(kind))
    if kind == "activations":
        module = MODULES[kind]
        found |= {a for a in dir(module) if not a.startswith("_") and a not in NOT_NAMES
                  and callable(getattr(module, a))}
    elif kind in ("losses", "metrics"):
        module = MODULES[kind]
        found |= set(classes(kind)) | {a for a in dir(module) if a.islower() and not a.startswith("_")
                                       and a not in NOT_NAMES}
    elif kind in ("optimizers", "schedules"):
        found |= set(classes(kind))
    else:
        found |= {n for n in classes(kind) if _gettable(kind, n)}
    return tuple(sorted(found))


def _gettable(kind: str, name: str) -> bool:
    """Whether Keras resolves the name alone, or it names a class (`constant` needs a value).
    Probing makes an initializer, which draws a seed: Python's and NumPy's random state are
    put back, so two builds of a spec in one process get the same weights."""
    import random

    import numpy as np

    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        getattr(keras, kind).get(name)
        return True
    except Exception:  # noqa: BLE001
        return name == to_snake_case(classes(kind)[name].__name__)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def resolves(kind: str, name: str) -> bool:
    """Whether Keras's own `get` knows the name (a function name such as `mse`, `relu`)."""
    try:
        getattr(keras, kind).get(name)
        return True
    except Exception:  # noqa: BLE001
        return False


@lru_cache(maxsize=None)
def builtin_layers() -> dict:
    """snake_case name -> Keras layer class, for every layer a spec may name."""
    table: dict = {}
    for name in catalog.layer_names():
        info = catalog.layer_info(name) or {}
        module = importlib.import_module(info.get("module", "keras.layers"))
        cls = getattr(module, info.get("class", ""), None)
        if inspect.isclass(cls):
            table[name] = cls
    for attr in dir(keras.layers):
        cls = getattr(keras.layers, attr)
        if attr in EXCLUDED or not inspect.isclass(cls) or not issubclass(cls, keras.layers.Layer):
            continue
        table.setdefault(to_snake_case(attr), cls)
    return table


def unknown(kind: str, name: Any, path: tuple, where: Optional[Callable]) -> SpecInvalid:
    """`unknown loss 'x'` placed at `path`, with did-you-mean (or the known names)."""
    word = WORDS[kind]
    known = names(kind)
    hint = did_you_mean(str(name), known) or f"{word}s: {one_of(known, 16)}"
    position = where(tuple(path)) if where else None
    return SpecInvalid([Problem(tuple(path), f"unknown {word} '{name}'", hint, position)])
