"""device.strategy multi_worker: workers on 127.0.0.1 (TF_CONFIG, --workers, Ray), mirrored over
two logical CPUs, a killed worker, resume, and what validate and the flags refuse.

Every worker is a process of its own (MultiWorkerMirroredStrategy must be set up before
TensorFlow runs anything in its process). Real TensorFlow, the real wine data, no mocks.

Tolerance of "the same as one process": 2e-3 absolute on every final metric. Each replica
takes half of each global batch, weighted so that the sum over the replicas of its mean loss
is the mean over the global batch (run/distributed.py); the gradients are all-reduced as sums.
What changes is only the order of float32 additions (two partial sums instead of one), about
1e-7 relative per step, which 5 epochs x 8 steps of RMSprop (lr 1e-2) amplify; measured here
the final metrics agree to 4 decimals (README, Multi-worker training). 2e-3 is well below
what any real difference in training makes (one wine test sample changes accuracy by 0.028).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from specc.cli import main
from specc.errors import EXIT_CLUSTER, UsageError
from specc.run.cluster import from_environment, from_flags
from specc.run.launch import local_addresses, tf_config

ROOT = Path(__file__).resolve().parents[1]
WINE = str(ROOT / "specs" / "mlp-wine.yaml")
TOLERANCE = 2e-3
BOUND = 120  # seconds a surviving worker may take to stop once a peer is killed (measured: ~2 s)

# One worker: trains through the library with the TF_CONFIG it is given, and saves its final
# weights itself (a worker that is not the chief writes nothing into the run folder).
WORKER = """
import sys, numpy as np, keras
from specc.api import load_and_check, resolved_spec
from specc.run.train import TrainOptions, train

