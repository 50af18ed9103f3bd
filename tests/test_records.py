"""Run records, finding/listing runs, comparing them, and `specc runs` -- all without TensorFlow."""
from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from click.testing import CliRunner

from specc.cli import main
from specc.errors import UsageError
from specc.run import records
from specc.run.compare import compare, flatten, spec_diff
from specc.run.records import (RunRecord, atomic_write_json, atomic_write_text, find_run, git_info,
                               list_runs, package_versions, plot_curves, spec_hash)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SPEC = {
    "specc": 1,
    "name": "digits",
    "seed": 7,
    "data": {"source": {"builtin": "digits"}, "split": {"validation": 0.1, "test": 0.2}},
    "task": {"type": "multiclass", "classes": 10},
    "model": {"inputs": {"x": {"shape": [64], "dtype": "float32"}},
              "layers": [{"dense": {"units": 64, "activation": "relu"}}, {"dropout": {"rate": 0.25}}]},
    "optimizer": {"adam": {"learning_rate": 0.001}},
    "train": {"epochs": 3},
}

SOURCE_TEXT = "specc: 1\nname: digits   # as written, comments and all\nextends: base.yaml\n"


def spec_with(**changes) -> dict:
    spec = copy.deepcopy(SPEC)
    for path, value in changes.items():
        node = spec
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return spec


@pytest.fixture
def spec_file(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "base.yaml").write_text("seed: 7\n", encoding="utf-8")
    path = folder / "digits.yaml"
    path.write_text(SOURCE_TEXT, encoding="utf-8")
    return path


def make_run(runs_dir, spec=SPEC, spec_file=None, epochs=3, metrics=None, status="completed",
             fingerprint="sha256:aaaa"):
    run = RunRecord.create(runs_dir, spec, spec_file)
    run.update(data_fingerprint=fingerprint)
    for epoch in range(1, epochs + 1):
        run.append_epoch(epoch, {"loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 10,
                                 "val_loss": 1.2 / epoch, "val_accuracy": 0.45 + epoch / 10})
    if metrics is not None:
        run.write_metrics(metrics)
    if status:
        run.finish(status)
    return run


def leftovers(folder) -> list:
    return [p.name for p in folder.rglob("*.tmp")]


# --- the record round trip -----------------------------------------------------------------

