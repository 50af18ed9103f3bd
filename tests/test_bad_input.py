"""Bad input that used to end in exit 70 (internal error): each ends in its own exit code with
a clear message, and a run it stops is recorded as `failed`, with nothing half-written."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli, no_traceback, read_json

IRIS = """specc: 1
name: bad-input
seed: 3
data:
  source: {builtin: iris}
  split: {validation: 0.2, test: 0.2}
task: {type: multiclass, classes: 3}
model:
  inputs: {x: [4]}
  layers:
    - dense: {units: 8, activation: relu}
metrics: [accuracy]
train: {epochs: 2, checkpoints: {every_seconds: 0}}
batch: {size: 32}
"""


def spec_file(tmp_path: Path, text: str = IRIS, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def only_run(runs: Path) -> dict:
    """The record of the one run under `runs`."""
    records = list(runs.glob("*/*/record.json"))
    assert len(records) == 1, records
    return read_json(records[0])


@pytest.mark.slow
def test_an_unlogged_early_stopping_monitor_stops_training_cleanly(tmp_path):
    # A metric with arguments: validation cannot know the names Keras logs, training can.
    spec = spec_file(tmp_path)
    result = cli("train", spec, "--runs-dir", tmp_path / "runs", "--set", "metrics=[{accuracy: {}}]",
                 "--set", "train.early_stopping={monitor: val_acuracy}")
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "early stopping monitors 'val_acuracy', which this run does not log" in result.output
    assert "val_accuracy" in result.output
    assert only_run(tmp_path / "runs")["status"] == "failed"


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> Path:
    """One completed run folder of IRIS (the tests copy it before damaging it)."""
    from conftest import train_run

    folder = tmp_path_factory.mktemp("iris")
    return train_run(spec_file(folder), folder / "runs").path


def two_runs(tmp_path: Path, run: Path) -> tuple[Path, Path]:
    """A runs folder with two copies of `run`: the first to damage, the second left whole."""
    import shutil

    runs = tmp_path / "runs"
    bad, good = runs / "bad-input" / "bad", runs / "bad-input" / "good"
    shutil.copytree(run, bad)
    shutil.copytree(run, good)
    return runs, bad


@pytest.mark.slow
@pytest.mark.parametrize("file, damage", [
    ("record.json", lambda r: r.update(best=[1])),
    ("record.json", lambda r: r["best"].update(value="low")),
    ("record.json", lambda r: r.update(overrides=3)),
    ("record.json", lambda r: r.update(git="x")),
    ("metrics.json", lambda m: m.update(test=[0.5])),
    ("metrics.json", lambda m: m["test"].update(accuracy="high")),
])
def test_a_damaged_record_is_marked_in_runs_list_and_refused_by_runs_show(tmp_path, iris_run, file, damage):
    import json

    runs, bad = two_runs(tmp_path, iris_run)
    data = read_json(bad / file)
    damage(data)
    (bad / file).write_text(json.dumps(data), encoding="utf-8")
    listed = cli("runs", "list", "--runs-dir", runs)
    no_traceback(listed)
    assert listed.exit_code == 0, listed.output
    assert "completed" in listed.stdout  # the whole run is listed as ever
    assert f"is damaged ({file}: " in listed.stderr
    shown = cli("runs", "show", "bad", "--runs-dir", runs)
    no_traceback(shown)
    assert shown.exit_code == 2, shown.output
    assert f"{bad / file} is damaged" in shown.stderr
    assert cli("runs", "show", "good", "--runs-dir", runs).exit_code == 0


def rewrite_config(checkpoint: Path, old: str, new: str) -> None:
    """Edit the config.json inside a `.keras` zip."""
    import zipfile

    with zipfile.ZipFile(checkpoint) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    assert old.encode() in files["config.json"]
    files["config.json"] = files["config.json"].replace(old.encode(), new.encode())
    with zipfile.ZipFile(checkpoint, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.mark.slow
@pytest.mark.parametrize("old, new, named", [('"relu"', '"no_such_act"', "no_such_act"),
                                             ('"GlorotUniform"', '"NoSuchInit"', "NoSuchInit")])
def test_a_checkpoint_naming_an_unknown_function_is_a_usage_error(tmp_path, iris_run, old, new, named):
    runs, bad = two_runs(tmp_path, iris_run)
    for checkpoint in (bad / "checkpoints").glob("*.keras"):
        rewrite_config(checkpoint, old, new)
    result = cli("evaluate", "bad", "--runs-dir", runs)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert "best.keras cannot be read" in result.stderr and named in result.stderr
    assert "names a layer or function" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("case, message", [("object_array", "holds Python objects"),
                                           ("truncated", "not a NumPy file or truncated")])
def test_an_unreadable_npz_is_bad_data(tmp_path, iris_run, case, message):
    # validate refuses these in data.source (golden cases data_npz_*); predict reads them itself
    data = Path(__file__).parent / "cases" / "invalid" / "_data" / f"{case}.npz"
    result = cli("predict", iris_run.name, "--runs-dir", iris_run.parent.parent, "--input", data,
                 "--output", tmp_path / "out.csv")
    no_traceback(result)
    assert result.exit_code == 3, result.output
    assert message in result.stderr


# `specc train` with a file-size limit (ulimit -f) that a checkpoint write passes: the write
# raises EFBIG as on a full disk (SIGXFSZ, which would kill the process, is ignored).
LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from specc.cli import main
main(sys.argv[2:])
"""


