"""One writer per run: an OS file lock on the run folder, held while a process trains,
resumes or exports the run. A second writer is refused at once with the holder named (its
process, host and start time), instead of colliding on the run's files. The lock goes with
the process: a killed holder leaves no stale lock behind. No TensorFlow here.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Optional

from specc.errors import UsageError
from specc.run.records.provenance import timestamp

LOCK = ".lock"


class RunLock:
    """`with RunLock(run_path, run_id, "training"):` -- the run is this process's to write."""

    def __init__(self, path: Path, run_id: str, doing: str):
        self.path, self.run_id, self.doing = Path(path), run_id, doing
        self.handle: Optional[IO[str]] = None

    def acquire(self) -> "RunLock":
        """Take the lock, or raise UsageError naming who holds it."""
        handle = open(self.path / LOCK, "a+", encoding="utf-8")
        if not _try_lock(handle):
            holder = _holder(handle)
            handle.close()
            raise UsageError(f"run {self.run_id} is being written by another process: {holder}",
                             "a run has one writer at a time: wait for it to end, or stop it")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "doing": self.doing,
                                 "since": timestamp(), "command": " ".join(sys.argv[:3])}))
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            _unlock(self.handle)
            self.handle.close()
            self.handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire() if self.handle is None else self

    def __exit__(self, kind: Optional[type], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self.release()


def held(path: Path) -> Optional[bool]:
    """Whether a live process holds the run folder's lock (None: it has no lock file, an older
    run). The lock dies with its holder, so a run left `running` by a killed process (SIGKILL,
    SIGSEGV, the kernel's OOM killer) shows as not held."""
    if os.name == "nt":  # pragma: no cover
        return None
    import fcntl

    try:
        fd = os.open(Path(path) / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released at once, by the close below
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _holder(handle: IO[str]) -> str:
    try:
        handle.seek(0)
        info: Any = json.loads(handle.read() or "{}")
    except ValueError:
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "a process that has just started"
    return (f"process {info.get('pid')} on {info.get('host')}, {info.get('doing', 'writing')} since "
            f"{info.get('since')}")


def _try_lock(handle: IO[str]) -> bool:
    if os.name == "nt":  # pragma: no cover - POSIX is what specc is tested on
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(handle: IO[str]) -> None:
    if os.name == "nt":  # pragma: no cover
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
