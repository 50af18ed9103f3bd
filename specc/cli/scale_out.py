"""The multi-worker options of `specc train`: --workers, --ray, --cluster, --worker-index.

    --workers N                   N local workers on 127.0.0.1 (specc.run.launch)
    --ray ADDRESS|auto --workers N   N Ray Train workers (specc.run.ray_launch)
    --cluster H:P,... --worker-index I   this process is worker I of that cluster
    (none of them, TF_CONFIG set)  this process is the TF_CONFIG task

A launcher's workers are `specc train` processes started with the same spec and options, so
a spec trains the same way from every launcher.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import click

from specc.errors import UsageError

MULTI_WORKER = "multi_worker"
STRATEGY_SET = "device.strategy=multi_worker"


def scale_out_options(func: Callable) -> Callable:
    func = click.option("--worker-index", type=int, metavar="I",
                        help="With --cluster: which of its workers this process is (0 is the chief).")(func)
    func = click.option("--cluster", metavar="HOST:PORT,...",
                        help="The workers of a multi_worker run, in order (instead of TF_CONFIG).")(func)
    func = click.option("--ray", "ray_address", metavar="ADDRESS|auto",
                        help="Run the --workers on a Ray cluster with Ray Train (pip install 'specc[ray]').")(func)
    func = click.option("--workers", type=int, metavar="N",
                        help="Train with N worker processes (device.strategy multi_worker): on 127.0.0.1, "
                             "or on Ray with --ray.")(func)
    return func


def check_flags(workers: Optional[int], ray_address: Optional[str], cluster: Optional[str],
                worker_index: Optional[int]) -> None:
    """Flags that cannot go together, before anything is loaded.

    Raises:
        UsageError: --ray without --workers, --workers with --cluster, --worker-index alone.
    """
    if ray_address is not None and workers is None:
        raise UsageError("--ray needs --workers N: how many workers Ray Train starts", "e.g. --ray auto --workers 2")
    if workers is not None and (cluster is not None or worker_index is not None):
        raise UsageError("--workers starts its own workers; --cluster/--worker-index describe a worker "
                         "started by you", "give either --workers N, or --cluster and --worker-index")
    if worker_index is not None and cluster is None:
        raise UsageError("--worker-index needs --cluster host:port,host:port (or TF_CONFIG, without "
                         "--worker-index)", "e.g. --cluster 10.0.0.1:2222,10.0.0.2:2222 --worker-index 1")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: give 1 or more workers", "e.g. --workers 2")


def strategy_overrides(resolved: dict, resuming: bool) -> tuple:
    """The --set a launcher adds so its workers train with multi_worker.

    Raises:
        UsageError: The spec (or the resumed run) names another strategy.
    """
    strategy = resolved["device"]["strategy"]
    if strategy == MULTI_WORKER:
        return ()
    if strategy == "auto" and not resuming:
        return (STRATEGY_SET,)
    raise UsageError(f"--workers trains with device.strategy multi_worker; the {'run' if resuming else 'spec'} "
                     f"says {strategy}", "remove device.strategy from the spec (or set it to multi_worker)"
                     if not resuming else "resume it without --workers")


def cluster_of(cluster: Optional[str], worker_index: Optional[int]) -> Any:
    """The cluster of --cluster/--worker-index (None without them: TF_CONFIG decides)."""
    if cluster is None:
        return None
    from specc.run.cluster import from_flags, parse_cluster_flag

    return from_flags(parse_cluster_flag(cluster), worker_index)


def worker_args(file: Optional[str], overrides: tuple, runs_dir: Optional[str], resume: Optional[str],
                quiet: bool, no_export: bool, trust_plugins: bool) -> list:
    """The `specc train` arguments of every worker (absolute paths: a worker may run elsewhere)."""
    args = [str(Path(file).resolve())] if file else []
    for override in overrides:
        args += ["--set", override]
    if runs_dir:
        args += ["--runs-dir", str(Path(runs_dir).resolve())]
    if resume:
        args += ["--resume", str(Path(resume).resolve()) if Path(resume).exists() else resume]
    args += ["--quiet"] if quiet else []
    args += ["--no-export"] if no_export else []
    args += ["--trust-plugins"] if trust_plugins else []
    return args


def launch(args: list, workers: int, ray_address: Optional[str], reporter: Any) -> None:
    """Start the workers and wait for them; exit with the chief's code when it failed on its own."""
    if ray_address is not None:
        from specc.run.ray_launch import launch_ray

        code = launch_ray(args, workers, ray_address, reporter)
    else:
        from specc.run.launch import launch_local

        code = launch_local(args, workers, reporter)
    if code:
        raise click.exceptions.Exit(code)
