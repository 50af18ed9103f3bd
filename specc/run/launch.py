"""`specc train SPEC --workers N`: N local worker processes on 127.0.0.1, as `torchrun` starts them.

Each worker is `python -m specc train ...` with its own `TF_CONFIG` (worker i of N, every
worker's 127.0.0.1 port); worker 0 is the chief. The chief's output is streamed line by line
to the reporter; the others' is kept (its last lines are shown when that worker fails). When
one worker fails, the others stop on their own (specc's step sees the lost peer within
seconds, distributed.py) or, after `GRACE` seconds, are stopped: a run never hangs. No
TensorFlow here: the launcher only starts processes.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Optional, Sequence

from specc.errors import EXIT_CLUSTER, EXIT_INTERRUPTED, ClusterError, UsageError
from specc.report import SILENT, Reporter
from specc.run.cluster import TF_CONFIG

GRACE = 30.0      # seconds the others get to stop on their own once one worker failed
TERMINATE = 10.0  # seconds between SIGTERM and SIGKILL
POLL = 0.2
KEPT_LINES = 15   # last lines of a worker that is not the chief, shown when it fails
RUN_LINE = re.compile(r"^run (\S+): (.+)$")  # what train.py says once the run folder exists


@dataclass
class Worker:
    """One started worker process and the tail of its output."""

    rank: int
    address: str
    process: subprocess.Popen
    tail: deque = field(default_factory=lambda: deque(maxlen=KEPT_LINES))
    reader: Optional[threading.Thread] = None
    run: Optional[tuple] = None  # the chief's (run id, run folder), from its "run ID: FOLDER" line


def local_addresses(count: int) -> list[str]:
    """`count` free 127.0.0.1:port addresses (each port bound once to find it free)."""
    sockets, addresses = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            addresses.append(f"127.0.0.1:{s.getsockname()[1]}")
    finally:
        for s in sockets:
            s.close()
    return addresses


def tf_config(addresses: Sequence[str], rank: int) -> str:
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": rank}})


def check_count(count: int) -> None:
    """Raises UsageError for a worker count that cannot be launched."""
    if count < 1:
        raise UsageError(f"--workers {count}: give 1 or more workers", "e.g. --workers 2")
    cores = os.cpu_count() or 1
    if count > 4 * cores:
        raise UsageError(f"--workers {count} local processes on {cores} core(s) would only slow each other",
                         f"use at most {4 * cores} here, or a real cluster (TF_CONFIG on each machine, or --ray)")


def launch_local(train_args: Sequence[str], count: int, reporter: Reporter = SILENT,
                 grace: float = GRACE, env: Optional[dict] = None) -> int:
    """Run `specc train *train_args` as `count` workers on 127.0.0.1; return 0 when all finished.

    Args:
        train_args: The arguments of `specc train` every worker gets (spec file, --set ...,
            --runs-dir, --resume ...), without --workers.
        count: How many workers.
        reporter: Receives the chief's output, line by line, and the launcher's own lines.
        grace: Seconds the others get to stop on their own once one failed.
        env: Environment of the workers (default: this process's).

    Returns:
        0; or the chief's exit code when the chief failed first on its own (bad data, NaN, ...:
        it printed its error already).

    Raises:
        ClusterError: A worker died (killed by a signal) or lost its peers (exit 6).
        KeyboardInterrupt: Ctrl-C: every worker was asked to stop (the chief records
            `interrupted`).
    """
    check_count(count)
    addresses = local_addresses(count)
    reporter.line(f"{count} local worker(s): {', '.join(addresses)}; worker 0 is the chief")
    workers = [_start(rank, addresses, train_args, reporter, env) for rank in range(count)]
    try:
        return _watch(workers, reporter, grace)
    except KeyboardInterrupt:
        _stop(workers, signal.SIGINT, grace)
        raise KeyboardInterrupt(f"every worker was asked to stop; `specc train --resume RUN --workers {count}` "
                                "continues the run") from None
    finally:
        _stop(workers, signal.SIGTERM, TERMINATE)
        for worker in workers:
            if worker.reader is not None:
                worker.reader.join(timeout=5)


def _start(rank: int, addresses: list, train_args: Sequence[str], reporter: Reporter,
           env: Optional[dict]) -> Worker:
    environ = dict(env if env is not None else os.environ)
    environ[TF_CONFIG] = tf_config(addresses, rank)
    environ["PYTHONUNBUFFERED"] = "1"  # the chief's lines arrive as they are written
    process = subprocess.Popen([sys.executable, "-m", "specc", "train", *train_args], env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               text=True, errors="replace")
    worker = Worker(rank, addresses[rank], process)
    worker.reader = threading.Thread(target=_read, args=(worker, reporter if rank == 0 else None), daemon=True)
    worker.reader.start()
    return worker


def _read(worker: Worker, reporter: Optional[Reporter]) -> None:
    assert worker.process.stdout is not None
    for line in worker.process.stdout:
        line = line.rstrip("\n")
        worker.tail.append(line)
        found = RUN_LINE.match(line)
        if found and worker.run is None:
            worker.run = found.group(1), found.group(2)
        if reporter is not None:
            reporter.line(line)


def _watch(workers: list, reporter: Reporter, grace: float) -> int:
    """Wait for every worker; once one fails, give the others `grace` seconds, then stop them."""
    first: Optional[Worker] = None
    deadline = float("inf")
    while [w for w in workers if w.process.poll() is None]:  # a list: every worker is polled
        if first is None:
            first = _first_failed(workers)
            if first is not None:
                deadline = time.monotonic() + grace
        elif time.monotonic() > deadline:
            reporter.line(f"stopping the workers still running {grace:.0f}s after worker {first.rank} failed")
            _stop(workers, signal.SIGTERM, TERMINATE)
            break
        time.sleep(POLL)
    if first is None:
        first = _first_failed(workers)
    if first is None:
        return 0
    for worker in workers:
        if worker.reader is not None:
            worker.reader.join(timeout=5)
    code = first.process.returncode
    if workers[0].process.returncode == 0:  # the chief completed and recorded the run
        reporter.line(f"warning: {_failure(first, workers)}, after the chief completed the run")
        return 0
    if first.rank == 0 and code not in (EXIT_CLUSTER, EXIT_INTERRUPTED) and code > 0:
        return code  # the chief's own error (bad data, NaN, ...): it printed it already
    if code == EXIT_INTERRUPTED:
        raise KeyboardInterrupt(f"worker {first.rank} was interrupted; every worker stopped")
    _record_chief_death(workers[0], reporter)
    raise ClusterError(_failure(first, workers), "resume the run with the same --workers: "
                       "`specc train --resume RUN --workers N`; it continues from its last checkpoint")


def _first_failed(workers: list) -> Optional[Worker]:
    """The worker that failed first, of those that have failed: one killed by a signal, else one
    that failed on its own (not exit 6: the others' "a peer was lost"), else any."""
    failed = [w for w in workers if w.process.returncode not in (None, 0)]
    for chosen in ([w for w in failed if w.process.returncode < 0],
                   [w for w in failed if w.process.returncode != EXIT_CLUSTER], failed):
        if chosen:
            return chosen[0]
    return None


def _record_chief_death(chief: Worker, reporter: Reporter) -> None:
    """A chief killed by a signal could not say so: its record says `failed` from here (the
    others have stopped; the dead chief's lock went with it). Its checkpoints stay as they are."""
    if chief.process.returncode >= 0 or chief.run is None:
        return
    from specc.run.records import RunRecord
    from specc.run.records.lock import RunLock

    run_id, folder = chief.run
    try:
        record = RunRecord(folder, run_id, os.path.basename(os.path.dirname(folder)))
        with RunLock(record.path, run_id, "recording that its chief died"):
            if record.read().get("status") == "running":
                record.finish("failed", f"the chief (worker 0, pid {chief.process.pid}) was killed by "
                                        f"signal {-chief.process.returncode}")
    except Exception as exc:  # noqa: BLE001 - the launcher's error below matters more
        reporter.line(f"could not mark run {run_id} failed: {exc}")


def _failure(first: Worker, workers: list) -> str:
    code = first.process.returncode
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    others = [f"worker {w.rank} exited with {w.process.returncode}" for w in workers
              if w is not first and w.process.returncode not in (None, 0)]
    text = f"worker {first.rank} ({first.address}, pid {first.process.pid}) {how}"
    if others:
        text += "; then " + ", ".join(others)
    if first.rank != 0 and first.tail and code > 0:
        text += "; its last lines:\n    " + "\n    ".join(first.tail)
    return text


def _stop(workers: list, how: int, wait: float) -> None:
    """Send `how` to every worker still running; SIGKILL those still running `wait` s later."""
    running = [w for w in workers if w.process.poll() is None]
    for worker in running:
        try:
            worker.process.send_signal(how)
        except OSError:
            pass
    deadline = time.monotonic() + wait
    for worker in running:
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
