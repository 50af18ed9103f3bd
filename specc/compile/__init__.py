"""Resolved spec -> Keras networks: layers, graphs, blocks, heads, preprocessing, losses,
metrics, optimizers, schedules, and the summary `specc compile` prints.

Importing this package does not import TensorFlow or Keras; each function imports the
module that does the work when it is called. Which model a spec trains (a plain network,
an autoencoder, a GAN, ...) is the paradigm's to say: `specc.paradigms.build_model`.

`where(path_tuple) -> Position | None` places spec paths in the file (`doc.position_of`).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Optional, Union


def load_plugins(names: Iterable[str], spec_dir: Optional[Union[str, os.PathLike[str]]] = None,
                 where: Optional[Callable] = None) -> list:
    """Import the spec's plugin modules (the spec's directory searched first).

    Call it before `keras.saving.load_model` of a specc model: it also registers specc's
    own serializable objects of this layer (the `LinearWarmup` learning-rate schedule, a
    backbone's `ApplicationPreprocess`).

    Raises:
        SpecInvalid: A plugin cannot be found or fails to import.
    """
    from specc.compile import backbone, training  # noqa: F401  (register LinearWarmup, ApplicationPreprocess)
    from specc.compile.plugins import load_plugins as _load

    return _load(names, spec_dir, where)


def build_network(resolved: dict, where: Optional[Callable] = None) -> Any:
    """The functional keras.Model of a resolved spec's `model:` stack or graph."""
    from specc.compile.graph import build

    return build(resolved, where)


def adapt_preprocessing(model_or_layers: Any, train_features: Any) -> list:
    """Adapt preprocessing layers (e.g. Normalization) on the training features; return
    the adapted layer names. `train_features`: an array, or input name -> array."""
    from specc.compile.preprocessing import adapt_preprocessing as _adapt

    return _adapt(model_or_layers, train_features)


def plot(model: Any, path: str) -> str:
    """Draw the model as PNG or SVG (needs pydot and Graphviz)."""
    from specc.compile.summary import plot as _plot

    return _plot(model, path)


__all__ = ["adapt_preprocessing", "build_network", "load_plugins", "plot"]
