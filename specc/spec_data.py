"""Helpers for reading spec data that may have failed the schema, and for placing problems in it.

Shared by the semantic checks (specc/checks) and the task types' own checks (specc/tasks).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

from specc.errors import Problem

if TYPE_CHECKING:
    from specc.load.document import Document


def problem(doc: Document, path: Sequence[Any], message: str, hint: Optional[str] = None,
            code: str = "semantic", severity: str = "error", key: bool = False,
            missing: Optional[str] = None) -> Problem:
    """A problem placed at the value at `path` (or at its key, with key=True).

    `missing`: the key this problem says is missing under `path`; validation drops the
    problem when an unknown key there was most likely that key misspelled.
    """
    where = doc.key_position_of(path) if key else doc.position_of(path)
    return Problem(tuple(path), message, hint, where, severity, code, missing=missing)


# Checks also run on sections with schema errors deeper down (so that one wrong value does not
# hide other problems); these read a part only when it has the shape the schema asks for.

def mapping(value: Any) -> dict:
    """`value` if it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any) -> Optional[str]:
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def integer(value: Any) -> Optional[int]:
    """`value` if it is an integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
