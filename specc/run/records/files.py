"""Files written atomically: a crash leaves the old or the new version, never half of one.

Every write goes to a temporary file in the same folder, is flushed and fsynced, and
replaces the target with `os.replace`. Non-finite floats (a diverged loss) are stored as
null in JSON (strict JSON has no NaN). No TensorFlow here.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Union

PathLike = Union[str, "os.PathLike[str]"]

_UMASK = os.umask(0)
os.umask(_UMASK)


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


def fsync_file(path: PathLike) -> None:
    """Flush a file written by someone else (Keras) to the disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_folder(folder: PathLike) -> None:
    """Make renames and new names in `folder` durable."""
    _fsync_dir(Path(folder))


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


def is_temporary(name: str) -> bool:
    """Whether a file name is one of specc's temporary names in a run folder: an atomic
    write's `.<name>.<random>.tmp`, a checkpoint's or part's `.<which>.tmp.keras`, an
    export's `.tmp-<artifact>`. They are hidden (a leading dot), so no user file is taken."""
    return name.startswith(".") and (name.endswith(".tmp") or name.endswith(".tmp.keras")
                                     or name.startswith(".tmp-"))


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file of a run folder (`default` when it is missing), read with `strict_json`.

    Raises:
        ValueError: It is not JSON, or a key repeats in one of its objects.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return strict_json(handle.read())
    except FileNotFoundError:
        return default


def strict_json(text: str) -> Any:
    """JSON text as data, refusing a key that repeats in one object, as specs do: `json`
    keeps the last silently, so a received file could say one thing to specc and another to
    whoever reads it first."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def _unique_keys(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key '{key}'")
        out[key] = value
    return out
