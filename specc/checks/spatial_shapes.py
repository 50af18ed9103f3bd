"""Shape rules of the layers with spatial axes: convolutions (plain, separable, depthwise,
transposed), pooling, global pooling, padding, cropping, up-sampling, spatial dropout and
ConvLSTM; and the arguments Keras refuses whatever the input (a kernel_size list of the wrong
length). Part of specc/checks/layer_shapes.py's rules; tests/test_shape_rules.py holds them
against Keras. No TensorFlow here.
"""
from __future__ import annotations

import math
import re
from typing import Any, cast

from specc.checks.shape_basics import (UNKNOWN, Out, Shape, ShapeError, Unknown, channels_first, int_arg,
                                       join_channels, need_known, need_rank, same, shown, sizes_arg,
                                       split_channels, tensor_text, window)
from specc.spec_data import integer

CONV = re.compile(r"^(conv|separable_conv|depthwise_conv)([123])d(_transpose)?$")
POOL = re.compile(r"^(max|average)_pooling([123])d$")
GLOBAL_POOL = re.compile(r"^global_(max|average)_pooling([123])d$")
SPATIAL = re.compile(r"^(zero_padding|cropping|up_sampling|spatial_dropout)([123])d$")
CONV_LSTM = re.compile(r"^conv_lstm([123])d$")


SIZED_ARGS = ("kernel_size", "strides", "dilation_rate", "pool_size")
# layers whose weights are drawn at random and trained
WEIGHTED = re.compile(r"^(dense|einsum_dense|embedding|lstm|gru|simple_rnn|conv_lstm[123]d|"
                      r"(separable_|depthwise_)?conv[123]d(_transpose)?)$")


def check_arguments(key: str, args: dict) -> None:
    """What Keras refuses whatever the input: a kernel_size (strides, ...) list of the wrong
    length for the layer's rank, groups that do not divide the filters, a stateful recurrent
    layer (specc's inputs have no fixed batch size), integer weights.

    Raises:
        ShapeError: The arguments do not fit the layer.
    """
    dtype = args.get("dtype")
    if isinstance(dtype, str) and dtype.startswith(("int", "uint")) and WEIGHTED.match(key):
        raise ShapeError(f"{key} with dtype {dtype} has integer weights: Keras's initializers cannot draw them "
                         "(the range rounds to nothing) and no gradient reaches them",
                         "leave dtype out (the layer follows device.precision), or use float32", arg="dtype")
    if args.get("stateful") is True and (key in ("lstm", "gru", "simple_rnn") or CONV_LSTM.match(key)):
        raise ShapeError(f"{key} with stateful: true needs a fixed batch size, and specc's inputs take batches of "
                         "any size", "remove stateful (each batch then starts from a zero state)", arg="stateful")
    match = CONV.match(key) or POOL.match(key)
    if match is None:
        return
    rank = int(match.group(2))
    for arg in SIZED_ARGS:
        if isinstance(args.get(arg), list):
            try:
                sizes_arg(args, arg, rank, key)
            except Unknown:
                pass
    filters, groups = integer(args.get("filters")), integer(args.get("groups", 1))
    if filters and groups and groups > 0 and filters > 0 and filters % groups:
        raise ShapeError(f"{key} splits its filters into {groups} groups; {filters} filters do not divide into "
                         f"{groups}", f"use filters: a multiple of {groups}, or groups: a divisor of {filters}",
                         arg="groups")


def conv_lstm(key: str, args: dict, ins: list) -> Out:
    rank = int(CONV_LSTM.match(key).group(1))  # type: ignore[union-attr]
    need_rank(key, ins[0], rank + 2)
    return UNKNOWN


def convolution(key: str, args: dict, ins: list) -> Out:
    """conv, separable and depthwise convolutions, transposed ones too."""
    match = CONV.match(key)
    assert match is not None
    kind, rank, transposed = match.group(1), int(match.group(2)), bool(match.group(3))
    shape = ins[0]
    need_rank(key, shape, rank + 1)
    first = channels_first(args)
    spatial, channels = split_channels(shape, first)
    kernel = sizes_arg(args, "kernel_size", rank, key)
    strides = sizes_arg(args, "strides", rank, key, 1)
    dilation = sizes_arg(args, "dilation_rate", rank, key, 1)
    if channels is None:
        need_known(key, shape, 0 if first else -1, "1 (the channels)" if first else "-1 (the channels)")
    filters, parameters = _filters(key, kind, args, kernel, cast(int, channels))  # known: checked above
    padding = args.get("padding", "valid")
    if transposed:
        out = _transposed(args, spatial, kernel, strides, dilation, padding)
    else:
        out = _convolved(key, shape, spatial, kernel, strides, dilation, padding)
    return Out(join_channels(out, filters, first), parameters)


