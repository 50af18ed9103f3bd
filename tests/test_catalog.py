"""The Keras catalog: in sync with the installed Keras, complete enough, TF-free."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from specc import catalog
from specc.suggest import suggest

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "out of date with the installed Keras; run tools/gen_catalog.py"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_catalog", ROOT / "tools" / "gen_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(gen):
    return gen.build_catalog()


def _differences(gen, label, on_disk, fresh):
    return "\n".join(gen.diff_summary(label, on_disk, fresh)[:20])


def test_catalog_matches_installed_keras(gen, generated):
    on_disk = json.loads(gen.CATALOG_PATH.read_text())
    if on_disk != generated:
        pytest.fail(f"specc/catalog/keras_layers.json is {REGENERATE}\n"
                    + _differences(gen, "keras_layers.json", on_disk, generated))
    assert gen.CATALOG_PATH.read_text() == gen.dump(generated), f"formatting: {REGENERATE}"


def test_layer_defs_match_catalog(gen, generated):
    on_disk = json.loads(gen.DEFS_PATH.read_text())
    fresh = gen.build_defs(generated)
    if on_disk != fresh:
        pytest.fail(f"schemas/layers-v1.defs.json is {REGENERATE}\n"
                    + _differences(gen, "layers-v1.defs.json", on_disk, fresh))


def _arg(layer, name):
    return next(a for a in catalog.layer_info(layer)["args"] if a["name"] == name)


def test_well_known_layers():
    names = set(catalog.layer_names())
    for name in ("dense", "conv2d", "dropout", "lstm", "gru", "simple_rnn", "bidirectional",
                 "time_distributed", "multi_head_attention", "separable_conv2d",
                 "depthwise_conv2d", "batch_normalization", "layer_normalization",
                 "rescaling", "normalization", "string_lookup", "integer_lookup",
                 "category_encoding", "resizing", "random_flip", "max_pooling2d",
                 "global_average_pooling2d", "flatten", "embedding", "prelu", "relu",
                 "leaky_relu", "conv_lstm2d", "conv1d_transpose", "add", "concatenate"):
        assert name in names, name
    assert _arg("dense", "units")["required"] is True
    assert catalog.short_arg("dense") == "units"
    assert _arg("conv2d", "kernel_size")["required"] is True
    assert _arg("conv2d", "padding")["default"] == "valid"
    assert _arg("conv2d", "strides")["default"] == [1, 1]
    assert catalog.short_arg("dropout") == "rate"
    assert _arg("lstm", "return_sequences")["type"] == "boolean"
    assert catalog.layer_info("bidirectional")["wrapper"] is True
    assert _arg("bidirectional", "layer")["layer"] is True
    assert catalog.layer_info("time_distributed")["wrapper"] is True
    assert catalog.layer_info("dense")["wrapper"] is False
    assert catalog.layer_info("add")["merge"] is True
    assert catalog.layer_info("concatenate")["merge"] is True
    assert catalog.short_arg("add") is None
    assert {"num_heads", "key_dim"} <= set(catalog.arg_names("multi_head_attention"))
    assert catalog.layer_info("multi_head_attention")["call_args"] == ["query", "value"]
    assert "depth_multiplier" in catalog.arg_names("separable_conv2d")
    assert "depth_multiplier" in catalog.arg_names("depthwise_conv2d")
    assert _arg("batch_normalization", "momentum")["type"] == "number"
    assert catalog.short_arg("rescaling") == "scale"
    assert {"axis", "mean", "variance"} <= set(catalog.arg_names("normalization"))
    for base in ("name", "dtype", "trainable"):
        assert _arg("dense", base)["base"] is True
    assert catalog.layer_info("convolution2d")["alias_of"] == "conv2d"
    assert catalog.layer_info("nonexistent") is None
    assert catalog.arg_names("nonexistent") == []


def test_layer_defs_shapes():
    defs = json.loads((ROOT / "schemas" / "layers-v1.defs.json").read_text())
    args = defs["layer_args"]
    assert defs["layer_names"] == catalog.layer_names()
    assert args["dense"]["required"] == ["units"]
    assert "integer" in args["dense"]["type"] and "null" not in args["dense"]["type"]
    assert "null" in args["flatten"]["type"]
    assert args["conv2d"]["type"] == ["object"]  # two required args: no short form
    assert args["conv2d"]["properties"]["kernel_size"]["type"] == ["integer", "array"]
    assert args["dense"]["properties"]["kernel_initializer"]["$ref"] == "#/$defs/initializer_call"
    assert args["dense"]["additionalProperties"] is False
    layer_ref = {"$ref": "#/$defs/layer_item"}
    assert layer_ref in args["bidirectional"]["anyOf"]


def test_catalog_does_not_import_tensorflow():
    code = ("import sys, specc.catalog as c; c.layer_names(); c.names('losses'); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow'; "
            "assert 'keras' not in sys.modules, 'keras'; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_suggest():
    layers = catalog.layer_names()
    assert "conv2d" in suggest("conv2", layers)
    assert suggest("Dense", layers)[0] == "dense"
    assert suggest("conv_2d", layers)[0] == "conv2d"
    assert suggest("Conv2D", layers)[0] == "conv2d"
    assert suggest("adamW", catalog.names("optimizers"))[0] == "adamw"
    assert suggest("zzzzzz", layers) == []


def test_other_kinds():
    assert {"relu", "sigmoid", "tanh", "selu", "softmax", "softplus"} <= set(
        catalog.names("activations"))
    assert {"mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
            "categorical_crossentropy", "sparse_categorical_crossentropy"} <= set(
        catalog.names("losses"))
    assert {"sgd", "rmsprop", "adam", "adamw", "adagrad"} <= set(catalog.names("optimizers"))
    assert {"cosine_decay", "exponential_decay", "piecewise_constant_decay",
            "polynomial_decay"} <= set(catalog.names("schedules"))
    assert {"glorot_uniform", "he_normal", "zeros"} <= set(catalog.names("initializers"))
    assert {"l1", "l2"} <= set(catalog.names("regularizers"))
    assert {"max_norm", "non_neg"} <= set(catalog.names("constraints"))
    assert {"accuracy", "auc", "precision", "recall"} <= set(catalog.names("metrics"))
    huber = catalog.entry("losses", "huber")
    assert huber["class"] == "Huber" and huber["function"] == "huber"
    assert "delta" in [a["name"] for a in huber["args"]]
    assert catalog.entry("losses", "mse")["alias_of"] == "mean_squared_error"
    assert catalog.entry("optimizers", "adam")["class"] == "Adam"
    with pytest.raises(ValueError):
        catalog.names("layerz")