def test_create_update_append_finish_round_trip(tmp_path, spec_file):
    runs_dir = tmp_path / "runs"
    run = RunRecord.create(runs_dir, SPEC, str(spec_file), [spec_file.parent / "base.yaml", spec_file])
    assert run.path == runs_dir / "digits" / run.run_id
    assert run.name == "digits"
    parts = run.run_id.split("-")
    assert len(parts) == 3 and len(parts[0]) == 8 and len(parts[1]) == 6 and len(parts[2]) == 4
    int(parts[2], 16)

    record = run.read()
    for key in ("run_id", "name", "status", "created", "finished", "spec_file", "spec_hash",
                "data_fingerprint", "git", "packages", "device", "seed", "epochs_completed", "best",
                "message", "checkpoints", "exports"):
        assert key in record, key
    assert record["status"] == "running" and record["finished"] is None
    assert record["seed"] == 7
    assert record["spec_hash"] == spec_hash(SPEC)
    assert record["spec_file"] == str(spec_file)
    assert set(record["git"]) == {"commit", "dirty", "root"}

    # the spec as resolved and as written
    assert yaml.safe_load((run.path / "spec.yaml").read_text()) == SPEC
    assert run.spec() == SPEC
    assert (run.path / "spec.source.yaml").read_text() == SOURCE_TEXT
    assert (run.path / "sources" / "base.yaml").read_text() == "seed: 7\n"
    assert not (run.path / "sources" / "digits.yaml").exists()  # the spec itself is not repeated

    run.update(device={"target": "cpu", "devices": 1}, data_fingerprint="sha256:abc")
    run.update(best={"epoch": 2, "monitor": "val_loss", "value": 0.4})
    run.append_epoch(1, {"loss": 0.9, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.45})
    run.append_epoch(2, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.4, "val_accuracy": 0.7,
                         "learning_rate": 0.001})
    run.write_metrics({"train": {"loss": 0.5, "accuracy": 0.8}, "validation": {"loss": 0.4}})
    run.write_metrics({"test": {"loss": 0.45, "accuracy": 0.77}})
    run.finish("completed")

    record = run.read()
    assert record["status"] == "completed" and record["message"] is None
    assert record["finished"] >= record["created"]
    assert record["device"] == {"target": "cpu", "devices": 1}
    assert record["data_fingerprint"] == "sha256:abc"
    assert record["best"] == {"epoch": 2, "monitor": "val_loss", "value": 0.4}
    assert record["epochs_completed"] == 2

    history = run.history()
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[1]["learning_rate"] == 0.001
    assert json.loads((run.path / "history.json").read_text()) == history
    with open(run.path / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    assert rows[0]["learning_rate"] == ""
    assert float(rows[1]["val_loss"]) == 0.4

    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics == {"train": {"loss": 0.5, "accuracy": 0.8}, "validation": {"loss": 0.4},
                       "test": {"loss": 0.45, "accuracy": 0.77}}
    assert (run.path / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert leftovers(run.path) == []

    reopened = RunRecord.open(run.path)
    assert (reopened.run_id, reopened.name) == (run.run_id, "digits")
    assert reopened.read() == record


def test_folders_created_on_demand(tmp_path):
    run = RunRecord.create(tmp_path, SPEC, None)
    assert not (run.path / "checkpoints").exists()
    assert run.checkpoint_dir.is_dir() and run.checkpoint_dir.name == "checkpoints"
    assert run.tensorboard_dir.is_dir() and run.export_dir.is_dir()
    assert run.read()["spec_file"] is None


def test_append_epoch_converts_values_and_replaces_a_rerun_epoch(tmp_path):
    class Scalar:  # what a tensor or numpy scalar offers
        def __float__(self):
            return 0.25

    run = RunRecord.create(tmp_path, SPEC, None)
    run.append_epoch(1, {"loss": 1, "accuracy": Scalar()})
    run.append_epoch(2, {"loss": float("nan"), "accuracy": float("inf")})
    run.append_epoch(1, {"loss": 0.75, "accuracy": 0.5})  # resumed: epoch 1 again
    history = run.history()
    assert history[0] == {"epoch": 1, "loss": 0.75, "accuracy": 0.5}
    assert history[1] == {"epoch": 2, "loss": None, "accuracy": None}  # strict JSON: no NaN
    assert isinstance(run.history()[0]["loss"], float)
    text = (run.path / "history.csv").read_text()
    assert text.splitlines()[2] == "2,,"
    assert run.read()["epochs_completed"] == 2


def test_failed_finish_keeps_message_and_skips_plot_without_history(tmp_path):
    run = RunRecord.create(tmp_path, SPEC, None)
    run.finish("diverged", "loss became NaN at epoch 1")
    record = run.read()
    assert record["status"] == "diverged"
    assert record["message"] == "loss became NaN at epoch 1"
    assert not (run.path / "curves.png").exists()
    with pytest.raises(ValueError):
        run.finish("running")


def test_run_ids_are_unique_within_one_second(tmp_path):
    ids = {RunRecord.create(tmp_path, SPEC, None).run_id for _ in range(30)}
    assert len(ids) == 30
    assert len(os.listdir(tmp_path / "digits")) == 30


def test_bad_name_is_refused(tmp_path):
    with pytest.raises(UsageError):
        RunRecord.create(tmp_path, spec_with(name="../escape"), None)


# --- atomic writes -------------------------------------------------------------------------

def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "one\n")
    atomic_write_text(tmp_path / "a.txt", "two\n")
    atomic_write_json(tmp_path / "b.json", {"x": [1, 2.5, None], "y": float("nan")})
    assert (tmp_path / "a.txt").read_text() == "two\n"
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": [1, 2.5, None], "y": None}
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.json"]


def test_numpy_values_are_written_as_plain_json(tmp_path):
    import numpy as np

    atomic_write_json(tmp_path / "n.json", {"a": np.float32(0.5), "b": np.int64(3),
                                            "c": np.arange(3), "d": np.float64("nan")})
    assert json.loads((tmp_path / "n.json").read_text()) == {"a": 0.5, "b": 3, "c": [0, 1, 2], "d": None}
    run = RunRecord.create(tmp_path, SPEC, None)
    run.append_epoch(np.int64(1), {"loss": np.float32(0.25)})
    run.write_metrics({"test": {"accuracy": np.float64(0.75)}})
    assert run.history() == [{"epoch": 1, "loss": 0.25}]
    assert run.metrics() == {"test": {"accuracy": 0.75}}


def test_unserializable_value_leaves_old_file_intact(tmp_path):
    path = tmp_path / "record.json"
    atomic_write_json(path, {"status": "running"})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        atomic_write_json(path, {"status": "completed", "bad": object()})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["record.json"]


def test_crash_during_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    atomic_write_json(path, {"status": "running"})
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(records.files.os, "fsync", crash)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_json(path, {"status": "completed"})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["record.json"]


def test_record_update_with_bad_value_keeps_record(tmp_path):
    run = RunRecord.create(tmp_path, SPEC, None)
    before = run.read()
    with pytest.raises(TypeError):
        run.update(device={"handle": object()})
    assert run.read() == before
    assert leftovers(tmp_path) == []


# --- hashes, git, packages -----------------------------------------------------------------

def test_spec_hash_is_stable_under_key_order():
    reordered = json.loads(json.dumps(SPEC, sort_keys=True))
    reordered = dict(reversed(list(reordered.items())))
    assert list(reordered) != list(SPEC)
    assert spec_hash(reordered) == spec_hash(SPEC)
    assert len(spec_hash(SPEC)) == 64
    assert spec_hash(spec_with(optimizer__adam__learning_rate=0.0003)) != spec_hash(SPEC)


def git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_info_commit_and_dirty(tmp_path):
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    git("init", "-q", cwd=repo)
    spec = repo / "specs" / "digits.yaml"
    spec.write_text(SOURCE_TEXT)

    info = git_info(spec)
    assert info["root"] == str(repo.resolve()) and info["commit"] is None and info["dirty"] is True

    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "spec", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo)
    assert git_info(spec) == {"commit": head, "dirty": False, "root": str(repo.resolve())}
    assert git_info(repo / "specs") == git_info(spec)

    # runs written inside the repository do not make the next run dirty
    run = RunRecord.create(repo / "runs", SPEC, str(spec))
    assert run.read()["git"] == {"commit": head, "dirty": False, "root": str(repo.resolve())}
    second = RunRecord.create(repo / "runs", SPEC, str(spec))
    assert second.read()["git"]["dirty"] is False
    assert git_info(spec)["dirty"] is True  # without the exclusion the runs folder counts

    spec.write_text(SOURCE_TEXT + "# edited\n")
    assert git_info(spec, exclude=[repo / "runs"])["dirty"] is True


