"""The data of a run: load the source, check it against the task, split, fingerprint."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from specc.data import Splits, check_labels, fingerprint, load_source, select_classes, split_table


@dataclass
class Prepared:
    splits: Splits
    fingerprint: str
    spec_dir: Path

    def validation_dataset(self, paradigm: Any, model: Any) -> Any:
        """The validation split as the paradigm feeds it to evaluation, or None without one."""
        if self.splits.validation is None:
            return None
        return paradigm.evaluation_data(model, self.splits.validation)


def prepare_data(resolved: dict, spec_dir: Path, source: Optional[dict] = None) -> Prepared:
    """Load `data.source` (or another source), keep the classes of `data.select`, check labels,
    split as the spec says."""
    data = resolved["data"]
    table, printed = _loaded(source or data["source"], data.get("select"), resolved["task"], resolved["seed"],
                             Path(spec_dir))
    splits = split_table(table, data["split"], resolved["seed"], base_dir=spec_dir,
                         select=data.get("select"))
    return Prepared(splits, printed, Path(spec_dir))


KEEP_BYTES = 512 * 2**20  # a larger source is read again by each run: a copy kept would double its memory
_KEPT: dict = {}  # "on": whether this process keeps a loaded source; "key", "files", "table", "fingerprint"


def keep_loaded_data() -> None:
    """From now on this process keeps the last source it loaded (and its fingerprint) for the
    next run that loads the same source, while its files are unchanged: a warm worker's trials
    and folds read and check their data once. Each run gets its own copy of the table."""
    _KEPT["on"] = True


def _loaded(source: dict, select: Any, task: dict, seed: int, spec_dir: Path) -> tuple[Any, str]:
    """(the source loaded, its classes selected and labels checked; its fingerprint)."""
    import copy
    import json

    key = json.dumps([source, select, task, seed, str(spec_dir)], sort_keys=True, default=str)
    files = source_files(source, spec_dir) if _KEPT.get("on") else None
    if files is not None and _KEPT.get("key") == key and _KEPT.get("files") == files:
        return copy.deepcopy(_KEPT["table"]), _KEPT["fingerprint"]
    table = load_source(source, spec_dir, seed)
    table = select_classes(table, select)
    check_labels(table, task)
    printed = fingerprint(table)
    if files is not None and _nbytes(table) <= KEEP_BYTES:
        _KEPT.update(key=key, files=files, table=copy.deepcopy(table), fingerprint=printed)
    return table, printed


def _nbytes(table: Any) -> int:
    labels = table.labels if isinstance(table.labels, dict) else {"": table.labels}
    arrays = [*table.features.values(), *labels.values()]
    return sum(int(getattr(a, "nbytes", 0)) for a in arrays if a is not None)


def source_files(source: dict, spec_dir: Path) -> tuple:
    """What the files a source reads are now: (path, size, modification time, inode) of each
    (each file below a folder; each match of a pattern); a path not there counts as such."""
    import glob

    from specc.checks.paths import spec_paths
    from specc.project import resolve_path

    found: list = []
    for _, value in spec_paths({"data": {"source": source}}):
        if not isinstance(value, str):
            continue
        target = str(resolve_path(value, spec_dir))
        for match in sorted(glob.glob(target)) if glob.has_magic(target) else [target]:
            found.extend(_file_states(Path(match)))
    return tuple(found)


def _file_states(path: Path) -> list:
    import os

    if path.is_dir():
        return [state for root, _, names in sorted(os.walk(path)) for name in sorted(names)
                for state in _file_states(Path(root) / name)]
    try:
        found = path.stat()
    except OSError:
        return [(str(path), None)]
    return [(str(path), found.st_size, found.st_mtime_ns, found.st_ino)]
