"""Where a sweep's trials run: warm workers (the default) or a process per trial.

A warm worker (`specc warm-worker`, specc/cli/worker_commands.py) imports TensorFlow once and
runs trial after trial, each in a fresh Keras state; a process per trial (`--process-per-trial`)
pays Python's and TensorFlow's start-up for each. Both hand the driver the same kind of task:
something with `pid`, `poll()`, `wait()`, `send_signal()` and `kill()`, as a `subprocess.Popen`
has, whose exit code is the trial's, so the driver's heartbeats, reaping, requeueing and
stopping are one code for both.

What a process per trial gives, a warm worker keeps: a trial that crashes its worker, or whose
worker passes `max_worker_mb` of memory or runs past `trial_timeout` (it is killed), ends like
a trial process killed; the worker is replaced for the next trial. A worker is also replaced after `recycle_trials` trials
or `recycle_growth_mb` of growth, since TensorFlow does not give all memory back.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Optional, Sequence

from specc.errors import UsageError

WORKER_COMMAND = "warm-worker"
MODES = ("warm", "process")
STOP_WAIT_SECONDS = 120  # how long a stopped trial may take to save its epoch before it is killed


@dataclass(frozen=True)
class PoolOptions:
    """How trials run: `warm` workers or a `process` per trial, and the workers' bounds."""

    mode: str = "warm"
    max_worker_mb: Optional[int] = None       # a worker (or trial process) past this RSS is killed
    recycle_trials: Optional[int] = None      # a warm worker is replaced after this many trials
    recycle_growth_mb: Optional[int] = None   # ... or once its RSS grew this much past its start
    trial_timeout: Optional[float] = None     # a trial running longer is killed (its worker with it)

    def check(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"workers can be {' or '.join(MODES)}, not {self.mode!r}")
        for name in ("max_worker_mb", "recycle_trials", "recycle_growth_mb", "trial_timeout"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"{name} takes 1 or more, got {value}")


def rss_mb(pid: int) -> Optional[int]:
    """The resident memory of a process in MB (None where /proc cannot tell: not Linux, gone)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)


def stop_processes(processes: list, wait: float = STOP_WAIT_SECONDS) -> None:
    """SIGTERM to each process that runs (a trial or a refit stops as on Ctrl-C: its run keeps
    its last epoch); one that does not end within `wait` seconds is killed."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + wait
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_pool(options: PoolOptions, log: Path) -> "ProcessPool | WarmPool":
    """The pool of `options.mode`; `log` keeps what warm workers say between tasks."""
    options.check()
    return WarmPool(options, log) if options.mode == "warm" else ProcessPool(options)


