"""Resolved spec -> keras.Model (built, compiled) and the summary `specc compile` prints.

Importing this package does not import TensorFlow or Keras; each function imports the
module that does the work when it is called.

    model = build_model(resolved, where=doc.position_of)          # uncompiled
    model = compile_spec(resolved, total_steps=1000, where=...)  # compiled
    adapt_preprocessing(model, train_x)                            # Normalization etc.
    print(summarize(model, resolved, where=...))

`where(path_tuple) -> Position | None` places spec paths in the file (`doc.position_of`).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional


def load_plugins(names: Iterable[str], spec_dir: Optional[str] = None,
                 where: Optional[Callable] = None) -> list:
    """Import the spec's plugin modules (the spec's directory searched first).

    Call it before `keras.saving.load_model` of a specc model: it also registers specc's
    own serializable objects (the `LinearWarmup` learning-rate schedule).

    Raises:
        SpecInvalid: A plugin cannot be found or fails to import.
    """
    from specc.compile import composite, training  # noqa: F401  (register specc's own serializable objects)
    from specc.compile.plugins import load_plugins as _load

    return _load(names, spec_dir, where)


def build_model(resolved: dict, where: Optional[Callable] = None, spec_dir: Optional[str] = None) -> Any:
    """The uncompiled keras.Model of a resolved spec.

    Args:
        resolved: `specc.render.resolve(spec)`.
        where: Maps a spec path tuple to a Position (or None), e.g. `doc.position_of`.
        spec_dir: Directory to import plugins from (default: the spec file's directory,
            found through `where`, else the current directory).

    Raises:
        SpecInvalid: Unknown layer/argument, shape errors, missing plugin (with positions).
    """
    load_plugins(resolved.get("plugins") or [], spec_dir, where)
    from specc.compile import composite
    from specc.compile.graph import build

    return composite.build(resolved, where) if composite.is_composite(resolved) else build(resolved, where)


def build_parts(resolved: dict, where: Optional[Callable] = None, spec_dir: Optional[str] = None) -> dict:
    """Part name -> keras.Model for composite specs (encoder/decoder, generator/discriminator)."""
    load_plugins(resolved.get("plugins") or [], spec_dir, where)
    from specc.compile.graph import build_parts as _parts

    return _parts(resolved, where)


def compile_model(model: Any, resolved: dict, total_steps: int = 1000, steps_per_execution: int = 1,
                  jit_compile: bool = False, where: Optional[Callable] = None) -> Any:
    """Compile a built model with the spec's loss, metrics, optimizer and schedule."""
    if _is_composite(resolved):
        from specc.compile.composite import compile as _compile
    else:
        from specc.compile.training import compile_model as _compile
    return _compile(model, resolved, total_steps, steps_per_execution, jit_compile, where)


def compile_spec(resolved: dict, total_steps: int = 1000, where: Optional[Callable] = None,
                 spec_dir: Optional[str] = None, steps_per_execution: int = 1,
                 jit_compile: bool = False) -> Any:
    """Build and compile the model of a resolved spec.

    Args:
        resolved: The resolved spec.
        total_steps: Optimizer steps of the whole run (default decay_steps of a schedule).
        where: Maps a spec path tuple to a Position (or None).
        spec_dir: Directory to import plugins from.
        steps_per_execution: Batches per compiled call.
        jit_compile: XLA-compile the train step.
    """
    model = build_model(resolved, where, spec_dir)
    return compile_model(model, resolved, total_steps, steps_per_execution, jit_compile, where)


def adapt_preprocessing(model_or_layers: Any, train_features: Any) -> list:
    """Adapt preprocessing layers (e.g. Normalization) on the training features; return
    the adapted layer names. `train_features`: an array, or input name -> array."""
    from specc.compile.graph import adapt_preprocessing as _adapt

    return _adapt(model_or_layers, train_features)


def summarize(model: Any, resolved: dict, where: Optional[Callable] = None,
              total_steps: Optional[int] = None) -> str:
    """The `specc compile` summary: layers with spec locations, shapes, params, compute
    estimate, and the loss / optimizer / metrics the spec resolved to."""
    if _is_composite(resolved):
        from specc.compile.composite import summarize as _summarize
    else:
        from specc.compile.summary import summarize as _summarize
    return _summarize(model, resolved, where, total_steps)


def _is_composite(resolved: dict) -> bool:
    """Autoencoder, GAN and few-shot specs are built and compiled by compile/composite.py."""
    return (resolved.get("task") or {}).get("type") in ("autoencoder", "gan", "few_shot")


def plot(model: Any, path: str) -> str:
    """Draw the model as PNG or SVG (needs pydot and Graphviz)."""
    from specc.compile.summary import plot as _plot

    return _plot(model, path)


__all__ = ["adapt_preprocessing", "build_model", "build_parts", "compile_model", "compile_spec",
           "load_plugins", "plot", "summarize"]
