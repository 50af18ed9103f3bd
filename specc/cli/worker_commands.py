"""The hidden `specc warm-worker`: a process that imports TensorFlow once, then runs specc
commands one after another (the trials of `specc sweep`, the runs of `specc.run_many`), each as
its own `specc ...` would, in a fresh Keras state.

Its driver (specc/sweep/workers.py) writes one JSON line per command on its stdin,
`{"args": [...], "log": PATH}`; the command's output (stdout, stderr, TensorFlow's own logs)
goes to PATH; the worker answers on its stdout `{"started": true}` as it begins the command and
`{"code": EXIT CODE, "rss_mb": N}` once it ended. Before the
first command it answers `{"ready": true, "rss_mb": N}`. It ends at the end of its stdin: a
driver killed with kill -9 leaves its workers to run the commands it handed them (at most
one each), as trial processes it started would, and nothing more.
"""
from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
from typing import IO, Any, Optional

from specc.cli.group import main


@main.command("warm-worker", hidden=True)
def warm_worker() -> None:
    """Run the specc commands given on stdin, one JSON line each (see specc/sweep/workers.py)."""
    from specc.sweep.workers import rss_mb

    # Ctrl-C at the terminal reaches the driver too, which stops each trial once, with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = _Answers()  # fd 1 becomes each command's log
    _warm_up()
    gc.freeze()  # what the imports made stays: each collection after a command walks that command's objects only
    answers.send({"ready": True, "rss_mb": rss_mb(os.getpid())})
    done = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        given = json.loads(line)
        answers.send({"started": True})
        started = time.monotonic()
        code = _run_logged(given["args"], given["log"])
        answers.send({"code": code, "rss_mb": rss_mb(os.getpid()), "seconds": time.monotonic() - started})
        # cleared before the next command is read, while the driver reaps this one and asks for the next
        _fresh_keras()
        done += 1
        if done == 1:
            gc.freeze()  # the modules the first command imported as it needed them, too


def _warm_up() -> None:
    """What every trial needs, imported once: TensorFlow, Keras, Optuna, specc's run layer; and
    the data a trial loads is kept for the next."""
    from specc.run.quiet import import_tensorflow

    import_tensorflow()
    import keras  # noqa: F401

    import specc.run.train  # noqa: F401
    import specc.sweep.trial  # noqa: F401
    from specc.run.data import keep_loaded_data

    keep_loaded_data()  # trials and folds of the same data read it once
    try:
        import optuna  # noqa: F401
    except ImportError:  # a worker of specc.run_many needs no Optuna
        pass


class _Answers:
    """The worker's answers to its driver, on what was its stdout. Once the driver is gone
    (kill -9), the commands it handed over still run, as trial processes it started would (a
    trial taken for dead meanwhile steps aside); only the answers stop."""

    def __init__(self) -> None:
        self.stream: Optional[IO[str]] = os.fdopen(os.dup(sys.stdout.fileno()), "w")

    def send(self, message: dict) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(json.dumps(message) + "\n")
            self.stream.flush()
        except OSError:  # a broken pipe: the driver is gone
            stream, self.stream = self.stream, None
            try:
                stream.close()
            except OSError:
                pass


def _run_logged(args: list, log: str) -> int:
    """`specc ARGS` with fds 1 and 2 in `log`; its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    with open(log, "ab") as output:
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
    try:
        return _exit_code(args)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _fresh_keras() -> None:
    """Nothing of the last command stays for the next: Keras's graph, names and models cleared,
    memory collected (each run sets its own seeds as it starts). The collection walks only what
    was made since the last `gc.freeze()`: 0.03 s instead of 0.25 s, a tenth of a short trial."""
    import keras

    keras.backend.clear_session(free_memory=False)  # True would collect too: one collection is enough
    gc.collect()


def _exit_code(args: list) -> int:
    """Run `specc ARGS` as the command line does (errors become messages and exit codes)."""
    try:
        main.main(args=args, prog_name="specc", standalone_mode=True)
    except SystemExit as exc:
        return _code_of(exc.code)
    return 0


def _code_of(code: Any) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
