"""`specc sweep` for real: trial processes, Optuna's SQLite study, kill -9 and resume, pruning.

The sweeps run `python -m specc sweep` in a process of their own (a new session, so that the
test can kill it and every trial process with it, as a crash would), on iris with a spec
small enough that a trial takes seconds. No timing is asserted.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli

pytestmark = pytest.mark.slow
optuna = pytest.importorskip("optuna")

SPEC = """\
specc: 1
name: tiny-sweep
seed: 3
data:
  source: {{builtin: iris}}
  split: {{validation: 0.2, test: 0.2, stratify: true}}
  preprocessing: [normalization]
task: {{type: multiclass, classes: 3}}
model:
  inputs: {{features: [4]}}
  layers:
    - dense: {{units: 8, activation: relu}}
  head: auto
metrics: [accuracy]
optimizer: {{adam: {{learning_rate: 0.01}}}}
batch: {{size: 16}}
train: {{epochs: {epochs}, checkpoints: {{every_seconds: 0}}{train_extra}}}
sweep:
  trials: 3
  heartbeat: 2
  pruning: {pruning}
  space:
    optimizer.adam.learning_rate: {{log_uniform: [1.0e-3, 1.0e-1]}}
    model.layers[0].dense.units: {{choice: [4, 8, 16]}}
{extra}"""
EPOCHS = 60  # long enough to be killed in the middle of training: every epoch commits a checkpoint,
# so the window a kill waits for (epochs 3 to 30) lasts seconds


def write_spec(folder: Path, epochs: int = EPOCHS, pruning: str = "false", extra: str = "",
               train_extra: str = "") -> Path:
    path = folder / "spec.yaml"
    path.write_text(SPEC.format(epochs=epochs, pruning=pruning, extra=extra, train_extra=train_extra),
                    encoding="utf-8")
    return path


def command(*args: str, parallel: int = 2) -> list:
    return [sys.executable, "-m", "specc", "sweep", "spec.yaml", "--runs-dir", "runs", "--parallel", str(parallel),
            *args]


def start(folder: Path) -> subprocess.Popen:
    """The sweep in a new session: its trial processes share its process group."""
    out = open(folder / "first.log", "wb")
    return subprocess.Popen(command(), cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def finish(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command(), cwd=folder, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)


def runs(folder: Path) -> dict:
    """{run folder: record.json} of the spec's runs."""
    parent = folder / "runs" / "tiny-sweep"
    return {p: json.loads((p / "record.json").read_text()) for p in sorted(parent.iterdir())
            if (p / "record.json").is_file()} if parent.is_dir() else {}


def epochs_written(run: Path) -> int:
    try:
        return len(json.loads((run / "history.json").read_text()))
    except (OSError, ValueError):
        return 0


def wait_for_two_runs_training(folder: Path, process: subprocess.Popen, epochs: int = EPOCHS) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        training = [run for run, record in runs(folder).items()
                    if record["status"] == "running" and 3 <= epochs_written(run) < epochs - 30]
        if len(training) >= 2:  # two trials in the middle of training at once
            return
        assert process.poll() is None, (folder / "first.log").read_text()
        time.sleep(0.2)
    raise AssertionError("no two trials trained 3 epochs in 10 minutes:\n" + (folder / "first.log").read_text())


def study(folder: Path):
    url = f"sqlite:///{folder / 'runs' / 'tiny-sweep' / 'sweeps' / 'tiny-sweep' / 'study.db'}"
    return optuna.load_study(study_name="tiny-sweep", storage=url)


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def check_complete(folder: Path) -> list:
    """Three trials, three runs: each trial completed in a run of its own, every epoch of it
    recorded once, and the records say which trial and values they ran."""
    trials = study(folder).get_trials()
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    counted = [t for t in trials if t.number not in retried]
    assert [t.state.name for t in counted] == ["COMPLETE"] * 3
    records = runs(folder)
    assert len(records) == 3
    assert sorted(str(p) for p in records) == sorted(t.user_attrs["run"] for t in counted)
    for path, record in records.items():
        history = json.loads((path / "history.json").read_text())
        assert record["status"] == "completed"
        assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1))
        trial = next(t for t in counted if t.user_attrs["run"] == str(path))
        assert record["sweep"]["id"] == "tiny-sweep" and record["sweep"]["trial"] == trial.number
        assert record["sweep"]["values"] == trial.params
        assert record["overrides"] == [f"{k}={json.dumps(v)}" for k, v in trial.params.items()]
        assert trial.value == pytest.approx(min(row["val_loss"] for row in history))
    return trials


