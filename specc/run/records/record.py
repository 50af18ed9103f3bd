"""Run records: one folder per training run, everything needed to tell runs apart and redo them.

    runs/<spec name>/<run id>/
        record.json          status, times, hashes, git, packages, device, best epoch, ...
                             (its fields: specc/run/records/fields.py)
        spec.yaml            the resolved spec (what was actually run)
        spec.source.yaml     the spec file as the user wrote it; extends files under sources/
        history.csv/.json    one row per epoch: epoch + every logged metric
        metrics.json         metrics per split of the kept (best) model {"train": {...}, "test": ...}
        curves.png           learning curves (one subplot per metric, train vs val_)
        samples/             grids a paradigm draws while it trains (a GAN's generated samples)
        checkpoints/ tensorboard/ exports/   written by the trainer and exporters

A run id is the UTC start time plus four hex digits of randomness (`20261121-235800-3f2a`);
the folder is created exclusively, so two runs started in the same second still get two ids.
Every file is written atomically (specc/run/records/files.py); the temporary files a killed
process leaves are removed when the run is next opened (`RunRecord.remove_temporaries`).

No TensorFlow here (`specc runs list` must be fast); matplotlib is imported only to draw.
"""
from __future__ import annotations

import shutil
import os
import threading
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from specc.errors import UsageError
from specc.run.records.fields import (FINAL_STATUSES, RECORD_FORMAT, RecordFields, check_fields, metrics_mistake,
                                      record_mistake)
from specc.run.records.files import (PathLike, atomic_write_bytes, atomic_write_json, atomic_write_text,
                                     is_temporary, read_json)
from specc.run.records.history import history_csv, history_row
from specc.run.records.provenance import (as_float, git_info, host_info, new_run_id, package_versions,
                                          spec_hash, timestamp, utc_now)

RECORD = "record.json"
SPEC = "spec.yaml"
SPEC_SOURCE = "spec.source.yaml"
SOURCES = "sources"
HISTORY_CSV = "history.csv"
HISTORY_JSON = "history.json"
METRICS = "metrics.json"
CURVES = "curves.png"
SAMPLES = "samples"  # a paradigm's pictures drawn during training (specc/paradigms/gan_samples.py)
SPLITS = ("train", "validation", "test")  # the splits of metrics.json, in this order
STALE_SECONDS = 3600.0  # a temporary file untouched this long is no write in progress