def test_git_info_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "x").mkdir()
    assert git_info(tmp_path / "x" / "spec.yaml") == {"commit": None, "dirty": None, "root": None}
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # git is not installed
    assert git_info(tmp_path / "x") == {"commit": None, "dirty": None, "root": None}


def test_package_versions():
    versions = package_versions()
    for key in ("python", "specc", "tensorflow", "keras", "numpy"):
        assert key in versions
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["specc"]


def test_no_tensorflow_or_matplotlib_on_import():
    code = ("import sys, specc.run.records, specc.run.compare, specc.cli.runs_commands; "
            "bad = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# --- finding and listing runs --------------------------------------------------------------

@pytest.fixture
def three_runs(tmp_path):
    runs_dir = tmp_path / "runs"
    first = make_run(runs_dir, metrics={"test": {"loss": 0.5, "accuracy": 0.8}})
    time.sleep(0.01)
    second = make_run(runs_dir, spec_with(optimizer__adam__learning_rate=0.0003),
                      metrics={"test": {"loss": 0.4, "accuracy": 0.85}})
    time.sleep(0.01)
    other = make_run(runs_dir, spec_with(name="iris"), status=None)
    return runs_dir, first, second, other


def test_find_run_by_path_id_prefix_and_name(three_runs):
    runs_dir, first, second, other = three_runs
    assert find_run(str(first.path), runs_dir).path == first.path
    assert find_run(first.run_id, runs_dir).path == first.path
    assert find_run(f"digits/{first.run_id}", runs_dir).path == first.path
    assert find_run("digits", runs_dir).path == second.path
    assert find_run("digits/latest", runs_dir).path == second.path
    assert find_run("iris/latest", runs_dir).path == other.path
    # the shortest prefix that tells the run apart
    ids = [first.run_id, second.run_id, other.run_id]
    for run in (first, second, other):
        prefix = next(run.run_id[:n] for n in range(1, len(run.run_id) + 1)
                      if sum(i.startswith(run.run_id[:n]) for i in ids) == 1)
        assert find_run(prefix, runs_dir).path == run.path
    shortened = second.run_id[:-2]
    if not first.run_id.startswith(shortened):  # two runs made in one second may share it (1 in 256)
        assert find_run(f"digits/{shortened}", runs_dir).path == second.path


def test_find_run_errors(three_runs):
    runs_dir, first, second, other = three_runs
    with pytest.raises(UsageError) as missing:
        find_run("nope", runs_dir)
    assert missing.value.message == f"no run 'nope' under {runs_dir.as_posix()}/"
    assert missing.value.hint == "`specc runs list` shows the runs"
    assert missing.value.exit_code == 2

    with pytest.raises(UsageError) as nothing:
        find_run("x", "does-not-exist")
    assert nothing.value.message == "no run 'x' under does-not-exist/"

    common = os.path.commonprefix([first.run_id, second.run_id, other.run_id])
    with pytest.raises(UsageError) as ambiguous:
        find_run(common, runs_dir)
    text = ambiguous.value.message
    assert "matches 3 runs" in text
    for run in (first, second, other):
        assert f"{run.name}/{run.run_id}" in text

    (runs_dir / "empty").mkdir()
    with pytest.raises(UsageError, match="no runs of 'empty'"):
        find_run("empty/latest", runs_dir)
    with pytest.raises(UsageError, match="no run 'ghost/latest'"):
        find_run("ghost/latest", runs_dir)


def test_list_runs_newest_first(three_runs):
    runs_dir, first, second, other = three_runs
    rows = list_runs(runs_dir)
    assert [r["id"] for r in rows] == [other.run_id, second.run_id, first.run_id]
    assert [r["id"] for r in list_runs(runs_dir, name="digits")] == [second.run_id, first.run_id]
    assert list_runs(runs_dir, name="nothing") == []
    assert list_runs(runs_dir / "missing") == []
    row = rows[1]
    for key in ("id", "name", "status", "created", "epochs", "best", "test"):
        assert key in row
    assert row["status"] == "completed" and row["epochs"] == 3
    assert row["test"] == {"loss": 0.4, "accuracy": 0.85}
    assert rows[0]["status"] == "running" and rows[0]["stale"] is False  # this process is alive


def test_list_runs_marks_running_runs_of_dead_processes(tmp_path):
    run = RunRecord.create(tmp_path, SPEC, None)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    host = run.read()["host"]
    run.update(host={**host, "pid": int(dead)})
    assert list_runs(tmp_path)[0]["stale"] is True


# --- compare -------------------------------------------------------------------------------

def test_flat_diff():
    a = {"optimizer": {"adam": {"learning_rate": 0.001}}, "model": {"layers": [{"dense": {"units": 8}}]}}
    b = {"optimizer": {"adam": {"learning_rate": 0.0003, "beta_1": 0.8}},
         "model": {"layers": [{"dense": {"units": 8}}, {"flatten": {}}]}}
    assert flatten(a) == {"optimizer.adam.learning_rate": 0.001, "model.layers[0].dense.units": 8}
    assert spec_diff(a, b)[0] == ("optimizer.adam.learning_rate", 0.001, 0.0003)
    keys = [k for k, _, _ in spec_diff(a, b)]
    assert keys == ["optimizer.adam.learning_rate", "optimizer.adam.beta_1", "model.layers[1].flatten"]
    assert spec_diff(a, copy.deepcopy(a)) == []


def test_compare_shows_spec_change_and_metric_deltas(three_runs):
    runs_dir, first, second, other = three_runs
    second.update(data_fingerprint="sha256:bbbb")
    text = compare(first, second)
    assert "optimizer.adam.learning_rate: 0.001 -> 0.0003" in text
    assert "spec: 1 change(s)" in text
    assert "data: DIFFERENT" in text
    assert "git: same" in text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("metric"))
    assert lines[header - 1] == "test:"
    assert lines[header].split() == ["metric", "a", "b", "change"]
    loss = next(line for line in lines[header:] if line.strip().startswith("loss"))
    assert loss.split()[:4] == ["loss", "0.5", "0.4", "-0.1"] and "(-20.0%)" in loss
    accuracy = next(line for line in lines[header:] if line.strip().startswith("accuracy"))
    assert accuracy.split()[:4] == ["accuracy", "0.8", "0.85", "+0.05"]

    same = compare(first, first)
    assert "spec: no changes (same spec hash)" in same
    assert "data: same" in same