spec, runs, out, *sets = sys.argv[1:]
class Keep(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        np.savez(out, *self.model.get_weights())
doc, _ = load_and_check(spec, sets)
outcome = train(resolved_spec(doc), spec, options=TrainOptions(runs_dir=runs, callbacks=[Keep()]))
print("RECORD", outcome.record.path if outcome.record else None, flush=True)
"""


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def _specc(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "specc", *args], env=env or _env(), capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def _record(runs: Path) -> dict:
    [folder] = list((runs / "mlp-wine").iterdir())
    record = json.loads((folder / "record.json").read_text())
    record["metrics"] = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() \
        else None
    record["folder"] = folder
    return record


def _assert_close(metrics: dict, reference: dict) -> None:
    for split, values in reference.items():
        for name, value in values.items():
            assert abs(metrics[split][name] - value) <= TOLERANCE, (split, name, metrics[split][name], value)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict:
    """mlp-wine, 5 epochs, one process, one device: the reference."""
    runs = tmp_path_factory.mktemp("one")
    done = _specc("train", WINE, "--set", "train.epochs=5", "--runs-dir", str(runs), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    return _record(runs)


def test_two_workers_from_tf_config_agree_and_match_one_process(one_process, tmp_path):
    runs = tmp_path / "runs"
    addresses = local_addresses(2)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, WINE, str(runs), str(tmp_path / f"w{rank}.npz"),
                                 "device.strategy=multi_worker", "train.epochs=5"],
                                env=_env(TF_CONFIG=tf_config(addresses, rank)), cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for rank in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert "RECORD None" in outputs[1]  # the other worker wrote nothing
    chief, other = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(chief.files) == len(other.files) > 0
    for name in chief.files:
        assert np.array_equal(chief[name], other[name]), name  # bit-identical on both workers
    record = _record(runs)
    assert [p.name for p in runs.iterdir()] == ["mlp-wine"]  # one run folder, the chief's
    assert record["status"] == "completed"
    assert record["workers"]["count"] == 2 and record["workers"]["from"] == "TF_CONFIG"
    assert record["workers"]["addresses"] == addresses and record["workers"]["chief"] == addresses[0]
    assert record["workers"]["global_batch"] == 16 and record["workers"]["per_worker_batch"] == [8, 8]
    assert record["workers"]["weights_agree"] is True
    _assert_close(record["metrics"], one_process["metrics"])


def test_workers_flag_launches_local_workers(tmp_path):
    runs = tmp_path / "runs"
    done = _specc("train", WINE, "--workers", "2", "--set", "train.epochs=2", "--runs-dir", str(runs))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2 local worker(s): 127.0.0.1:" in done.stdout
    assert "epoch 2/2" in done.stdout  # the chief's progress, streamed
    record = _record(runs)
    assert record["status"] == "completed" and record["workers"]["count"] == 2
    assert "device.strategy=multi_worker" in record["overrides"]
    assert all(a.startswith("127.0.0.1:") for a in record["workers"]["addresses"])


def test_mirrored_over_two_cpus_matches_one_device(one_process, tmp_path):
    runs = tmp_path / "runs"
    done = _specc("train", WINE, "--set", "train.epochs=5", "--set", "device.strategy=mirrored",
                  "--set", "device.devices=2", "--runs-dir", str(runs), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    record = _record(runs)
    assert record["device"]["replicas"] == 2
    _assert_close(record["metrics"], one_process["metrics"])


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> dict:
    """Two TF_CONFIG workers of a 40-epoch run; worker 1 is killed (SIGKILL) after epoch 3."""
    runs = tmp_path_factory.mktemp("killed")
    addresses = local_addresses(2)
    args = [sys.executable, "-m", "specc", "train", WINE, "--set", "device.strategy=multi_worker",
            "--set", "train.epochs=40", "--runs-dir", str(runs)]
    workers = [subprocess.Popen(args, env=_env(TF_CONFIG=tf_config(addresses, rank)), cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in range(2)]
    chief, other = workers
    seen = []
    assert chief.stdout is not None
    for line in chief.stdout:
        seen.append(line)
        if line.split()[:2] == ["epoch", "3/40"]:
            break
    other.kill()
    other.wait()
    rest = chief.communicate(timeout=BOUND)[0]  # bounded: raises TimeoutExpired instead of hanging
    return {"code": chief.returncode, "output": "".join(seen) + rest, "runs": runs}


def test_killed_worker_stops_the_others_with_a_clear_error(killed):
    assert killed["code"] == EXIT_CLUSTER, killed["output"][-2000:]
    assert "worker 1 at 127.0.0.1:" in killed["output"] and "was lost" in killed["output"]
    assert "Traceback" not in killed["output"]
    record = _record(killed["runs"])
    assert record["status"] == "failed" and "was lost" in record["message"]
    checkpoints = record["folder"] / "checkpoints"
    state = json.loads((checkpoints / "state.json").read_text())
    assert 3 <= state["epoch"] + 1 <= record["epochs_completed"] < 40
    assert not (checkpoints / "interrupted.keras").exists()  # half-updated weights are not kept
    assert not [p for p in record["folder"].rglob("*") if ".tmp" in p.name]  # no half-written file
    import keras

    keras.saving.load_model(checkpoints / "last.keras")  # whole, not corrupted


def test_resume_with_workers_continues_the_killed_run(killed):
    record = _record(killed["runs"])
    done = _specc("train", "--resume", str(record["folder"]), "--workers", "2", "--quiet")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    resumed = _record(killed["runs"])
    assert resumed["status"] == "completed" and resumed["epochs_completed"] == 40
    history = json.loads((record["folder"] / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, 41))  # each epoch once, none lost


def _ctrl_c_as_at_a_terminal() -> None:
    """SIGINT as a terminal's foreground job has it: a test runner started in the background
    by a shell (`pytest &`) has SIGINT ignored, which its children would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _two_workers_at_epoch_3(tmp_path):
    """`specc train --workers 2` of a long wine run, once the chief has reported epoch 3."""
    launcher = subprocess.Popen([sys.executable, "-m", "specc", "train", WINE, "--workers", "2", "--set",
                                 "train.epochs=200", "--runs-dir", str(tmp_path)], env=_env(), cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=_ctrl_c_as_at_a_terminal)
    assert launcher.stdout is not None
    for line in launcher.stdout:
        if line.split()[:2] == ["epoch", "3/200"]:
            break
    return launcher


@pytest.mark.parametrize("victim", [1, 0])
def test_workers_flag_stops_every_worker_when_one_is_killed(tmp_path, victim):
    launcher = _two_workers_at_epoch_3(tmp_path)
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(launcher.pid)], capture_output=True,
                              text=True).stdout.split()
    assert len(children) == 2
    os.kill(int(children[victim]), 9)
    output = launcher.communicate(timeout=BOUND)[0]
    assert launcher.returncode == EXIT_CLUSTER, output[-2000:]
    assert f"worker {victim} (127.0.0.1:" in output and "was killed by signal 9" in output
    assert "Traceback" not in output
    assert not subprocess.run(["ps", "-o", "pid=", "--ppid", str(launcher.pid)], capture_output=True,
                              text=True).stdout.split()  # no worker left behind
    record = _record(tmp_path)
    assert record["status"] == "failed"  # a killed chief's record is marked by the launcher
    assert ("the chief (worker 0" in record["message"]) == (victim == 0)