class RunRecord:
    """One run folder. Create it when a run starts; the trainer updates it as it goes."""

    def __init__(self, path: PathLike, run_id: str, name: str):
        self.path = Path(path)
        self.run_id = run_id
        self.name = name
        self._lock = threading.RLock()
        self._curves: Optional[threading.Thread] = None
        self._curves_error: Optional[str] = None

    def __repr__(self) -> str:
        return f"RunRecord({str(self.path)!r})"

    # creating and opening

    @classmethod
    def create(cls, runs_dir: PathLike, resolved: dict, spec_file: Optional[PathLike],
               source_files: Sequence[PathLike] = (), overrides: Sequence[str] = ()) -> "RunRecord":
        """Make `runs_dir/<name>/<run id>/` with spec.yaml, the spec sources and record.json.

        `source_files` are the files the spec was read from (its extends chain); their texts go
        under sources/ (the spec file itself is spec.source.yaml and is not repeated).
        `overrides` are the `--set` overrides the spec was loaded with (record.json keeps them).
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
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot make the runs folder {parent}: {exc.strerror or exc}",
                             "give --runs-dir (or train.runs_dir) a folder you can write to") from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write to the runs folder {parent}",
                             "give --runs-dir (or train.runs_dir) a folder you can write to")
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
        data: RecordFields = {
            "format": RECORD_FORMAT,
            "run_id": run_id,
            "name": name,
            "status": "running",
            "created": timestamp(created),
            "finished": None,
            "spec_file": str(Path(spec_file).absolute()) if spec_file else None,
            "overrides": list(overrides),
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
            data = read_json(path / RECORD)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the run record {path / RECORD}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a run folder (no {RECORD} in it)",
                             hint="`specc runs list` shows the runs")
        return cls(path, str(data.get("run_id") or path.name), str(data.get("name") or path.parent.name))

    # record.json

    def read(self) -> dict:
        """The contents of record.json.

        Raises:
            UsageError: It is missing, not JSON, or repeats a key.
        """
        data = self._json(RECORD, None)
        if not isinstance(data, dict):
            raise UsageError(f"{self.path} has no {RECORD}")
        _refuse(self.path / RECORD, record_mistake(data))
        return data

    def update(self, **fields: Any) -> None:
        """Set top-level fields of record.json (a shallow merge: a dict value replaces the old one).

        Raises:
            ValueError: A field record.json does not declare (specc/run/records/fields.py).
        """
        check_fields(fields)
        with self._lock:
            data = self.read()
            data.update(fields)
            atomic_write_json(self.path / RECORD, data)

    def finish(self, status: str, message: Optional[str] = None) -> None:
        """Record the end of the run (status, message, finished time) and draw curves.png
        (or wait for the drawing `start_curves` began)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish status must be one of {', '.join(FINAL_STATUSES)}, not {status!r}")
        self.update(status=status, message=message, finished=timestamp())
        if self._curves is None:
            self._draw_curves()
        else:
            self._curves.join()
            self._curves = None
        if self._curves_error:
            self.update(curves_error=self._curves_error)

    def start_curves(self) -> None:
        """Draw curves.png in a thread from now on (the history must be complete: training
        has ended), so that importing matplotlib and drawing (~0.5 s) overlap the final
        evaluation; `finish` waits for it."""
        self._curves = threading.Thread(target=self._draw_curves, name="specc-curves", daemon=True)
        self._curves.start()

    def _draw_curves(self) -> None:
        history = self.history()
        if not history:
            return
        from specc.run.records.plots import plot_curves

        phases = self.read().get("phases") or []
        starts = [(p["name"], p["first_epoch"]) for p in phases[1:] if isinstance(p, dict) and "first_epoch" in p]
        try:
            plot_curves(history, self.path / CURVES, starts)
        except Exception as exc:  # a plot is not worth failing a finished run for
            self._curves_error = f"{type(exc).__name__}: {exc}"

    # history and metrics

    def history(self) -> list:
        """The rows of history.json, oldest epoch first ([] before the first epoch)."""
        rows = self._json(HISTORY_JSON, [])
        return rows if isinstance(rows, list) else []

    def append_epoch(self, epoch: int, logs: dict) -> None:
        """Add (or, for an epoch run again after a resume, replace) one row of the history."""
        self.append_epochs([(epoch, logs)])

    def append_epochs(self, epochs: list) -> None:
        """Add rows `(epoch, logs)` to the history in one write.

        Rewrites history.json and history.csv atomically and sets `epochs_completed`.
        """
        new_rows = [history_row(epoch, logs) for epoch, logs in epochs]
        if not new_rows:
            return
        numbers = {row["epoch"] for row in new_rows}
        with self._lock:
            rows = [r for r in self.history() if r.get("epoch") not in numbers] + new_rows
            rows.sort(key=lambda r: r.get("epoch", 0))
            atomic_write_json(self.path / HISTORY_JSON, rows)
            atomic_write_text(self.path / HISTORY_CSV, history_csv(rows))
            self.update(epochs_completed=len(rows))

    def clear_history(self) -> None:
        """Forget the epochs recorded so far (a run that starts again from its first epoch)."""
        with self._lock:
            for name in (HISTORY_JSON, HISTORY_CSV):
                (self.path / name).unlink(missing_ok=True)
            self.update(epochs_completed=0)

    def metrics(self) -> dict:
        """metrics.json ({} before the run wrote any)."""
        data = self._json(METRICS, {})
        _refuse(self.path / METRICS, metrics_mistake(data))
        return data

    def write_metrics(self, metrics: dict) -> None:
        """Write final metrics per split; splits already in metrics.json and not given are kept."""
        with self._lock:
            merged = self.metrics()
            for split, values in metrics.items():
                merged[str(split)] = {str(k): as_float(v) for k, v in (values or {}).items()}
            atomic_write_json(self.path / METRICS, merged)

    # folders the trainer and exporters fill

    def _folder(self, name: str) -> Path:
        """A folder of the run that specc writes into, made if needed.

        Raises:
            UsageError: It is a symbolic link (a received run folder's, pointing anywhere).
        """
        folder = self.path / name
        if folder.is_symlink():
            raise UsageError(f"{folder} is a symbolic link, not a folder of the run: specc writes nothing through it",
                             "replace it with a folder (or remove it), if you trust the run")
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

    def remove_temporaries(self, resuming: bool = False, older_than: float = STALE_SECONDS) -> list:
        """Remove the temporary files an interrupted write left behind (a kill -9 between
        writing a file and renaming it into place); return the paths removed.

        A run whose record says `running` may be written by another process right now: its
        files are left alone unless this process is resuming it (then it owns the run, and
        every temporary file goes). Otherwise only files untouched for `older_than` seconds
        go, so an export of the run in another process keeps the artifact it is verifying.
        """
        if not resuming and self.read().get("status") == "running":
            return []
        now = time.time()
        removed = []
        for folder in (self.path, self.path / "checkpoints", self.path / "exports", self.path / SOURCES,
                       self.path / SAMPLES):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if is_temporary(path.name) and (resuming or now - _modified(path) >= older_than):
                    _remove(path)
                    removed.append(path)
        return removed

    def _json(self, name: str, default: Any) -> Any:
        """A JSON file of the run (`default` when missing); a damaged one is a usage error."""
        path = self.path / name
        try:
            return read_json(path, default)
        except (OSError, ValueError) as exc:
            raise UsageError(f"run {self.run_id}: cannot read {path} ({exc})".splitlines()[0],
                             "restore the run folder from a copy") from None

    def spec(self) -> dict:
        """The resolved spec this run used (spec.yaml; {} when there is none).

        Raises:
            UsageError: It cannot be read as a spec file is (a repeated key, a tag, ...).
        """
        from specc.errors import SpecLoadError
        from specc.load import parse_text

        path = self.path / SPEC
        try:
            return parse_text(path.read_text(encoding="utf-8"), str(path))[0]
        except FileNotFoundError:
            return {}
        except SpecLoadError as exc:
            problem = f"{exc.position or path}: {exc.message}"
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"{path} ({type(exc).__name__})"
        raise UsageError(f"run {self.run_id}: cannot read the spec it ran, {problem}",
                         "restore the run folder from a copy")

    def files(self) -> dict:
        """What is in the run folder: {label: path} of the files and folders that exist."""
        names = [RECORD, SPEC, SPEC_SOURCE, SOURCES, HISTORY_CSV, HISTORY_JSON, METRICS, CURVES,
                 "importances.png", SAMPLES, "checkpoints", "tensorboard", "exports"]  # importances: trees
        return {n: self.path / n for n in names if (self.path / n).exists()}


def _modified(path: Path) -> float:
    """The newest modification time in a file or folder (an export may be a folder); now, for
    a file another process has just renamed or removed."""
    try:
        times = [path.stat().st_mtime]
        if path.is_dir():
            times += [p.stat().st_mtime for p in path.rglob("*")]
    except FileNotFoundError:
        return time.time()
    return max(times)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _refuse(path: Path, mistake: Optional[str]) -> None:
    """A damaged record file is refused by name, not met later as a wrong type deep inside."""
    if mistake:
        raise UsageError(f"{path} is damaged: {mistake}",
                         hint="it was edited or written by something else; restore it, or move the run away")
