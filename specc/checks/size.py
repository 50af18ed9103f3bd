"""How big a model will be, estimated from the spec before anything is built: the number of
layers after `repeat` and blocks are expanded, the parameters, and the activations of one
batch. A spec past the limits is refused at validate time with the figure and the limit
(a `repeat: 1000000000` used to hang `specc compile`; `units: 1000000000` reached
TensorFlow's allocator). No TensorFlow here.

Shapes are followed through the common layers (dense, convolutions, pooling, recurrent,
embedding, flatten, reshape, normalization, dropout and other shape-keeping layers, merges);
after a layer this module does not know, the shapes are unknown and only the layers already
counted count. So the estimate is a floor, never a guess.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from specc.errors import Problem
from specc.layer_items import layer_key, normalize_item
from specc.spec_data import integer, items, mapping
from specc.spec_data import problem as _p

if TYPE_CHECKING:
    from specc.load import Document

MAX_LAYERS = 5_000
MAX_PARAMETERS = 1_000_000_000      # 4 GB of float32 weights, before the optimizer's copies
MAX_ACTIVATION_BYTES = 16 * 10**9   # one batch's layer outputs, kept for the backward pass
DEFAULT_BATCH = 32

Shape = Optional[tuple]  # without the batch axis; None when unknown

SHAPE_KEEPING = {"dropout", "spatial_dropout1d", "spatial_dropout2d", "spatial_dropout3d", "gaussian_dropout",
                 "gaussian_noise", "alpha_dropout", "activation", "relu", "leaky_relu", "elu", "softmax",
                 "prelu", "rescaling", "normalization", "identity", "masking", "activity_regularization",
                 "unit_normalization", "random_flip", "random_rotation", "random_zoom", "random_translation",
                 "random_contrast", "random_brightness"}
NORMALIZATIONS = {"batch_normalization": 2, "layer_normalization": 2, "group_normalization": 2,
                  "rms_normalization": 1}


@dataclass
class Tally:
    """What is counted so far, and the largest contributor (where a problem is placed)."""

    layers: int = 0
    parameters: int = 0
    activations: int = 0                  # values per sample, summed over layer outputs
    largest: tuple = ("model",)
    largest_parameters: int = 0
    widest: tuple = ("model",)
    widest_output: int = 0

    def add(self, path: tuple, parameters: int, output: Shape) -> None:
        self.layers += 1
        self.parameters += parameters
        if output is not None:
            self.activations += _size(output)
            if _size(output) > self.widest_output:
                self.widest, self.widest_output = path, _size(output)
        if parameters > self.largest_parameters:
            self.largest, self.largest_parameters = path, parameters


def check_size(doc: Document) -> list[Problem]:
    """Layers, parameters and one batch's activations within the limits."""
    model = mapping(doc.data.get("model"))
    tally = Tally()
    blocks = mapping(model.get("blocks"))
    networks = [(("model",), model)] + [(("model", part), mapping(model.get(part)))
                                        for part in ("encoder", "decoder", "generator", "discriminator")
                                        if isinstance(model.get(part), dict)]
    for path, network in networks:
        _network(network, path, blocks, tally)
    return _limits(doc, tally)


def _limits(doc: Document, tally: Tally) -> list[Problem]:
    out = []
    if tally.layers > MAX_LAYERS:
        out.append(_p(doc, ("model",), f"the model has {tally.layers:,} layers once `repeat` and blocks are "
                      f"expanded; specc builds at most {MAX_LAYERS:,}", "lower `repeat`, or use fewer layers",
                      code="size"))
    if tally.parameters > MAX_PARAMETERS:
        out.append(_p(doc, tally.largest, f"the model has at least {tally.parameters:,} parameters "
                      f"({_bytes(4 * tally.parameters)} as float32, this layer {tally.largest_parameters:,}); "
                      f"specc refuses more than {MAX_PARAMETERS:,}",
                      "make this layer smaller (units, filters, input_dim ...), or flatten less", code="size"))
    batch = _batch_size(doc)
    total = 4 * tally.activations * batch
    if total > MAX_ACTIVATION_BYTES:
        out.append(_p(doc, tally.widest, f"one batch of {batch} needs about {_bytes(total)} for the layers' "
                      f"outputs (this layer's: {tally.widest_output:,} values per sample); the limit is "
                      f"{_bytes(MAX_ACTIVATION_BYTES)}", "use a smaller batch.size, or smaller layers",
                      code="size"))
    return out


def _batch_size(doc: Document) -> int:
    batch = mapping(doc.data.get("batch"))
    if batch.get("strategy") == "stochastic":
        return 1
    return integer(batch.get("size")) or DEFAULT_BATCH


