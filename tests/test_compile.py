"""specc.compile: resolved spec -> keras.Model (real Keras, no mocks)."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

from specc.compile import adapt_preprocessing, load_plugins, plot  # noqa: E402
from specc.paradigms import build_model, compile_spec, summarize  # noqa: E402
from specc.errors import Position, SpecInvalid, SpeccError  # noqa: E402
from specc.load import load_spec  # noqa: E402
from specc.render import resolve  # noqa: E402
from specc.tasks.trees import is_trees  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
CUSTOM = ROOT / "examples" / "custom_layer" / "custom-scale-iris.yaml"
# Trees specs build no Keras network (tests/test_trees.py trains, evaluates and exports them).
ALL_SPECS = [p for p in SPECS + [CUSTOM] if not is_trees(load_spec(p).data)]
BASE = {"specc": 1, "name": "t", "data": {"source": {"builtin": "digits"}},
        "task": {"type": "multiclass", "classes": 10}}


def where(path):
    """A stub position function: every path is 'spec.yaml', line = its length."""
    return Position("spec.yaml", len(path), 1)


def spec(model: dict, **extra) -> dict:
    return resolve({**copy.deepcopy(BASE), "model": model, **extra})


def problem_of(model: dict, **extra):
    with pytest.raises(SpecInvalid) as info:
        compile_spec(spec(model, **extra), where=where)
    return info.value.problems[0]


@lru_cache(maxsize=None)
def compiled(path: Path):
    doc = load_spec(str(path))
    resolved = resolve(doc.data)
    model = compile_spec(resolved, total_steps=100, where=doc.position_of, spec_dir=str(path.parent))
    return doc, resolved, model


# --- every spec ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_every_spec_builds_compiles_and_round_trips_its_config(path):
    _, resolved, model = compiled(path)
    assert model.optimizer is not None and model.compiled
    config = model.get_config()
    again = type(model).from_config(copy.deepcopy(config))  # a paradigm's own class, or Functional
    assert again.get_config() == config
    assert model.name == resolved["name"]


def test_saved_models_reload_in_a_fresh_process(tmp_path):
    saved = {}
    for path in ALL_SPECS:
        _, resolved, model = compiled(path)
        if _unadapted_vocabulary(model):  # as training does before any save: Keras cannot
            _adapt_on_training_split(path, resolved, model)  # load a lookup with no vocabulary
        target = tmp_path / f"{path.stem}.keras"
        model.save(target)
        saved[str(target)] = (list(model.output_names), resolved.get("plugins", []), str(path.parent))
    code = (
        "import json, sys, keras\n"
        "from specc.compile import load_plugins\n"
        "from specc.paradigms import register_serializables\n"
        "register_serializables()\n"
        "out = {}\n"
        "for target, (names, plugins, folder) in json.loads(sys.argv[1]).items():\n"
        "    load_plugins(plugins, folder)\n"
        "    out[target] = list(keras.saving.load_model(target).output_names)\n"
        "print(json.dumps(out))\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(saved)], capture_output=True, text=True,
                          env=env, timeout=120, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {k: v[0] for k, v in saved.items()}


def _unadapted_vocabulary(model) -> bool:
    lookups = (keras.layers.TextVectorization, keras.layers.StringLookup, keras.layers.IntegerLookup)
    written = lambda layer: getattr(layer, "input_vocabulary", None) is not None or \
        getattr(layer, "_has_input_vocabulary", False)  # noqa: E731 - the spec wrote it out
    return any(isinstance(layer, lookups) and not written(layer) for layer in model._flatten_layers())


def _adapt_on_training_split(path: Path, resolved: dict, model) -> None:
    from specc.paradigms import paradigm_of
    from tests.conftest import splits_of

    paradigm_of(resolved).adapt(model, splits_of(path).train)


def test_compile_package_imports_without_keras():
    code = "import sys, specc.compile; assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


# --- particular specs ------------------------------------------------------------------------------

def test_lenet_digits_has_ten_softmax_outputs():
    _, _, model = compiled(ROOT / "specs" / "lenet-digits.yaml")
    assert tuple(model.output_shape) == (None, 10)
    assert model.output_names == ["output"]
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.count_params() == 13706


def test_multi_io_wine_names_inputs_and_outputs_like_the_spec():
    _, _, model = compiled(ROOT / "specs" / "multi-io-wine.yaml")
    assert model.output_names == ["cultivar", "alcohol"]
    assert [t.name for t in model.inputs] == ["chemistry", "color"]
    assert {"chemistry_normalization", "color_normalization"} <= {layer.name for layer in model.layers}


def test_blocks_with_repeat_name_layers_after_node_and_repetition():
    model = build_model(spec({
        "inputs": {"image": [8, 8, 1]},
        "blocks": {"residual": {"params": {"filters": 8}, "nodes": {
            "a": {"conv2d": {"filters": "$filters", "kernel_size": 3, "padding": "same"}, "from": "x"},
            "b": {"batch_normalization": {}, "from": "a"},
            "out": {"add": {}, "from": ["x", "b"]}}}},
        "nodes": {"stem": {"conv2d": {"filters": 16, "kernel_size": 1}, "from": "image"},
                  "res": {"residual": {"filters": 16}, "from": "stem", "repeat": 2},
                  "pool": {"global_average_pooling2d": {}, "from": "res"}}}))
    names = [layer.name for layer in model.layers]
    assert names[:2] == ["image", "stem"]
    for rep in (1, 2):
        assert [f"res_{rep}_a", f"res_{rep}_b", f"res_{rep}_out"] == [n for n in names if n.startswith(f"res_{rep}_")]
    assert model.get_layer("res_2_a").filters == 16
    assert model.output_names == ["output"] and tuple(model.output_shape) == (None, 10)


def test_resnet_digits_expands_its_block_twice():
    _, _, model = compiled(ROOT / "specs" / "resnet-digits.yaml")
    names = {layer.name for layer in model.layers}
    assert {"res_1_a", "res_1_out", "res_2_a", "res_2_out", "digit"} <= names
    assert tuple(model.output_shape) == (None, 10)


def test_binary_head_is_one_sigmoid_unit():
    model = build_model(spec({"inputs": {"x": [30]}, "layers": [{"dense": {"units": 8}}]},
                             task={"type": "binary"}))
    assert tuple(model.output_shape) == (None, 1)
    assert model.get_layer("output").activation.__name__ == "sigmoid"


def test_wrappers_build_from_nested_layer_specs():
    model = build_model(spec({"inputs": {"s": [10, 3]}, "layers": [
        {"bidirectional": {"layer": {"lstm": {"units": 4, "return_sequences": True}}, "merge_mode": "sum"},
         "name": "bidirectional"},
        {"time_distributed": {"layer": {"dense": {"units": 5, "activation": "tanh"}}}, "name": "time_distributed"},
        {"gru": {"units": 3}}]}, task={"type": "binary"}))
    shapes = {layer.name: tuple(layer.output.shape) for layer in model.layers}
    assert shapes["bidirectional"] == (None, 10, 4)
    assert shapes["time_distributed"] == (None, 10, 5)
    assert type(model.get_layer("bidirectional").forward_layer).__name__ == "LSTM"


def test_layer_objects_by_name_and_with_arguments():
    model = build_model(spec({"inputs": {"x": [4]}, "layers": [{"dense": {
        "units": 3, "kernel_regularizer": {"l2": {"l2": 1.0e-4}}, "bias_regularizer": "l1",
        "kernel_initializer": {"he_normal": {"seed": 1}}, "bias_initializer": {"constant": {"value": 0.5}},
        "kernel_constraint": {"max_norm": {"max_value": 2}}, "name": "hidden"}}]}))
    hidden = model.get_layer("hidden")
    assert isinstance(hidden.kernel_regularizer, keras.regularizers.L2)
    assert hidden.kernel_regularizer.l2 == pytest.approx(1e-4)
    assert isinstance(hidden.kernel_constraint, keras.constraints.MaxNorm)
    assert float(hidden.bias.numpy()[0]) == pytest.approx(0.5)


def test_normalization_is_adapted_on_training_features():
    import numpy as np

    _, resolved, _ = compiled(ROOT / "specs" / "mlp-wine.yaml")
    model = build_model(resolved)
    data = np.random.default_rng(0).normal(5.0, 2.0, size=(200, 13)).astype("float32")
    assert adapt_preprocessing(model, data) == ["features_normalization"]
    mean = np.asarray(model.get_layer("features_normalization").mean).reshape(-1)
    assert np.allclose(mean, data.mean(axis=0), atol=1e-4)


# --- optimizers and schedules -----------------------------------------------------------------------

SCHEDULES = [None, {"exponential_decay": {"decay_rate": 0.5}},
             {"piecewise_constant_decay": {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}},
             {"cosine_decay": {"warmup_steps": 10}}, {"cosine_decay_restarts": {}},
             {"polynomial_decay": {"end_learning_rate": 1.0e-5, "warmup_steps": 5}},
             {"inverse_time_decay": {"decay_rate": 0.5}}]
OPTIMIZERS = [{"sgd": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}}, {"rmsprop": {"clipnorm": 1.0}},
              {"adam": {"global_clipnorm": 1.0}}, {"adamw": {"weight_decay": 1.0e-4}}, {"adagrad": {"clipvalue": 0.5}}]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: next(iter(o)))
def test_optimizers_with_every_schedule(optimizer):
    for schedule in SCHEDULES:
        resolved = spec({"inputs": {"x": [4]}, "layers": [{"dense": {"units": 3}}]},
                        optimizer=optimizer, schedule=schedule)
        model = compile_spec(resolved, total_steps=100)
        name, args = next(iter(optimizer.items()))
        assert type(model.optimizer).__name__.lower() == name
        for arg, value in args.items():
            if arg != "learning_rate":
                assert getattr(model.optimizer, arg) == value
        rate = model.optimizer._learning_rate
        if schedule is not None:
            assert isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)


def test_decay_steps_default_to_total_steps_and_warmup_is_linear():
    resolved = spec({"inputs": {"x": [4]}, "layers": [{"dense": {"units": 3}}]},
                    optimizer={"adam": {"learning_rate": 0.01}}, schedule={"cosine_decay": {"warmup_steps": 10}})
    rate = compile_spec(resolved, total_steps=110).optimizer._learning_rate
    assert rate.decay_steps == 100
    assert [round(float(rate(s)), 6) for s in (0, 5, 10, 110)] == [0.0, 0.005, 0.01, 0.0]
    resolved["schedule"] = {"exponential_decay": {"decay_rate": 0.5, "warmup_steps": 4}}
    rate = compile_spec(resolved, total_steps=104).optimizer._learning_rate
    assert type(rate).__name__ == "LinearWarmup"
    assert [round(float(rate(s)), 6) for s in (0, 2, 4, 104)] == [0.0, 0.005, 0.01, 0.005]


def test_whole_numbers_are_given_as_floats_where_keras_wants_floats():
    """YAML reads `learning_rate: 1` and `momentum: 0` as integers; Keras refuses
    SGD(learning_rate=1, momentum=0) but takes 1.0 and 0.0, so specc passes floats."""
    resolved = spec({"inputs": {"x": [4]}, "layers": [
        {"dense": {"units": 3, "kernel_regularizer": {"l2": 0}, "bias_regularizer": {"l1": {"l1": 0}}}},
        {"leaky_relu": 0}, {"rescaling": 1}]},
        optimizer={"sgd": {"learning_rate": 1, "momentum": 0}},
        schedule={"exponential_decay": {"decay_rate": 1, "decay_steps": 10}})
    model = compile_spec(resolved, total_steps=100)
    assert float(model.optimizer.momentum) == 0.0
    assert float(model.optimizer._learning_rate(0)) == 1.0
    lenient = compile_spec(spec({"inputs": {"x": [4]}, "layers": [{"dense": 3}]},
                                optimizer={"adam": {"learning_rate": 0}}), total_steps=10)
    assert float(lenient.optimizer.learning_rate) == 0.0


# --- errors --------------------------------------------------------------------------------------------

def test_unknown_layer_argument_suggests_the_right_one():
    problem = problem_of({"inputs": {"x": [4]}, "layers": [{"dense": {"unit": 3}}]})
    assert problem.path == ("model", "layers", 0, "dense", "unit")
    assert problem.message == "unknown argument 'unit' for dense"
    assert problem.hint == "did you mean 'units'?"
    assert problem.position == Position("spec.yaml", 5, 1)


@pytest.mark.parametrize("model, extra, path, words", [
    ({"inputs": {"x": [4]}, "layers": [{"desne": {"units": 3}}]}, {}, ("model", "layers", 0, "desne"), "'dense'"),
    ({"inputs": {"x": [4]}, "layers": [{"dense": {"units": 3, "activation": "rleu"}}]}, {},
     ("model", "layers", 0, "dense", "activation"), "'relu'"),
    ({"inputs": {"x": [4]}, "layers": [{"dense": {"units": 3, "kernel_initializer": "he_nrmal"}}]}, {},
     ("model", "layers", 0, "dense", "kernel_initializer"), "'he_normal'"),
    ({"inputs": {"x": [4]}, "layers": [{"dense": {"units": 3, "kernel_regularizer": {"l2": {"l3": 1}}}}]}, {},
     ("model", "layers", 0, "dense", "kernel_regularizer", "l2", "l3"), "l2"),
    ({"inputs": {"x": [4]}, "layers": ["flatten"]}, {"optimizer": {"adamm": {}}}, ("optimizer", "adamm"), "'adam'"),
    ({"inputs": {"x": [4]}, "layers": ["flatten"]}, {"optimizer": {"adam": {"lr": 0.1}}},
     ("optimizer", "adam", "lr"), "'learning_rate'"),
    ({"inputs": {"x": [4]}, "layers": ["flatten"]}, {"loss": "sparse_categorical_crossentrop"}, ("loss",),
     "'sparse_categorical_crossentropy'"),
    ({"inputs": {"x": [4]}, "layers": ["flatten"]}, {"metrics": ["acuracy"]}, ("metrics", 0), "'accuracy'"),
    ({"inputs": {"x": [4]}, "layers": ["flatten"]}, {"schedule": {"cosine_decy": {}}}, ("schedule",),
     "'cosine_decay'"),
])
def test_unknown_names_give_did_you_mean(model, extra, path, words):
    problem = problem_of(model, **extra)
    assert problem.path == path
    assert words in (problem.hint or "")


def test_add_of_mismatched_shapes_names_the_node_and_shapes():
    problem = problem_of({"inputs": {"x": [8, 8, 3]}, "nodes": {
        "a": {"conv2d": {"filters": 16, "kernel_size": 1}, "from": "x"},
        "b": {"conv2d": {"filters": 32, "kernel_size": 1}, "from": "x"},
        "c": {"add": {}, "from": ["a", "b"]}, "d": {"flatten": {}}}})
    assert problem.path == ("model", "nodes", "c")
    assert "(None, 8, 8, 16) and (None, 8, 8, 32)" in problem.message
    assert problem.position is not None and problem.code == "shape"


def test_pooling_window_larger_than_its_input():
    problem = problem_of({"inputs": {"x": [2, 2, 3]}, "layers": [{"max_pooling2d": 4}, "flatten"]})
    assert problem.path == ("model", "layers", 0)
    assert "max_pooling2d" in problem.message and "(None, 2, 2, 3)" in problem.message
    assert "padding: same" in problem.hint


def test_conv2d_on_a_flat_input():
    problem = problem_of({"inputs": {"x": [13]}, "layers": [{"conv2d": {"filters": 4, "kernel_size": 3}}]})
    assert problem.path == ("model", "layers", 0)
    assert "conv2d expects a 4-D input" in problem.message and "(None, 13)" in problem.message
    assert "reshape" in problem.hint


def test_head_on_a_feature_map_asks_for_flatten():
    problem = problem_of({"inputs": {"x": [8, 8, 3]}, "layers": [{"conv2d": {"filters": 4, "kernel_size": 3}}]})
    assert problem.path == ("model", "head")
    assert "(None, 6, 6, 10)" in problem.message and "flatten" in problem.hint


def test_graph_errors_several_inputs_cycle_unknown_source():
    problem = problem_of({"inputs": {"x": [4]}, "nodes": {
        "a": {"dense": {"units": 2}, "from": "x"}, "b": {"dense": {"units": 2}, "from": "x"},
        "c": {"dense": {"units": 2}, "from": ["a", "b"]}}})
    assert "concatenate" in problem.hint and problem.path == ("model", "nodes", "c")
    problem = problem_of({"inputs": {"x": [4]}, "nodes": {
        "a": {"dense": {"units": 2}, "from": "b"}, "b": {"dense": {"units": 2}, "from": "a"}}})
    assert "cycle" in problem.message
    problem = problem_of({"inputs": {"x": [4]}, "nodes": {"a": {"dense": {"units": 2}, "from": "inptu"}}})
    assert problem.path == ("model", "nodes", "a", "from") and "inptu" in problem.message


def test_block_parameter_errors():
    blocks = {"blk": {"params": {"units": None}, "layers": [{"dense": {"units": "$units"}}]}}
    problem = problem_of({"inputs": {"x": [4]}, "blocks": blocks, "nodes": {"a": {"blk": {"unit": 3}, "from": "x"}}})
    assert problem.hint == "did you mean 'units'?"
    blocks["blk"]["layers"] = [{"dense": {"units": "$unit"}}]
    problem = problem_of({"inputs": {"x": [4]}, "blocks": blocks, "nodes": {"a": {"blk": {"units": 3}, "from": "x"}}})
    assert problem.path[:3] == ("model", "blocks", "blk") and "$unit" in problem.message


def test_bad_values_never_leak_a_keras_traceback():
    problem = problem_of({"inputs": {"x": [4]}, "layers": [{"dropout": 1.5}]})
    assert problem.path == ("model", "layers", 0, "dropout", "rate") and "rate" in problem.message
    assert problem.hint == "change rate: 1.5 to a value the message allows"  # the argument, not a doc line
    problem = problem_of({"inputs": {"x": [13]}, "layers": [{"reshape": {"target_shape": [3, 5]}}]})
    assert "13 values per sample" in problem.message


def test_plugins_load_from_the_spec_directory_given_as_a_path():
    modules = load_plugins(["my_layers"], CUSTOM.parent)
    assert modules[0].__name__ == "my_layers"
    assert str(CUSTOM.parent) not in sys.path


def test_missing_plugin_is_a_spec_problem(tmp_path):
    with pytest.raises(SpecInvalid) as info:
        load_plugins(["no_such_plugin_here"], str(tmp_path))
    assert "cannot be found" in info.value.problems[0].message
    assert str(tmp_path) in info.value.problems[0].hint


# --- summary and plot -------------------------------------------------------------------------------------

def test_summary_shows_spec_lines_params_compute_and_training_setup():
    doc, resolved, model = compiled(ROOT / "specs" / "lenet-digits.yaml")
    text = summarize(model, resolved, where=doc.position_of)
    assert "lenet-digits.yaml:22" in text            # the first conv2d
    assert "(None, 8, 8, 16)" in text and "13,706" in text
    assert "multiply-adds" in text and "estimate" in text
    assert "Loss: sparse_categorical_crossentropy" in text
    assert "cosine_decay(" in text and "decay_steps=100" in text
    assert "Metrics: accuracy" in text


def test_plot_writes_svg_or_explains_what_is_missing(tmp_path):
    _, _, model = compiled(ROOT / "specs" / "mlp-iris-sgd.yaml")
    target = tmp_path / "model.svg"
    try:
        import pydot  # noqa: F401
        have = shutil.which("dot") is not None
    except ImportError:
        have = False
    if have:
        plot(model, str(target))
        assert target.read_text().lstrip().startswith("<?xml")
    else:
        with pytest.raises(SpeccError) as info:
            plot(model, str(target))
        assert "install" in info.value.hint
