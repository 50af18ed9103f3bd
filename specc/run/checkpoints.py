"""Checkpoint files that change together: best.keras, last.keras and state.json are one unit.

A resumed run reads last.keras (weights and optimizer state) and state.json (the epoch, the
best value, the layers' random state) together; if a kill fell between writing one and the
other, the run would resume from weights one epoch ahead of its state. So a checkpoint is
committed with a redo log:

1. every new file is written beside its final name as `.<name>.next.<ext>`, flushed to disk;
2. `commit.json` is written atomically, naming each file and the sha256 of its new content:
   this is the moment the new checkpoint exists;
3. each `.next` file is renamed over its final name;
4. `commit.json` is removed.

`recover` runs before a checkpoint folder is read: with no `commit.json` it removes `.next`
files (a commit that never happened: the old files stand); with one, it finishes the renames
(the new files stand). Either way best, last and state agree. state.json also holds the
sha256 of the last.keras it goes with, and `read_state` checks it. No TensorFlow here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from specc.errors import UsageError
from specc.project import file_sha256 as sha256
from specc.run.records.files import atomic_write_json, fsync_file, fsync_folder, strict_json

COMMIT = "commit.json"
BEST = "best.keras"
LAST = "last.keras"
STATE = "state.json"
# Every file a commit may hold: `commit` writes no other, so `recover` accepts no other name
# from a commit log (a received run folder's log could name `/home/you/.bashrc` or `../x`).
COMMITTED = (BEST, LAST, STATE)


def next_name(name: str) -> str:
    """`.last.next.keras` for last.keras (Keras saves only to a `.keras` name)."""
    stem, dot, suffix = name.rpartition(".")
    return f".{stem}.next.{suffix}" if dot else f".{name}.next"


def commit(folder: Path, writers: dict[str, Callable[[Path], None]]) -> dict[str, str]:
    """Write the files of one checkpoint (name -> function writing it to the path it is given)
    and switch them in together; return name -> sha256.

    Raises:
        ValueError: A name that is not one of COMMITTED (a bug: `recover` would refuse it).
    """
    unknown = sorted(set(writers) - set(COMMITTED))
    if unknown:
        raise ValueError(f"a checkpoint commit holds only {', '.join(COMMITTED)}, not {', '.join(unknown)}")
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    try:
        for name, write in writers.items():
            staged = folder / next_name(name)
            write(staged)
            fsync_file(staged)
            hashes[name] = sha256(staged)
    except BaseException:
        # Before the commit point: the old files stand, so the staged ones (a full disk leaves
        # one half-written) are of no use to anyone.
        for name in writers:
            (folder / next_name(name)).unlink(missing_ok=True)
        raise
    fsync_folder(folder)
    atomic_write_json(folder / COMMIT, {"files": hashes})
    _apply(folder, hashes)
    return hashes


def _apply(folder: Path, hashes: dict) -> None:
    for name in hashes:
        staged = folder / next_name(name)
        if staged.exists():
            os.replace(staged, folder / name)
    fsync_folder(folder)
    (folder / COMMIT).unlink(missing_ok=True)
    fsync_folder(folder)


def recover(folder: Path) -> Optional[str]:
    """Finish a commit that passed its commit point, or drop one that did not; say which.

    Raises:
        UsageError: A commit log names a file a commit never holds (only COMMITTED, plain
            names of this folder), or a file that is a symbolic link; or files that are
            neither staged nor in place with the content it names (the folder was changed
            by hand, or the disk lost data).
    """
    if folder.is_symlink():
        raise UsageError(f"{folder} is a symbolic link, not the run's own checkpoints folder",
                         "replace it with the folder it points to, if you trust it, or train the spec again")
    if not folder.is_dir():
        return None
    log = folder / COMMIT
    if log.exists():
        hashes = _read_log(log)
        for name, digest in hashes.items():
            _check_logged(log, name)
            staged, final = folder / next_name(name), folder / name
            if not (staged.exists() and sha256(staged) == digest) and \
                    not (final.exists() and sha256(final) == digest):
                raise UsageError(f"{folder}: the checkpoint being written when the run stopped lost {name}",
                                 "the checkpoints of this run cannot be trusted; train the spec again")
        _apply(folder, hashes)
        _drop_staged(folder)
        return "finished the checkpoint that was being written when the run stopped"
    return "dropped a checkpoint that was not complete" if _drop_staged(folder) else None


def _check_logged(log: Path, name: object) -> None:
    """A name a commit log may hold: one of COMMITTED, neither of its files a symbolic link."""
    if name not in COMMITTED:
        raise UsageError(f"{log} names {name!r}, which is not a checkpoint file (a commit holds only "
                         f"{', '.join(COMMITTED)}): the run folder was changed by hand or comes from elsewhere",
                         f"if you trust the run, delete {log} (its unfinished checkpoint is then dropped); "
                         "else train the spec again")
    for path in (log.parent / next_name(str(name)), log.parent / str(name)):
        if path.is_symlink():
            raise UsageError(f"{path} is a symbolic link, not a checkpoint this run wrote",
                             f"if you trust the run, delete {path} and {log}; else train the spec again")


def _read_log(log: Path) -> dict:
    try:
        data = strict_json(log.read_text(encoding="utf-8"))
        hashes = data["files"]
    except (ValueError, KeyError, TypeError, OSError):
        # the log is written atomically, so a damaged one was never the commit point
        log.unlink(missing_ok=True)
        return {}
    return hashes if isinstance(hashes, dict) else {}


def _drop_staged(folder: Path) -> bool:
    staged = [p for p in folder.iterdir() if p.name.startswith(".") and ".next." in p.name + "."]
    for path in staged:
        path.unlink(missing_ok=True)
    return bool(staged)


def read_state(folder: Path, run_id: str, repair: bool = True) -> Optional[dict]:
    """The resume state of a checkpoint folder (None when no checkpoint was ever committed),
    checked against the last.keras it names. `repair=False` reads without finishing or dropping
    a commit (a worker of a multi-worker run that is not the chief writes nothing).

    Raises:
        UsageError: state.json cannot be read, or it belongs to another last.keras.
    """
    if repair:
        recover(folder)
    path = folder / STATE
    if not path.exists():
        return None
    try:
        state = strict_json(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise UsageError(f"run {run_id}: its resume state {path} is damaged ({exc})",
                         "restore it from a copy, or train the spec again") from None
    if not isinstance(state, dict) or "epoch" not in state:
        raise UsageError(f"run {run_id}: {path} is not a specc resume state",
                         "restore it from a copy, or train the spec again")
    _check_last(folder, state, run_id)
    return state


def _check_last(folder: Path, state: dict, run_id: str) -> None:
    last = folder / LAST
    wanted = (state.get("files") or {}).get(LAST)
    if not last.exists():
        raise UsageError(f"run {run_id}: {last} is missing, but its resume state names it",
                         "restore it from a copy, or train the spec again")
    if wanted and sha256(last) != wanted:
        raise UsageError(f"run {run_id}: {last} is not the checkpoint its resume state was written with "
                         f"(epoch {state['epoch'] + 1})", "restore the run folder from a copy, or train the spec again")
