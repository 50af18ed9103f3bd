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
        pattern: With ANY: only layers whose name matches it.
        proof: `call` (build the layer and call it on a sample) or `init` (construct it: the
            constructor itself refuses, so no sample is needed).
        items: A range also holds each item of a list value (kernel_size: [3, 3]); False
            where a list means something else (a factor [lower, upper] is not range-checked
            by Keras).
    """

    arg: str
    layers: tuple
    schema: dict
    inside: Any
    outside: tuple
    enforced: str = "refused"
    default_kind: Optional[str] = None
    pattern: Optional[str] = None
    proof: str = "call"
    items: bool = True


@dataclass(frozen=True)
class ObjectConstraint:
    """A JSON Schema constraint on one argument of named objects (optimizers, schedules,
    regularizers), proven like a layer's: the inside value constructs, the outside ones raise.

    Attributes:
        kind: The catalog kind (`optimizers`, `schedules`, `regularizers`).
        names: The object names it applies to, or ANY (every object of the kind with the arg).
    """

    kind: str
    names: tuple
    arg: str
    schema: dict
    inside: Any
    outside: tuple


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
UNIT = {"minimum": 0, "maximum": 1}
SYMMETRIC = {"minimum": -1, "maximum": 1}
# Factors of the image augmentation layers: a number in the range (a list is a [lower, upper] pair).
UNIT_FACTORS = (
    ("factor", ("random_contrast", "random_hue", "random_sharpness", "random_gaussian_blur", "random_invert",
                "random_grayscale", "random_perspective", "random_erasing", "random_elastic_transform", "cut_mix",
                "aug_mix", "rand_augment")),
    ("x_factor", ("random_shear",)), ("y_factor", ("random_shear",)),
    ("contrast_factor", ("random_color_jitter",)), ("hue_factor", ("random_color_jitter",)),
    ("addition_factor", ("solarization",)), ("threshold_factor", ("solarization",)),
)
SYMMETRIC_FACTORS = (
    ("factor", ("random_brightness", "random_saturation", "random_color_degeneration", "random_rotation")),
    ("height_factor", ("random_zoom", "random_translation")), ("width_factor", ("random_zoom", "random_translation")),
    ("brightness_factor", ("random_color_jitter",)), ("saturation_factor", ("random_color_jitter",)),
)
# Every dtype name Keras takes (keras.src.backend.common.dtypes.ALLOWED_DTYPES and "int"), the
# two mixed policies, and quantized policies (`int8_from_float32`).
DTYPES = (r"^(float16|float32|float64|bfloat16|float8_e4m3fn|float8_e5m2|u?int(8|16|32|64)|int|bool|string"
          r"|complex64|complex128|mixed_float16|mixed_bfloat16|(int8|float8|int4|gptq|awq)_from_.+)$")
DTYPE_TEXT = ("a Keras dtype or dtype policy: float32, float16, bfloat16, float64, mixed_float16, mixed_bfloat16, "
              "int32, int64, ...")
DTYPE_HINT = "e.g. dtype: float32, or leave it out (the layer follows device.precision)"

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
    Constraint("output_mode", ("text_vectorization",), {"enum": ["int", "multi_hot", "count", "tf_idf", "one_hot"]},
               "count", ("tfidf",), proof="init"),
    Constraint("standardize", ("text_vectorization",),
               {"enum": ["lower_and_strip_punctuation", "lower", "strip_punctuation", None]}, "lower",
               ("lowercase",), proof="init"),
    Constraint("split", ("text_vectorization",), {"enum": ["whitespace", "character", None]}, "character",
               ("words",), proof="init"),
    Constraint("output_mode", ("string_lookup",), {"enum": ["int", "one_hot", "multi_hot", "count", "tf_idf"]},
               "one_hot", ("onehot",), proof="init"),
    Constraint("interpolation", ("up_sampling2d", "resizing"), {"enum": RESIZE_METHODS}, "bicubic",
               ("cubic", "linear")),
    Constraint("interpolation", IMAGE_AUGMENT, {"enum": ["nearest", "bilinear"]}, "nearest", ("bicubic", "near")),
    Constraint("fill_mode", IMAGE_AUGMENT, {"enum": ["reflect", "wrap", "constant", "nearest"]}, "wrap",
               ("mirror",)),
    Constraint("merge_mode", ("bidirectional",), {"enum": ["sum", "mul", "concat", "ave", None]}, "ave",
               ("avg", "add")),
    Constraint("target_shape", ("reshape",), {"items": {"minimum": -1, "not": {"const": 0},
                                                        "x-expected": "a size, or -1 for the one Keras works out",
                                                        "x-hint": "every axis is at least 1; one of them may be -1"}},
               [-1], ([0, -1], [-2, 2])),
    Constraint("use_cudnn", ("lstm", "gru"), {"enum": ["auto", True, False]}, "auto", ("x", "yes")),
    Constraint("lora_rank", ("dense", "einsum_dense", "embedding"), {"minimum": 0}, 2, (-1,), default_kind="none"),
    Constraint("dtype", ANY, {"pattern": DTYPES, "x-expected": DTYPE_TEXT, "x-hint": DTYPE_HINT}, "float32",
               ("x", "relu", "same"),
               default_kind="none", pattern=r"^(?!(hashing|integer_lookup|string_lookup|category_encoding"
                                            r"|discretization|random_posterization)$)", proof="init"),
    *[Constraint(arg, layers, UNIT, 0.5, (-0.5, 1.5), items=False) for arg, layers in UNIT_FACTORS],
    *[Constraint(arg, layers, SYMMETRIC, -0.5, (-1.5, 1.5), items=False) for arg, layers in SYMMETRIC_FACTORS],
)

# Layers whose constructor needs at least one of some optional arguments (tests/test_arg_constraints.py
# proves that Keras refuses the layer without them and takes it with the first).
NEEDS_ONE_OF = {
    "discretization": ("num_bins", "bin_boundaries"),
    "category_encoding": ("num_tokens",),
}

OBJECT_CONSTRAINTS = (
    ObjectConstraint("optimizers", ANY, "gradient_accumulation_steps",
                     {"minimum": 0, "not": {"const": 1}, "x-expected": "0 (none) or at least 2",
                      "x-hint": "leave it out and set batch.accumulate (specc's way to accumulate gradients), or use 2 or more"},
                     2, (1, -1)),
    ObjectConstraint("optimizers", ("sgd",), "momentum", {"minimum": 0, "maximum": 1}, 0.9, (-0.1, 1.5)),
    ObjectConstraint("optimizers", ("lion",), "beta_1", {"exclusiveMinimum": 0, "maximum": 1}, 0.9, (0.0, 1.5)),
    ObjectConstraint("optimizers", ("ftrl",), "learning_rate_power", {"maximum": 0}, -0.5, (0.5,)),
    *[ObjectConstraint("optimizers", ("ftrl",), arg, {"minimum": 0}, 0.1, (-0.1,))
      for arg in ("initial_accumulator_value", "l1_regularization_strength", "l2_regularization_strength",
                  "l2_shrinkage_regularization_strength")],
    ObjectConstraint("schedules", ANY, "decay_steps", {"exclusiveMinimum": 0}, 10, (0, -100)),
    ObjectConstraint("schedules", ("cosine_decay_restarts",), "first_decay_steps", {"exclusiveMinimum": 0}, 10,
                     (0, -100)),
    ObjectConstraint("regularizers", ("l1", "l1l2"), "l1", {"minimum": 0}, 0.01, (-0.01,)),
    ObjectConstraint("regularizers", ("l2", "l1l2"), "l2", {"minimum": 0}, 0.01, (-0.01,)),
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


def object_constraint_for(kind: str, name: str, arg: dict) -> Optional[ObjectConstraint]:
    """The constraint on one argument (a catalog arg entry) of a named object, if any."""
    for entry in OBJECT_CONSTRAINTS:
        if entry.kind == kind and entry.arg == arg["name"] and (entry.names == ANY or name in entry.names):
            return entry
    return None


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
