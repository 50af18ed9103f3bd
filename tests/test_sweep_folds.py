"""`sweep.folds`: each trial cross-validated over K folds of train + validation, the best values
refit on the spec's own split; kill -9 in the middle of a trial's folds loses and repeats nothing.

The sweeps run `python -m specc sweep` in a process of their own (a new session, so that the test
can kill it and every trial process with it), on iris with a spec small enough that a fold takes
seconds. No timing is asserted.
"""
from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import cli
from test_sweep import command, epochs_written, kill_group, runs, study
from test_sweep import write_spec as write_sweep_spec

pytestmark = pytest.mark.slow
optuna = pytest.importorskip("optuna")

FOLDS = 3
TRIALS = 2


def write_spec(folder: Path, epochs: int) -> Path:
    """test_sweep's spec (iris, lr and width searched) with sweep.folds."""
    return write_sweep_spec(folder, epochs=epochs, extra=f"  folds: {FOLDS}\n")


def sweep(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command("--trials", str(TRIALS)), cwd=folder, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)


def sweep_of(record: dict) -> dict:
    """A run's sweep fields (none yet in the moment between its folder and its trial's note)."""
    return record.get("sweep") or {}


def spec_of(run: Path) -> dict:
    """The resolved spec a run trained."""
    return yaml.safe_load((run / "spec.yaml").read_text())


def best_val_loss(run: Path) -> float:
    return min(row["val_loss"] for row in json.loads((run / "history.json").read_text()))


def check_folds(folder: Path, epochs: int) -> tuple:
    """Every trial completed as the mean of its K fold runs, each fold trained once, every epoch
    once; the refit run trained the best values on the spec's own split."""
    trials = study(folder).get_trials()
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    counted = [t for t in trials if t.number not in retried]
    assert [t.state.name for t in counted] == ["COMPLETE"] * TRIALS
    records = runs(folder)
    folds = {p: r for p, r in records.items() if not sweep_of(r).get("refit")}
    [(refit_path, refit)] = [(p, r) for p, r in records.items() if sweep_of(r).get("refit")]
    assert len(folds) == TRIALS * FOLDS
    for trial in counted:
        paths = [Path(p) for p in trial.user_attrs["runs"]]
        assert len(paths) == FOLDS
        for fold, path in enumerate(paths):
            record = folds[path]
            assert record["status"] == "completed"
            assert record["sweep"]["trial"] == trial.number and record["sweep"]["fold"] == fold
            assert record["sweep"]["values"] == trial.params
            assert spec_of(path)["data"]["split"]["cross_validation"] == {"folds": FOLDS, "fold": fold}
            assert [row["epoch"] for row in json.loads((path / "history.json").read_text())] == \
                list(range(1, epochs + 1))
        fold_values = [best_val_loss(p) for p in paths]
        assert trial.user_attrs["fold_values"] == pytest.approx(fold_values)
        assert trial.value == pytest.approx(sum(fold_values) / FOLDS)
    best = min(counted, key=lambda t: t.value)
    assert refit["status"] == "completed" and refit["sweep"]["trial"] == best.number
    assert refit["sweep"]["values"] == best.params
    assert "cross_validation" not in spec_of(refit_path)["data"]["split"]
    assert refit["overrides"] == [f"{k}={json.dumps(v)}" for k, v in best.params.items()]
    return counted, best, refit_path


