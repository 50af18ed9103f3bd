"""`specc train`: LeNet learns, the run record holds what README promises, runs are
reproducible and resumable, NaN and bad data are reported cleanly (every bundled spec
trains: tests/test_train_specs.py).

Real TensorFlow and real (small) data throughout; epochs are cut with --set where the test
is not about the spec as written.
"""
from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from conftest import ROOT, SPECS, Run, cli, load_weights, no_traceback, read_json, resolved, train_run
from specc.errors import TrainingError
from specc.run.records import spec_hash
from specc.run.train import TrainOptions, train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BAD_DATA = ROOT / "tests" / "cases" / "bad_data"
BAD_CASES = sorted(p for p in BAD_DATA.glob("*.yaml") if not p.name.startswith("_"))
LENET = SPECS / "lenet-digits.yaml"


# --- the README example, trained as written ----------------------------------------------

@pytest.mark.slow
def test_lenet_as_written_learns_the_digits(lenet_run):
    assert lenet_run.metrics()["test"]["accuracy"] >= 0.97


@pytest.mark.slow
def test_record_json_holds_what_readme_lists(lenet_run):
    record = lenet_run.record()
    history = lenet_run.history()
    assert record["status"] == "completed" and record["message"] is None
    assert record["spec_hash"] == spec_hash(resolved(LENET))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", record["data_fingerprint"])
    assert record["git"]["root"] == str(ROOT)
    assert re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"]) and isinstance(record["git"]["dirty"], bool)
    assert record["packages"]["tensorflow"] == metadata.version("tensorflow")
    assert record["packages"]["keras"] == keras.__version__
    assert record["device"]["target"] == "cpu" and record["device"]["precision"] == "float32"
    assert record["seed"] == 7
    assert record["data"] == {"train": 1259, "validation": 179, "test": 359}
    assert record["epochs_completed"] == len(history) >= 9
    best = record["best"]
    losses = [row["val_loss"] for row in history]
    assert best["monitor"] == "val_loss" and best["value"] == min(losses)
    assert best["epoch"] == 1 + losses.index(min(losses))
    # early stopping restored the best epoch's weights: the final validation loss is its loss
    assert lenet_run.metrics()["validation"]["loss"] == pytest.approx(best["value"], abs=1e-5)
    assert record["created"] < record["finished"] and record["train_seconds"] > 0


