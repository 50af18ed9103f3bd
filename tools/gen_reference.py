"""Write docs/reference.md: every section and key of the spec format, from the schema.

    python tools/gen_reference.py          # rewrite docs/reference.md
    python tools/gen_reference.py --check  # exit 1 if it is out of date
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "specc-v1.schema.json"
OUT = ROOT / "docs" / "reference.md"


def resolve(schema: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = schema
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def type_text(node: dict) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kinds = node.get("type")
    if kinds:
        return " \\| ".join(kinds if isinstance(kinds, list) else [kinds])
    if "anyOf" in node:
        return " \\| ".join(type_text(b) for b in node["anyOf"] if isinstance(b, dict))
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    return "any"


def rows(schema: dict, node: dict, prefix: str, depth: int) -> list[str]:
    node = resolve(schema, node)
    out = []
    for key, child in node.get("properties", {}).items():
        if key == "$schema":
            continue
        shown = resolve(schema, child)
        desc = (child.get("description") or shown.get("description") or "").replace("|", "\\|")
        kind = type_text(child) if "$ref" not in child else type_text(shown)
        out.append(f"| `{prefix}{key}` | {kind} | {desc} |")
        if depth < 3 and "properties" in shown and key not in ("layers", "nodes"):
            out += rows(schema, shown, f"{prefix}{key}.", depth + 1)
    return out


def build() -> str:
    schema = json.loads(SCHEMA.read_text())
    lines = ["# Spec reference (format version 1)", "",
             "Generated from `schemas/specc-v1.schema.json` by `tools/gen_reference.py`; "
             "do not edit by hand. Layer arguments are Keras's own: `specc schema --section model` "
             "lists them, and an editor with the YAML language server completes them.", ""]
    for section, node in schema["properties"].items():
        if section == "$schema":
            continue
        shown = resolve(schema, node)
        lines += [f"## `{section}`", "", shown.get("description", node.get("description", "")), ""]
        body = rows(schema, shown, f"{section}.", 1)
        if body:
            lines += ["| key | type | meaning |", "|---|---|---|"] + body + [""]
        else:
            lines += [f"Type: {type_text(shown)}", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = build()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python tools/gen_reference.py")
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
