"""A spec's project: the git repository holding it, or else its own folder. Paths a spec
names (data files, runs_dir, vocabularies, extends) resolve against the spec's folder and
must stay inside the project, so a spec received from someone else cannot read or write
elsewhere. No TensorFlow here."""
from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Optional

# A SQLite URL as SQLAlchemy reads it (`sqlite:///rel.db`, `sqlite:////abs.db`,
# `sqlite+pysqlite:///...?mode=ro`): the file is what follows the third slash.
SQLITE_URL = re.compile(r"(?P<scheme>sqlite(\+\w+)?:///)(?P<path>[^?]*)(?P<query>\?.*)?", re.IGNORECASE | re.DOTALL)
IN_MEMORY = ("", ":memory:")


def resolve_path(text: str, spec_dir: Path) -> Path:
    """A spec's path as it is used: `~` expanded, relative to the spec's folder, normalized."""
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = Path(spec_dir) / path
    return Path(os.path.normpath(path.absolute()))


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (checkpoints, weight files)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def project_root(folder: str) -> Path:
    """The top folder of the git repository holding `folder`, else `folder` itself."""
    return git_root(folder) or Path(folder).resolve()


@lru_cache(maxsize=None)
def git_root(folder: str) -> Optional[Path]:
    """The top folder of the git repository holding `folder` (None outside one)."""
    try:
        done = subprocess.run(["git", "-C", folder, "rev-parse", "--show-toplevel"], capture_output=True,
                              text=True, timeout=10, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    top = done.stdout.strip()
    return Path(top).resolve() if done.returncode == 0 and top else None


def inside(target: Path, root: Path) -> bool:
    """Whether `target` (symbolic links followed) is `root` or below it."""
    real = Path(os.path.realpath(target))
    root = Path(os.path.realpath(root))
    return real == root or root in real.parents


def storage_file(url: str) -> Optional[str]:
    """The file a storage URL keeps its data in, as written (a SQLite database), or None (a
    server's URL, an in-memory database)."""
    found = SQLITE_URL.fullmatch(url)
    if found is None or found["path"] in IN_MEMORY or found["path"].startswith("file:"):
        return None
    return found["path"]


def resolve_storage(url: str, spec_dir: Path) -> str:
    """A storage URL whose file is resolved as every path a spec names (against the spec's
    folder, not the current one), so the file used is the file `check_paths` checked."""
    path = storage_file(url)
    if path is None:
        return url
    found = SQLITE_URL.fullmatch(url)
    assert found is not None  # storage_file matched it
    return f"{found['scheme']}{resolve_path(path, spec_dir)}{found['query'] or ''}"


def has_control(text: str) -> bool:
    """A control character (NUL, newline, DEL, ...), which no file name in a spec should hold."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)
