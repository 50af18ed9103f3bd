"""Warm workers (specc/sweep/workers.py): a run in a worker that ran others first is
bit-identical to the same run first, and to a run in a process of its own; workers are
recycled when told; a trial past the memory bound or the time limit fails alone and the sweep
goes on; Ctrl-C stops the workers' trials. Real TensorFlow on iris, a few epochs; no timing is
asserted. (The kill -9 and step-aside tests of test_sweep.py and test_sweep_folds.py run with
warm workers, the default.)
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from test_sweep import command, kill_group, runs as sweep_runs, start, study, wait_for_two_runs_training, write_spec

pytestmark = pytest.mark.slow


def record(run: str) -> dict:
    return json.loads((Path(run) / "record.json").read_text())


def history(run: str) -> list:
    return json.loads((Path(run) / "history.json").read_text())


def weights(run: str) -> list:
    import keras

    return [w.tolist() for w in keras.saving.load_model(Path(run) / "checkpoints" / "last.keras").get_weights()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """One spec (test_sweep's, trained as written) run first in a warm worker, again after
    other runs in the same worker, in a process of its own, and twice in a worker recycled
    after each run. The three `run_many` calls run at once, their workers' start-ups overlapping
    (each pool's runs are in processes apart from the others': none can change another's numbers)."""
    from concurrent.futures import ThreadPoolExecutor

    from specc.sweep.workers import PoolOptions, run_many

    folder = tmp_path_factory.mktemp("warm")
    a = str(write_spec(folder, epochs=4))
    wider = (a, ["model.layers[0].dense.units=32", "optimizer.adam.learning_rate=0.05"])
    with ThreadPoolExecutor(3) as pool:
        warm = pool.submit(run_many, [a, wider, (a, ["train.epochs=2"]), a], runs_dir=str(folder / "runs"),
                           logs=str(folder / "warm"))
        alone = pool.submit(run_many, [a], runs_dir=str(folder / "runs"), options=PoolOptions(mode="process"))
        recycled = pool.submit(run_many, [a, a], runs_dir=str(folder / "runs"),
                               options=PoolOptions(recycle_trials=1))
        return {"warm": warm.result(), "process": alone.result(), "recycled": recycled.result()}


def test_a_run_after_others_in_a_warm_worker_is_bit_identical_to_the_same_run_first(runs):
    first, other, shorter, again = runs["warm"]
    assert [o.code for o in runs["warm"]] == [0, 0, 0, 0], [o.log.read_text() for o in runs["warm"]]
    assert len({record(o.run)["host"]["pid"] for o in runs["warm"]}) == 1  # one worker ran them all
    assert len(history(shorter.run)) == 2 and len(history(again.run)) == 4
    assert history(again.run) == history(first.run)
    assert weights(again.run) == weights(first.run)


def test_a_run_in_a_warm_worker_is_bit_identical_to_one_in_a_process_of_its_own(runs):
    [alone] = runs["process"]
    first = runs["warm"][0]
    assert alone.code == 0, alone.log.read_text()
    assert record(alone.run)["host"]["pid"] != record(first.run)["host"]["pid"]
    assert history(alone.run) == history(first.run)
    assert weights(alone.run) == weights(first.run)


def test_a_worker_recycled_after_each_run_gives_each_run_a_new_worker(runs):
    one, two = runs["recycled"]
    assert one.code == two.code == 0
    assert record(one.run)["host"]["pid"] != record(two.run)["host"]["pid"]
    assert history(one.run) == history(two.run) == history(runs["warm"][0].run)


def test_trials_past_the_memory_bound_or_the_time_limit_fail_alone_and_the_sweep_goes_on(tmp_path):
    """A grid of widths and epochs, two trials at a time: a layer of 8 million units (gigabytes)
    passes --max-worker-mb, 100,000 epochs pass --trial-timeout; each such trial's worker is
    killed and replaced, the trial fails with the reason, and the one small and short trial
    completes (while another trial runs beside it)."""
    write_spec(tmp_path, epochs=3, extra="    train.epochs: {choice: [3, 100000]}\n  sampler: grid\n")
    text = (tmp_path / "spec.yaml").read_text().replace("choice: [4, 8, 16]", "choice: [4, 8000000]")
    (tmp_path / "spec.yaml").write_text(text.replace("log_uniform: [1.0e-3, 1.0e-1]", "choice: [0.01]"))
    done = subprocess.run(command("--trials", "4", "--max-worker-mb", "1800", "--trial-timeout", "15", parallel=2),
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    trials = {(t.params["model.layers[0].dense.units"], t.params["train.epochs"]): t
              for t in study(tmp_path).get_trials()}
    assert sorted(trials) == [(4, 3), (4, 100000), (8000000, 3), (8000000, 100000)]
    assert trials[4, 3].state.name == "COMPLETE"
    assert "past the time limit of 15 s" in trials[4, 100000].user_attrs["error"]
    assert "past the bound of 1800 MB" in trials[8000000, 3].user_attrs["error"]
    assert all(t.state.name == "FAIL" for key, t in trials.items() if key != (4, 3))
    assert "past the bound of 1800 MB" in done.stdout and "past the time limit" in done.stdout


def test_ctrl_c_stops_the_warm_workers_trials_and_queues_them_again(tmp_path):
    """SIGINT to the sweep's process group, as Ctrl-C at a terminal: the workers ignore it, the
    driver stops each trial once (SIGTERM), their runs keep their epochs and say interrupted,
    the trials are queued again, and no worker is left; exit 130, no traceback."""
    write_spec(tmp_path, epochs=60)
    process = start(tmp_path)
    try:
        wait_for_two_runs_training(tmp_path, process, epochs=60)
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=300)
    finally:
        kill_group(process)
    out = (tmp_path / "first.log").read_text()
    assert code == 130, out
    assert "stopped; the same `specc sweep` command continues it" in out and "Traceback" not in out
    records = sweep_runs(tmp_path)
    assert sorted(r["status"] for r in records.values()) == ["interrupted", "interrupted"]
    trials = study(tmp_path).get_trials()
    assert sorted(t.state.name for t in trials) == ["FAIL", "FAIL", "WAITING", "WAITING"]
    assert not _group_alive(process.pid)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