def kill_when(folder: Path, wanted, epochs: int, what: str, log: str) -> list:
    """Start the sweep (its output in `log`); once a run that is `wanted` is in the middle of
    training, kill -9 the sweep and every process it started. Returns those runs."""
    process = subprocess.Popen(command("--trials", str(TRIALS)), cwd=folder, stdout=open(folder / log, "wb"),
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            found = [p for p, r in runs(folder).items() if r["status"] == "running" and wanted(r)
                     and 3 <= epochs_written(p) < epochs - 30]
            if found:
                return found
            assert process.poll() is None, (folder / log).read_text()
            time.sleep(0.2)
        raise AssertionError(f"{what} did not train 3 epochs in 10 minutes")
    finally:
        kill_group(process)


KILLED_EPOCHS = 60  # every epoch commits a checkpoint: epochs 3 to 30 give each kill seconds


@pytest.fixture(scope="module")
def killed_twice(tmp_path_factory) -> dict:
    """One sweep killed -9 twice: in the middle of a later fold, then (started again, so
    continuing the killed folds) in the middle of its refit; then run to its end. The runs each
    kill left running, the folder, and the last `specc sweep`. The two kill tests read it."""
    folder = tmp_path_factory.mktemp("killed")
    write_spec(folder, KILLED_EPOCHS)
    kill_when(folder, lambda record: sweep_of(record).get("fold", 0) >= 1, KILLED_EPOCHS, "a later fold",
              "first.log")
    folds = {p for p, r in runs(folder).items() if r["status"] == "running"}
    refits = kill_when(folder, lambda record: bool(sweep_of(record).get("refit")), KILLED_EPOCHS, "the refit",
                       "second.log")
    return {"folder": folder, "folds": folds, "refits": refits, "done": sweep(folder)}


def test_a_sweep_with_folds_scores_each_trial_by_its_folds_and_refits_the_best(tmp_path):
    epochs = 4
    write_spec(tmp_path, epochs)
    done = sweep(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    counted, best, refit_path = check_folds(tmp_path, epochs)

    # each fold validates on its share of train + validation (150 iris: 30 test, 120 pooled); test is the spec's
    sizes = [json.loads((Path(p) / "record.json").read_text())["data"] for p in counted[0].user_attrs["runs"]]
    assert [s["test"] for s in sizes] == [30] * FOLDS
    assert sum(s["validation"] for s in sizes) == 120 and all(s["train"] + s["validation"] == 120 for s in sizes)
    refit_data = json.loads((refit_path / "record.json").read_text())["data"]
    assert refit_data == {"train": 90, "validation": 30, "test": 30}

    folder = tmp_path / "runs" / "tiny-sweep" / "sweeps" / "tiny-sweep"
    table = list(csv.DictReader((folder / "trials.csv").open()))
    assert [f"val_loss fold {k}" in table[0] for k in range(FOLDS)] == [True] * FOLDS
    assert float(table[best.number]["val_loss"]) == pytest.approx(best.value)
    summary = json.loads((folder / "sweep.json").read_text())
    assert summary["folds"] == FOLDS and summary["refit"]["run"] == str(refit_path)
    assert summary["refit"]["value"] == pytest.approx(best_val_loss(refit_path))
    assert f"the mean of {FOLDS} folds" in done.stdout and f"refit: trial {best.number}'s values" in done.stdout

    again = sweep(tmp_path)  # the study is complete and refit: nothing trains again
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(runs(tmp_path)) == TRIALS * FOLDS + 1
    assert "trained on the spec's own split (log:" not in again.stdout

    listed = cli("runs", "list", "--runs-dir", tmp_path / "runs", "--sweep", "tiny-sweep")
    assert f"tiny-sweep#{best.number} refit" in listed.stdout
    assert all(f"tiny-sweep#{t.number} fold {k}" in listed.stdout for t in counted for k in range(FOLDS))


def test_a_sweep_with_folds_killed_mid_fold_resumes_without_losing_or_repeating_a_fold(killed_twice):
    killed = killed_twice["folds"]
    assert killed

    done = killed_twice["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    counted, _, _ = check_folds(killed_twice["folder"], KILLED_EPOCHS)
    used = {Path(p) for t in counted for p in t.user_attrs["runs"]}
    assert killed <= used  # the killed folds' runs were continued, not trained again


def test_a_spec_that_sets_the_folds_itself_is_refused_before_any_trial(tmp_path):
    from conftest import no_traceback

    path = write_spec(tmp_path, epochs=2)
    done = cli("sweep", path, "--runs-dir", tmp_path / "runs", "--set",
               'data.split.cross_validation={"folds": 3, "fold": 0}')
    no_traceback(done)
    assert done.exit_code == 2 and "sets data.split.cross_validation, which sweep.folds sets" in done.stderr
    assert not (tmp_path / "runs" / "tiny-sweep" / "sweeps").exists()


def test_a_sweep_killed_during_its_refit_continues_the_refit_run(killed_twice):
    [killed] = killed_twice["refits"]

    done = killed_twice["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    _, _, refit_path = check_folds(killed_twice["folder"], KILLED_EPOCHS)
    assert refit_path == killed  # the same run folder, continued to its end
    history = json.loads((refit_path / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, KILLED_EPOCHS + 1))


def test_a_refit_that_fails_is_reported_as_its_own_trials_never_as_an_earlier_refit(tmp_path):
    """The study keeps trial 0's completed refit; trial 1 is now best and its refit process
    fails before making a run: the result names trial 1, the failure and no run."""
    from test_sweep import open_trial

    from specc.report import SILENT
    from specc.sweep import study as studies
    from specc.sweep.driver import refit_best
    from specc.sweep.trial import REFIT
    from specc.sweep.workers import PoolOptions, open_pool

    _, opened, settings = open_trial(tmp_path, "false")
    for value in (0.5, 0.1):
        trial = opened.ask()
        studies.suggest(trial, settings.params)
        opened.tell(trial, value)
    opened.set_user_attr(REFIT, {"trial": 0, "run": str(tmp_path), "run_id": "earlier", "status": "completed",
                                 "value": 0.4})
    (tmp_path / "logs").mkdir()
    fails = ["sweep-trial", str(tmp_path / "missing.yaml"), "--runs-dir", str(tmp_path)]  # exit 2, no run
    refit = refit_best(opened, settings, fails, tmp_path, SILENT, open_pool(PoolOptions(mode="process"), tmp_path))
    assert refit["trial"] == 1 and refit["run"] is None and "status" not in refit and "value" not in refit
    assert "exit code 2" in refit["error"] and "refit.log" in refit["error"]


@pytest.mark.parametrize("bound, said", [({"trial_timeout": 1}, "ran past the time limit of 1 s (--trial-timeout)"),
                                         ({"max_worker_mb": 100}, "past the bound of 100 MB (--max-worker-mb)")])
def test_a_refit_past_the_time_limit_or_the_memory_bound_is_killed_and_says_so(tmp_path, bound, said):
    """--trial-timeout and --max-worker-mb hold for the refit as for a trial: its process (one
    that would complete in a few seconds, but is past both bounds while it imports TensorFlow)
    is killed and the refit's error says why."""
    from test_sweep import open_trial

    from specc.report import SILENT
    from specc.sweep import study as studies
    from specc.sweep.driver import refit_best
    from specc.sweep.workers import PoolOptions, open_pool

    path, opened, settings = open_trial(tmp_path, "false")
    trial = opened.ask()
    studies.suggest(trial, settings.params)
    opened.tell(trial, 0.5)
    (tmp_path / "logs").mkdir()
    command = ["sweep-trial", str(path), "--runs-dir", str(tmp_path / "runs")]
    refit = refit_best(opened, settings, command, tmp_path, SILENT, open_pool(PoolOptions(mode="process", **bound),
                                                                          tmp_path))
    assert refit["trial"] == 0 and refit.get("status") != "completed"
    assert said in refit["error"] and refit["error"].startswith("the refit ")
