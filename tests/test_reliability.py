"""Faults provoked for real: kills at the exact steps of a checkpoint write, two processes on
one run, a received run folder with code in it, damaged files, SIGTERM, Ctrl-C before the
first checkpoint. Each ends identical to an uninterrupted run, or refused with a reason and
its exit code; nothing is left half-written."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CHECKPOINT_KILLER, cli, no_traceback, read_json

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.slow

SPEC = """specc: 1
name: sturdy
seed: 5
data:
  source: {builtin: iris}
  split: {validation: 0.2, test: 0.2}
task: {type: multiclass, classes: 3}
model:
  inputs: {x: [4]}
  layers:
    - dense: {units: 8, activation: relu}
    - dropout: 0.1
train: {epochs: 3, checkpoints: {every_seconds: 0}}
optimizer: {adam: {learning_rate: 0.01}}
batch: {size: 16}
"""

# One training in a process killed on the KILL_AT-th rename into the checkpoints folder: every
# step of a checkpoint commit is a rename there (commit.json, then best, last and state).
KILLER = CHECKPOINT_KILLER


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sturdy")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    path = folder / "sturdy.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def uninterrupted(spec_file, tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("whole")
    result = cli("train", spec_file, "--runs-dir", runs, "--quiet")
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def weights(path: Path) -> list:
    model = keras.saving.load_model(path)
    return model.get_weights() + [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]


def assert_same_model(a: Path, b: Path) -> None:
    for x, y in zip(weights(a), weights(b), strict=True):
        np.testing.assert_array_equal(x, y)


def stray_files(run: Path) -> list:
    return [p.name for p in run.rglob("*") if p.name.startswith(".") and p.name != ".lock"]


# --- kills at every step of a checkpoint write -------------------------------------------

@pytest.mark.parametrize("kill_at", [1, 2, 3, 4, 5, 6, 7, 8],
                         ids=lambda k: f"epoch{(k - 1) // 4 + 1}-{['log', 'best', 'last', 'state'][(k - 1) % 4]}")
def test_a_kill_at_any_step_of_a_checkpoint_write_resumes_identically(kill_at, spec_file, uninterrupted,
                                                                      tmp_path):
    """Killed while epoch 1's or 2's checkpoint was being written (before its commit log,
    or between any two of the renames after it): the resumed run ends with the weights and
    optimizer state of the uninterrupted run, and leaves no temporary file behind."""
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", KILLER, str(kill_at), str(spec_file), str(runs)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    (run,) = (runs / "sturdy").iterdir()
    result = cli("train", "--resume", run.name, "--runs-dir", runs, "--quiet")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert read_json(run / "record.json")["status"] == "completed"
    assert_same_model(uninterrupted / "checkpoints" / "last.keras", run / "checkpoints" / "last.keras")
    assert_same_model(uninterrupted / "checkpoints" / "best.keras", run / "checkpoints" / "best.keras")
    assert read_json(run / "metrics.json") == read_json(uninterrupted / "metrics.json")
    assert stray_files(run) == []


def test_a_checkpoint_that_does_not_match_its_state_is_refused(spec_file, tmp_path):
    """A last.keras from another epoch than state.json says (copied in by hand): a refusal
    that says why, not a resume from the wrong weights."""
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", KILLER, "5", str(spec_file), str(runs)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL
    (run,) = (runs / "sturdy").iterdir()
    folder = run / "checkpoints"
    (folder / "commit.json").unlink(missing_ok=True)
    shutil.copy(folder / ".last.next.keras", folder / "last.keras")  # epoch 2's weights, epoch 1's state
    result = cli("train", "--resume", run.name, "--runs-dir", runs)
    assert result.exit_code == 2
    assert "is not the checkpoint its resume state was written with" in result.stderr


# --- one writer per run ---------------------------------------------------------------------

def test_a_second_writer_is_refused_and_told_who_holds_the_run(uninterrupted, tmp_path):
    run = tmp_path / "sturdy" / uninterrupted.name
    shutil.copytree(uninterrupted, run)
    record = read_json(run / "record.json")
    record["status"] = "interrupted"
    (run / "record.json").write_text(json.dumps(record))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from specc.run.records.lock import RunLock; "
        "held = RunLock(sys.argv[1], 'x', 'training').acquire(); print('held', flush=True); time.sleep(60)"),
        str(run)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = cli("train", "--resume", run.name, "--runs-dir", tmp_path)
        no_traceback(result)
        assert result.exit_code == 2
        assert f"is being written by another process: process {holder.pid}" in result.stderr
        exported = cli("export", run.name, "--runs-dir", tmp_path, "--format", "keras", "--out", tmp_path / "x")
        assert exported.exit_code == 2 and f"process {holder.pid}" in exported.stderr
        assert read_json(run / "record.json")["status"] == "interrupted"  # the loser changed nothing
    finally:
        holder.kill()
        holder.wait()


# --- a run folder received from elsewhere ------------------------------------------------------

def test_a_received_run_folder_runs_no_code_without_consent(uninterrupted, tmp_path):
    """Its spec.yaml lists a plugin that sits in the folder, and record.json points there:
    evaluate, predict, export and resume refuse (exit 2) and import nothing, unless
    --trust-plugins is given."""
    run = tmp_path / "received" / "sturdy" / "20261130-000000-beef"
    shutil.copytree(uninterrupted, run)
    marker = tmp_path / "code-ran"
    (run / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    spec = (run / "spec.yaml").read_text().replace("plugins: []", "plugins: [evil]")
    (run / "spec.yaml").write_text(spec)
    record = read_json(run / "record.json")
    record.update(spec_file=str(run / "spec.yaml"), status="interrupted")
    (run / "record.json").write_text(json.dumps(record))
    runs = tmp_path / "received"
    for command in (["evaluate", run], ["predict", run, "--input", tmp_path / "x.npz", "--output", tmp_path / "p.csv"],
                    ["export", run, "--format", "keras", "--out", tmp_path / "out"],
                    ["train", "--resume", str(run), "--runs-dir", runs]):
        result = cli(*command)
        no_traceback(result)
        assert result.exit_code == 2, (command, result.output)
        assert "imports Python modules as plugins (evil)" in result.stderr and "--trust-plugins" in result.stderr
    assert not marker.exists()
    trusted = cli("evaluate", run, "--trust-plugins")
    assert trusted.exit_code == 0, trusted.output
    assert marker.read_text() == "ran"


# --- damaged files and places that cannot be written --------------------------------------------

def test_a_truncated_checkpoint_is_a_clear_error(uninterrupted, tmp_path):
    run = tmp_path / "sturdy" / uninterrupted.name
    shutil.copytree(uninterrupted, run)
    best = run / "checkpoints" / "best.keras"
    best.write_bytes(best.read_bytes()[: best.stat().st_size // 3])
    result = cli("evaluate", run)
    no_traceback(result)
    assert result.exit_code == 2
    assert f"{best}" in result.stderr and "damaged or truncated" in result.stderr


def test_a_truncated_resume_state_is_a_clear_error(uninterrupted, tmp_path):
    run = tmp_path / "sturdy" / uninterrupted.name
    shutil.copytree(uninterrupted, run)
    record = read_json(run / "record.json")
    record["status"] = "interrupted"
    (run / "record.json").write_text(json.dumps(record))
    state = run / "checkpoints" / "state.json"
    state.write_text(state.read_text()[:40])
    result = cli("train", "--resume", str(run))
    no_traceback(result)
    assert result.exit_code == 2
    assert "resume state" in result.stderr and "damaged" in result.stderr


def test_a_checkpoint_with_code_is_refused_in_safe_mode(uninterrupted, tmp_path):
    run = tmp_path / "sturdy" / uninterrupted.name
    shutil.copytree(uninterrupted, run)
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Lambda(lambda t: t * 2)(x))
    model.save(run / "checkpoints" / "best.keras")
    result = cli("evaluate", run)
    no_traceback(result)
    assert result.exit_code == 2
    assert "safe mode" in result.stderr


def test_runs_dir_that_is_a_file_and_export_out_that_cannot_be_written(spec_file, uninterrupted, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = cli("train", spec_file, "--runs-dir", blocker)
    no_traceback(result)
    assert result.exit_code == 2 and f"cannot make the runs folder {blocker / 'sturdy'}" in result.stderr
    exported = cli("export", uninterrupted, "--format", "keras", "--out", blocker / "exports")
    no_traceback(exported)
    assert exported.exit_code == 5 and "cannot make the export folder" in exported.stderr


def test_an_argument_error_comes_before_tensorflow(tmp_path):
    """`specc train missing.yaml` answers without paying TensorFlow's start-up."""
    code = ("import sys; from click.testing import CliRunner; from specc.cli import main; "
            "r = CliRunner().invoke(main, ['train', 'missing.yaml']); "
            "print(r.exit_code, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.stdout.split() == ["2", "False"], done.stderr


# --- stop signals -------------------------------------------------------------------------------------

def test_sigterm_is_handled_like_ctrl_c(spec_file, tmp_path):
    runs = tmp_path / "runs"
    long = spec_file.parent / "long.yaml"
    long.write_text(SPEC.replace("name: sturdy", "name: long").replace("epochs: 3", "epochs: 2000"))
    process = subprocess.Popen([sys.executable, "-m", "specc.cli", "train", str(long), "--runs-dir", str(runs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(runs.glob("long/*/checkpoints/state.json")):
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    (run,) = (runs / "long").iterdir()
    record = read_json(run / "record.json")
    assert record["status"] == "interrupted" and "continues from the last checkpoint" in record["message"]
    assert "specc train --resume" in stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_swallowed_by_library_code_still_stops(spec_file, tmp_path, signum, request):
    """Keras's saving catches everything (a bare `except:`) around opening its staged weights
    file: a SIGTERM that landed there during a checkpoint write was lost and training ran to
    its last epoch (a flaky CI failure of the test above). The stop is remembered and raised
    again at the next batch end."""
    from specc.run.train import TrainOptions, train

    class SwallowAStop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                try:  # as library code that catches everything would
                    signal.raise_signal(signum)
                    time.sleep(0.01)
                except BaseException:
                    pass

    import specc

    doc, _ = specc.load_and_check(str(spec_file))
    runs = tmp_path / "runs"
    long = specc.resolved_spec(doc)
    long["train"]["epochs"] = 200
    # Ctrl-C as a command has it (an earlier test in this process may have left Ray's handler)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(long, str(spec_file), options=TrainOptions(runs_dir=str(runs), callbacks=[SwallowAStop()]))
    (run,) = (runs / "sturdy").iterdir()
    record = read_json(run / "record.json")
    assert record["status"] == "interrupted"
    assert len(read_json(run / "history.json")) <= 3
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers


def test_the_resume_command_of_an_interrupt_runs_as_printed(spec_file, tmp_path, monkeypatch):
    """The command left out --runs-dir, so it failed as printed (no such run under runs/); it
    names the runs folder whenever it is not the default, quoted for the shell."""
    from specc.run.train import TrainOptions, train

    class StopInEpochTwo(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    import specc

    monkeypatch.chdir(tmp_path)
    doc, _ = specc.load_and_check(str(spec_file))
    runs = tmp_path / "my runs"
    with pytest.raises(KeyboardInterrupt) as stopped:
        train(specc.resolved_spec(doc), str(spec_file),
              options=TrainOptions(runs_dir=str(runs), callbacks=[StopInEpochTwo()]))
    (run,) = (runs / "sturdy").iterdir()
    command = f"specc train --resume {run.name} --runs-dir '{runs}'"
    assert str(stopped.value) == f"run {run.name} stopped; `{command}` continues from the last checkpoint"
    result = cli(*shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert read_json(run / "record.json")["status"] == "completed"


def test_ctrl_c_before_the_first_checkpoint_says_the_run_starts_again(spec_file, tmp_path):
    """No epoch was saved: the message does not promise a continuation; --resume starts the
    run again from its first epoch, in the same folder, and completes it."""
    from specc.run.train import TrainOptions, train

    class StopInEpochOne(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    import specc

    doc, _ = specc.load_and_check(str(spec_file))
    runs = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt) as stopped:
        train(specc.resolved_spec(doc), str(spec_file),
              options=TrainOptions(runs_dir=str(runs), callbacks=[StopInEpochOne()]))
    assert "starts it again from the first epoch" in str(stopped.value)
    (run,) = (runs / "sturdy").iterdir()
    result = cli("train", "--resume", run.name, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert "has no checkpoint: it starts again from its first epoch, in the same folder" in result.stdout
    assert read_json(run / "record.json")["status"] == "completed"
    assert [row["epoch"] for row in read_json(run / "history.json")] == [1, 2, 3]
