"""The long forms of wrapped layers (`bidirectional: {layer: {lstm: {unit: 16}}}`), which the
schema alone accepts: each is checked against its own branch of the wrapper's schema."""
from __future__ import annotations

from typing import TYPE_CHECKING

from specc.checks.model import wrapped_layers
from specc.layer_items import layer_items
from specc.errors import Problem
from specc.schema import load_schema
from specc.schema_errors import errors_to_problems, validator

if TYPE_CHECKING:
    from specc.load.document import Document


def wrapper_problems(doc: Document, found: list[Problem]) -> list[Problem]:
    """The arguments of wrapped layers (`bidirectional: {layer: {lstm: {unit: 16}}}`).

    In the schema a wrapper's long form is one branch of an anyOf whose other branch (a layer
    item, which may be a block call with any arguments) accepts every mapping, so the schema
    alone never complains; the long form is checked here against its own branch.
    """
    if not isinstance(doc.data, dict):
        return []
    out: list[Problem] = []
    for path, item in layer_items(doc.data):
        for args_path, name, args in wrapped_layers(item, path):
            if any(p.path[:len(args_path)] == args_path for p in found + out):
                continue
            branch = long_form_schema(name)
            if branch is not None:
                out += errors_to_problems(doc, validator().evolve(schema=branch).iter_errors(args), args_path)
    return out


def long_form_schema(layer: str) -> dict | None:
    """The `{layer: ..., other args}` branch of a wrapper's schema, or None."""
    args = load_schema()["$defs"].get(f"layer.{layer}", {})
    branches = [b for b in args.get("anyOf", []) if "layer" in b.get("properties", {})]
    return branches[0] if branches else None
