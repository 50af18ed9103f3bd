"""Helpers for reading spec data that may have failed the schema, and for placing problems in it.

Shared by the semantic checks (specc/checks) and the task types' own checks (specc/tasks).
"""
from __future__ import annotations

from specc.errors import Problem


def problem(doc, path, message, hint=None, code="semantic", severity="error", key=False,
            missing=None) -> Problem:
    """A problem placed at the value at `path` (or at its key, with key=True).

    `missing`: the key this problem says is missing under `path`; validation drops the
    problem when an unknown key there was most likely that key misspelled.
    """
    where = doc.key_position_of(path) if key else doc.position_of(path)
    return Problem(tuple(path), message, hint, where, severity, code, missing=missing)


# Checks also run on sections with schema errors deeper down (so that one wrong value does not
# hide other problems); these read a part only when it has the shape the schema asks for.

def mapping(value) -> dict:
    """`value` if it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def items(value) -> list:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def text(value):
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def integer(value):
    """`value` if it is an integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
