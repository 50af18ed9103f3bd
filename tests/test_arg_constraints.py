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
            "output_size": 2}
SPATIAL = {"1": (8, 2), "2": (8, 8, 2), "3": (4, 4, 4, 2)}


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
    if layer in ("resizing",) or layer.startswith("random_"):
        return (1, 8, 8, 2)
    return (1, 4)


def build_and_call(layer: str, arg: str, value):
    info = CATALOG[layer]
    cls = getattr(keras.layers, info["class"])
    kwargs = {a["name"]: REQUIRED[a["name"]] for a in info["args"] if a["required"] and a["name"] in REQUIRED}
    if layer == "bidirectional":
        kwargs["layer"] = keras.layers.LSTM(2)
    kwargs[arg] = value
    made = cls(**kwargs)
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
    build_and_call(layer, entry.arg, entry.inside)
    for value in entry.outside:
        if entry.enforced == "clipped":
            made = build_and_call(layer, entry.arg, value)
            kept = getattr(getattr(made, "cell", made), entry.arg)
            assert kept != value and kept in (entry.schema["minimum"], entry.schema["maximum"]), (value, kept)
        else:
            with pytest.raises(Exception):  # noqa: B017 - Keras raises ValueError or TF's own errors
                build_and_call(layer, entry.arg, value)


def test_every_entry_applies_to_some_layer():
    applied = {id(case.values[0]) for case in cases()}
    assert [e.arg for e in constraints.CONSTRAINTS if id(e) not in applied] == []
