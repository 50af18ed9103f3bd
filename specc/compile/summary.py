"""What `specc compile` prints: layers with their spec location, shapes, parameters, an
estimate of the compute per sample, and what `auto` became; and `plot` (PNG/SVG).
"""
from __future__ import annotations

import math
import os
import shutil
from typing import Any, Callable, Optional, Sequence

import keras

from specc.compile.shapes import shape_text
from specc.errors import ExportError
from specc.render import output_tasks
from specc.tasks.supervised import auto_loss


class PlotUnavailable(ExportError):
    """pydot or Graphviz's `dot` is missing, so the model cannot be drawn."""


# --- compute estimate -----------------------------------------------------------------------------

def _dims(shape) -> list:
    return [1 if d is None else int(d) for d in tuple(shape)[1:]]


def _prod(values) -> int:
    return int(math.prod(values)) if values else 1


def layer_macs(layer: Any, in_shape: Sequence[Optional[int]], out_shape: Sequence[Optional[int]]) -> int:
    """Multiply-adds per sample of one layer (0 for layers not counted)."""
    name = type(layer).__name__
    ins, outs = _dims(in_shape), _dims(out_shape)
    if not ins or not outs:
        return 0
    if name == "Dense":
        return _prod(outs[:-1]) * ins[-1] * outs[-1]
    if name == "EinsumDense":
        return sum(_prod(w.shape) for w in layer.trainable_weights[:1]) * max(1, _prod(outs) // max(1, outs[-1]))
    if name.startswith("DepthwiseConv"):
        kernel = _prod(layer.kernel_size)
        return _prod(outs[:-1]) * kernel * ins[-1] * layer.depth_multiplier
    if name.startswith("SeparableConv"):
        kernel = _prod(layer.kernel_size)
        mid = ins[-1] * layer.depth_multiplier
        return _prod(outs[:-1]) * (kernel * mid + mid * outs[-1])
    if name.startswith("Conv") and name.endswith("Transpose"):
        return _prod(ins[:-1]) * _prod(layer.kernel_size) * ins[-1] * outs[-1]
    if name.startswith("Conv") and "LSTM" not in name:
        groups = getattr(layer, "groups", 1) or 1
        return _prod(outs[:-1]) * _prod(layer.kernel_size) * (ins[-1] // groups) * outs[-1]
    if name in ("SimpleRNN", "LSTM", "GRU"):
        gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[name]
        units = layer.units
        steps = ins[0] if len(ins) >= 2 else 1
        return steps * gates * (ins[-1] * units + units * units)
    if name == "Bidirectional":
        one = layer_macs(layer.forward_layer, in_shape, _rnn_out(layer.forward_layer, in_shape))
        return 2 * one
    if name == "TimeDistributed":
        steps = ins[0]
        inner_in = (None,) + tuple(ins[1:])
        inner_out = (None,) + tuple(outs[1:])
        return steps * layer_macs(layer.layer, inner_in, inner_out)
    if name in ("BatchNormalization", "LayerNormalization", "GroupNormalization", "Normalization"):
        return _prod(outs)
    return 0


def _rnn_out(layer, in_shape):
    dims = tuple(in_shape)
    return (dims[0], layer.units) if not getattr(layer, "return_sequences", False) else \
        (dims[0], dims[1], layer.units)


def _io_shapes(layer) -> tuple:
    try:
        inp = layer.input
        out = layer.output
    except Exception:  # noqa: BLE001 - shared or unconnected layers have no single shape
        return None, None
    if isinstance(inp, (list, tuple)):
        inp = inp[0] if inp else None
    if isinstance(out, (list, tuple)):
        out = out[0] if out else None
    return getattr(inp, "shape", None), getattr(out, "shape", None)


def model_macs(model: Any) -> int:
    """Estimated multiply-adds per sample of the whole model (nested models included)."""
    return sum(macs_by_kind(model).values())


def macs_by_kind(model: Any) -> dict:
    """Estimated multiply-adds per sample of the whole model (nested models included), by the
    kind of layer that does them (`Dense`, `Conv2D`, `LSTM`, ...)."""
    kinds: dict = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for kind, macs in macs_by_kind(layer).items():
                kinds[kind] = kinds.get(kind, 0) + macs
            continue
        in_shape, out_shape = _io_shapes(layer)
        if in_shape is not None and out_shape is not None:
            macs = layer_macs(layer, in_shape, out_shape)
            if macs:
                kinds[type(layer).__name__] = kinds.get(type(layer).__name__, 0) + macs
    return kinds


def _bytes(count: int) -> str:
    return f"{human(count)}B" if count >= 1000 else f"{count} B"


def human(number: float) -> str:
    """12_345_678 -> '12.3 M'."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(number) >= size:
            return f"{number / size:.3g} {unit}"
    return f"{number:g}"


# --- summary ---------------------------------------------------------------------------------------

def summarize(model: Any, resolved: dict, where: Optional[Callable] = None,
              total_steps: Optional[int] = None) -> str:
    """A text summary of a built (ideally compiled) model and what the spec resolved to.

    Args:
        model: The keras.Model built by specc.
        resolved: The resolved spec.
        where: Maps a spec path to a Position (for the file:line column).
        total_steps: Steps of the run, shown as the schedule's default decay steps.
    """
    paths = getattr(model, "specc_paths", {}) or {}
    rows = [("layer", "kind", "spec", "output shape", "params", "mult-adds")]
    for layer in model.layers:
        in_shape, out_shape = _io_shapes(layer)
        kind = type(layer).__name__
        if kind == "InputLayer":
            place = _place(where, ("model", "inputs", layer.name))
            shape = shape_text(layer.output.shape) if hasattr(layer, "output") else "?"
            rows.append((layer.name, "input", place, shape, "0", ""))
            continue
        place = _place(where, paths.get(layer.name)) if layer.name in paths else ""
        macs = layer_macs(layer, in_shape, out_shape) if in_shape is not None and out_shape is not None else 0
        rows.append((layer.name, _snake(kind), place, shape_text(out_shape) if out_shape is not None else "?",
                     f"{layer.count_params():,}", human(macs) if macs else ""))
    lines = [f"Model: {model.name}"]
    lines += _table(rows)
    trainable = sum(_count(w) for w in model.trainable_weights)
    frozen = sum(_count(w) for w in model.non_trainable_weights)
    lines.append(f"Total params: {trainable + frozen:,}   trainable: {trainable:,}   "
                 f"non-trainable: {frozen:,}   ({_bytes((trainable + frozen) * 4)} as float32)")
    macs = model_macs(model)
    lines.append(f"Compute (estimate): ~{human(macs)} multiply-adds (~{human(2 * macs)} FLOPs) per sample; "
                 "counts dense, convolution, recurrent and normalization layers only")
    lines.append("")
    lines += training_lines(model, resolved, total_steps)
    return "\n".join(lines)


def training_lines(model: Any, resolved: dict, total_steps: Optional[int] = None) -> list:
    """Loss / optimizer / schedule / metrics lines, marking what `auto` chose."""
    tasks = output_tasks(resolved.get("task", {}))
    loss = resolved.get("loss")
    lines = []
    if isinstance(loss, dict) and set(loss) <= set(tasks) and len(tasks) > 1:
        for out, one in loss.items():
            lines.append(f"Loss[{out}]: {call_text(one)}{_auto_note(one, tasks.get(out, {}))}")
    else:
        only: dict = next(iter(tasks.values()), {})
        lines.append(f"Loss: {call_text(loss)}{_auto_note(loss, only)}")
    if resolved.get("loss_weights"):
        lines.append("Loss weights: " + ", ".join(f"{k}={v}" for k, v in resolved["loss_weights"].items()))
    lines.append(f"Optimizer: {call_text(resolved.get('optimizer'))}")
    optimizer = getattr(model, "optimizer", None)
    rate = getattr(optimizer, "_learning_rate", None) if optimizer is not None else None
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        lines.append(f"Schedule: {_schedule_text(rate)}")
    elif resolved.get("schedule"):
        extra = f" (decay steps default: {total_steps})" if total_steps else ""
        lines.append(f"Schedule: {call_text(resolved['schedule'])}{extra}")
    metrics = resolved.get("metrics")
    if isinstance(metrics, dict):
        for out, items in metrics.items():
            lines.append(f"Metrics[{out}]: {', '.join(call_text(m) for m in items) or 'none'}")
    else:
        lines.append(f"Metrics: {', '.join(call_text(m) for m in metrics or []) or 'none'}")
    return lines


def _schedule_text(schedule) -> str:
    config = schedule.get_config()
    if "after" in config:
        inner = keras.optimizers.schedules.deserialize(config["after"])
        return f"linear warmup over {config['warmup_steps']} steps from {config['start']:g}, then " + \
            _schedule_text(inner)
    name = _snake(type(schedule).__name__)
    args = ", ".join(f"{k}={_num(v)}" for k, v in config.items() if k != "name" and v is not None)
    return f"{name}({args})"


def _auto_note(loss: Any, task: dict) -> str:
    return "  (the task's default)" if loss is not None and loss == auto_loss(task) else ""


def call_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        name, args = next(iter(value.items()))
        if not args:
            return str(name)
        return f"{name}(" + ", ".join(f"{k}={_num(v)}" for k, v in args.items()) + ")"
    return str(value)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _snake(name: str) -> str:
    from keras.src.utils.naming import to_snake_case

    return to_snake_case(name)


def _count(weight) -> int:
    return int(math.prod(weight.shape)) if weight.shape else 1


def _place(where: Optional[Callable], path) -> str:
    if not where or path is None:
        return ""
    position = where(tuple(path))
    if position is None:
        return ""
    return f"{os.path.basename(position.file)}:{position.line}"


def _table(rows: list) -> list:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    right = {4, 5}
    lines = []
    for n, row in enumerate(rows):
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


# --- plot ------------------------------------------------------------------------------------------

def plot(model: Any, path: str, show_shapes: bool = True) -> str:
    """Draw the model to `path` (.png or .svg) with keras.utils.plot_model.

    Raises:
        PlotUnavailable: pydot or Graphviz `dot` is not installed.
        ExportError: The file type is not .png/.svg, or drawing failed.
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".png", ".svg"):
        raise ExportError(f"cannot draw a model as '{suffix or path}'", hint="use a .png or .svg file name")
    try:
        import pydot  # noqa: F401
    except ImportError:
        raise PlotUnavailable("drawing the model needs the pydot package",
                              hint="pip install pydot (or pip install 'specc[plot]'), and Graphviz: "
                                   "apt-get install graphviz / brew install graphviz") from None
    if shutil.which("dot") is None:
        raise PlotUnavailable("drawing the model needs Graphviz's `dot` program",
                              hint="apt-get install graphviz (Debian/Ubuntu) or brew install graphviz (macOS)")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        keras.utils.plot_model(model, to_file=path, show_shapes=show_shapes, show_layer_names=True,
                               show_layer_activations=True, dpi=96, expand_nested=True)
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"could not draw the model: {err}") from None
    return path
