"""The JSON Schema of the spec format, as shipped inside the package.

No TensorFlow here: `specc validate`, `render` and `schema` use this module.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

SCHEMA_FILE = "specc-v1.schema.json"
SUPPORTED_VERSIONS = (1,)


def schema_dir() -> Path:
    """The folder holding the schemas: inside the installed package, or the repo's schemas/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parent / "schemas"):
        if (candidate / SCHEMA_FILE).is_file():
            return candidate
    raise FileNotFoundError(f"{SCHEMA_FILE} is missing from the specc installation")


@lru_cache(maxsize=None)
def load_schema() -> dict:
    """The bundled schema for format version 1 (layer arguments included)."""
    with open(schema_dir() / SCHEMA_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def section_names() -> list[str]:
    """Top-level sections a spec may have."""
    return [name for name in load_schema()["properties"] if name != "$schema"]


def section_schema(name: str) -> dict:
    """The schema of one top-level section, with the definitions it refers to."""
    schema = load_schema()
    if name not in schema["properties"]:
        raise KeyError(name)
    return {
        "$schema": schema["$schema"],
        "$id": f"{schema['$id']}#/properties/{name}",
        **resolve_ref(schema["properties"][name]),
        "$defs": schema["$defs"],
    }


def resolve_ref(node: Any) -> Any:
    """Follow a local `$ref` (`#/$defs/...`) once; anything else is returned unchanged."""
    if isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
        target: Any = load_schema()
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        return resolve_ref(target)
    return node


def subschema_at(path: tuple) -> Optional[dict]:
    """The schema that governs the value at `path`, or None when the schema does not know it.

    Follows `properties`, `additionalProperties`, `items` and the branches of
    `anyOf`/`oneOf` (the first branch that knows the next key wins).
    """
    node: Optional[dict] = resolve_ref(load_schema())
    for part in path:
        node = _child(node, part)
        if node is None:
            return None
    return node


def _child(node: Optional[dict], part: Any) -> Optional[dict]:
    if not isinstance(node, dict):
        return None
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        found = _child(resolve_ref(branch), part)
        if found is not None:
            return found
    if isinstance(part, int):
        items = node.get("items")
        return resolve_ref(items) if isinstance(items, dict) else None
    props = node.get("properties", {})
    if part in props:
        return resolve_ref(props[part])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return resolve_ref(extra)
    return None


def free_form(node: Any) -> bool:
    """Whether a mapping schema takes any key (optimizer arguments, a block call, ...)."""
    node = resolve_ref(node)
    if not isinstance(node, dict):
        return False
    branches = [resolve_ref(b) for b in node.get("anyOf", []) + node.get("oneOf", [])]
    if any(free_form(b) for b in branches):
        return True
    types = node.get("type", "object")
    types = types if isinstance(types, list) else [types]
    return ("object" in types and not branches and not node.get("properties")
            and node.get("additionalProperties", True) is not False and "const" not in node
            and "enum" not in node)


def known_keys(path: tuple) -> list[str]:
    """The property names the schema lists for the mapping at `path`."""
    node = subschema_at(path)
    if not isinstance(node, dict):
        return []
    keys = list(node.get("properties", {}))
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        keys += list(resolve_ref(branch).get("properties", {}))
    return keys
