"""One exception tree for specc; each class knows its exit code.

Exit codes are part of the CLI contract (documented in docs/errors.md):

    0   success
    1   the spec is invalid (validation problems, unreadable spec file, shape errors)
    2   usage error (unknown flag, missing argument, file that does not exist)
    3   bad data (missing column, NaN in features, labels outside the classes, ...)
    4   training failed (loss became NaN, ...) -- a record is still written
    5   export failed verification (parity mismatch) or cannot be produced
    6   a worker of a multi-worker run was lost (died, or stopped answering) -- a record is still written
    70  internal error (a bug in specc)
    130 interrupted (Ctrl-C)
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

EXIT_OK = 0
EXIT_INVALID_SPEC = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_TRAINING = 4
EXIT_EXPORT = 5
EXIT_CLUSTER = 6
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
FULL_DISK = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)  # EFBIG: past the file-size limit (ulimit -f)


@dataclass(frozen=True)
class Position:
    """A place in a source file; line and column are 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def json_path(path: Iterable[Any]) -> str:
    """Render a path such as ('model', 'layers', 2, 'dense') as `$.model.layers[2].dense`; a key
    holding dots or brackets is quoted: `$.sweep.space['model.layers[0].dense.units']`."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif any(c in str(part) for c in ".[]' "):  # a key such as a sweep's `model.layers[0].dense.units`
            out += "['" + str(part).replace("'", "\\'") + "']"
        else:
            out += f".{part}"
    return out


@dataclass
class Problem:
    """One thing wrong with a spec: where, what was found, what was expected, what to do."""

    path: tuple
    message: str
    hint: Optional[str] = None
    position: Optional[Position] = None
    severity: str = "error"  # or "warning"
    code: str = "invalid"
    suggestions: list = field(default_factory=list, compare=False, repr=False)
    missing: Optional[str] = field(default=None, compare=False, repr=False)

    def format(self) -> str:
        where = f"{self.position}: " if self.position else ""
        path = f"{json_path(self.path)}: " if self.path else ""
        text = f"{where}{self.severity}: {path}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict:
        pos = self.position
        return {
            "file": pos.file if pos else None,
            "line": pos.line if pos else None,
            "column": pos.column if pos else None,
            "path": json_path(self.path),
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class SpeccError(Exception):
    """Base of every error specc reports to a user without a traceback."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format(self) -> str:
        """`error: MESSAGE`, after the position in the spec when the error has one."""
        position = getattr(self, "position", None)
        text = f"{position}: error: {self.message}" if position else f"error: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class UsageError(SpeccError):
    """A wrong flag, a missing file argument, a run that does not exist."""

    exit_code = EXIT_USAGE


class SpecLoadError(SpeccError):
    """The spec file cannot be read or parsed (YAML syntax, encoding, size, ...)."""

    exit_code = EXIT_INVALID_SPEC

    def __init__(self, message: str, position: Optional[Position] = None, hint: Optional[str] = None):
        super().__init__(message, hint)
        self.position = position


class SpecInvalid(SpeccError):
    """Validation found problems; carries all of them, best first."""

    exit_code = EXIT_INVALID_SPEC

    def __init__(self, problems: list[Problem]):
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} problem(s) in the spec")
        self.problems = problems

    def format(self) -> str:
        return "\n".join(p.format() for p in self.problems)


class DataError(SpeccError):
    """The data does not match what the spec says (message names file, row, column).

    `spec_path` names the part of the spec the data disagrees with (a model input), so the
    trainer can place the message in the spec file (`position`), as validation would.
    """

    exit_code = EXIT_DATA

    def __init__(self, message: str, hint: Optional[str] = None, spec_path: Optional[tuple] = None):
        super().__init__(message, hint)
        self.spec_path = spec_path
        self.position: Optional[Position] = None


class TrainingError(SpeccError):
    """Training could not go on (loss became NaN, ...)."""

    exit_code = EXIT_TRAINING


class ResourceError(SpeccError):
    """The machine ran out of something training needs: disk space (or the file-size limit),
    or memory. Not a bug; the run, if one was started, is recorded as failed."""

    exit_code = EXIT_TRAINING


class ExportError(SpeccError):
    """An artifact could not be produced or failed its parity check."""

    exit_code = EXIT_EXPORT


class ClusterError(SpeccError):
    """A worker of a multi-worker run was lost: it died or stopped answering (the others stop)."""

    exit_code = EXIT_CLUSTER


def resource_error(error: BaseException) -> Optional[ResourceError]:
    """A full disk, a file-size limit or no memory left, as the error a user can act on."""
    # TensorFlow's allocator says ResourceExhaustedError (tested by name: no TensorFlow here)
    if isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError":
        return ResourceError("out of memory while building or training the model",
                             "make the model or batch.size smaller (`specc validate` counts its size), "
                             "or free memory")
    if isinstance(error, OSError) and error.errno in FULL_DISK:
        where = f" writing {error.filename}" if error.filename else ""
        limit = " or past the file-size limit" if error.errno == errno.EFBIG else ""
        return ResourceError(f"the disk is full{limit}{where} ({os.strerror(error.errno)})",
                             "free space where the runs are written (or raise the file-size limit), then "
                             "train again")
    return None
