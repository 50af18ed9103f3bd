"""Gradient-boosted trees (`model: {trees: ...}`): validate, train, resume, evaluate, predict,
export and the verdict, on tiny data and few rounds.

Validation of the hyperparameters (types, ranges, choices, did-you-mean) is in the golden
cases tests/cases/invalid/trees_*.yaml; that validate never imports XGBoost is in
tests/test_cli_validate.py.
"""
from __future__ import annotations

import yaml

from specc.load import parse_text
from specc.load.document import Document
from specc.registries import EXPORT_FORMATS, TASK_TYPES
from specc.validate import validate

NEEDS = {"classes": 3, "labels": 3, "latent_dim": 4}  # what each type's required fields take


def _trees_doc(task_type: str) -> Document:
    task = {"type": task_type, **{k: NEEDS[k] for k in TASK_TYPES.get(task_type).required}}
    text = yaml.safe_dump({"specc": 1, "name": "t", "data": {"source": {"builtin": "iris"}},
                           "task": task, "model": {"trees": {"rounds": 3}}})
    data, positions, keys = parse_text(text, "t.yaml")
    return Document(data=data, positions=positions, key_positions=keys, files=["t.yaml"])


def test_task_types_trees_cannot_learn_are_refused_from_the_registry():
    for name in TASK_TYPES:
        messages = [p.message for p in validate(_trees_doc(name))]
        refused = any("trees cannot learn" in m for m in messages)
        assert refused == (TASK_TYPES.get(name).trees is None), (name, messages)


# --- training, the record, evaluate and predict ------------------------------------------------

import csv  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import CHECKPOINT_KILLER, cli, no_traceback, train_run  # noqa: E402

IRIS = """
specc: 1
name: trees-iris
seed: 3
data:
  source: {builtin: iris}
  split: {validation: 0.2, test: 0.2, stratify: true}
task: {type: multiclass, classes: 3}
model:
  trees: {rounds: 12, max_depth: 2, learning_rate: 0.3, early_stopping_rounds: 3}
train: {checkpoints: {every_seconds: 0}}
"""


