"""`specc render` / `specc.render.resolve`: defaults, short forms and `auto` resolved.

For every example spec: render succeeds, the output validates, rendering it again gives the
same text, and reading it back gives exactly `resolve(spec)`.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main
from specc.load import Document, load_spec, parse_text
from specc.render import render, resolve
from specc.tasks.trees import is_trees
from specc.validate import validate

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def doc_of(text: str, name: str = "rendered.yaml") -> Document:
    data, positions, key_positions = parse_text(text, name)
    return Document(data, positions, key_positions, [name])


def resolved(name: str) -> dict:
    return resolve(load_spec(ROOT / "specs" / f"{name}.yaml").data)


def layers(name: str) -> list:
    return resolved(name)["model"]["layers"]


def minimal(**sections) -> dict:
    spec = {"specc": 1, "name": "t", "data": {"source": {"builtin": "iris"}},
            "task": {"type": "multiclass", "classes": 3},
            "model": {"inputs": {"features": [4]}, "layers": [{"dense": {"units": 8}}]}}
    spec.update(sections)
    return spec


# --- every example spec ----------------------------------------------------------------------

@pytest.fixture(params=SPECS, ids=lambda p: p.stem)
def spec(request):
    return load_spec(request.param)


def test_render_command_succeeds(spec):
    result = CliRunner().invoke(main, ["render", spec.files[-1]])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == render(spec.data)


def test_rendered_spec_validates(spec):
    assert validate(doc_of(render(spec.data))) == []


def test_resolve_is_idempotent(spec):
    once = resolve(spec.data)
    assert resolve(once) == once


def test_render_is_idempotent(spec):
    once = render(spec.data)
    assert render(doc_of(once).data) == once


def test_rendered_yaml_reads_back_as_the_resolved_spec(spec):
    assert doc_of(render(spec.data)).data == resolve(spec.data)


def test_resolve_does_not_change_its_input(spec):
    before = copy.deepcopy(spec.data)
    resolve(spec.data)
    assert spec.data == before


def test_resolved_spec_has_every_default(spec):
    out = resolve(spec.data)
    for section in ("specc", "name", "description", "seed", "plugins", "data", "task", "model", "loss",
                    "metrics", "optimizer", "schedule", "batch", "train", "device", "export"):
        assert section in out
    if is_trees(out):
        assert set(out["model"]) == {"trees"}  # no network keys beside the trees
    else:
        assert out["model"]["head"] == "none"
    assert "extends" not in out and "$schema" not in out


def test_rendered_sections_come_in_a_fixed_order():
    spec = load_spec(ROOT / "specs" / "lenet-digits.yaml").data
    shuffled = dict(reversed(list(spec.items())))
    assert render(shuffled) == render(spec)


# --- loss: auto and head: auto ---------------------------------------------------------------

def test_loss_auto_follows_the_task_table():
    assert resolved("lenet-digits")["loss"] == "sparse_categorical_crossentropy"
    assert resolved("mlp-diabetes")["loss"] == "huber"  # outliers: true
    assert resolved("binary-breast-cancer")["loss"] == "binary_crossentropy"
    assert resolved("multi-io-wine")["loss"] == {"cultivar": "sparse_categorical_crossentropy",
                                                 "alcohol": "mean_squared_error"}


def test_loss_auto_with_one_hot_labels():
    spec = minimal(task={"type": "multiclass", "classes": 3, "encoding": "one_hot"})
    assert resolve(spec)["loss"] == "categorical_crossentropy"


def test_head_auto_appends_the_table_head_named_output():
    assert layers("lenet-digits")[-1] == {"dense": {"units": 10, "activation": "softmax"}, "name": "output"}
    assert layers("mlp-diabetes")[-1] == {"dense": {"units": 1, "activation": "softplus"}, "name": "output"}
    assert layers("binary-breast-cancer")[-1] == {"dense": {"units": 1, "activation": "sigmoid"},
                                                  "name": "output"}
    assert resolved("lenet-digits")["model"]["head"] == "none"


def test_graph_heads_are_named_after_the_outputs():
    model = resolved("multi-io-wine")["model"]
    assert model["nodes"]["cultivar"] == {"dense": {"units": 3, "activation": "softmax"},
                                          "from": ["shared"], "name": "cultivar"}
    assert model["nodes"]["alcohol"] == {"dense": {"units": 1, "activation": "linear"},
                                         "from": ["shared"], "name": "alcohol"}
    assert model["outputs"] == {"cultivar": "cultivar", "alcohol": "alcohol"}


def test_graph_head_for_a_single_task_with_a_named_output():
    model = resolved("resnet-digits")["model"]
    head = model["nodes"][model["outputs"]["digit"]]
    assert head["dense"] == {"units": 10, "activation": "softmax"}
    assert head["from"] == ["pool"]


def test_explicit_head_is_appended_in_long_form():
    spec = minimal()
    spec["model"]["head"] = {"dense": {"units": 3, "activation": "softmax"}}
    assert resolve(spec)["model"]["layers"][-1] == {"dense": {"units": 3, "activation": "softmax"},
                                                    "name": "output"}


def test_head_none_adds_nothing():
    spec = minimal()
    spec["model"]["head"] = "none"
    assert resolve(spec)["model"]["layers"] == [{"dense": {"units": 8}}]


# --- short forms -----------------------------------------------------------------------------

def test_short_forms_expand():
    items = layers("lenet-digits")
    assert {"dropout": {"rate": 0.25}} in items
    assert {"flatten": {}} in items
    assert items[2] == {"max_pooling2d": {"pool_size": 2}}


def test_wrapper_short_form_expands():
    spec = minimal()
    spec["model"]["layers"] = [{"bidirectional": {"lstm": 16}}]
    assert resolve(spec)["model"]["layers"][0] == {"bidirectional": {"layer": {"lstm": {"units": 16}}}}


def test_wrapper_long_form_keeps_its_arguments():
    spec = minimal()
    spec["model"]["layers"] = [{"bidirectional": {"layer": "lstm", "merge_mode": "sum"}}]
    assert resolve(spec)["model"]["layers"][0] == {"bidirectional": {"layer": {"lstm": {}},
                                                                      "merge_mode": "sum"}}


def test_preprocessing_short_form_expands():
    assert resolved("mlp-wine")["data"]["preprocessing"] == [{"normalization": {}}]


def test_inputs_get_a_dtype():
    assert resolved("lenet-digits")["model"]["inputs"] == {"image": {"shape": [8, 8, 1], "dtype": "float32"}}


def test_graph_from_becomes_a_list():
    nodes = resolved("multi-io-wine")["model"]["nodes"]
    assert nodes["chem"]["from"] == ["chemistry"]


def test_calls_get_their_long_form():
    out = resolved("binary-breast-cancer")
    assert out["optimizer"] == {"adam": {}}
    assert out["metrics"] == ["binary_accuracy", "auc"]
    assert resolved("lenet-digits")["schedule"] == {"cosine_decay": {}}


# --- settings --------------------------------------------------------------------------------

def test_batch_strategies_drop_the_size():
    assert resolved("mlp-diabetes")["batch"] == {"strategy": "full_batch", "accumulate": 1,
                                                 "drop_remainder": False, "shuffle": True}
    assert "size" not in resolved("mlp-iris-sgd")["batch"]
    assert resolved("mlp-wine")["batch"]["size"] == 16


def test_early_stopping_gets_its_defaults():
    stop = resolved("lenet-digits")["train"]["early_stopping"]
    assert stop == {"monitor": "val_loss", "patience": 8, "min_delta": 0.0, "mode": "auto",
                    "restore_best_weights": True}
    assert resolve(minimal(train={"early_stopping": True}))["train"]["early_stopping"]["patience"] == 5


def test_split_defaults_and_stratify_by_task():
    assert resolved("mlp-diabetes")["data"]["split"] == {"validation": 0.15, "test": 0.15, "stratify": False}
    assert resolve(minimal())["data"]["split"] == {"validation": 0.1, "test": 0.2, "stratify": True}


def test_an_explicit_test_file_gets_no_default_validation_split():
    """A test split from its own source leaves all of data.source to training unless the spec
    asks for a validation split; the same the other way round, and for class lists."""
    test_file = {"source": {"csv": {"path": "test.csv", "label": "species"}}}
    split = resolve(minimal(data={"source": {"builtin": "iris"}, "split": {"test": test_file}}))["data"]["split"]
    assert split == {"validation": 0, "test": test_file, "stratify": True}
    asked = {"test": test_file, "validation": 0.1}
    assert resolve(minimal(data={"source": {"builtin": "iris"}, "split": asked}))["data"]["split"]["validation"] == 0.1
    validation_file = {"validation": test_file}
    split = resolve(minimal(data={"source": {"builtin": "iris"}, "split": validation_file}))["data"]["split"]
    assert split["test"] == 0 and split["validation"] == test_file
    by_class = {"by": "class", "test": [7, 8, 9]}
    split = resolve(minimal(data={"source": {"builtin": "digits"}, "split": by_class}))["data"]["split"]
    assert (split["validation"], split["test"]) == (0, [7, 8, 9])
    fractions = {"by": "class", "test": 0.3}
    split = resolve(minimal(data={"source": {"builtin": "digits"}, "split": fractions}))["data"]["split"]
    assert (split["validation"], split["test"]) == (0.1, 0.3)


def test_select_and_hold_out_pass_through():
    data = {"source": {"builtin": "digits"}, "select": {"exclude": [0]}, "split": {"hold_out": {"classes": [9]}}}
    out = resolve(minimal(data=data))["data"]
    assert out["select"] == {"exclude": [0]}
    assert out["split"] == {"validation": 0.1, "test": 0.2, "stratify": True, "hold_out": {"classes": [9]}}


def test_metrics_default_to_the_task_table():
    assert resolve(minimal())["metrics"] == ["accuracy"]
    spec = minimal(task={"type": "regression"})
    assert resolve(spec)["metrics"] == ["mean_absolute_error"]


def test_overrides_reach_the_rendered_spec():
    result = CliRunner().invoke(main, ["render", str(ROOT / "specs" / "mlp-wine.yaml"),
                                       "--set", "optimizer={sgd: {learning_rate: 0.1}}"])
    assert result.exit_code == 0, result.stderr
    assert "optimizer:\n  sgd: {learning_rate: 0.1}\n" in result.stdout


def test_render_refuses_an_invalid_spec():
    result = CliRunner().invoke(main, ["render", str(ROOT / "tests" / "cases" / "invalid" / "three_typos.yaml")])
    assert result.exit_code == 1
    assert "did you mean 'train'?" in result.stderr