def test_compare_added_and_removed_keys(tmp_path):
    a = make_run(tmp_path, SPEC)
    spec = spec_with(optimizer={"sgd": {"momentum": 0.9}})
    b = make_run(tmp_path, spec)
    text = compare(a, b)
    assert "  - optimizer.adam.learning_rate: 0.001" in text
    assert "  + optimizer.sgd.momentum: 0.9" in text
    assert "metrics: none recorded" in text


# --- curves --------------------------------------------------------------------------------

def test_curves_png(tmp_path):
    history = [{"epoch": e, "loss": 1 / e, "val_loss": 1.1 / e, "accuracy": e / 10,
                "val_accuracy": None if e == 2 else e / 11, "learning_rate": 0.001}
               for e in range(1, 6)]
    plot_curves(history, tmp_path / "curves.png")
    data = (tmp_path / "curves.png").read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    plot_curves([], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


# --- the CLI -------------------------------------------------------------------------------

def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_runs_list(three_runs):
    runs_dir, first, second, other = three_runs
    result = invoke("runs", "list", "--runs-dir", str(runs_dir))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RUN", "NAME", "STATUS", "CREATED", "EPOCHS", "BEST", "TEST"]
    assert [line.split()[0] for line in lines[1:]] == [other.run_id, second.run_id, first.run_id]
    assert "accuracy=0.85" in lines[2]

    result = invoke("runs", "list", "--runs-dir", str(runs_dir), "--name", "digits", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [second.run_id, first.run_id]

    empty = invoke("runs", "list", "--runs-dir", str(runs_dir / "nothing"))
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "no runs under" in empty.stderr


def test_cli_runs_show(three_runs):
    runs_dir, first, second, other = three_runs
    second.update(best={"epoch": 3, "monitor": "val_loss", "value": 0.4})
    result = invoke("runs", "show", "digits", "--runs-dir", str(runs_dir))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"digits/{second.run_id}" in out
    assert "completed" in out and "val_loss=0.4@3" in out
    assert "metrics:" in out and "0.85" in out
    assert str(second.path) in out and "record.json" in out and "curves.png" in out

    result = invoke("runs", "show", second.run_id, "--runs-dir", str(runs_dir), "--format", "json")
    data = json.loads(result.stdout)
    assert data["record"]["run_id"] == second.run_id and data["metrics"]["test"]["loss"] == 0.4


def test_cli_runs_compare(three_runs):
    runs_dir, first, second, other = three_runs
    result = invoke("runs", "compare", first.run_id, "digits/latest", "--runs-dir", str(runs_dir))
    assert result.exit_code == 0, result.output
    assert "optimizer.adam.learning_rate: 0.001 -> 0.0003" in result.stdout


@pytest.mark.parametrize("args", [["show", "nope"], ["compare", "nope", "digits"]])
def test_cli_missing_run(three_runs, args):
    runs_dir = three_runs[0]
    result = invoke("runs", *args, "--runs-dir", str(runs_dir))
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == f"error: no run 'nope' under {runs_dir.as_posix()}/"
    assert result.stderr.splitlines()[1].strip() == "hint: `specc runs list` shows the runs"


def test_cli_ambiguous_run(three_runs):
    runs_dir, first, second, other = three_runs
    common = os.path.commonprefix([first.run_id, second.run_id, other.run_id])
    result = invoke("runs", "show", common, "--runs-dir", str(runs_dir))
    assert result.exit_code == 2
    assert "matches 3 runs" in result.stderr and first.run_id in result.stderr