def _bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"


# --- walking a network ----------------------------------------------------------------------

def _network(network: dict, path: tuple, blocks: dict, tally: Tally) -> None:
    inputs = {name: _input_shape(value) for name, value in mapping(network.get("inputs")).items()}
    if "layers" in network:
        shape = next(iter(inputs.values())) if len(inputs) == 1 else None
        for index, item in enumerate(items(network.get("layers"))):
            shape = _item(item, path + ("layers", index), shape, blocks, tally, ())
    elif "nodes" in network:
        shapes: dict = dict(inputs)
        previous = next(iter(inputs), None) if len(inputs) == 1 else None
        for name, item in mapping(network.get("nodes")).items():
            sources = _sources(item, previous)
            ins = [shapes.get(s) for s in sources]
            shape = ins[0] if len(ins) == 1 else _merge(_key(item), ins)
            shapes[name] = _item(item, path + ("nodes", name), shape, blocks, tally, tuple(ins))
            previous = name


def _sources(item: Any, previous: Optional[str]) -> list:
    found = item.get("from") if isinstance(item, dict) else None
    if found is None:
        return [previous] if previous else []
    return [found] if isinstance(found, str) else [s for s in found if isinstance(s, str)]


def _input_shape(value: Any) -> Shape:
    shape = value.get("shape") if isinstance(value, dict) else value
    if not isinstance(shape, list) or not all(integer(d) is not None and d > 0 for d in shape):
        return None
    return tuple(shape)


def _key(item: Any) -> Optional[str]:
    if isinstance(item, str):
        return item
    return layer_key(item) if isinstance(item, dict) else None


def _item(item: Any, path: tuple, shape: Shape, blocks: dict, tally: Tally, ins: tuple) -> Shape:
    """Count one item `repeat` times; return its output shape."""
    repeat = integer(item.get("repeat")) if isinstance(item, dict) else None
    repeat = repeat if repeat and repeat > 0 else 1
    key = _key(item)
    if key in blocks:
        per_call = _block_layers(blocks[key], blocks, set())
        tally.layers += repeat * per_call
        return None
    for _ in range(min(repeat, MAX_LAYERS + 1)):
        parameters, shape = _layer(item, shape)
        tally.add(path, parameters, shape)
    if repeat > MAX_LAYERS:
        tally.layers += repeat - (MAX_LAYERS + 1)
    return shape


def _block_layers(block: Any, blocks: dict, seen: set) -> int:
    """Layers one call of a block makes (nested blocks expanded; a cycle counts once)."""
    block = mapping(block)
    total = 0
    for item in items(block.get("layers")) + list(mapping(block.get("nodes")).values()):
        repeat = integer(item.get("repeat")) if isinstance(item, dict) else None
        repeat = repeat if repeat and repeat > 0 else 1
        key = _key(item)
        inner = 1
        if key in blocks and key not in seen:
            inner = _block_layers(blocks[key], blocks, seen | {key})
        total += repeat * inner
    return total


def _merge(key: Optional[str], shapes: list) -> Shape:
    if any(s is None for s in shapes) or not shapes:
        return None
    if key == "concatenate":
        first = shapes[0]
        if all(len(s) == len(first) and s[:-1] == first[:-1] for s in shapes):
            return first[:-1] + (sum(s[-1] for s in shapes),)
        return None
    return shapes[0] if all(s == shapes[0] for s in shapes) else None


# --- one layer -------------------------------------------------------------------------------

def _layer(item: Any, shape: Shape) -> tuple[int, Shape]:
    """(parameters, output shape) of one layer on an input of `shape` (None: unknown)."""
    try:
        item = normalize_item(item)
    except (AttributeError, TypeError, ValueError):
        return 0, None
    key = layer_key(item) if isinstance(item, dict) else None
    args = item.get(key) if key else None
    if key is None or not isinstance(args, dict):
        return 0, None
    if key in SHAPE_KEEPING:
        return 0, shape
    if key == "dense":
        return _dense(args, shape)
    if key == "embedding":
        return _embedding(args, shape)
    if key in NORMALIZATIONS:
        return (NORMALIZATIONS[key] * shape[-1] if shape else 0), shape
    if key == "flatten":
        return 0, ((_size(shape),) if shape else None)
    if key == "reshape":
        target = args.get("target_shape")
        return 0, (tuple(target) if isinstance(target, list) and all(integer(d) and d > 0 for d in target) else None)
    if key in ("lstm", "gru", "simple_rnn"):
        return _recurrent(key, args, shape)
    if key in ("bidirectional", "time_distributed"):
        return _wrapped(key, args, shape)
    if key.startswith(("conv", "separable_conv", "depthwise_conv")) and "lstm" not in key:
        return _convolution(key, args, shape)
    if key.startswith(("max_pool", "average_pool", "avg_pool")):
        return 0, _pooled(args, shape, "pool_size")
    if key.startswith(("global_",)):
        return 0, ((shape[-1],) if shape else None)
    return 0, None


