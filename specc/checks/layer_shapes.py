"""What one Keras layer makes of its input shapes, known without TensorFlow.

`infer(key, args, ins)` gives the layer's output shape and parameter count, or raises
`ShapeError` when Keras would refuse the input (a conv2d on a flat vector, a pooling window
larger than the feature map, `add` of tensors that do not broadcast). Shapes leave out the
batch axis; a dimension is an int or None (any size). Only the layers below are known: for
any other one, and for arguments this module does not model, the output is unknown (None)
and the caller stops inferring there, so a problem is only reported when Keras is certain
to raise. tests/test_shape_rules.py holds every rule against the installed Keras.
"""
from __future__ import annotations

import math
import re
from typing import Callable, Optional

from specc import catalog
from specc.backbones import KEY as BACKBONE, application, applications
from specc.checks.shape_basics import (UNKNOWN, Out, Shape, ShapeError, Unknown, channels_first, int_arg, need_known,
                                       need_rank, shape_text, tensor_text, yaml_list)
from specc.checks.spatial_shapes import (CONV, CONV_LSTM, GLOBAL_POOL, POOL, SPATIAL, conv_lstm, convolution,
                                         global_pooling, pooling, spatial)
from specc.checks.text_shapes import multi_head_attention, string_lookup, text_vectorization
from specc.spec_data import integer

# Layers whose output has their input's shape, any rank (image augmentations included: Keras
# connects them to any tensor and keeps its shape).
ELEMENTWISE = {"dropout", "gaussian_dropout", "gaussian_noise", "alpha_dropout", "activation", "relu",
               "leaky_relu", "elu", "softmax", "identity", "masking", "activity_regularization",
               "unit_normalization", "rescaling", "random_flip", "random_rotation", "random_zoom",
               "random_translation", "random_contrast", "random_brightness", "aug_mix", "auto_contrast",
               "cut_mix", "equalization", "mix_up", "rand_augment", "random_color_jitter",
               "random_elastic_transform", "random_erasing", "random_gaussian_blur", "random_grayscale",
               "random_hue", "random_invert", "random_perspective", "random_saturation", "random_sharpness",
               "random_shear", "solarization"}
# weights per feature: batch normalization keeps a moving mean and variance besides its own two
NORMALIZATIONS = {"batch_normalization": 4, "layer_normalization": 2, "rms_normalization": 1,
                  "group_normalization": 2}
RECURRENT = {"lstm": 4, "gru": 3, "simple_rnn": 1}
ELEMENTWISE_MERGES = ("add", "subtract", "multiply", "average", "maximum", "minimum")


def infer(key: str, args: dict, ins: list) -> Out:
    """The output of layer `key` (a canonical catalog name) with `args` on input shapes `ins`.

    Raises:
        ShapeError: Keras refuses these inputs.
    """
    rule = _rule(key)
    if rule is None or not ins or _missing_required(key, args):  # a missing argument is reported elsewhere
        return UNKNOWN
    if key not in ELEMENTWISE_MERGES and key != "concatenate" and any(s is None for s in ins):
        return Out(None, _floor(key, args))
    try:
        return rule(key, args, ins)
    except Unknown:
        return UNKNOWN


def _missing_required(key: str, args: dict) -> bool:
    info = catalog.layer_info(key) or {}
    return any(arg["required"] and arg["name"] not in args for arg in info.get("args", []))


def _floor(key: str, args: dict) -> int:
    """The parameters a layer has whatever its input (at least one feature comes in), so the
    size limits still hold after a layer whose output is unknown (a plugin's)."""
    try:
        if key == "dense":
            return _dense(key, args, [(1,)]).parameters
        if key in RECURRENT:
            return _recurrent(key, {**args, "return_sequences": False, "return_state": None}, [(1, 1)]).parameters
        if key == "embedding":
            return _embedding(key, args, [()]).parameters
    except (Unknown, ShapeError):
        pass
    return 0


