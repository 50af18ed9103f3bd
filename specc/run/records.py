"""Run records: one folder per training run, everything needed to tell runs apart and redo them.

    runs/<spec name>/<run id>/
        record.json          status, times, hashes, git, packages, device, best epoch, ...
        spec.yaml            the resolved spec (what was actually run)
        spec.source.yaml     the spec file as the user wrote it; extends files under sources/
        history.csv/.json    one row per epoch: epoch + every logged metric
        metrics.json         final metrics per split {"train": {...}, "validation": ..., "test": ...}
        curves.png           learning curves (one subplot per metric, train vs val_)
        checkpoints/ tensorboard/ exports/   written by the trainer and exporters

A run id is the UTC start time plus four hex digits of randomness (`20261121-235800-3f2a`);
the folder is created exclusively, so two runs started in the same second still get two ids.

Every file is written atomically (temp file in the same folder, fsync, `os.replace`), so a
crash leaves either the old or the new version of a file, never half of one. Non-finite
floats (a diverged loss) are stored as null in JSON (strict JSON has no NaN) and as empty
cells in history.csv; the record's status and message say why.

No TensorFlow here (`specc runs list` must be fast); matplotlib is imported only to draw.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
import secrets
import socket
import subprocess
import tempfile
import threading
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from specc.errors import UsageError

PathLike = Union[str, "os.PathLike[str]"]

RECORD_FORMAT = 1
STATUSES = ("running", "completed", "failed", "interrupted", "diverged")
FINAL_STATUSES = STATUSES[1:]
SPLITS = ("train", "validation", "test")

RECORD = "record.json"
SPEC = "spec.yaml"
SPEC_SOURCE = "spec.source.yaml"
SOURCES = "sources"
HISTORY_CSV = "history.csv"
HISTORY_JSON = "history.json"
METRICS = "metrics.json"
CURVES = "curves.png"

# distributions whose versions go into every record (None when not installed)
PACKAGES = ("specc", "tensorflow", "keras", "numpy", "scikit-learn", "pyyaml", "click",
            "jsonschema", "matplotlib", "tf2onnx", "onnx", "onnxruntime")
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel",
                            "tf-nightly")

_UMASK = os.umask(0)
os.umask(_UMASK)
_LOCK = threading.Lock()


# --- atomic files --------------------------------------------------------------------------

def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Replace `path` with `data`: temp file in the same folder, flush, fsync, os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Replace `path` with `text` (UTF-8, newlines kept as given), atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, data: Any) -> None:
    """Replace `path` with `data` as strict JSON (NaN/inf become null), atomically.

    The text is built before any file is touched: a value JSON cannot hold raises TypeError
    and leaves the old file as it was.
    """
    text = json.dumps(json_safe(data), indent=2, allow_nan=False, default=_json_default,
                      ensure_ascii=False)
    atomic_write_text(path, text + "\n")


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def json_safe(value: Any) -> Any:
    """Plain JSON data: tuples -> lists, non-finite floats -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _json_default(obj: Any) -> Any:
    """numpy scalars and arrays (without importing numpy); anything else is an error."""
    for method in ("tolist", "item"):  # tolist: arrays to lists, numpy scalars to Python
        convert = getattr(obj, method, None)
        if callable(convert) and type(obj).__module__.startswith("numpy"):
            return json_safe(convert())
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _read_json(path: Path, default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


# --- what a record holds -------------------------------------------------------------------

def spec_hash(resolved: dict) -> str:
    """sha256 (hex) of the canonical JSON of a resolved spec: same spec, same hash, any key order."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), allow_nan=False,
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _git(folder: Path, *args: str) -> Optional[str]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=20, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_info(path: PathLike, exclude: Iterable[PathLike] = ()) -> dict:
    """{"commit", "dirty", "root"} of the git repository holding `path` (a file or folder).

    All three are None when `path` is not in a repository or git is not installed; `commit`
    is None in a repository without commits. `dirty` is true when `git status --porcelain`
    lists anything (untracked files too), except under the `exclude` folders (the runs
    folder, so one run does not make the next one dirty).
    """
    info = {"commit": None, "dirty": None, "root": None}
    path = Path(path).expanduser().absolute()
    folder = path if path.is_dir() else path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    root = _git(folder, "rev-parse", "--show-toplevel")
    if root is None or not root.strip():
        return info
    info["root"] = root.strip()
    commit = _git(folder, "rev-parse", "--verify", "--quiet", "HEAD")
    info["commit"] = commit.strip() if commit and commit.strip() else None
    pathspec = [":/"]  # the whole work tree, wherever git runs from
    real_root = Path(info["root"]).resolve()
    for item in exclude:
        try:
            rel = Path(item).expanduser().resolve().relative_to(real_root)
        except ValueError:
            continue  # outside the repository: nothing to exclude
        if str(rel) not in ("", "."):
            pathspec.append(f":(top,exclude){rel.as_posix()}")
    status = _git(folder, "status", "--porcelain", "--", *pathspec)
    info["dirty"] = bool(status.strip()) if status is not None else None
    return info


def _version(distribution: str) -> Optional[str]:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
    except Exception:  # a broken installation must not stop a run
        return None


def package_versions() -> dict:
    """Versions of Python and the packages a run depends on (None when not installed).

    Read from the installed distributions' metadata: nothing is imported.
    """
    versions: dict = {"python": platform.python_version()}
    for name in PACKAGES:
        if name == "tensorflow":
            found = next((v for v in map(_version, TENSORFLOW_DISTRIBUTIONS) if v), None)
            versions[name] = found
        else:
            versions[name] = _version(name)
    return versions


def host_info() -> dict:
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "pid": os.getpid()}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def timestamp(moment: Optional[datetime] = None) -> str:
    """ISO 8601 in UTC with milliseconds: `2026-11-21T23:58:00.123Z`."""
    moment = moment or utc_now()
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(moment: Optional[datetime] = None) -> str:
    """`YYYYmmdd-HHMMSS-xxxx`: UTC time and 4 random hex digits."""
    moment = moment or utc_now()
    return f"{moment.astimezone(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _float(value: Any) -> Any:
    """A logged value as a Python float when it is a number (numpy, tensor, int), else as is."""
    if value is None or isinstance(value, (bool, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


# --- the record ----------------------------------------------------------------------------

class RunRecord:
    """One run folder. Create it when a run starts; the trainer updates it as it goes."""

    def __init__(self, path: PathLike, run_id: str, name: str):
        self.path = Path(path)
        self.run_id = run_id
        self.name = name
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"RunRecord({str(self.path)!r})"

    # creating and opening

    @classmethod
    def create(cls, runs_dir: PathLike, resolved: dict, spec_file: Optional[PathLike],
               source_files: Sequence[PathLike] = ()) -> "RunRecord":
        """Make `runs_dir/<name>/<run id>/` with spec.yaml, the spec sources and record.json.

        `source_files` are the files the spec was read from (its extends chain); their texts go
        under sources/ (the spec file itself is spec.source.yaml and is not repeated).
        """
        from specc.render import dump_yaml

        name = str(resolved["name"])
        if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
            raise UsageError(f"the spec name '{name}' cannot be used as a folder name",
                             hint="use letters, digits, '_', '.' and '-'")
        runs_dir = Path(runs_dir)
        digest = spec_hash(resolved)  # fails before any folder exists if the spec is not JSON
        git = git_info(spec_file if spec_file else Path.cwd(), exclude=[runs_dir])
        parent = runs_dir / name
        parent.mkdir(parents=True, exist_ok=True)
        created = utc_now()
        for _attempt in range(1000):
            run_id = new_run_id(created)
            try:
                (parent / run_id).mkdir()
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 65536 ids in one second
            raise UsageError(f"cannot make a new run folder under {parent}")
        record = cls(parent / run_id, run_id, name)

        atomic_write_text(record.path / SPEC, dump_yaml(resolved))
        sources = record._copy_sources(spec_file, source_files)
        data = {
            "format": RECORD_FORMAT,
            "run_id": run_id,
            "name": name,
            "status": "running",
            "created": timestamp(created),
            "finished": None,
            "spec_file": str(Path(spec_file).absolute()) if spec_file else None,
            "sources": sources,
            "spec_hash": digest,
            "data_fingerprint": None,
            "git": git,
            "packages": package_versions(),
            "host": host_info(),
            "device": {},
            "seed": resolved.get("seed"),
            "epochs_completed": 0,
            "best": {"epoch": None, "monitor": None, "value": None},
            "message": None,
            "checkpoints": {},
            "exports": [],
        }
        atomic_write_json(record.path / RECORD, data)
        return record

    def _copy_sources(self, spec_file: Optional[PathLike], source_files: Sequence[PathLike]) -> dict:
        """Copy the spec text (and its extends files); returns {copy in the run: original}."""
        copied: dict = {}
        main = Path(spec_file).absolute() if spec_file else None
        if main is not None and main.is_file():
            atomic_write_bytes(self.path / SPEC_SOURCE, main.read_bytes())
            copied[SPEC_SOURCE] = str(main)
        used: set = set()
        for index, source in enumerate(source_files or ()):
            source = Path(source).absolute()
            if source == main or not source.is_file():
                continue
            target = source.name
            if target in used or target == SPEC_SOURCE:
                target = f"{index:02d}-{source.name}"
            used.add(target)
            atomic_write_bytes(self.path / SOURCES / target, source.read_bytes())
            copied[f"{SOURCES}/{target}"] = str(source)
        return copied

    @classmethod
    def open(cls, path: PathLike) -> "RunRecord":
        """An existing run folder (one holding record.json)."""
        path = Path(path)
        try:
            data = _read_json(path / RECORD)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the run record {path / RECORD}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a run folder (no {RECORD} in it)",
                             hint="`specc runs list` shows the runs")
        return cls(path, str(data.get("run_id") or path.name), str(data.get("name") or path.parent.name))

    # record.json

    def read(self) -> dict:
        """The contents of record.json."""
        data = _read_json(self.path / RECORD)
        if not isinstance(data, dict):
            raise UsageError(f"{self.path} has no {RECORD}")
        return data

    def update(self, **fields: Any) -> None:
        """Set top-level fields of record.json (a shallow merge: a dict value replaces the old one)."""
        with self._lock:
            data = self.read()
            data.update(fields)
            atomic_write_json(self.path / RECORD, data)

    def finish(self, status: str, message: Optional[str] = None) -> None:
        """Record the end of the run (status, message, finished time) and draw curves.png."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish status must be one of {', '.join(FINAL_STATUSES)}, not {status!r}")
        self.update(status=status, message=message, finished=timestamp())
        history = self.history()
        if history:
            try:
                plot_curves(history, self.path / CURVES)
            except Exception as exc:  # a plot is not worth failing a finished run for
                self.update(curves_error=f"{type(exc).__name__}: {exc}")

    # history and metrics

    def history(self) -> list:
        """The rows of history.json, oldest epoch first ([] before the first epoch)."""
        rows = _read_json(self.path / HISTORY_JSON, default=[])
        return rows if isinstance(rows, list) else []

    def append_epoch(self, epoch: int, logs: dict) -> None:
        """Add (or, for an epoch run again after a resume, replace) one row of the history."""
        self.append_epochs([(epoch, logs)])

    def append_epochs(self, epochs: list) -> None:
        """Add rows `(epoch, logs)` to the history in one write.

        Rewrites history.json and history.csv atomically and sets `epochs_completed`.
        """
        new_rows = [_history_row(epoch, logs) for epoch, logs in epochs]
        if not new_rows:
            return
        numbers = {row["epoch"] for row in new_rows}
        with self._lock:
            rows = [r for r in self.history() if r.get("epoch") not in numbers] + new_rows
            rows.sort(key=lambda r: r.get("epoch", 0))
            atomic_write_json(self.path / HISTORY_JSON, rows)
            atomic_write_text(self.path / HISTORY_CSV, history_csv(rows))
            self.update(epochs_completed=len(rows))

    def metrics(self) -> dict:
        """metrics.json ({} before the run wrote any)."""
        data = _read_json(self.path / METRICS, default={})
        return data if isinstance(data, dict) else {}

    def write_metrics(self, metrics: dict) -> None:
        """Write final metrics per split; splits already in metrics.json and not given are kept."""
        with self._lock:
            merged = self.metrics()
            for split, values in metrics.items():
                merged[str(split)] = {str(k): _float(v) for k, v in (values or {}).items()}
            atomic_write_json(self.path / METRICS, merged)

    # folders the trainer and exporters fill

    def _folder(self, name: str) -> Path:
        folder = self.path / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def checkpoint_dir(self) -> Path:
        return self._folder("checkpoints")

    @property
    def tensorboard_dir(self) -> Path:
        return self._folder("tensorboard")

    @property
    def export_dir(self) -> Path:
        return self._folder("exports")

    def spec(self) -> dict:
        """The resolved spec this run used (spec.yaml)."""
        import yaml

        try:
            text = (self.path / SPEC).read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        data = yaml.safe_load(text)
        return data if isinstance(data, dict) else {}

    def files(self) -> dict:
        """What is in the run folder: {label: path} of the files and folders that exist."""
        names = [RECORD, SPEC, SPEC_SOURCE, SOURCES, HISTORY_CSV, HISTORY_JSON, METRICS, CURVES,
                 "checkpoints", "tensorboard", "exports"]
        return {n: self.path / n for n in names if (self.path / n).exists()}


