"""Preprocessing layers from `data.preprocessing`, placed right after the model's inputs.

Each float input gets its own copy of every preprocessing layer, named `<input>_<layer>`
(`features_normalization`), so the model takes raw features and exports carry the
preprocessing. `adapt_preprocessing` adapts them (Normalization's mean and variance, ...)
on the training split before training, and with them every adaptable layer of the model that
takes a model input directly (a `text_vectorization` or `string_lookup` on a string input: its
vocabulary is learnt from the training split and saved with the model).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import keras

from specc.compile.shapes import connect
from specc.layer_items import layer_key

if TYPE_CHECKING:
    from specc.compile.graph import Builder

FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")


def add_preprocessing(builder: Builder, inputs: dict, items: list) -> dict:
    """Put data.preprocessing layers after each float input; input name -> tensor after them."""
    tensors = dict(inputs)
    if not items:
        return tensors
    for input_name, tensor in inputs.items():
        if str(tensor.dtype) not in FLOAT_DTYPES:
            continue
        x = tensor
        for index, item in enumerate(items):
            key = layer_key(item)
            path = ("data", "preprocessing", index)
            layer = builder.make(item, path, f"{input_name}_{item.get('name') or key}", _scope(path))
            # builder.make has refused an item that names no layer, so the key is a name
            x = connect(layer, x, cast(str, key), path, builder.where, f" (on input '{input_name}')")
            builder.preprocessing.setdefault(input_name, []).append(layer.name)
        tensors[input_name] = x
    return tensors


def adapt_preprocessing(model_or_layers: Any, train_features: Any) -> list:
    """Adapt the preprocessing layers (Normalization, ...) on the training features.

    Args:
        model_or_layers: A model built by specc (its `specc_preprocessing` tells which layers
            belong to which input), or a dict input name -> list of layers, or a list of
            layers for a single input.
        train_features: One array (single input) or a dict input name -> array.

    Returns:
        The names of the layers that were adapted.
    """
    groups = _preprocessing_groups(model_or_layers)
    if isinstance(model_or_layers, keras.Model):
        listed = {layer.name for layers in groups.values() for layer in layers}
        for input_name, layer in _on_inputs(model_or_layers):
            if layer.name not in listed:
                groups.setdefault(input_name, []).append(layer)
    adapted = []
    for input_name, layers in groups.items():
        if isinstance(train_features, dict):
            if input_name not in train_features:
                continue
            data = train_features[input_name]
        else:
            data = train_features
        for position, layer in enumerate(layers):
            if hasattr(layer, "adapt") and callable(layer.adapt) and not _given_vocabulary(layer):
                layer.adapt(data)
                adapted.append(layer.name)
            if position + 1 < len(layers):
                data = keras.ops.convert_to_numpy(layer(data))
    return adapted


def _given_vocabulary(layer: Any) -> bool:
    """A lookup or text layer whose vocabulary the spec writes out: it needs no adapting, and
    Keras refuses to adapt it ("Cannot adapt layer ... after setting a static vocabulary")."""
    return getattr(layer, "input_vocabulary", None) is not None or \
        bool(getattr(layer, "_has_input_vocabulary", False))


def _on_inputs(model: Any) -> list:
    """(input name, layer) of each adaptable layer that takes one model input directly.

    A layer after a data.preprocessing layer, or after another layer, is not one: its input
    is not the raw feature.
    """
    inputs = {id(tensor): tensor.name.split(":")[0] for tensor in model.inputs}
    found = []
    for layer in model.layers:
        if not callable(getattr(layer, "adapt", None)) or isinstance(layer, keras.Model):
            continue
        try:
            tensor = layer.input
        except (AttributeError, ValueError):  # shared by several calls, or not called
            continue
        if not isinstance(tensor, (list, tuple, dict)) and id(tensor) in inputs:
            found.append((inputs[id(tensor)], layer))
    return found


def _preprocessing_groups(model_or_layers: Any) -> dict:
    if isinstance(model_or_layers, dict):
        return {k: list(v) for k, v in model_or_layers.items()}
    if isinstance(model_or_layers, (list, tuple)):
        return {"": list(model_or_layers)}
    names = getattr(model_or_layers, "specc_preprocessing", None)
    if names is None:  # a reloaded model: find `<input>_<layer>` layers after each input
        names = {}
        layer_names = [layer.name for layer in model_or_layers.layers]
        for input_name in getattr(model_or_layers, "input_names", []) or []:
            names[input_name] = [n for n in layer_names if n.startswith(input_name + "_")
                                 and hasattr(model_or_layers.get_layer(n), "adapt")]
    return {k: [_find_layer(model_or_layers, n) for n in v] for k, v in names.items()}


def _find_layer(model, name: str):
    """A layer by name, looking inside nested models too (an autoencoder's encoder)."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            try:
                return _find_layer(layer, name)
            except ValueError:
                continue
    raise ValueError(f"no layer named {name!r} in model {model.name!r}")


def _scope(path: tuple):
    from specc.compile.graph import Scope

    return Scope(tuple(path))