def _rule(key: str) -> Optional[Callable[[str, dict, list], Out]]:
    if key in RULES:
        return RULES[key]
    for pattern, rule in PATTERN_RULES:
        if pattern.match(key):
            return rule
    return None


def _elementwise(key: str, args: dict, ins: list) -> Out:
    return Out(ins[0])


def _prelu(key: str, args: dict, ins: list) -> Out:
    """One slope per value of a sample (unless shared_axes, which this does not model)."""
    shape = ins[0]
    if args.get("shared_axes") is not None:
        raise Unknown("shared_axes")
    for axis in range(len(shape)):
        need_known(key, shape, axis, f"{axis + 1}")
    return Out(shape, math.prod(shape))


def _normalization(key: str, args: dict, ins: list) -> Out:
    """batch/layer/rms/group normalization: weights along `axis` (the last by default)."""
    shape = ins[0]
    axis = args.get("axis", -1)
    if integer(axis) is None:
        raise Unknown("axis")
    if not -len(shape) - 1 <= axis <= len(shape) or axis in (0, -len(shape) - 1):
        raise ShapeError(f"{key}'s axis {axis} is not a feature axis of {tensor_text(shape)} (axis 0 is the "
                         "batch)", f"use axis: -1 (the last axis), or an axis from 1 to {len(shape)}", arg="axis")
    size = shape[axis - 1 if axis > 0 else axis]
    if size is None:
        raise ShapeError(f"{key} needs the size of axis {axis} to make its weights, but gets {tensor_text(shape)}",
                         "give that dimension a size in model.inputs (null means any size)")
    if key == "group_normalization":
        groups = int_arg(args, "groups", 32)
        if groups > size or size % groups:
            raise ShapeError(f"group_normalization splits {size} channels into {groups} groups; the groups must "
                             "divide the channels", f"use groups: a divisor of {size} (e.g. 1)", arg="groups")
    return Out(shape, NORMALIZATIONS[key] * size)


def _keras_normalization(key: str, args: dict, ins: list) -> Out:
    """The adaptable `normalization` layer: the axes it keeps must have a size."""
    shape = ins[0]
    axis = args.get("axis", -1)
    if axis != -1:
        raise Unknown("axis")
    if not shape:
        raise ShapeError("normalization keeps a mean and variance per feature along the last axis, but gets "
                         "one number per sample (shape [])", "declare the input with shape [1]")
    if shape[-1] is None:
        raise ShapeError(f"normalization needs the size of the last axis (its mean and variance are kept per "
                         f"feature), but gets {tensor_text(shape)}",
                         "give the last dimension a size in model.inputs (null means any size)")
    return Out(shape)


def _dense(key: str, args: dict, ins: list) -> Out:
    shape = ins[0]
    units = int_arg(args, "units")
    need_rank(key, shape, 1, at_least=True)
    need_known(key, shape, -1, "-1 (the last)")
    bias = units if args.get("use_bias", True) is not False else 0
    return Out(shape[:-1] + (units,), shape[-1] * units + bias)


def _embedding(key: str, args: dict, ins: list) -> Out:
    rows, width = int_arg(args, "input_dim"), int_arg(args, "output_dim")
    return Out(ins[0] + (width,), rows * width)


def _flatten(key: str, args: dict, ins: list) -> Out:
    shape = ins[0]
    if channels_first(args) and len(shape) > 1:
        raise Unknown("data_format")
    known = all(d is not None for d in shape)
    return Out((math.prod(shape),) if known else (None,))