@pytest.mark.slow
def test_record_files_parse(lenet_run):
    path = lenet_run.path
    assert yaml.safe_load((path / "spec.yaml").read_text()) == resolved(LENET)
    assert (path / "spec.source.yaml").read_bytes() == LENET.read_bytes()
    history = lenet_run.history()
    with open(path / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(history) == lenet_run.record()["epochs_completed"]
    for row, entry in zip(rows, history):
        assert {"epoch", "loss", "val_loss", "accuracy", "val_accuracy"} <= set(row)
        assert float(row["loss"]) == entry["loss"] and float(row["val_loss"]) == entry["val_loss"]
    assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))
    metrics = lenet_run.metrics()
    assert set(metrics) == {"train", "validation", "test"}
    assert all(set(values) == {"loss", "accuracy", "baseline_accuracy"} for values in metrics.values())
    # the baseline: always answering the training split's most common digit
    assert all(0.05 < values["baseline_accuracy"] < 0.15 for values in metrics.values())
    assert (path / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert list((path / "tensorboard").rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_checkpoints_hold_the_model_and_its_optimizer(lenet_run):
    folder = lenet_run.path / "checkpoints"
    state = read_json(folder / "state.json")
    record = lenet_run.record()
    assert state["epoch"] == record["epochs_completed"] - 1
    assert state["best_epoch"] == record["best"]["epoch"] and state["best_value"] == record["best"]["value"]
    for name in ("best", "last"):
        assert zipfile.is_zipfile(folder / f"{name}.keras")
        model = keras.saving.load_model(folder / f"{name}.keras")
        assert model.name == "lenet-digits" and [t.name for t in model.inputs] == ["image"]
        steps = 1259 // 32 + 1
        assert int(model.optimizer.iterations.numpy()) > steps  # optimizer state, not a fresh one
    assert not list(folder.glob(".*tmp*"))


# --- reproducibility -----------------------------------------------------------------------

def specc_process(*args) -> subprocess.Popen:
    """`specc ARGS` in a process of its own (the console script installed beside Python)."""
    return subprocess.Popen([Path(sys.executable).parent / "specc", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


@pytest.mark.slow
def test_same_spec_and_seed_give_identical_runs(tmp_path):
    """Two `specc train` invocations (two processes, as a user runs them; side by side)."""
    args = ("train", SPECS / "mlp-wine.yaml", "--set", "train.epochs=3", "--no-export", "--quiet")
    processes = [specc_process(*args, "--runs-dir", tmp_path / name) for name in ("a", "b")]
    runs = []
    for process, name in zip(processes, ("a", "b")):
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        runs.append(Run(Path(stdout.strip().splitlines()[-1]), tmp_path / name))
    first, second = runs
    assert first.metrics() == second.metrics()
    assert first.history() == second.history()
    assert first.record()["spec_hash"] == second.record()["spec_hash"]
    for a, b in zip(load_weights(first.path / "checkpoints" / "last.keras"),
                    load_weights(second.path / "checkpoints" / "last.keras")):
        assert np.array_equal(a, b)


# --- resume --------------------------------------------------------------------------------

class InterruptAfter(keras.callbacks.Callback):
    """Ctrl-C at the end of an epoch (after specc's own callbacks have recorded it)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


RESUME_SETTINGS = ("train.epochs=4", "train.checkpoints.every_seconds=0")


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    spec = resolved(LENET, *RESUME_SETTINGS)  # dropout: its random state must be restored too
    options = TrainOptions(runs_dir=str(tmp_path / "cut"), export=False,
                           callbacks=[InterruptAfter(2)])
    with pytest.raises(KeyboardInterrupt):
        train(spec, str(LENET), options=options)
    (folder,) = (tmp_path / "cut" / "lenet-digits").iterdir()
    record = read_json(folder / "record.json")
    assert record["status"] == "interrupted" and "--resume" in record["message"]
    assert (folder / "checkpoints" / "interrupted.keras").is_file()
    assert read_json(folder / "checkpoints" / "state.json")["epoch"] == 1
    assert len(read_json(folder / "history.json")) == 2
    # what a write killed halfway leaves (fresh files): the resumed run owns them, they go
    killed = [folder / "checkpoints" / ".last.tmp.keras", folder / ".history.json.x1y2z3.tmp"]
    for path in killed:
        path.write_bytes(b"half")

    result = cli("train", "--resume", folder.name, "--runs-dir", tmp_path / "cut", "--quiet", "--no-export")
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in killed)
    whole = train_run(LENET, tmp_path / "whole", *[a for s in RESUME_SETTINGS for a in ("--set", s)],
                      "--no-export")
    resumed = read_json(folder / "record.json")
    assert resumed["status"] == "completed" and resumed["epochs_completed"] == 4
    for name in ("last", "best"):
        for a, b in zip(load_weights(folder / "checkpoints" / f"{name}.keras"),
                        load_weights(whole.path / "checkpoints" / f"{name}.keras")):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert_same_rows(read_json(folder / "history.json"), whole.history())
    assert_same_rows([resumed["best"]], [whole.record()["best"]])
    test_metrics = read_json(folder / "metrics.json")["test"]
    assert test_metrics == pytest.approx(whole.metrics()["test"], abs=1e-6)


def assert_same_rows(rows: list, expected: list) -> None:
    """Rows of dicts equal, floats within 1e-6."""
    assert [sorted(r) for r in rows] == [sorted(r) for r in expected]
    for row, other in zip(rows, expected):
        assert row == pytest.approx(other, abs=1e-6)


SMALL_CSV_SPEC = """\
specc: 1
name: small-csv
seed: 3
data:
  source: {csv: {path: small.csv, label: y}}
  split: {validation: 0.25}
task: {type: multiclass, classes: 2}
model:
  inputs: {features: [2]}
  layers: [{dense: 4}]
train: {epochs: 3, checkpoints: {every_seconds: 0}}
"""


@pytest.mark.slow
def test_resume_refuses_data_that_changed(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_CSV_SPEC)
    rows = [f"{i % 5},{i % 3},{i % 2}" for i in range(40)]
    (tmp_path / "small.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    options = TrainOptions(runs_dir=str(tmp_path / "runs"), export=False,
                           callbacks=[InterruptAfter(1)])
    with pytest.raises(KeyboardInterrupt):
        train(resolved(spec), str(spec), options=options)
    (folder,) = (tmp_path / "runs" / "small-csv").iterdir()
    (tmp_path / "small.csv").write_text("a,b,y\n" + "\n".join(rows[:-1] + ["9,9,1"]) + "\n")
    result = cli("train", "--resume", folder.name, "--runs-dir", tmp_path / "runs")
    no_traceback(result)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: the data of run {folder.name} changed since it started")
    assert read_json(folder / "record.json")["status"] == "interrupted"


@pytest.mark.slow
def test_resume_refusals(lenet_run, tmp_path):
    completed = cli("train", "--resume", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir)
    no_traceback(completed)
    assert completed.exit_code == 2
    assert completed.stderr.startswith(f"error: run {lenet_run.run_id} has completed")
    combined = cli("train", "--resume", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir,
                   "--set", "train.epochs=50")
    assert combined.exit_code == 2 and "--set cannot be combined with --resume" in combined.stderr
    unknown = cli("train", "--resume", "no-such-run", "--runs-dir", tmp_path)
    no_traceback(unknown)
    assert unknown.exit_code == 2 and "no run 'no-such-run'" in unknown.stderr
    assert lenet_run.record()["status"] == "completed"


# --- a loss that becomes NaN -----------------------------------------------------------------

DIVERGING = """\
specc: 1
name: diverging
seed: 1
data:
  source: {builtin: diabetes}
  split: {validation: 0.2}
task: {type: regression}
model:
  inputs: {features: [10]}
  layers: [{dense: {units: 16, activation: relu}}]
optimizer: {sgd: {learning_rate: 1.0e+6}}
train: {epochs: 5}
"""


@pytest.mark.slow
def test_nan_loss_stops_with_exit_4_and_a_diverged_record(tmp_path):
    spec = tmp_path / "diverging.yaml"
    spec.write_text(DIVERGING)
    result = cli("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    no_traceback(result)
    assert result.exit_code == 4, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    # Keras reports once per compiled call of steps_per_execution steps: the message names them
    assert re.fullmatch(r"error: the loss became (nan|inf|-inf|NaN) in epoch 1, (step \d+|steps \d+-\d+)", lines[0])
    assert lines[1].startswith("    hint: lower the learning rate")
    (folder,) = (tmp_path / "runs" / "diverging").iterdir()
    record = read_json(folder / "record.json")
    assert record["status"] == "diverged" and record["message"] == lines[0].removeprefix("error: ")
    assert record["finished"] is not None
    assert not (folder / "checkpoints" / "last.keras").exists()  # no weights full of NaN


@pytest.mark.slow
def test_labels_a_metric_cannot_take_stop_with_exit_4_not_an_internal_error(tmp_path):
    # Validation refuses binary_crossentropy on class ids; a spec it lets through that Keras
    # refuses at the first step (here the check is bypassed) still ends as a training error.
    spec = tmp_path / "mismatch.yaml"
    spec.write_text(NOT_LEARNING.replace("name: not-learning", "name: mismatch"))
    data = resolved(spec)
    data["metrics"] = ["binary_crossentropy"]
    with pytest.raises(TrainingError) as caught:
        train(data, str(spec), options=TrainOptions(runs_dir=str(tmp_path / "runs")))
    assert caught.value.exit_code == 4
    assert "the labels do not fit" in caught.value.message and "same rank" in caught.value.message
    (folder,) = (tmp_path / "runs" / "mismatch").iterdir()
    assert read_json(folder / "record.json")["status"] == "failed"


# A classifier whose head starts at zero answers class 0 for every sample, and a rate of 1e-9
# keeps it there: wine's class 0 (59 of 178) is not its most common class (71), so every
# split's accuracy is below the majority-class baseline.
NOT_LEARNING = """\
specc: 1
name: not-learning
seed: 1
data:
  source: {builtin: wine}
  split: {validation: 0.2}
task: {type: multiclass, classes: 3}
model:
  inputs: {features: [13]}
  layers: [{dense: {units: 8, activation: relu}}]
  head: {dense: {units: 3, activation: softmax, kernel_initializer: zeros}}
optimizer: {sgd: {learning_rate: 1.0e-9}}
train: {epochs: 1}
"""


@pytest.mark.slow
def test_a_run_no_better_than_its_baseline_warns(tmp_path):
    spec = tmp_path / "not-learning.yaml"
    spec.write_text(NOT_LEARNING)
    result = cli("train", spec, "--runs-dir", tmp_path / "runs")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs" / "not-learning").iterdir()
    warned = read_json(folder / "record.json")["warnings"]
    for split in ("train", "validation"):
        metrics = read_json(folder / "metrics.json")[split]
        assert metrics["accuracy"] < metrics["baseline_accuracy"]
        line = (f"the {split} split's accuracy {metrics['accuracy']:.4f} is no better than its baseline "
                f"(baseline_accuracy {metrics['baseline_accuracy']:.4f})")
        assert any(text.startswith(line) for text in warned), warned
        assert f"warning: {line}" in result.output


def test_the_baseline_warning_judges_each_headline_figure_its_way():
    """Accuracy must beat its baseline upwards, an error downwards; ties do not beat it."""
    from specc.run.finish import baseline_warnings

    metrics = {"train": {"accuracy": 0.9, "baseline_accuracy": 0.4},
               "validation": {"accuracy": 0.4, "baseline_accuracy": 0.4},
               "test": {"mean_absolute_error": 2.0, "baseline_mean_absolute_error": 1.5,
                        "mean_squared_error": 1.0, "baseline_mean_squared_error": 9.0},
               "holdout": {"mean_squared_error": 1.0, "baseline_mean_squared_error": 9.0},
               "other": {"loss": 1.0}}
    assert baseline_warnings(metrics) == [
        "the validation split's accuracy 0.4000 is no better than its baseline (baseline_accuracy 0.4000): the "
        "model has learned nothing that helps there",
        "the test split's mean_absolute_error 2.0000 is no better than its baseline (baseline_mean_absolute_error "
        "1.5000): the model has learned nothing that helps there"]


# --- bad data: golden messages, nothing written ------------------------------------------

def _golden(result) -> str:
    """`exit: N` and the stderr, with this checkout's path written as $ROOT."""
    return f"exit: {result.exit_code}\n{result.stderr}".replace(str(ROOT), "$ROOT")


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda p: p.stem)
def test_bad_data_is_reported_before_anything_is_written(case, tmp_path, monkeypatch):
    """Set SPECC_UPDATE_GOLDENS=1 to rewrite the .expected files (then review the diff)."""
    monkeypatch.chdir(ROOT)
    runs = tmp_path / "runs"
    result = cli("train", case.relative_to(ROOT).as_posix(), "--runs-dir", runs)
    no_traceback(result)
    expected = case.with_suffix(".expected")
    if os.environ.get("SPECC_UPDATE_GOLDENS"):
        expected.write_text(_golden(result), encoding="utf-8")
    assert _golden(result) == expected.read_text(encoding="utf-8")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert not runs.exists()


def test_every_bad_data_case_has_its_golden():
    assert len(BAD_CASES) >= 8
    assert sorted(p.stem for p in BAD_DATA.glob("*.expected")) == [p.stem for p in BAD_CASES]