def test_workers_flag_ctrl_c_interrupts_every_worker(tmp_path):
    launcher = _two_workers_at_epoch_3(tmp_path)
    launcher.send_signal(2)  # SIGINT, as Ctrl-C: the launcher passes it on to every worker
    output = launcher.communicate(timeout=BOUND)[0]
    assert launcher.returncode == 130, output[-2000:]
    record = _record(tmp_path)
    assert record["status"] == "interrupted" and record["epochs_completed"] >= 3
    assert (record["folder"] / "checkpoints" / "last.keras").exists()


@pytest.mark.parametrize("spec, words", [
    ("gan-digits.yaml", "a gan task cannot train with multi_worker"),
    ("protonet-digits.yaml", "a few_shot task cannot train with multi_worker"),
])
def test_validate_refuses_multi_worker_where_it_cannot_run(spec, words):
    result = CliRunner().invoke(main, ["validate", str(ROOT / "specs" / spec), "--set",
                                       "device.strategy=multi_worker"])
    assert result.exit_code == 1 and words in result.output


def test_validate_accepts_multi_worker_for_supervised_and_autoencoder():
    for spec in ("mlp-wine.yaml", "autoencoder-digits.yaml"):
        result = CliRunner().invoke(main, ["validate", str(ROOT / "specs" / spec), "--set",
                                           "device.strategy=multi_worker"])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, words", [
    (["--ray", "auto"], "--ray needs --workers"),
    (["--workers", "0"], "--workers 0"),
    (["--workers", "2", "--cluster", "127.0.0.1:1,127.0.0.1:2"], "--workers starts its own workers"),
    (["--worker-index", "1"], "--worker-index needs --cluster"),
    (["--workers", "2", "--set", "device.strategy=mirrored"], "the spec says mirrored"),
    (["--workers", "2", "--set", "device.strategy=multi_worker", "--set", "batch.accumulate=2"],
     "batch.accumulate is not supported with multi_worker"),
])
def test_bad_flags_are_clear_errors(args, words):
    result = CliRunner().invoke(main, ["train", WINE, *args])
    assert result.exit_code in (1, 2), result.output
    assert words in result.output and "Traceback" not in result.output


def test_cluster_flags_and_tf_config_are_checked():
    cluster = from_flags(["10.0.0.1:2222", "10.0.0.2:2222"], 1)
    assert (cluster.rank, cluster.is_chief, cluster.size) == (1, False, 2)
    assert json.loads(cluster.tf_config())["task"] == {"type": "worker", "index": 1}
    chief = from_environment({"TF_CONFIG": json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:2"]},
                                                       "task": {"type": "worker", "index": 0}})})
    assert chief is not None and chief.rank == 1 and chief.addresses == ["a:1", "b:2"]
    for bad, words in [(["10.0.0.1"], "is not host:port"), (["a:1", "a:1"], "twice")]:
        with pytest.raises(UsageError, match=words):
            from_flags(bad, 0)
    with pytest.raises(UsageError, match="outside"):
        from_flags(["a:1", "b:2"], 2)
    with pytest.raises(UsageError, match="not JSON"):
        from_environment({"TF_CONFIG": "{nope"})
    with pytest.raises(UsageError, match="evaluator"):
        from_environment({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"], "evaluator": ["b:2"]},
                                                   "task": {"type": "worker", "index": 0}})})


def test_ray_launcher_trains_on_a_local_ray(tmp_path):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.train.tensorflow")
    from specc.report import Collected
    from specc.run.ray_launch import launch_ray

    runs = tmp_path / "runs"
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        reporter = Collected()
        code = launch_ray([WINE, "--set", "device.strategy=multi_worker", "--set", "train.epochs=2",
                           "--runs-dir", str(runs), "--quiet"], 2, "auto", reporter)
    finally:
        ray.shutdown()
    assert code == 0 and "Ray Train: 2 worker(s)" in reporter.lines[0]
    record = _record(runs)
    assert record["status"] == "completed" and record["workers"]["count"] == 2
    assert record["workers"]["from"] == "TF_CONFIG"


def test_ray_without_a_cluster_is_a_clear_error():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.train.tensorflow")
    if ray.is_initialized():
        pytest.skip("a Ray instance is running in this process")
    result = CliRunner().invoke(main, ["train", WINE, "--ray", "auto", "--workers", "2"],
                                env={"RAY_ADDRESS": ""})
    assert result.exit_code == 2, result.output
    assert "cannot reach the Ray cluster at 'auto'" in result.output and "Traceback" not in result.output
