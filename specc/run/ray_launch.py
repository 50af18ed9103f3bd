"""`specc train SPEC --ray ADDRESS|auto --workers N`: the workers as a Ray Train job.

Ray Train's `TensorflowTrainer` starts N workers on the Ray cluster and sets each one's
`TF_CONFIG` (ray/train/tensorflow/config.py); each worker then runs `python -m specc train ...`
as a process of its own, which reads that TF_CONFIG exactly as on any other cluster: the spec
runs unchanged. A process of its own, because `MultiWorkerMirroredStrategy` must be set up
before TensorFlow runs anything in its process, which a Ray worker that is reused cannot
promise. Ray also sets `TF_USE_LEGACY_KERAS=1` for its workers; specc trains with Keras 3, so
the variable is removed.

The spec file, its data and the runs folder must be at the same path on every node (shared
storage), as with TF_CONFIG. Ray is optional: `pip install 'specc[ray]'`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Optional, Sequence

from specc.errors import ClusterError, UsageError
from specc.report import SILENT, Reporter

HINT = "pip install 'specc[ray]'"


def launch_ray(train_args: Sequence[str], count: int, address: str, reporter: Reporter = SILENT,
               cwd: Optional[str] = None) -> int:
    """Run `specc train *train_args` as `count` Ray Train workers; return 0 when all finished.

    Args:
        train_args: The arguments of `specc train` every worker gets (absolute paths: the
            workers may run on other machines, and in other folders).
        count: How many workers (Ray Train's `ScalingConfig(num_workers=count)`).
        address: The Ray cluster (`auto`: the one running here, `ray://host:10001`, ...);
            ignored when Ray is already initialized in this process.
        reporter: Receives the launcher's lines (Ray prints the workers' output itself).
        cwd: The folder the workers run in (default: this one).

    Raises:
        UsageError: Ray (with Ray Train) is not installed, or the cluster cannot be reached.
        ClusterError: A worker failed or was lost (exit 6).
    """
    ray, trainer_class, scaling, run_config = _ray()
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=True)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(f"cannot reach the Ray cluster at {address!r}: {exc}",
                             "start one (`ray start --head`), or give its address: --ray ray://HOST:10001") from None
    reporter.line(f"Ray Train: {count} worker(s) on the Ray cluster; worker 0 is the chief")
    trainer = trainer_class(train_loop_per_worker=_worker,
                            train_loop_config={"args": list(train_args), "cwd": cwd or os.getcwd()},
                            scaling_config=scaling(num_workers=count, use_gpu=False),
                            run_config=run_config(name=f"specc-{os.getpid()}"))
    try:
        trainer.fit()
    except Exception as exc:  # Ray wraps the worker's error (TrainingFailedError and others)
        raise ClusterError(f"the Ray Train job failed: {_first_line(exc)}",
                           "see the workers' output above; resume with --resume RUN and the same "
                           "--ray/--workers") from None
    return 0


def _ray() -> tuple:
    try:
        import ray
        from ray.train import RunConfig, ScalingConfig
        from ray.train.tensorflow import TensorflowTrainer
    except ImportError as exc:
        raise UsageError(f"--ray needs Ray Train ({exc})", HINT) from None
    return ray, TensorflowTrainer, ScalingConfig, RunConfig


def _worker(config: dict) -> None:
    """One Ray Train worker: `specc train` in a process of its own, with the TF_CONFIG Ray set."""
    environ = dict(os.environ)
    environ.pop("TF_USE_LEGACY_KERAS", None)
    environ["PYTHONUNBUFFERED"] = "1"
    code = subprocess.call([sys.executable, "-m", "specc", "train", *config["args"]], env=environ,
                           cwd=config["cwd"])
    if code != 0:
        raise RuntimeError(f"specc train exited with code {code} on this worker")


def _first_line(exc: Any) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
