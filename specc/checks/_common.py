"""Helpers shared by the checks."""
from __future__ import annotations

from specc.errors import Problem


def problem(doc, path, message, hint=None, code="semantic", severity="error", key=False) -> Problem:
    """A problem placed at the value at `path` (or at its key, with key=True)."""
    where = doc.key_position_of(path) if key else doc.position_of(path)
    return Problem(tuple(path), message, hint, where, severity, code)