class ProcessPool:
    """A process per task: `python -m specc ARGS`, its output in the task's log."""

    def __init__(self, options: PoolOptions):
        self.options = options

    def start(self, args: Sequence[str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as output:  # the child keeps its own copy of the descriptor
            return subprocess.Popen([sys.executable, "-m", "specc", *args], stdout=output,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def prestart(self, count: int) -> None:
        pass

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        pass


class WarmPool:
    """Warm workers, started when a task needs one and none is idle; replaced when one dies,
    passes its bound, or is due for recycling."""

    def __init__(self, options: PoolOptions, log: Path):
        self.options, self.log = options, log
        self.workers: list[Worker] = []
        self.news = threading.Event()  # a worker answered (or ended)

    def prestart(self, count: int) -> None:
        """Start workers before any task: they import TensorFlow while the driver opens its study."""
        while len(self.workers) < count:
            self.workers.append(Worker(self.log, self))

    def start(self, args: Sequence[str], log: Path) -> "WarmTask":
        self.workers = [w for w in self.workers if w.task is not None or w.process.poll() is None]
        worker = next((w for w in self.workers if w.idle()), None)
        if worker is None:
            worker = Worker(self.log, self)
            self.workers.append(worker)
        return worker.give(list(args), log)

    def wait(self, seconds: float) -> None:
        """Until a worker answers, `seconds` at most: a trial that ended is seen at once."""
        self.news.wait(seconds)
        self.news.clear()

    def ended(self, worker: "Worker", answer: dict) -> None:
        """A task of `worker` ended: retire the worker if it is due."""
        options = self.options
        grown = (answer.get("rss_mb") or 0) - (worker.ready_mb or 0)
        if (options.recycle_trials and worker.tasks >= options.recycle_trials) or \
                (options.recycle_growth_mb and worker.ready_mb is not None and grown >= options.recycle_growth_mb):
            worker.retire()

    def close(self, wait: float = 30.0) -> None:
        """Idle workers end at once (one still importing is stopped); a worker that still runs a
        task finishes it (a driver that stops its trials has stopped them already)."""
        for worker in self.workers:
            worker.retire()
            if not worker.busy():
                worker.process.terminate()
        deadline = time.monotonic() + wait
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self.workers = []


class Worker:
    """One `specc warm-worker` process, and the answers it sends (read by a thread)."""

    def __init__(self, log: Path, pool: WarmPool):
        self.pool = pool
        with open(log, "ab") as errors:
            self.process = subprocess.Popen([sys.executable, "-m", "specc", WORKER_COMMAND], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1)
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.commands: IO[str] = self.process.stdin
        self.answers: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True,
                                       name=f"warm-worker-{self.process.pid}")
        self.reader.start()
        self.task: Optional[WarmTask] = None
        self.tasks = 0
        self.ready_mb: Optional[int] = None
        self.retired = False

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                self.answers.put(json.loads(line))
            except ValueError:
                pass
            self.pool.news.set()
        self.answers.put(None)  # the worker ended
        self.pool.news.set()

    def idle(self) -> bool:
        self.collect()
        return self.task is None and not self.retired and self.process.poll() is None

    def busy(self) -> bool:
        self.collect()
        return self.task is not None

    def give(self, args: list, log: Path) -> "WarmTask":
        self.task = WarmTask(self, self.tasks)
        self.tasks += 1
        try:
            self.commands.write(json.dumps({"args": args, "log": str(log)}) + "\n")
            self.commands.flush()
        except OSError:  # it died: the task ends as its process would
            pass
        return self.task

    def collect(self) -> None:
        """Take the answers the worker sent so far."""
        while True:
            try:
                answer = self.answers.get_nowait()
            except queue.Empty:
                return
            if answer is None:
                continue
            if answer.get("ready"):
                self.ready_mb = answer.get("rss_mb")
            elif answer.get("started") and self.task is not None:
                self.task.started = time.monotonic()
            elif "code" in answer and self.task is not None:
                task, self.task = self.task, None
                task.code = int(answer["code"])
                self.pool.ended(self, answer)

    def retire(self) -> None:
        """No more tasks: the worker ends once its task (if any) ends."""
        self.retired = True
        try:
            self.commands.close()
        except OSError:
            pass


class WarmTask:
    """A task given to a warm worker, seen as a process: its exit code is the command's, or,
    when the worker died during it, the worker's (-9: killed)."""

    def __init__(self, worker: Worker, index: int):
        self.worker, self.index = worker, index
        self.code: Optional[int] = None
        self.started: Optional[float] = None  # when the worker began it (it may still be warming up)

    @property
    def pid(self) -> int:
        return self.worker.process.pid

    def poll(self) -> Optional[int]:
        self.worker.collect()
        if self.code is not None:
            return self.code
        ended = self.worker.process.poll()
        if ended is None:
            return None
        self.worker.reader.join(timeout=5)  # its last answer may still be in the pipe
        self.worker.collect()
        if self.code is None:
            self.code = ended if ended != 0 else 1  # it ended without answering: as a crash
            self.worker.task = None
            self.worker.retired = True
        return self.code

    def wait(self, timeout: Optional[float] = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(WORKER_COMMAND, timeout or 0)
            time.sleep(0.05)
        return code

    def send_signal(self, signum: int) -> None:
        """SIGTERM stops the task as it stops a trial process (its run keeps its last epoch);
        the worker then ends: it is stopped with its task."""
        if self.poll() is None:
            self.worker.retire()
            self.worker.process.send_signal(signum)

    def kill(self) -> None:
        if self.poll() is None:
            self.worker.retire()
            self.worker.process.send_signal(signal.SIGKILL)


@dataclass
class RunOutcome:
    """How one `specc train` of `run_many` ended: its exit code (0: trained), its log, its run
    folder (None unless it trained)."""

    spec: str
    overrides: tuple
    code: int
    log: Path
    run: Optional[str]


def run_many(jobs: Sequence[Any], parallel: int = 1, runs_dir: Optional[str] = None, logs: Optional[str] = None,
             options: PoolOptions = PoolOptions()) -> list[RunOutcome]:
    """Train many specs (or one spec with many `--set` overrides) in `parallel` warm workers:
    TensorFlow's start-up is paid once per worker, and each run starts in a fresh Keras state.

        outcomes = specc.run_many(["a.yaml", ("a.yaml", ["train.epochs=5"])], parallel=2)

    Args:
        jobs: Spec files, or (spec file, overrides) pairs; each is one `specc train --quiet`.
        runs_dir: Where the run records go (default: each spec's train.runs_dir).
        logs: The folder of each run's log, run-NNNN.log (default: a new temporary folder).
        options: `PoolOptions(mode="process")` starts a process per run instead; the bounds.

    Returns:
        One outcome per job, in the order given (a failed run has its exit code and log; the
        next runs go on).

    Raises:
        UsageError: `parallel` below 1, or bad options.
    """
    import tempfile

    if parallel < 1:
        raise UsageError(f"run_many takes 1 or more workers, got {parallel}")
    folder = Path(logs or tempfile.mkdtemp(prefix="specc-runs-"))
    folder.mkdir(parents=True, exist_ok=True)
    pool = open_pool(options, folder / "workers.log")
    outcomes = [_outcome(i, job, folder) for i, job in enumerate(jobs)]
    waiting = list(range(len(outcomes)))
    running: dict[int, Any] = {}  # index of the job -> its task
    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                index = waiting.pop(0)
                running[index] = pool.start(_train_args(outcomes[index], runs_dir), outcomes[index].log)
            for index, task in list(running.items()):
                if task.poll() is not None:
                    del running[index]
                    outcomes[index].code = task.poll()
                    outcomes[index].run = _run_folder(outcomes[index].code, outcomes[index].log)
            pool.wait(0.5)
    finally:
        stop_processes(list(running.values()))
        pool.close()
    return outcomes


def _outcome(index: int, job: Any, folder: Path) -> RunOutcome:
    """The outcome of a job not yet run (code -1)."""
    spec, overrides = (job, ()) if isinstance(job, (str, os.PathLike)) else (job[0], tuple(job[1]))
    return RunOutcome(str(spec), overrides, -1, folder / f"run-{index:04d}.log", None)


def _train_args(outcome: RunOutcome, runs_dir: Optional[str]) -> list:
    args = ["train", outcome.spec, "--quiet", *[p for o in outcome.overrides for p in ("--set", o)]]
    return args + (["--runs-dir", str(runs_dir)] if runs_dir else [])


def _run_folder(code: int, log: Path) -> Optional[str]:
    """`specc train --quiet` ends its output with the run's folder."""
    if code != 0 or not log.is_file():
        return None
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines and Path(lines[-1].strip()).is_dir() else None
