"""Every shape rule of specc/checks/layer_shapes.py, held against the installed Keras.

For a grid of layers, arguments and input shapes, the rule's verdict is compared with what
Keras does when the layer is called on symbolic inputs of those shapes:

- the rule refuses (ShapeError)          -> Keras raises too;
- the rule gives a shape and parameters  -> Keras builds it, with that output shape and (for
                                            the layers with weights) that many parameters;
- the rule does not know (None)          -> nothing is claimed.

So `specc validate` never refuses an input Keras takes, and its estimates are Keras's own
figures. If Keras changes, this fails and the rule is corrected.
"""
from __future__ import annotations

import itertools
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from specc import catalog  # noqa: E402
from specc.checks.layer_shapes import infer  # noqa: E402
from specc.checks.shape_basics import ShapeError  # noqa: E402

pytestmark = pytest.mark.slow

RANK_SHAPES = {0: [()], 1: [(4,), (None,), (1,)], 2: [(5, 4), (None, 3), (7, None), (1, 6)],
               3: [(6, 6, 3), (8, 1, 3), (2, 9, 4), (None, 5, 2)], 4: [(4, 4, 4, 2), (3, 1, 4, 2)]}
ALL_SHAPES = [s for shapes in RANK_SHAPES.values() for s in shapes]