def _dense(args: dict, shape: Shape) -> tuple[int, Shape]:
    units = integer(args.get("units"))
    if not units or units < 1:
        return 0, None
    if not shape:
        return 0, None
    bias = units if args.get("use_bias", True) is not False else 0
    return shape[-1] * units + bias, shape[:-1] + (units,)


def _embedding(args: dict, shape: Shape) -> tuple[int, Shape]:
    rows, width = integer(args.get("input_dim")), integer(args.get("output_dim"))
    if not rows or not width or rows < 1 or width < 1:
        return 0, None
    return rows * width, ((shape or ()) + (width,) if shape is not None else None)


def _recurrent(key: str, args: dict, shape: Shape) -> tuple[int, Shape]:
    units = integer(args.get("units"))
    if not units or units < 1 or not shape or len(shape) != 2:
        return 0, None
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[key]
    parameters = gates * (shape[-1] * units + units * units + units)
    return parameters, ((shape[0], units) if args.get("return_sequences") is True else (units,))


def _wrapped(key: str, args: dict, shape: Shape) -> tuple[int, Shape]:
    """A wrapper around one layer: both directions (concatenated unless merge_mode says
    otherwise), or the layer applied to every step."""
    inner = args.get("layer")
    if key == "time_distributed":
        if not shape or len(shape) < 2:
            return 0, None
        parameters, out = _layer(inner, shape[1:])
        return parameters, ((shape[0],) + out if out is not None else None)
    parameters, out = _layer(inner, shape)
    if out is None:
        return 2 * parameters, None
    merge = args.get("merge_mode", "concat")
    return 2 * parameters, (out[:-1] + (2 * out[-1],) if merge == "concat" else out)


def _convolution(key: str, args: dict, shape: Shape) -> tuple[int, Shape]:
    """Parameters and output of a convolution (channels last; transposed ones grow by strides)."""
    rank = next((int(c) for c in "321" if f"{c}d" in key), 2)
    if not shape or len(shape) != rank + 1:
        return 0, None
    kernel = _sizes(args.get("kernel_size"), rank)
    channels = shape[-1]
    if kernel is None:
        return 0, None
    taps = math.prod(kernel)
    if key.startswith("depthwise"):
        multiplier = integer(args.get("depth_multiplier")) or 1
        filters, parameters = channels * multiplier, taps * channels * multiplier + channels * multiplier
    else:
        filters = integer(args.get("filters"))
        if not filters or filters < 1:
            return 0, None
        if key.startswith("separable"):
            parameters = taps * channels + channels * filters + filters
        else:
            parameters = taps * channels * filters + filters
    spatial = _spatial(args, shape[:-1], kernel, rank, transposed="transpose" in key)
    return parameters, (spatial + (filters,) if spatial is not None else None)


def _pooled(args: dict, shape: Shape, size_arg: str) -> Shape:
    if not shape or len(shape) < 2:
        return None
    rank = len(shape) - 1
    pool = _sizes(args.get(size_arg, 2), rank)
    if pool is None:
        return None
    strides = _sizes(args.get("strides"), rank) or pool
    spatial = []
    for size, window, step in zip(shape[:-1], pool, strides):
        if args.get("padding") == "same":
            spatial.append(math.ceil(size / step))
        else:
            spatial.append(max(0, (size - window) // step + 1))
    return tuple(spatial) + (shape[-1],)


def _spatial(args: dict, sizes: tuple, kernel: tuple, rank: int, transposed: bool) -> Optional[tuple]:
    strides = _sizes(args.get("strides", 1), rank)
    if strides is None:
        return None
    out = []
    for size, window, step in zip(sizes, kernel, strides):
        if transposed:
            out.append(size * step if args.get("padding") == "same" else size * step + max(window - step, 0))
        elif args.get("padding") in ("same", "causal"):
            out.append(math.ceil(size / step))
        else:
            out.append(max(0, (size - window) // step + 1))
    return tuple(out)


def _sizes(value: Any, rank: int) -> Optional[tuple]:
    if integer(value) is not None and value > 0:
        return (value,) * rank
    if isinstance(value, list) and len(value) == rank and all(integer(v) and v > 0 for v in value):
        return tuple(value)
    return None


def _size(shape: tuple) -> int:
    return int(math.prod(shape)) if shape else 1
