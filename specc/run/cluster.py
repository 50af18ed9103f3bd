"""The cluster of a multi-worker run: which workers there are and which one this process is.

It comes from `TF_CONFIG` (what Kubernetes TFJob, Slurm wrappers, cloud jobs and Ray Train set)
or from the command line (`--cluster host:port,... --worker-index I`), and goes to TensorFlow
as `TF_CONFIG`, which `tf.distribute.MultiWorkerMirroredStrategy` reads when it starts.

The chief is the `chief` task when the cluster has one, else worker 0 (TensorFlow's rule): it
alone writes the run record, checkpoints and exports. No TensorFlow here.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from specc.errors import UsageError

TF_CONFIG = "TF_CONFIG"
JOBS = ("chief", "worker")  # the jobs that train; others (evaluator, ps) are refused
HINT = ('TF_CONFIG is JSON: {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", '
        '"index": 0}}; or give --cluster host:port,host:port --worker-index I')


@dataclass(frozen=True)
class Cluster:
    """Every training task's address, in TensorFlow's order (chief first), and this task.

    Attributes:
        jobs: job name -> addresses (`{"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}`).
        task_type: This process's job (`worker` or `chief`).
        task_index: Its index within that job.
        source: Where the cluster came from: `TF_CONFIG`, `flags` or `single` (no cluster
            given: one worker, this process).
    """

    jobs: Mapping[str, tuple[str, ...]]
    task_type: str
    task_index: int
    source: str

    @property
    def addresses(self) -> list[str]:
        """Every worker's address, the chief first."""
        return [address for job in JOBS for address in self.jobs.get(job, ())]

    @property
    def size(self) -> int:
        return max(1, len(self.addresses))

    @property
    def rank(self) -> int:
        """This task's place in `addresses` (0 is the chief)."""
        offset = len(self.jobs.get("chief", ())) if self.task_type == "worker" else 0
        return offset + self.task_index

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    @property
    def address(self) -> str:
        return self.addresses[self.rank] if self.addresses else "this process"

    def tf_config(self) -> str:
        """The TF_CONFIG JSON of this task."""
        return json.dumps({"cluster": {job: list(addresses) for job, addresses in self.jobs.items()},
                           "task": {"type": self.task_type, "index": self.task_index}})

    def describe(self) -> str:
        """`worker 1 of 2 (127.0.0.1:2223); chief 127.0.0.1:2222`."""
        role = "the chief" if self.is_chief else f"the chief is {self.addresses[0]}"
        return f"worker {self.rank} of {self.size} ({self.address}); {role}"


def single() -> Cluster:
    """No cluster given: this process is the only worker (a one-worker MultiWorkerMirroredStrategy)."""
    return Cluster({}, "worker", 0, "single")


def from_flags(addresses: Sequence[str], index: Optional[int]) -> Cluster:
    """`--cluster a:1,b:2 --worker-index 1`: the workers in order, worker 0 the chief.

    Raises:
        UsageError: An address that is not host:port, a repeated address, or an index outside
            the list.
    """
    workers = tuple(_address(a, f"--cluster item {i + 1}") for i, a in enumerate(addresses))
    if not workers:
        raise UsageError("--cluster lists no worker", "give --cluster host:port,host:port")
    if index is None:
        raise UsageError("--cluster needs --worker-index: which of the listed workers this process is",
                         f"--worker-index 0 on {workers[0]} (the chief), 1 on the next, ...")
    _unique(workers, "--cluster")
    if not 0 <= index < len(workers):
        raise UsageError(f"--worker-index {index} is outside the {len(workers)} worker(s) of --cluster",
                         f"give 0 to {len(workers) - 1}")
    return Cluster({"worker": workers}, "worker", index, "flags")


def from_environment(environ: Optional[Mapping[str, str]] = None) -> Optional[Cluster]:
    """The cluster TF_CONFIG describes (None when TF_CONFIG is not set or names no cluster).

    Raises:
        UsageError: TF_CONFIG is not the JSON TensorFlow reads, or names a task that does not
            train (an evaluator or a parameter server) or that is not in its cluster.
    """
    text = (environ if environ is not None else os.environ).get(TF_CONFIG, "").strip()
    if not text:
        return None
    try:
        config: Any = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"TF_CONFIG is not JSON: {exc}", HINT) from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise UsageError("TF_CONFIG has no \"cluster\" mapping", HINT)
    if not config["cluster"]:
        return None
    return _parse(config["cluster"], config.get("task"))


def _parse(cluster: dict, task: Any) -> Cluster:
    other = sorted(set(cluster) - set(JOBS))
    if other:
        raise UsageError(f"TF_CONFIG names job(s) {', '.join(other)}: specc trains with chief and worker "
                         "tasks only (MultiWorkerMirroredStrategy)", "remove them from the cluster")
    jobs = {}
    for job in JOBS:
        addresses = cluster.get(job) or []
        if not isinstance(addresses, list):
            raise UsageError(f"TF_CONFIG cluster.{job} is not a list of host:port", HINT)
        if addresses:
            jobs[job] = tuple(_address(a, f"TF_CONFIG cluster.{job}") for a in addresses)
    if len(jobs.get("chief", ())) > 1:
        raise UsageError("TF_CONFIG names more than one chief", "a cluster has one chief task at most")
    _unique(tuple(a for addresses in jobs.values() for a in addresses), "TF_CONFIG")
    if not isinstance(task, dict) or task.get("type") not in JOBS or not isinstance(task.get("index"), int):
        raise UsageError("TF_CONFIG has no task {\"type\": \"worker\" or \"chief\", \"index\": N} "
                         "saying which task this process is", HINT)
    task_type, index = task["type"], task["index"]
    if not 0 <= index < len(jobs.get(task_type, ())):
        raise UsageError(f"TF_CONFIG task {task_type} {index} is not in its cluster "
                         f"({len(jobs.get(task_type, ()))} {task_type} task(s))", HINT)
    return Cluster(jobs, task_type, index, TF_CONFIG)


def _address(value: Any, where: str) -> str:
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{where}: {value!r} is not host:port", "e.g. 10.0.0.1:2222")
    return text


def _unique(addresses: tuple, where: str) -> None:
    seen = set()
    for address in addresses:
        if address in seen:
            raise UsageError(f"{where} lists {address} twice", "each worker needs its own host:port")
        seen.add(address)


def parse_cluster_flag(text: str) -> list[str]:
    """`a:1,b:2` (commas or spaces) -> ["a:1", "b:2"]."""
    return [part for part in text.replace(",", " ").split() if part]