@pytest.mark.slow
def test_a_full_disk_fails_the_run_cleanly(tmp_path):
    import os
    import subprocess
    import sys

    runs = tmp_path / "runs"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", LIMITED, "20000", "train", str(spec_file(tmp_path)),
                           "--runs-dir", str(runs), "--quiet"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 4, done.stderr
    assert "error: the disk is full" in done.stderr and "Traceback" not in done.stderr
    record = only_run(runs)
    assert record["status"] == "failed" and "disk is full" in record["message"]
    folder = next(runs.glob("*/*/"))
    staged = [p.name for p in folder.rglob(".*") if p.name != ".lock"]
    assert staged == []


@pytest.mark.slow
def test_a_running_run_whose_lock_is_free_is_listed_as_stale(tmp_path, iris_run):
    # Its process died (SIGSEGV, the OOM killer) and its pid went to another process: the
    # free lock, not the pid, tells.
    import json
    import os
    import socket

    runs, bad = two_runs(tmp_path, iris_run)
    record = read_json(bad / "record.json")
    record.update(status="running", finished=None, host={**record["host"], "hostname": socket.gethostname(),
                                                          "pid": os.getpid()})
    (bad / "record.json").write_text(json.dumps(record), encoding="utf-8")
    (bad / ".lock").write_text("{}", encoding="utf-8")
    listed = cli("runs", "list", "--runs-dir", runs, "--format", "json")
    assert [row["stale"] for row in json.loads(listed.stdout) if row["path"] == str(bad)] == [True]


# `specc train` under an address-space limit (ulimit -v) below what the model's weights need
LIMITED_MEMORY = """
import resource, sys
limit = int(sys.argv[1]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from specc.cli import main
main(sys.argv[2:])
"""
HUGE_DENSE = IRIS.replace("    - dense: {units: 8, activation: relu}",
                          "    - dense: {units: 20000}\n    - dense: {units: 20000}")  # 400 M weights


@pytest.mark.slow
def test_a_model_past_the_memory_is_a_clean_error_and_leaves_no_run(tmp_path):
    import os
    import subprocess
    import sys

    runs = tmp_path / "runs"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", LIMITED_MEMORY, "5000", "train",
                           str(spec_file(tmp_path, HUGE_DENSE)), "--runs-dir", str(runs), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 4, done.stderr
    assert "error: out of memory while building" in done.stderr and "Traceback" not in done.stderr
    assert not runs.exists()