# (layer, argument variants); each variant is tried on every shape of ALL_SHAPES.
GRID = [
    ("dense", [{"units": 3}, {"units": 2, "use_bias": False}]),
    ("embedding", [{"input_dim": 10, "output_dim": 3}]),
    ("flatten", [{}]),
    ("reshape", [{"target_shape": [-1, 2]}, {"target_shape": [3, 4]}, {"target_shape": [-1]}]),
    ("repeat_vector", [{"n": 3}]),
    ("permute", [{"dims": [2, 1]}, {"dims": [1]}]),
    ("dropout", [{"rate": 0.1}]),
    ("activation", [{"activation": "relu"}]),
    ("prelu", [{}]),
    ("rescaling", [{"scale": 0.5}]),
    ("random_flip", [{}]),
    ("random_rotation", [{"factor": 0.1}]),
    ("random_zoom", [{"height_factor": 0.1}]),
    ("random_translation", [{"height_factor": 0.1, "width_factor": 0.1}]),
    ("random_contrast", [{"factor": 0.1}]),
    ("random_brightness", [{"factor": 0.1}]),
    *[(name, [{}]) for name in ("aug_mix", "auto_contrast", "cut_mix", "equalization", "mix_up", "rand_augment",
                                "random_color_jitter", "random_elastic_transform", "random_erasing",
                                "random_gaussian_blur", "random_grayscale", "random_hue", "random_invert",
                                "random_perspective", "random_saturation", "random_sharpness", "random_shear",
                                "solarization")],
    ("unit_normalization", [{}]),
    ("batch_normalization", [{}, {"axis": 1}, {"axis": 0}, {"axis": 2}, {"axis": -2}, {"axis": 5}]),
    ("layer_normalization", [{}, {"axis": 1}]),
    ("rms_normalization", [{}]),
    ("group_normalization", [{}, {"groups": 2}, {"groups": 3}, {"groups": 1}]),
    ("normalization", [{}]),
    ("lstm", [{"units": 3}, {"units": 2, "return_sequences": True}]),
    ("gru", [{"units": 3}]),
    ("simple_rnn", [{"units": 2, "return_sequences": True}]),
    ("conv1d", [{"filters": 2, "kernel_size": 3}, {"filters": 2, "kernel_size": 3, "padding": "causal", "strides": 2},
                {"filters": 2, "kernel_size": 2, "dilation_rate": 2}, {"filters": 4, "kernel_size": 1, "groups": 2}]),
    ("conv2d", [{"filters": 2, "kernel_size": 3}, {"filters": 2, "kernel_size": 3, "padding": "same", "strides": 2},
                {"filters": 2, "kernel_size": [3, 1]}, {"filters": 2, "kernel_size": [3, 1, 1]},
                {"filters": 2, "kernel_size": 2, "strides": [1, 2, 2]},
                {"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
                {"filters": 2, "kernel_size": 2, "dilation_rate": [2, 1]}, {"filters": 4, "kernel_size": 1, "groups": 2},
                {"filters": 2, "kernel_size": 30, "padding": "same"}]),
    ("conv3d", [{"filters": 2, "kernel_size": 2}]),
    ("conv2d_transpose", [{"filters": 2, "kernel_size": 3, "strides": 2},
                          {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
                          {"filters": 2, "kernel_size": 1, "strides": 3},
                          {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1},
                          {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1, "padding": "same"},
                          {"filters": 2, "kernel_size": 2, "strides": 3, "output_padding": [0, 2]},
                          {"filters": 2, "kernel_size": 4, "strides": 2, "output_padding": 0, "padding": "same"}]),
    ("conv1d_transpose", [{"filters": 2, "kernel_size": 3, "dilation_rate": 2}]),
    ("separable_conv2d", [{"filters": 2, "kernel_size": 3}, {"filters": 2, "kernel_size": 2, "depth_multiplier": 2}]),
    ("separable_conv1d", [{"filters": 2, "kernel_size": 3, "padding": "same"}]),
    ("depthwise_conv2d", [{"kernel_size": 3}, {"kernel_size": 2, "depth_multiplier": 3, "strides": 2}]),
    ("depthwise_conv1d", [{"kernel_size": 2}]),
    ("max_pooling2d", [{}, {"pool_size": 3, "strides": 2}, {"pool_size": 2, "padding": "same"},
                       {"pool_size": [2, 1]}, {"data_format": "channels_first"}]),
    ("average_pooling1d", [{}, {"pool_size": 3, "padding": "same"}]),
    ("max_pooling3d", [{}]),
    ("global_average_pooling2d", [{}, {"keepdims": True}, {"data_format": "channels_first"}]),
    ("global_max_pooling1d", [{}, {"keepdims": True}]),
    ("global_max_pooling3d", [{}]),
    ("zero_padding1d", [{}, {"padding": 2}, {"padding": [1, 2]}]),
    ("zero_padding2d", [{}, {"padding": 2}, {"padding": [1, 2]}, {"padding": [[1, 0], [0, 2]]}]),
    ("zero_padding3d", [{}]),
    ("cropping1d", [{}, {"cropping": 2}]),
    ("cropping2d", [{"cropping": 1}, {"cropping": 3}]),
    ("up_sampling1d", [{}]),
    ("up_sampling2d", [{}, {"size": 3}]),
    ("up_sampling3d", [{}]),
    ("spatial_dropout1d", [{"rate": 0.1}]),
    ("spatial_dropout2d", [{"rate": 0.1}]),
    ("conv_lstm1d", [{"filters": 2, "kernel_size": 2}]),
    ("adaptive_max_pooling2d", [{"output_size": 2}]),
]
MERGES = [("add", {}), ("subtract", {}), ("multiply", {}), ("maximum", {}), ("concatenate", {}),
          ("concatenate", {"axis": 1}), ("concatenate", {"axis": 0}), ("concatenate", {"axis": 5}),
          ("concatenate", {"axis": -3})]
MERGE_SHAPES = [[(4,), (4,)], [(4,), (3,)], [(4,), (1,)], [(5, 4), (4,)], [(5, 4), (5, 3)], [(5, 4), (6, 4)],
                [(5, 4), (None, 4)], [(6, 6, 3), (6, 6, 3), (6, 6, 3)], [(4,)], [(2, 3), (2, 3, 1)]]


def keras_call(key: str, args: dict, shapes: list):
    """(output shape without the batch axis, parameters) when Keras builds it, else the error."""
    cls = getattr(keras.layers, catalog.layer_info(key)["class"])
    tensors = [keras.Input(shape) for shape in shapes]
    try:
        layer = cls(**args)
        out = layer(tensors if key in dict(MERGES) else tensors[0])
    except Exception as error:  # noqa: BLE001 - any refusal counts
        return error
    return tuple(out.shape)[1:], layer.count_params()


def verdict(key: str, args: dict, shapes: list):
    try:
        return infer(key, args, shapes)
    except ShapeError as error:
        return error


def cases():
    for key, variants in GRID:
        for args, shape in itertools.product(variants, ALL_SHAPES):
            yield pytest.param(key, args, [shape], id=f"{key}-{args}-{shape}")
    for (key, args), shapes in itertools.product(MERGES, MERGE_SHAPES):
        yield pytest.param(key, args, shapes, id=f"{key}-{args}-{shapes}")


@pytest.mark.parametrize("key, args, shapes", list(cases()))
def test_rule_agrees_with_keras(key, args, shapes):
    mine, theirs = verdict(key, args, shapes), keras_call(key, args, shapes)
    if isinstance(mine, ShapeError):
        assert isinstance(theirs, Exception), f"specc refuses ({mine.message}) what Keras builds: {theirs}"
    elif mine.shape is not None:
        assert not isinstance(theirs, Exception), f"specc gives {mine.shape}, Keras refuses: {theirs}"
        assert mine.shape == theirs[0]
        if mine.parameters:
            assert mine.parameters == theirs[1]


def test_the_rules_know_most_of_the_grid():
    """The grid is not vacuous: most of its cases get a verdict (a shape or a refusal)."""
    known = [verdict(*case.values) for case in cases()]
    judged = [v for v in known if isinstance(v, ShapeError) or v.shape is not None]
    assert len(judged) > 0.8 * len(known)


# Arguments Keras refuses whatever the input (specc/checks/spatial_shapes.py check_arguments).
ARGUMENT_CASES = [
    ("conv2d", {"filters": 2, "kernel_size": [3, 3, 3]}, (8, 8, 2)),
    ("conv2d", {"filters": 2, "kernel_size": 3, "strides": [1, 2, 2]}, (8, 8, 2)),
    ("conv1d", {"filters": 2, "kernel_size": 3, "dilation_rate": [1, 1]}, (8, 2)),
    ("max_pooling2d", {"pool_size": [2, 2, 2]}, (8, 8, 2)),
    ("conv2d", {"filters": 3, "kernel_size": 1, "groups": 2}, (8, 8, 4)),
    ("conv2d", {"filters": 4, "kernel_size": 1, "groups": 2}, (8, 8, 4)),
    ("conv2d", {"filters": 2, "kernel_size": [3, 3]}, (8, 8, 2)),
    ("lstm", {"units": 2, "stateful": True}, (5, 3)),
    ("gru", {"units": 2, "stateful": False}, (5, 3)),
]


@pytest.mark.parametrize("key, args, shape", ARGUMENT_CASES, ids=lambda v: str(v))
def test_argument_refusals_agree_with_keras(key, args, shape):
    from specc.checks.spatial_shapes import check_arguments

    try:
        check_arguments(key, args)
        refused = None
    except ShapeError as error:
        refused = error
    theirs = keras_call(key, args, [shape])
    if refused is not None:
        assert isinstance(theirs, Exception), f"specc refuses ({refused.message}) what Keras builds"


def test_argument_cases_include_refusals():
    from specc.checks.spatial_shapes import check_arguments

    refused = 0
    for key, args, _ in ARGUMENT_CASES:
        try:
            check_arguments(key, args)
        except ShapeError:
            refused += 1
    assert refused >= 5


@pytest.mark.parametrize("key, args, shape", [
    ("dense", {"units": 16}, (64,)),
    ("dense", {"units": 1}, (1,)),           # a fan small enough for the initializer to draw
    ("conv2d", {"filters": 4, "kernel_size": 3}, (8, 8, 1)),
    ("simple_rnn", {"units": 4}, (5, 3)),
    ("embedding", {"input_dim": 10, "output_dim": 3}, (4,)),
])
def test_integer_weights_are_refused_as_keras_cannot_train_them(key, args, shape):
    """dtype int32 on a layer with trained weights: specc refuses it, and Keras either fails to
    build it or finds no gradient for its weights in a training step."""
    from specc.checks.spatial_shapes import check_arguments

    with pytest.raises(ShapeError):
        check_arguments(key, {**args, "dtype": "int32"})
    layer_class = {"dense": keras.layers.Dense, "conv2d": keras.layers.Conv2D,
                   "simple_rnn": keras.layers.SimpleRNN, "embedding": keras.layers.Embedding}[key]
    import numpy as np

    try:
        inputs = keras.Input(shape)
        model = keras.Model(inputs, layer_class(**args, dtype="int32")(inputs))
        model.compile("adam", "mse")
        x = np.ones((2,) + shape, "float32")
        model.fit(x, model.predict(x, verbose=0).astype("float32"), verbose=0)
    except Exception:
        return
    pytest.fail(f"Keras trained {key} with integer weights")