def _filters(key: str, kind: str, args: dict, kernel: tuple, channels: int) -> tuple[int, int]:
    """(output channels, parameters) of a convolution with `channels` input channels."""
    taps = math.prod(kernel)
    bias = args.get("use_bias", True) is not False
    if kind == "depthwise_conv":
        multiplier = int_arg(args, "depth_multiplier", 1)
        out = channels * multiplier
        return out, taps * out + (out if bias else 0)
    filters = int_arg(args, "filters")
    if kind == "separable_conv":
        multiplier = int_arg(args, "depth_multiplier", 1)
        return filters, taps * channels * multiplier + channels * multiplier * filters + (filters if bias else 0)
    groups = int_arg(args, "groups", 1)
    if channels % groups:
        raise ShapeError(f"{key} splits its {channels} input channels into {groups} groups; the groups must "
                         "divide the channels", f"use groups: a divisor of {channels} (e.g. 1)", arg="groups")
    return filters, taps * (channels // groups) * filters + (filters if bias else 0)


def _convolved(key: str, shape: Shape, spatial: tuple, kernel: tuple, strides: tuple, dilation: tuple,
               padding: Any) -> tuple:
    if padding in ("same", "causal"):
        return tuple(same(n, s) for n, s in zip(spatial, strides))
    if padding != "valid":
        raise Unknown("padding")
    what = f"kernel_size {shown(kernel)}, strides {shown(strides)}"
    return tuple(window(key, shape, n, d * (k - 1) + 1, s, what)
                 for n, k, s, d in zip(spatial, kernel, strides, dilation))


def _transposed(args: dict, spatial: tuple, kernel: tuple, strides: tuple, dilation: tuple, padding: Any) -> tuple:
    """Keras's own sizes (backend_utils.compute_conv_transpose_output_shape)."""
    if padding not in ("valid", "same"):
        raise Unknown("padding")
    extra = _output_padding(args.get("output_padding"), len(spatial))
    out: list = []
    for n, k, s, d, pad in zip(spatial, kernel, strides, dilation, extra):
        span = (k - 1) * d + 1
        if n is None:
            out.append(None)
        elif pad is None:
            out.append(n * s if padding == "same" else (n - 1) * s + max(span, s))
        else:
            out.append((n - 1) * s + (span % 2 if padding == "same" else span) + pad)
    return tuple(out)


def _output_padding(value: Any, rank: int) -> tuple:
    """Per spatial axis: the extra size given (None: Keras's default)."""
    if value is None:
        return (None,) * rank
    if integer(value) is not None and value >= 0:
        return (value,) * rank
    if isinstance(value, list) and len(value) == rank and all(integer(v) is not None and v >= 0 for v in value):
        return tuple(value)
    raise Unknown("output_padding")


def pooling(key: str, args: dict, ins: list) -> Out:
    match = POOL.match(key)
    assert match is not None
    rank, shape = int(match.group(2)), ins[0]
    need_rank(key, shape, rank + 1)
    first = channels_first(args)
    spatial, channels = split_channels(shape, first)
    pool = sizes_arg(args, "pool_size", rank, key, 2)
    strides = sizes_arg(args, "strides", rank, key, list(pool)) if args.get("strides") is not None else pool
    padding = args.get("padding", "valid")
    if padding == "same":
        out = tuple(same(n, s) for n, s in zip(spatial, strides))
    elif padding == "valid":
        what = f"pool_size {shown(pool)}, strides {shown(strides)}"
        out = tuple(window(key, shape, n, p, s, what) for n, p, s in zip(spatial, pool, strides))
    else:
        raise Unknown("padding")
    return Out(join_channels(out, channels, first))


def global_pooling(key: str, args: dict, ins: list) -> Out:
    match = GLOBAL_POOL.match(key)
    assert match is not None
    rank, shape = int(match.group(2)), ins[0]
    need_rank(key, shape, rank + 1)
    first = channels_first(args)
    channels = split_channels(shape, first)[1]
    keep = args.get("keepdims", False)
    if keep is True:
        return Out(join_channels((1,) * rank, channels, first))
    if keep is not False:
        raise Unknown("keepdims")
    return Out((channels,))


def spatial(key: str, args: dict, ins: list) -> Out:
    """Padding, cropping, up-sampling and spatial dropout of rank-N data."""
    match = SPATIAL.match(key)
    assert match is not None
    rank, shape = int(match.group(2)), ins[0]
    need_rank(key, shape, rank + 1)
    if key.startswith("spatial_dropout"):
        return Out(shape)
    if key.startswith("up_sampling") and not channels_first(args):
        size = sizes_arg(args, "size", rank, key, 2)
        return Out(tuple(None if n is None else n * f for n, f in zip(shape[:-1], size)) + shape[-1:])
    if key.startswith("cropping") and not channels_first(args):
        return _cropped(key, args, shape, rank)
    if key.startswith("zero_padding") and not channels_first(args):
        pads = _pads(args.get("padding", 1), rank)
        return Out(tuple(None if n is None else n + sum(p) for n, p in zip(shape[:-1], pads)) + shape[-1:])
    return UNKNOWN


def _pads(value: Any, rank: int) -> list:
    """zero_padding's `padding`: a number, one per axis, or a (before, after) pair per axis."""
    if integer(value) is not None and value >= 0:
        return [(value, value)] * rank
    if isinstance(value, list) and len(value) == rank:
        if all(integer(v) is not None and v >= 0 for v in value):
            return [(v, v) for v in value]
        if all(isinstance(v, list) and len(v) == 2 and all(integer(p) is not None and p >= 0 for p in v)
               for v in value):
            return [tuple(v) for v in value]
    raise Unknown("padding")


def _cropped(key: str, args: dict, shape: Shape, rank: int) -> Out:
    crop = integer(args.get("cropping", 1 if rank == 1 else None))
    if crop is None or crop < 0:
        raise Unknown("cropping")
    out = []
    for size in shape[:-1]:
        if size is not None and size - 2 * crop <= 0:
            raise ShapeError(f"{key} crops {crop} from each side of an axis of size {size} in "
                             f"{tensor_text(shape)}, leaving nothing", "crop less", arg="cropping")
        out.append(None if size is None else size - 2 * crop)
    return Out(tuple(out) + shape[-1:])