def _history_row(epoch: int, logs: dict) -> dict:
    row = {"epoch": int(epoch)}
    for key, value in (logs or {}).items():
        if key != "epoch":
            row[str(key)] = _float(value)
    return row


def history_csv(rows: list) -> str:
    """history rows as CSV: epoch, then every metric in the order first logged."""
    columns = ["epoch"]
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""  # shortest text that reads back
    return str(value)


# --- curves --------------------------------------------------------------------------------

def plot_curves(history: list, path: PathLike) -> None:
    """Learning curves to a PNG: one subplot per metric, the train line and its val_ line.

    Uses matplotlib's Agg canvas directly (no pyplot, so no global backend is touched).
    Does nothing when the history is empty.
    """
    if not history:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys: list = []
    for row in history:
        for key in row:
            if key != "epoch" and key not in keys:
                keys.append(key)
    panels: list = []  # (title, [series keys])
    for key in keys:
        if key.startswith("val_") and key[4:] in keys:
            continue
        series = [key] + ([f"val_{key}"] if f"val_{key}" in keys else [])
        panels.append((key[4:] if key.startswith("val_") else key, series))
    if not panels:
        return
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows), dpi=100)
    FigureCanvasAgg(figure)
    epochs = [row.get("epoch", i) for i, row in enumerate(history)]
    for index, (title, series) in enumerate(panels, start=1):
        axes = figure.add_subplot(rows, columns, index)
        for key in series:
            values = [_plot_value(row.get(key)) for row in history]
            label = "validation" if key.startswith("val_") else "train"
            axes.plot(epochs, values, marker="o" if len(epochs) < 30 else None, markersize=3,
                      label=label)
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())


def _plot_value(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


# Finding and listing runs lives in specc.run.lookup; these names stay importable from here.
from specc.run.lookup import find_run, list_runs, summarize  # noqa: E402,F401