def _reshape(key: str, args: dict, ins: list) -> Out:
    shape, target = ins[0], args.get("target_shape")
    if isinstance(target, list) and any(isinstance(d, (str, bool, float)) for d in target):
        raise ShapeError(f"reshape's target_shape {yaml_list(target)} holds a value that is not a whole number",
                         "each dimension is a whole number; -1 for the one dimension to infer, e.g. [4, 4, 8]",
                         arg="target_shape")
    if not isinstance(target, list) or not all(integer(d) is not None and (d > 0 or d == -1) for d in target) \
            or target.count(-1) > 1:
        raise Unknown("target_shape")
    if any(d is None for d in shape):
        return Out(tuple(None if d == -1 else d for d in target))
    have, fixed = math.prod(shape), math.prod(d for d in target if d != -1)
    if (-1 in target and have % fixed) or (-1 not in target and have != fixed):
        raise ShapeError(f"reshape cannot turn {tensor_text(shape)} ({have} values per sample) into "
                         f"target_shape {yaml_list(target)}",
                         f"the product of target_shape must be {have}; use -1 for one dimension",
                         arg="target_shape")
    return Out(tuple(have // fixed if d == -1 else d for d in target))


def _repeat_vector(key: str, args: dict, ins: list) -> Out:
    need_rank(key, ins[0], 1)
    return Out((int_arg(args, "n"),) + ins[0])


def _permute(key: str, args: dict, ins: list) -> Out:
    shape, dims = ins[0], args.get("dims")
    if not isinstance(dims, list) or sorted(dims) != list(range(1, len(shape) + 1)):
        raise Unknown("dims")
    return Out(tuple(shape[d - 1] for d in dims))


def _recurrent(key: str, args: dict, ins: list) -> Out:
    shape = ins[0]
    units = int_arg(args, "units")
    need_rank(key, shape, 2)
    need_known(key, shape, -1, "-1 (the features)")
    if args.get("return_state") not in (None, False):
        raise Unknown("return_state")
    biases = 2 if key == "gru" and args.get("reset_after", True) is not False else 1
    parameters = RECURRENT[key] * (shape[-1] * units + units * units + biases * units)
    sequences = args.get("return_sequences", False)
    if not isinstance(sequences, bool):
        raise Unknown("return_sequences")
    return Out((shape[0], units) if sequences else (units,), parameters)


def _merge(key: str, args: dict, ins: list) -> Out:
    """add, subtract, multiply, ...: Keras broadcasts axes of size 1, aligned from the last."""
    if key == "subtract" and len(ins) != 2:
        raise ShapeError(f"subtract takes exactly 2 inputs, gets {len(ins)}",
                         "give it two inputs: `from: [a, b]` (it computes a - b)")
    if any(s is None for s in ins):
        return UNKNOWN
    out = ins[0]
    for shape in ins[1:]:
        out = _broadcast(key, out, shape, ins)
    return Out(out)


def _broadcast(key: str, one: Shape, two: Shape, ins: list) -> Shape:
    if len(one) < len(two):
        one, two = two, one
    if not two:
        return one
    out = list(one[:len(one) - len(two)])
    for a, b in zip(one[len(one) - len(two):], two):
        if a is None or b is None:
            out.append(None)
        elif a == 1 or b == 1:
            out.append(b if a == 1 else a)
        elif a != b:
            shown = " and ".join(shape_text(s) for s in ins)
            raise ShapeError(f"{key} needs inputs of the same shape, got {shown}",
                             "make the last dimension (filters or units) the same on both branches, or project "
                             "one branch with a 1x1 `conv2d` / a `dense`; `concatenate` joins tensors of "
                             "different depth")
        else:
            out.append(a)
    return tuple(out)


def _concatenate(key: str, args: dict, ins: list) -> Out:
    axis = args.get("axis", -1)
    if integer(axis) is None or any(s is None for s in ins):
        return UNKNOWN
    if len(ins) == 1:  # Keras passes one tensor through (and its checks of the axis are erratic)
        return Out(ins[0]) if axis == -1 else UNKNOWN
    ranks = {len(s) for s in ins}
    shown = " and ".join(shape_text(s) for s in ins)
    rank = ranks.pop() if len(ranks) == 1 else None
    if rank is None:
        raise ShapeError(f"concatenate needs inputs of one rank, got {shown}",
                         "flatten or pool the input with more axes first (e.g. `flatten`, "
                         "`global_average_pooling2d`)")
    if not -rank - 1 <= axis <= rank:
        raise ShapeError(f"concatenate's axis {axis} is not an axis of its inputs {shown}",
                         f"use axis: -1 (the last), or an axis from 1 to {rank} (0 is the batch axis)", arg="axis")
    where = axis - 1 if axis >= 0 else rank + axis  # -1 when joining along the batch axis
    for index in range(rank):
        sizes = {s[index] for s in ins} - {None}
        if index != where and len(sizes) > 1:
            raise ShapeError(f"concatenate needs inputs that match on every axis except axis {axis}, got {shown}",
                             "flatten or pool the input with more axes first (e.g. `flatten`, "
                             "`global_average_pooling2d`), or concatenate on another `axis`")
    joined = [s[where] for s in ins] if where >= 0 else [None]
    total = None if None in joined else sum(d for d in joined if d is not None)
    first = ins[0]
    return Out(tuple(total if i == where else next((s[i] for s in ins if s[i] is not None), None)
                     for i in range(len(first))))


def _backbone(key: str, args: dict, ins: list) -> Out:
    """A keras.applications backbone: images of at least its smallest size, with the 3 channels
    of its weights and preprocessing (catalog/applications.json); a saved network's is unknown."""
    name = application(args.get("application"))
    if name is None:
        raise Unknown("from")
    info, shape = applications()[name], ins[0]
    if len(shape) != 3:
        raise ShapeError(f"{name} takes images (height, width, channels), but gets {tensor_text(shape)}",
                         "give the model image inputs, e.g. inputs: {image: [96, 96, 3]}", arg="application")
    trained = args.get("weights") not in (None, "none") or args.get("preprocess", True)
    if trained and shape[2] is not None and shape[2] != info["channels"]:
        raise ShapeError(f"{name} takes {info['channels']} channels (its weights and preprocess_input are for RGB "
                         f"images), but gets {shape[2]}",
                         "give the input 3 channels (a gray image: `conv2d: {filters: 3, kernel_size: 1}` before "
                         "the backbone), or train it from random weights with `preprocess: false`", arg="application")
    small = [d for d in shape[:2] if d is not None and d < info["min_size"]]
    if small:
        raise ShapeError(f"{name} needs images of at least {info['min_size']}x{info['min_size']}, but gets "
                         f"{shape[0]}x{shape[1]}", f"resize the images before it (`resizing: {{height: "
                         f"{info['min_size']}, width: {info['min_size']}}}`)",
                         arg="application")
    values = info["weights"]["values"]
    if args.get("pooling") in ("avg", "max"):
        return Out((info["output_channels"],), values)
    return Out((None, None, info["output_channels"]), values)


RULES: dict[str, Callable[[str, dict, list], Out]] = {
    BACKBONE: _backbone,
    **{name: _elementwise for name in ELEMENTWISE},
    **{name: _normalization for name in NORMALIZATIONS},
    **{name: _recurrent for name in RECURRENT},
    **{name: _merge for name in ELEMENTWISE_MERGES},
    "prelu": _prelu, "normalization": _keras_normalization, "dense": _dense, "embedding": _embedding,
    "flatten": _flatten, "reshape": _reshape, "repeat_vector": _repeat_vector, "permute": _permute,
    "concatenate": _concatenate, "text_vectorization": text_vectorization, "string_lookup": string_lookup,
    "multi_head_attention": multi_head_attention,
}
PATTERN_RULES: list[tuple[re.Pattern, Callable[[str, dict, list], Out]]] = [
    (CONV, convolution), (POOL, pooling), (GLOBAL_POOL, global_pooling), (SPATIAL, spatial),
    (CONV_LSTM, conv_lstm),
]
