"""A spec's project: the git repository holding it, or else its own folder. Paths a spec
names (data files, runs_dir, vocabularies, extends) resolve against the spec's folder and
must stay inside the project, so a spec received from someone else cannot read or write
elsewhere. No TensorFlow here."""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path


def resolve_path(text: str, spec_dir: Path) -> Path:
    """A spec's path as it is used: `~` expanded, relative to the spec's folder, normalized."""
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = Path(spec_dir) / path
    return Path(os.path.normpath(path.absolute()))


@lru_cache(maxsize=None)
def project_root(folder: str) -> Path:
    """The top folder of the git repository holding `folder`, else `folder` itself."""
    try:
        done = subprocess.run(["git", "-C", folder, "rev-parse", "--show-toplevel"], capture_output=True,
                              text=True, timeout=10, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return Path(folder).resolve()
    top = done.stdout.strip()
    return Path(top).resolve() if done.returncode == 0 and top else Path(folder).resolve()


def inside(target: Path, root: Path) -> bool:
    """Whether `target` (symbolic links followed) is `root` or below it."""
    real = Path(os.path.realpath(target))
    root = Path(os.path.realpath(root))
    return real == root or root in real.parents


def has_control(text: str) -> bool:
    """A control character (NUL, newline, DEL, ...), which no file name in a spec should hold."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)