def test_a_sweep_killed_with_its_trials_resumes_without_losing_or_repeating_a_trial(tmp_path):
    write_spec(tmp_path)
    process = start(tmp_path)
    try:
        wait_for_two_runs_training(tmp_path, process)
    finally:
        kill_group(process)  # kill -9 of the sweep and of every trial process: a crash
    killed = {path: record for path, record in runs(tmp_path).items() if record["status"] == "running"}
    assert len(killed) == 2, runs(tmp_path)
    assert all(epochs_written(path) < EPOCHS for path in killed)

    done = finish(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "again, continuing its run" in done.stdout
    trials = check_complete(tmp_path)
    retries = [t for t in trials if "failed_trial" in t.system_attrs]
    assert len(retries) == 2
    by_number = {t.number: t for t in trials}
    for retry in retries:
        first = by_number[retry.system_attrs["failed_trial"]]
        assert first.state.name == "FAIL" and retry.params == first.params
        assert Path(retry.user_attrs["run"]) in killed  # the same run folder, continued
        record = json.loads((Path(retry.user_attrs["run"]) / "record.json").read_text())
        assert record["sweep"]["retry_of"] == first.number

    sweep_folder = tmp_path / "runs" / "tiny-sweep" / "sweeps" / "tiny-sweep"
    table = list(csv.DictReader((sweep_folder / "trials.csv").open()))
    assert len(table) == 3 and {row["state"] for row in table} == {"complete"}
    assert all((sweep_folder / name).stat().st_size > 0 for name in ("history.png", "importances.png",
                                                                     "intermediate.png"))
    summary = json.loads((sweep_folder / "sweep.json").read_text())
    best = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert summary["best"]["number"] == best.number and summary["states"] == {"complete": 3}
    assert f"best: trial {best.number}," in done.stdout

    listed = cli("runs", "list", "--runs-dir", tmp_path / "runs", "--sweep", "tiny-sweep", "--format", "json",
                 "--columns", "optimizer.adam.learning_rate,model.layers[0].dense.units")
    rows = json.loads(listed.stdout)
    assert len(rows) == 3
    for row in rows:
        assert row["columns"] == row["sweep"]["values"]

    again = finish(tmp_path)  # the same command once more: the study already holds its trials
    assert again.returncode == 0, again.stdout + again.stderr
    assert "none to start" in again.stdout and "started" not in again.stdout
    assert len(study(tmp_path).get_trials()) == len(trials) and len(runs(tmp_path)) == 3


def test_a_sweep_whose_driver_alone_is_killed_lets_its_trials_finish(tmp_path):
    """The trial processes outlive a killed driver, finish and report; the next `specc sweep`
    waits for them and starts only the trial still missing."""
    write_spec(tmp_path)
    process = start(tmp_path)
    try:
        wait_for_two_runs_training(tmp_path, process)
        process.kill()  # kill -9 of the driver only
        process.wait()
        done = finish(tmp_path)
    finally:
        kill_group(process)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "waiting for trial(s) 0, 1, running in another process" in done.stdout
    trials = check_complete(tmp_path)
    assert len(trials) == 3 and not any("failed_trial" in t.system_attrs for t in trials)


def test_a_trial_usage_error_stops_the_sweep(tmp_path):
    """A metric no epoch logs fails the first trial and stops the sweep (exit 2, the trial's
    message, its log named): the second trial never starts; the first trial's run says failed."""
    write_spec(tmp_path, epochs=2, extra="  metric: val_auc\n")
    done = subprocess.run(command("--trials", "2", parallel=1), cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the sweep's metric val_auc is not among the metrics of an epoch" in done.stderr
    assert "trial-0000.log" in done.stderr
    assert "Traceback" not in done.stderr
    [record] = runs(tmp_path).values()
    assert record["status"] == "failed"
    [trial] = study(tmp_path).get_trials()
    assert trial.state.name == "FAIL" and "val_auc" in trial.user_attrs["error"]


# --- trials slow to start, or taken for dead while they live ----------------------------------

SLOW_START = """\
import sys
import time

if "sweep-trial" in sys.argv or "warm-worker" in sys.argv:  # each trial's process starts this slowly
    time.sleep({seconds})
"""


def slow_start(folder: Path, seconds: float) -> dict:
    """The environment of a sweep whose trial processes sleep `seconds` as Python starts, before
    any of specc runs (a sitecustomize module on PYTHONPATH; specc has no hook for it)."""
    site = folder / "slow-start"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_START.format(seconds=seconds), encoding="utf-8")
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))


