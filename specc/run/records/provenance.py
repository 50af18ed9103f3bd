"""Where a run came from: the spec's hash, its git commit, package versions, the host, times.

Nothing here imports TensorFlow; package versions are read from installed metadata.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Optional

from specc.run.records.files import PathLike

# distributions whose versions go into every record (None when not installed)
PACKAGES = ("specc", "tensorflow", "keras", "numpy", "scikit-learn", "pyyaml", "click",
            "jsonschema", "matplotlib", "tf2onnx", "onnx", "onnxruntime", "optuna", "xgboost",
            "onnxmltools")
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel",
                            "tf-nightly")


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
    info: dict[str, Any] = {"commit": None, "dirty": None, "root": None}
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


def as_float(value: Any) -> Any:
    """A logged value as a Python float when it is a number (numpy, tensor, int), else as is."""
    if value is None or isinstance(value, (bool, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
