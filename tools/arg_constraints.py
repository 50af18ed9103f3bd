"""What Keras requires of layer arguments beyond their types: allowed choices and ranges.

Keras's signatures say `padding="valid"` or `rate` without saying that "sam" or -0.25 is
refused, so tools/gen_catalog.py adds these constraints to the catalog and the schema, and
`specc validate` catches such mistakes without TensorFlow. Every entry is proven against the
installed Keras by tests/test_arg_constraints.py: for each layer it applies to, a value
inside is accepted and a value outside is refused (`refused`) or silently clipped into the
range (`clipped`: the value outside means nothing Keras would do), so the table cannot drift.

An entry applies to the layers it names, or with `layers=ANY` to every catalog layer that
has the argument with a default of the entry's kind (`default_kind`) and, when the entry
gives one, a name matching its `pattern`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

ANY = ("*",)


@dataclass(frozen=True)
class Constraint:
    """A JSON Schema constraint on one argument of some layers.

    Attributes:
        arg: The constructor argument.
        layers: The catalog layer names it applies to, or ANY.
        schema: JSON Schema keywords (`enum`, `minimum`, `maximum`); a minimum on an
            argument that also takes a list (kernel_size: [3, 3]) applies to every item.
        inside: A value Keras accepts.
        outside: Values Keras refuses (or clips).
        enforced: `refused` (Keras raises) or `clipped` (Keras clips it into the range).
        default_kind: With ANY: only layers whose default of `arg` is of this kind
            (`str`, `int`, `number`, `none`, `required`), so `padding` of zero_padding2d (a
            size) is not taken for the `padding` of conv2d (a choice).
    """

    arg: str
    layers: tuple
    schema: dict
    inside: Any
    outside: tuple
    enforced: str = "refused"
    default_kind: Optional[str] = None
    pattern: Optional[str] = None


POSITIVE = {"minimum": 1}
CONV_1D_CAUSAL = ("conv1d", "convolution1d")
PADDED_1D = ("separable_conv1d", "separable_convolution1d", "depthwise_conv1d", "conv1d_transpose",
             "convolution1d_transpose", "max_pooling1d", "max_pool1d", "average_pooling1d", "avg_pool1d")
PADDED = ("conv2d", "convolution2d", "conv3d", "convolution3d", "conv2d_transpose", "convolution2d_transpose",
          "conv3d_transpose", "convolution3d_transpose", "separable_conv2d", "separable_convolution2d",
          "depthwise_conv2d", "max_pooling2d", "max_pool2d", "max_pooling3d", "max_pool3d",
          "average_pooling2d", "avg_pool2d", "average_pooling3d", "avg_pool3d")
DROPOUTS = ("dropout", "spatial_dropout1d", "spatial_dropout2d", "spatial_dropout3d", "gaussian_dropout",
            "alpha_dropout")
RECURRENT = ("lstm", "gru", "simple_rnn")
RESIZE_METHODS = ["nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5"]
IMAGE_AUGMENT = ("random_zoom", "random_rotation", "random_translation")

CONSTRAINTS = (
    Constraint("units", ANY, POSITIVE, 2, (0, -1), default_kind="required"),
    Constraint("filters", ANY, POSITIVE, 2, (0, -3), default_kind="required"),
    Constraint("kernel_size", ANY, POSITIVE, 2, (0,), default_kind="required"),
    Constraint("strides", ("conv1d", "conv2d", "conv3d", "separable_conv2d", "depthwise_conv2d",
                           "conv2d_transpose", "max_pooling2d", "average_pooling2d"), POSITIVE, 1, (0,)),
    Constraint("pool_size", ("max_pooling1d", "max_pooling2d", "max_pooling3d", "average_pooling1d",
                             "average_pooling2d", "average_pooling3d"), POSITIVE, 2, (0,)),
    Constraint("dilation_rate", ("conv1d", "conv2d", "conv3d", "separable_conv2d", "depthwise_conv2d"),
               POSITIVE, 1, (0,)),
    Constraint("groups", ("conv1d", "conv2d", "conv3d"), POSITIVE, 1, (0,)),
    Constraint("depth_multiplier", ("separable_conv1d", "separable_conv2d", "depthwise_conv1d",
                                    "depthwise_conv2d"), POSITIVE, 1, (0,)),
    Constraint("input_dim", ("embedding",), POSITIVE, 3, (0,)),
    Constraint("output_dim", ("embedding",), POSITIVE, 2, (0,)),
    Constraint("num_heads", ("multi_head_attention",), POSITIVE, 2, (0,)),
    Constraint("n", ("repeat_vector",), POSITIVE, 2, (0,)),
    Constraint("rate", DROPOUTS, {"minimum": 0, "maximum": 1}, 0.25, (-0.25, 1.5)),
    Constraint("stddev", ("gaussian_noise",), {"minimum": 0, "maximum": 1}, 0.1, (-0.1, 1.5)),
    Constraint("dropout", RECURRENT, {"minimum": 0, "maximum": 1}, 0.25, (-0.25, 1.5), enforced="clipped"),
    Constraint("recurrent_dropout", RECURRENT, {"minimum": 0, "maximum": 1}, 0.25, (-0.25, 1.5),
               enforced="clipped"),
    Constraint("negative_slope", ("leaky_relu",), {"minimum": 0}, 0.2, (-1.0,)),
    Constraint("cropping", ("cropping1d", "cropping2d", "cropping3d"), {"minimum": 0}, 1, (-1,)),
    Constraint("padding", CONV_1D_CAUSAL, {"enum": ["valid", "same", "causal"]}, "causal", ("sam", "full")),
    Constraint("padding", PADDED_1D + PADDED, {"enum": ["valid", "same"]}, "same", ("sam", "causal")),
    Constraint("data_format", ANY, {"enum": ["channels_last", "channels_first", None]}, "channels_last",
               ("channels_lst", "NHWC"), default_kind="none",
               pattern=r"^(conv|separable|depthwise|(global_)?(max|average|avg)_pool|up_sampling|zero_padding"
                       r"|cropping|flatten)"),
    Constraint("interpolation", ("up_sampling2d", "resizing"), {"enum": RESIZE_METHODS}, "bicubic",
               ("cubic", "linear")),
    Constraint("interpolation", IMAGE_AUGMENT, {"enum": ["nearest", "bilinear"]}, "nearest", ("bicubic", "near")),
    Constraint("fill_mode", IMAGE_AUGMENT, {"enum": ["reflect", "wrap", "constant", "nearest"]}, "wrap",
               ("mirror",)),
    Constraint("merge_mode", ("bidirectional",), {"enum": ["sum", "mul", "concat", "ave", None]}, "ave",
               ("avg", "add")),
)


def default_kind(arg: dict) -> str:
    """The kind of a catalog argument's default: required, none, str, int or number."""
    if arg.get("required"):
        return "required"
    value = arg.get("default")
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "str"
    return "other"


def constraint_for(layer: str, arg: dict) -> Optional[Constraint]:
    """The constraint on one argument (a catalog arg entry) of one layer, if any."""
    for entry in CONSTRAINTS:
        if entry.arg != arg["name"]:
            continue
        if entry.layers == ANY:
            kind_fits = entry.default_kind is None or default_kind(arg) == entry.default_kind
            if kind_fits and (entry.pattern is None or re.search(entry.pattern, layer)):
                return entry
        elif layer in entry.layers:
            return entry
    return None