def one_trial(*args: str) -> list:
    """A sweep of one trial at a time, with a heartbeat of 1 s: silent 3 s, a trial is dead."""
    return command("--trials", "1", "--set", "sweep.heartbeat=1", *args, parallel=1)


def wait_for_text(path: Path, text: str, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = path.read_text() if path.is_file() else ""
        if text in found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} in {path} after {seconds} s:\n" + (path.read_text() if path.is_file() else ""))


def test_a_trial_slower_to_start_than_the_grace_period_is_not_taken_for_dead(tmp_path):
    """The driver beats for the trial process it started while that process starts (8 s here,
    the grace period 3 s): the trial runs once and completes; the sweep exits 0."""
    write_spec(tmp_path, epochs=2)
    done = subprocess.run(one_trial(), cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, env=slow_start(tmp_path, 8))
    assert done.returncode == 0, done.stdout + done.stderr
    [trial] = study(tmp_path).get_trials()
    assert trial.state.name == "COMPLETE"
    assert [record["status"] for record in runs(tmp_path).values()] == ["completed"]


def test_a_trial_process_whose_trial_was_taken_for_dead_while_starting_steps_aside(tmp_path):
    """The driver is killed while its trial process starts; the next `specc sweep` takes that
    trial for dead (silent 3 s) and runs it again; the old process, once started, finds its
    trial failed and steps aside (exit 0, nothing told): one trial counted, one run."""
    write_spec(tmp_path, epochs=2)
    env = slow_start(tmp_path, 12)
    logs = tmp_path / "runs" / "tiny-sweep" / "sweeps" / "tiny-sweep" / "logs"
    with open(tmp_path / "first.log", "wb") as out:
        process = subprocess.Popen(one_trial(), cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        wait_for_text(tmp_path / "first.log", "trial 0 started")
        process.kill()  # kill -9 of the driver alone, while its trial process is still starting
        process.wait()
        done = subprocess.run(one_trial(), cwd=tmp_path, capture_output=True, text=True, timeout=600,
                              stdin=subprocess.DEVNULL, env=env)
        first = wait_for_text(logs / "trial-0000.log", "trial 0: stepped aside")
    finally:
        kill_group(process)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trial 1 started (trial 0 again" in done.stdout
    assert "another process took it for dead" in first and "Error" not in first
    failed, retry = study(tmp_path).get_trials()
    assert failed.state.name == "FAIL" and "error" not in failed.user_attrs
    assert retry.state.name == "COMPLETE" and retry.system_attrs["failed_trial"] == 0
    [(path, record)] = runs(tmp_path).items()
    assert record["status"] == "completed" and retry.user_attrs["run"] == str(path)


def test_a_trial_taken_for_dead_while_it_trains_steps_aside_and_its_retry_continues_its_run(tmp_path):
    """Another driver, less patient, takes a training trial for dead and queues it again: the
    trial's heartbeat finds it out, stops its run as a stop signal would (its epochs kept) and
    the process ends with exit 0; the next `specc sweep` continues that run in the retry."""
    from specc.api import load_and_check, resolved_spec
    from specc.sweep import study as studies
    from specc.sweep.settings import Settings, fingerprint

    url = f"sqlite:///{tmp_path / 'study.db'}"
    epochs = 100  # the trial must still train 2-4 s after its third epoch, until its heartbeat finds it taken
    path = write_spec(tmp_path, epochs=epochs, extra=f"  storage: {url}\n")
    resolved = resolved_spec(load_and_check(str(path))[0])
    settings = Settings.of(resolved)
    opened = studies.open_study(settings, studies.open_storage(url, settings), 0, fingerprint(resolved))
    studies.suggest(opened.ask(), settings.params)
    with open(tmp_path / "trial.log", "wb") as out:
        trial = subprocess.Popen([sys.executable, "-m", "specc", "sweep-trial", "spec.yaml", "--trial", "0",
                                  "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not any(3 <= epochs_written(run) for run in runs(tmp_path)):
            assert trial.poll() is None and time.monotonic() < deadline, (tmp_path / "trial.log").read_text()
            time.sleep(0.2)
        from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

        impatient = optuna.load_study(study_name="tiny-sweep", storage=RDBStorage(
            url, heartbeat_interval=1, grace_period=1,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(inherit_intermediate_values=True)))
        while impatient.trials[0].state.name == "RUNNING":  # the trial beats every 2 s
            assert trial.poll() is None and time.monotonic() < deadline, (tmp_path / "trial.log").read_text()
            optuna.storages.fail_stale_trials(impatient)
            time.sleep(0.2)
        code = trial.wait(timeout=120)
    finally:
        trial.kill()
        trial.wait()
    log = (tmp_path / "trial.log").read_text()
    assert code == 0, log
    assert "trial 0: stepped aside" in log and "Traceback" not in log
    [(run, record)] = runs(tmp_path).items()
    assert record["status"] == "interrupted" and 3 <= epochs_written(run) < epochs

    done = subprocess.run(command("--trials", "1", parallel=1), cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trial 1 started (trial 0 again, continuing its run)" in done.stdout
    failed, retry = optuna.load_study(study_name="tiny-sweep", storage=url).get_trials()
    assert failed.state.name == "FAIL" and retry.state.name == "COMPLETE"
    [(again, record)] = runs(tmp_path).items()
    assert again == run and record["status"] == "completed" and retry.user_attrs["run"] == str(run)
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, epochs + 1))


# --- one trial, in this process ---------------------------------------------------------------

def open_trial(tmp_path: Path, pruning: str, train_extra: str = ""):
    """A spec with a study at a known place, and a trial asked for it (what the driver does)."""
    from specc.api import load_and_check, resolved_spec
    from specc.sweep import study as studies
    from specc.sweep.settings import Settings, fingerprint

    url = f"sqlite:///{tmp_path / 'study.db'}"
    path = write_spec(tmp_path, epochs=6, pruning=pruning, extra=f"  storage: {url}\n", train_extra=train_extra)
    resolved = resolved_spec(load_and_check(str(path))[0])
    settings = Settings.of(resolved)
    storage = studies.open_storage(url, settings)
    opened = studies.open_study(settings, storage, 0, fingerprint(resolved))
    return path, opened, settings


@pytest.mark.parametrize("warmup", [0, 3])
def test_a_trial_worse_than_the_median_is_pruned(tmp_path, warmup):
    """Pruned at the first epoch the pruner may judge: the first, or the one after the warm-up
    (the trial does not ask the pruner during the warm-up)."""
    from specc.sweep import study as studies
    from specc.sweep.trial import run_trial

    path, opened, settings = open_trial(tmp_path, f"{{startup_trials: 1, warmup_epochs: {warmup}}}")
    earlier = opened.ask()
    studies.suggest(earlier, settings.params)
    for epoch in range(6):
        earlier.report(0.0, epoch)  # an earlier trial that was perfect at every epoch
    opened.tell(earlier, 0.0)
    trial = opened.ask()
    studies.suggest(trial, settings.params)

    result = run_trial(str(path), [], trial.number, str(tmp_path / "runs"))
    assert result.state == "pruned"
    record = json.loads((Path(result.run) / "record.json").read_text())
    assert record["status"] == "pruned" and record["epochs_completed"] == warmup + 1
    assert record["message"].startswith(f"pruned by the sweep after epoch {warmup + 1}:")
    assert (Path(result.run) / "checkpoints" / "last.keras").is_file()
    frozen = opened.trials[trial.number]
    assert frozen.state.name == "PRUNED" and frozen.user_attrs["run"] == result.run
    assert list(frozen.intermediate_values) == list(range(warmup + 1))


def test_a_process_opens_a_storage_once_and_again_when_its_file_was_replaced(tmp_path):
    """A warm worker keeps the storage it opened for its next trial; a study database removed
    and made again at the same path is opened anew, never read through the old file."""
    from specc.sweep import study as studies

    path, opened, settings = open_trial(tmp_path, "false")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first = studies.reused_storage(url, settings)
    assert studies.reused_storage(url, settings) is first
    (tmp_path / "study.db").unlink()
    for leftover in tmp_path.glob("study.db-*"):  # the write-ahead log and its index
        leftover.unlink()
    again = studies.reused_storage(url, settings)
    assert again is not first
    assert studies.reused_storage(url, settings) is again
    assert again.get_all_studies() == []  # the new, empty file: nothing of the old one


def test_a_diverging_trial_fails_and_says_why(tmp_path):
    from specc.errors import TrainingError
    from specc.sweep import study as studies
    from specc.sweep.trial import run_trial

    path, opened, settings = open_trial(tmp_path, "false", train_extra=", max_loss: 1.0e-6")
    trial = opened.ask()
    studies.suggest(trial, settings.params)
    with pytest.raises(TrainingError):
        run_trial(str(path), [], trial.number, str(tmp_path / "runs"))
    frozen = opened.trials[trial.number]
    assert frozen.state.name == "FAIL" and "loss" in frozen.user_attrs["error"]
    record = json.loads((Path(frozen.user_attrs["run"]) / "record.json").read_text())
    assert record["status"] == "diverged"


# --- bad input: clear errors before any trial runs -------------------------------------------

def test_bad_sweep_input_is_an_error_with_its_exit_code(tmp_path):
    from conftest import SPECS, no_traceback
    from specc.sweep import study as studies
    from specc.sweep.settings import Settings

    path = write_spec(tmp_path, epochs=2)
    runs_dir = tmp_path / "runs"
    cases = [(["--set", "sweep.storage=notaurl"], 2, "cannot open the sweep's storage notaurl"),
             (["--set", "sweep.storage=sqlite:////no/such/folder/x.db"], 2, "cannot open the sweep's storage"),
             (["--set", "model.layers[0].dense.units=0"], 1, "expected at least 1"),
             (["--parallel", "0"], 2, "0 is not in the range x>=1")]
    for extra, code, words in cases:
        done = cli("sweep", path, "--runs-dir", runs_dir, *extra)
        no_traceback(done)
        assert done.exit_code == code, (extra, done.output)
        assert words in done.stderr, (extra, done.stderr)
    plain = cli("sweep", SPECS / "mlp-wine.yaml", "--runs-dir", runs_dir)
    assert plain.exit_code == 2 and "has no sweep: section" in plain.stderr

    # a study of that name made from another space is not continued with this one
    url = f"sqlite:///{tmp_path / 'other.db'}"
    from specc.api import load_and_check, resolved_spec

    settings = Settings.of(resolved_spec(load_and_check(str(path), [f"sweep.storage={url}"])[0]))
    studies.open_study(settings, studies.open_storage(url, settings), 0, "another spec's fingerprint")
    other = cli("sweep", path, "--runs-dir", runs_dir, "--set", f"sweep.storage={url}")
    no_traceback(other)
    assert other.exit_code == 2 and "was started from another spec or sweep section" in other.stderr
    assert not list((runs_dir / "tiny-sweep").glob("2*"))  # no trial ran