def _spec(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def iris_trees(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trees")
    return train_run(_spec(folder, IRIS), folder / "runs")


def test_a_trees_run_records_what_a_network_run_does(iris_trees):
    record = iris_trees.record()
    assert record["status"] == "completed", record["message"]
    assert record["data"] == {"train": 90, "validation": 30, "test": 30}
    assert record["data_fingerprint"].startswith("sha256:")
    rows = iris_trees.history()
    assert [row["epoch"] for row in rows] == list(range(1, record["epochs_completed"] + 1))
    assert {"loss", "val_loss"} <= set(rows[0])
    assert record["best"]["epoch"] == record["trees"]["kept_rounds"]
    assert record["trees"]["importances"] and all(v > 0 for v in record["trees"]["importances"].values())
    assert set(iris_trees.metrics()["test"]) == {"loss", "accuracy", "baseline_accuracy"}
    assert (iris_trees.path / "checkpoints" / "best.ubj").exists()
    assert (iris_trees.path / "curves.png").stat().st_size > 0
    assert (iris_trees.path / "importances.png").stat().st_size > 0


def test_the_same_seed_gives_the_split_of_the_network_spec(tmp_path):
    from conftest import splits_of

    trees = splits_of(_spec(tmp_path, IRIS))
    network = splits_of(_spec(tmp_path, IRIS.replace(
        "  trees: {rounds: 12, max_depth: 2, learning_rate: 0.3, early_stopping_rounds: 3}",
        "  inputs: {x: [4]}\n  layers: [{dense: 4}]"), "net.yaml"))
    for name in ("train", "validation", "test"):
        np.testing.assert_array_equal(getattr(trees, name).rows, getattr(network, name).rows)


def test_evaluate_gives_the_figures_of_the_record(iris_trees):
    result = cli("evaluate", iris_trees.run_id, "--runs-dir", iris_trees.runs_dir, "--format", "json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)["test"]
    for name, value in iris_trees.metrics()["test"].items():
        assert figures[name] == pytest.approx(value, abs=1e-6)


def test_predict_reads_columns_by_name(iris_trees, tmp_path):
    from sklearn.datasets import load_iris

    data = load_iris()
    names = list(reversed(data.feature_names))
    path = tmp_path / "in.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in data.data[:6]:
            writer.writerow(list(reversed(row.tolist())))
    out = tmp_path / "out.csv"
    result = cli("predict", iris_trees.run_id, "--runs-dir", iris_trees.runs_dir, "--input", path, "--output", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["predicted"] for r in rows] == ["setosa"] * 6


def test_categorical_columns_by_name_and_several_targets(tmp_path):
    """A CSV column named under `categorical:` is one XGBoost categorical feature (its
    categories from the training split); regression with several targets boosts them all."""
    rng = np.random.default_rng(0)
    colours = rng.choice(["red", "green", "blue"], 120)
    size = rng.normal(size=120)
    with (tmp_path / "d.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["colour", "size", "a", "b"])
        for c, s in zip(colours, size):
            writer.writerow([c, f"{s:.4f}", {"red": 1, "green": 5, "blue": 9}[c] + s, 2 * s])
    spec = _spec(tmp_path, """
specc: 1
name: trees-cat
data:
  source: {csv: {path: d.csv, label: [a, b], categorical: [colour]}}
  split: {validation: 0.2, test: 0.2}
task: {type: regression, targets: 2}
model:
  trees: {rounds: 30, max_depth: 3, learning_rate: 0.5}
""")
    run = train_run(spec, tmp_path / "runs")
    record = run.record()
    assert record["status"] == "completed"
    assert "colour" in record["trees"]["importances"]
    test = run.metrics()["test"]
    assert test["mean_absolute_error"] < 0.5 * test["baseline_mean_absolute_error"]


def test_multilabel_trees_learn_one_output_per_label(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4))
    with (tmp_path / "m.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c", "d", "l1", "l2", "l3"])
        for row in x:
            writer.writerow([f"{v:.4f}" for v in row] + [int(v > 0) for v in row[:3]])
    spec = _spec(tmp_path, """
specc: 1
name: trees-multilabel
data:
  source: {csv: {path: m.csv, label: [l1, l2, l3]}}
  split: {validation: 0.2, test: 0.2}
task: {type: multilabel, labels: 3}
model:
  trees: {rounds: 20}
""")
    run = train_run(spec, tmp_path / "runs")
    assert run.metrics()["test"]["binary_accuracy"] > 0.9


# --- kill -9 and resume --------------------------------------------------------------------------

def _booster_json(path: Path) -> dict:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(path))
    return json.loads(bytes(booster.save_raw("json")))


def test_kill_9_while_boosting_resumes_to_the_same_booster(iris_trees, tmp_path):
    spec = _spec(tmp_path, IRIS)
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", CHECKPOINT_KILLER, "5", str(spec), str(runs)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    (run,) = (runs / "trees-iris").iterdir()
    assert len(json.loads((run / "history.json").read_text())) == 4
    result = cli("train", "--resume", run.name, "--runs-dir", runs)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "resuming after round 4" in result.output
    assert json.loads((run / "record.json").read_text())["status"] == "completed"
    for name in ("last.ubj", "best.ubj"):
        assert _booster_json(run / "checkpoints" / name) == _booster_json(iris_trees.path / "checkpoints" / name)
    assert json.loads((run / "metrics.json").read_text()) == iris_trees.metrics()
    assert json.loads((run / "history.json").read_text()) == iris_trees.history()


# --- export ----------------------------------------------------------------------------------------

TREES_FORMATS = [name for name, info in EXPORT_FORMATS.items() if "trees" in info.kinds]


def test_every_format_that_takes_trees_round_trips_with_parity(iris_trees):
    """XGBoost's JSON and UBJSON and ONNX (onnxmltools), each run back by its own runtime in
    the checking process; the ONNX file also here, by ONNX Runtime, against the booster."""
    import onnxruntime as ort

    from specc.paradigms.trees import TreesModel

    result = cli("export", iris_trees.run_id, "--runs-dir", iris_trees.runs_dir, "--force",
                 *[a for f in TREES_FORMATS for a in ("--format", f)])
    no_traceback(result)
    assert result.exit_code == 0, result.output
    manifest = json.loads((iris_trees.path / "exports" / "manifest.json").read_text())
    entries = {a["format"]: a for a in manifest["artifacts"]}
    assert set(entries) == set(TREES_FORMATS)
    assert all(e["parity"]["agreement"] == 1.0 for e in entries.values())
    model = TreesModel.load(iris_trees.path / "checkpoints" / "best.ubj")
    x = np.random.default_rng(0).uniform(0, 8, (50, 4)).astype(np.float32)
    session = ort.InferenceSession(str(iris_trees.path / "exports" / "model.onnx"), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(["output"], {"features": x})
    np.testing.assert_allclose(onnx_out, model.predict(x), atol=1e-5)


def test_a_network_format_is_refused_for_trees(iris_trees):
    result = cli("export", iris_trees.run_id, "--runs-dir", iris_trees.runs_dir, "--format", "keras")
    no_traceback(result)
    assert result.exit_code == 2
    assert "keras export takes a network, not trees" in result.stderr


# --- the verdict ----------------------------------------------------------------------------------

NETWORK = IRIS.replace("name: trees-iris", "name: net-iris").replace(
    "  trees: {rounds: 12, max_depth: 2, learning_rate: 0.3, early_stopping_rounds: 3}",
    "  inputs: {x: [4]}\n  layers: [{dense: {units: 8, activation: relu}}]\noptimizer: {adam: {learning_rate: 0.05}}"
).replace("train: {checkpoints: {every_seconds: 0}}", "train: {epochs: 3}")


def test_the_verdict_compares_both_on_the_same_split_over_seeds(tmp_path):
    runs = tmp_path / "runs"
    result = cli("verdict", _spec(tmp_path, NETWORK), "--seeds", "2", "--runs-dir", runs, "--quiet")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "verdict on the test split (30 samples; seeds 3, 4; the same split for both)"
    assert any(line.split()[0] == "accuracy" and "±" in line for line in lines)
    assert any(line.split() == ["baseline_accuracy", line.split()[1]] for line in lines)
    for seed in (3, 4):
        records = [json.loads(p.read_text()) for p in runs.glob("*/*/record.json")]
        pair = [r for r in records if r["seed"] == seed]
        assert sorted(r["name"] for r in pair) == ["net-iris", "net-iris-trees"]
        assert pair[0]["data"] == pair[1]["data"] and pair[0]["data_fingerprint"] == pair[1]["data_fingerprint"]


def test_the_verdict_over_folds_keeps_the_test_split(tmp_path):
    runs = tmp_path / "runs"
    result = cli("verdict", _spec(tmp_path, NETWORK), "--folds", "2", "--runs-dir", runs, "--quiet")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "verdict on the test split (30 samples; seed 3, 2 folds; the same split " \
                                           "for both)"
    records = [json.loads(p.read_text()) for p in runs.glob("*/*/record.json")]
    assert len(records) == 4 and all(r["data"] == {"train": 60, "validation": 60, "test": 30} for r in records)


def test_the_verdict_refuses_a_trees_spec(tmp_path):
    result = cli("verdict", _spec(tmp_path, IRIS))
    no_traceback(result)
    assert result.exit_code == 2
    assert "this spec's model is trees already" in result.stderr


# --- sweeps and MLflow ------------------------------------------------------------------------------

def test_a_sweep_searches_tree_hyperparameters(tmp_path):
    """Each trial is a trees run; the sweep scores it by its per-round validation loss."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _spec(tmp_path, IRIS)
    sweep = _spec(tmp_path, """
specc: 1
extends: spec.yaml
name: trees-iris-sweep
sweep:
  metric: val_loss
  sampler: grid
  trials: 2
  space:
    model.trees.max_depth: {choice: [1, 3]}
""", "sweep.yaml")
    result = cli("sweep", sweep, "--runs-dir", tmp_path / "runs")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "trees-iris-sweep").glob("*/record.json")]
    assert sorted(r["sweep"]["values"]["model.trees.max_depth"] for r in records) == [1, 3]
    assert all(r["status"] == "completed" and "trees" in r for r in records)


def test_runs_export_to_mlflow_has_the_per_round_metrics(iris_trees, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = cli("runs", "export", iris_trees.run_id, "--runs-dir", iris_trees.runs_dir, "--mlflow", uri)
    no_traceback(done)
    assert done.exit_code == 0, done.output
    client = mlflow.MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name("trees-iris").experiment_id])
    assert run.data.params["model.trees.max_depth"] == "2"
    rounds = iris_trees.record()["epochs_completed"]
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == rounds
