"""Every constraint of tools/arg_constraints.py, proven against the installed Keras: for each
layer it applies to, the value inside builds and runs, and each value outside is refused by
Keras (or clipped into the range, for the `clipped` entries). If Keras changes what it
accepts, this fails and the table is corrected, so `specc validate` never refuses what Keras
takes or passes what Keras refuses."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CATALOG = json.loads((ROOT / "specc" / "catalog" / "keras_layers.json").read_text())["layers"]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


constraints = _tool("arg_constraints")

# Values for the required arguments of the layers the table names, and the shape of a sample.
REQUIRED = {"units": 2, "filters": 2, "kernel_size": 2, "rate": 0.25, "input_dim": 3, "output_dim": 2,
            "num_heads": 2, "key_dim": 2, "n": 2, "stddev": 0.1, "height": 4, "width": 4,
            "height_factor": 0.1, "width_factor": 0.1, "factor": 0.1, "target_shape": [8], "pool_size": 2,
            "output_size": 2, "activation": "relu", "axes": 1, "equation": "ab,bc->ac", "output_shape": 2,
            "head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 2, "num_bins": 2, "max_number": 2,
            "dims": [1], "scale": 1.0}
SPATIAL = {"1": (8, 2), "2": (8, 8, 2), "3": (4, 4, 4, 2)}
# Image layers that take colour images (3 channels).
IMAGES = ("random_", "cut_mix", "mix_up", "aug_mix", "rand_augment", "solarization", "equalization",
          "auto_contrast")
# Arguments that hold another layer (wrappers).
INNER = {"layer": lambda: keras.layers.Dense(2)}


def sample_shape(layer: str) -> tuple:
    """One sample the layer takes, with a batch axis of 1."""
    if layer in ("lstm", "gru", "simple_rnn", "bidirectional", "multi_head_attention"):
        return (1, 4, 2)
    if layer == "embedding":
        return (1, 3)
    rank = re.search(r"([123])d", layer)
    if rank:
        time = (3,) if layer.startswith("conv_lstm") else ()
        return (1,) + time + SPATIAL[rank.group(1)]
    if layer in ("resizing",) or layer.startswith(IMAGES):
        return (1, 8, 8, 3)
    return (1, 4)


def construct(layer: str, arg: str, value):
    """The layer, made with `arg` set to `value` (and the values above for its required arguments)."""
    info = CATALOG[layer]
    cls = getattr(keras.layers, info["class"])
    kwargs = {a["name"]: REQUIRED[a["name"]] for a in info["args"] if a["required"] and a["name"] in REQUIRED}
    kwargs.update({a["name"]: INNER[a["name"]]() for a in info["args"] if a["required"] and a["name"] in INNER})
    if layer == "bidirectional":
        kwargs["layer"] = keras.layers.LSTM(2)
    kwargs[arg] = value
    return cls(**kwargs)


def build_and_call(layer: str, arg: str, value, proof: str = "call"):
    made = construct(layer, arg, value)
    if proof == "init":
        return made
    x = np.zeros(sample_shape(layer), "float32")
    if layer == "embedding":
        x = np.zeros((1, 3), "int32")
    made(x, x) if layer == "multi_head_attention" else made(x)
    return made


def cases():
    for entry in constraints.CONSTRAINTS:
        for layer, info in CATALOG.items():
            if "alias_of" in info:
                continue
            arg = next((a for a in info["args"] if a["name"] == entry.arg), None)
            if arg is not None and constraints.constraint_for(layer, arg) is entry:
                yield pytest.param(entry, layer, id=f"{layer}.{entry.arg}")


@pytest.mark.parametrize("entry, layer", list(cases()))
def test_keras_takes_the_inside_and_refuses_the_outside(entry, layer):
    build_and_call(layer, entry.arg, entry.inside, entry.proof)
    for value in entry.outside:
        if entry.enforced == "clipped":
            made = build_and_call(layer, entry.arg, value)
            kept = getattr(getattr(made, "cell", made), entry.arg)
            assert kept != value and kept in (entry.schema["minimum"], entry.schema["maximum"]), (value, kept)
        else:
            with pytest.raises(Exception):  # noqa: B017 - Keras raises ValueError or TF's own errors
                build_and_call(layer, entry.arg, value, entry.proof)


# Values for the required arguments of the named objects the table names.
OBJECT_REQUIRED = {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "first_decay_steps": 10}
OBJECT_MODULES = {"optimizers": "optimizers", "schedules": "optimizers.schedules", "regularizers": "regularizers"}


def make_object(kind: str, name: str, arg: str, value):
    info = OBJECTS[kind][name]
    module = keras
    for part in OBJECT_MODULES[kind].split("."):
        module = getattr(module, part)
    cls = getattr(module, info["class"])
    kwargs = {a["name"]: OBJECT_REQUIRED[a["name"]] for a in info["args"] if a["required"]}
    kwargs[arg] = value
    return cls(**kwargs)


OBJECTS = json.loads((ROOT / "specc" / "catalog" / "keras_layers.json").read_text())


def object_cases():
    for entry in constraints.OBJECT_CONSTRAINTS:
        for name, info in OBJECTS[entry.kind].items():
            arg = next((a for a in info["args"] if a["name"] == entry.arg), None)
            if "alias_of" not in info and arg is not None and constraints.object_constraint_for(
                    entry.kind, name, arg) is entry:
                yield pytest.param(entry, name, id=f"{entry.kind}.{name}.{entry.arg}")


@pytest.mark.parametrize("entry, name", list(object_cases()))
def test_keras_objects_take_the_inside_and_refuse_the_outside(entry, name):
    make_object(entry.kind, name, entry.arg, entry.inside)
    for value in entry.outside:
        with pytest.raises(Exception):  # noqa: B017 - Keras raises ValueError (or TypeError)
            make_object(entry.kind, name, entry.arg, value)


def test_every_object_entry_applies_to_some_object():
    applied = {id(case.values[0]) for case in object_cases()}
    assert [e.arg for e in constraints.OBJECT_CONSTRAINTS if id(e) not in applied] == []


def test_only_one_clipping_of_an_optimizer():
    """specc/checks/objects.py refuses two of clipnorm, clipvalue, global_clipnorm: so does Keras."""
    keras.optimizers.Adam(clipnorm=1.0)
    for pair in ({"clipnorm": 1.0, "global_clipnorm": 1.0}, {"clipnorm": 1.0, "clipvalue": 1.0},
                 {"clipvalue": 1.0, "global_clipnorm": 1.0}):
        with pytest.raises(ValueError):
            keras.optimizers.Adam(**pair)


def test_every_entry_applies_to_some_layer():
    applied = {id(case.values[0]) for case in cases()}
    assert [e.arg for e in constraints.CONSTRAINTS if id(e) not in applied] == []


@pytest.mark.parametrize("layer", sorted(constraints.NEEDS_ONE_OF))
def test_layers_that_need_one_of_some_arguments(layer):
    cls = getattr(keras.layers, CATALOG[layer]["class"])
    with pytest.raises(ValueError):
        cls()
    first = constraints.NEEDS_ONE_OF[layer][0]
    cls(**{first: 4})
