"""Find runs by id, prefix, name or folder, and list them (`specc runs list`). No TensorFlow."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Optional

from specc.errors import UsageError
from specc.run.records.fields import metrics_mistake, record_mistake
from specc.run.records.files import PathLike, read_json
from specc.run.records.lock import held
from specc.run.records.record import METRICS, RECORD, RunRecord

# --- finding runs --------------------------------------------------------------------------

def _missing(ref: str, runs_dir: Path) -> UsageError:
    return UsageError(f"no run '{ref}' under {runs_dir.as_posix().rstrip('/')}/",
                      hint="`specc runs list` shows the runs")


def _is_run(folder: Path) -> bool:
    return (folder / RECORD).is_file()


def _run_folders(runs_dir: Path, name: Optional[str] = None) -> list:
    """Every run folder under runs_dir/<name>/ (all names when name is None)."""
    if not runs_dir.is_dir():
        return []
    parents = [runs_dir / name] if name is not None else sorted(p for p in runs_dir.iterdir() if p.is_dir())
    found: list[Path] = []
    for parent in parents:
        if not parent.is_dir():
            continue
        found.extend(child for child in parent.iterdir() if child.is_dir() and _is_run(child))
    return found


def _sort_key(folder: Path) -> tuple:
    """Newest first by created time, then by id (ids start with the time too)."""
    try:
        created = str((read_json(folder / RECORD) or {}).get("created") or "")
    except (OSError, ValueError):
        created = ""
    return (created, folder.name)


def _newest(folders: list) -> list:
    return sorted(folders, key=_sort_key, reverse=True)


def find_run(ref: str, runs_dir: PathLike = "runs") -> RunRecord:
    """A run by folder path, id, unique id prefix, `NAME/ID`, `NAME` or `NAME/latest`.

    `NAME` and `NAME/latest` are the newest run of that spec. Raises UsageError when nothing or
    more than one run matches (the message lists the candidates).
    """
    runs_dir = Path(runs_dir)
    ref = str(ref).strip()
    if not ref:
        raise _missing(ref, runs_dir)
    direct = Path(ref).expanduser()
    if _is_run(direct):
        return RunRecord.open(direct)
    if _is_run(runs_dir / ref):
        return RunRecord.open(runs_dir / ref)
    name, _, rest = ref.rstrip("/").partition("/")
    if rest in ("", "latest") and "/" not in name and (runs_dir / name).is_dir() \
            and not _is_run(runs_dir / name):
        runs = _newest(_run_folders(runs_dir, name))
        if runs:
            return RunRecord.open(runs[0])
        raise UsageError(f"no runs of '{name}' under {runs_dir.as_posix().rstrip('/')}/",
                         hint="`specc runs list` shows the runs")
    if "/" in ref.rstrip("/"):
        # NAME/PREFIX: an id prefix within one spec's runs
        candidates = [f for f in _run_folders(runs_dir, name) if f.name.startswith(rest)] \
            if (runs_dir / name).is_dir() else []
    else:
        every = _run_folders(runs_dir)
        exact = [f for f in every if f.name == ref]
        candidates = exact or [f for f in every if f.name.startswith(ref)]
    if not candidates:
        raise _missing(ref, runs_dir)
    if len(candidates) > 1:
        shown = [f"{f.parent.name}/{f.name}" for f in _newest(candidates)]
        more = f" (and {len(shown) - 10} more)" if len(shown) > 10 else ""
        raise UsageError(f"'{ref}' matches {len(shown)} runs: {', '.join(shown[:10])}{more}",
                         hint="give more of the run id, or NAME/ID")
    return RunRecord.open(candidates[0])


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # cannot tell: assume it is
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _dead(folder: Path, pid: Any) -> bool:
    """The process that ran a `running` run is gone: its lock is free (a pid may be reused)."""
    locked = held(folder)
    return not _pid_alive(pid) if locked is None else not locked


def summarize(folder: Path) -> dict:
    """One row of `list_runs` for a run folder."""
    damaged = []  # one damaged run is shown as such; the others are listed as ever
    try:
        record = read_json(folder / RECORD) or {}
    except (OSError, ValueError):
        record = {"status": "unreadable"}
    if record_mistake(record):
        damaged.append(f"{RECORD}: {record_mistake(record)}")
        record = {"status": "unreadable"}
    try:
        metrics = read_json(folder / METRICS, default={}) or {}
    except (OSError, ValueError):
        metrics = {}
    if metrics_mistake(metrics):
        damaged.append(f"{METRICS}: {metrics_mistake(metrics)}")
        metrics = {}
    status = record.get("status")
    host = record.get("host") or {}
    stale = status == "running" and host.get("hostname") == socket.gethostname() and _dead(folder, host.get("pid"))
    best = record.get("best") or {}
    return {
        "id": record.get("run_id") or folder.name,
        "name": record.get("name") or folder.parent.name,
        "status": status,
        "stale": stale,  # "running", but the process that ran it is gone
        "created": record.get("created"),
        "finished": record.get("finished"),
        "epochs": record.get("epochs_completed"),
        "best": best if best.get("value") is not None else None,
        "test": metrics.get("test"),
        "spec_hash": record.get("spec_hash"),
        "overrides": record.get("overrides"),
        "sweep": record.get("sweep"),
        "path": str(folder),
        "damaged": "; ".join(damaged) or None,
    }


def list_runs(runs_dir: PathLike = "runs", name: Optional[str] = None, status: Optional[str] = None,
              sweep: Optional[str] = None) -> list:
    """Every run under runs_dir (only `name`'s when given), newest first, as summary dicts:
    id, name, status, stale, created, finished, epochs, best, test (metrics), spec_hash,
    overrides, sweep, path, damaged (what is wrong with its record or metrics file, or None). `status` and `sweep` (a sweep's id) keep only the runs that match."""
    rows = [summarize(f) for f in _newest(_run_folders(Path(runs_dir), name))]
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    if sweep is not None:
        rows = [r for r in rows if isinstance(r["sweep"], dict) and r["sweep"].get("id") == sweep]
    return rows


def spec_values(run_path: PathLike, paths: list) -> dict:
    """{path: value} of the resolved spec a run used (spec.yaml), for `--set`-style paths
    (`optimizer.adam.learning_rate`, `model.layers[0].dense.units`); None where it has none.

    Raises:
        UsageError: A path that is not a `--set` path.
    """
    from specc.load.overrides import path_parts

    spec = RunRecord(run_path, Path(run_path).name, Path(run_path).parent.name).spec()
    return {path: _value_at(spec, path_parts(path)) for path in paths}


def _value_at(node: Any, parts: list) -> Any:
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
