"""Splice the generated layer definitions into the spec schema (one file, for editors).

    python tools/bundle_schema.py          # rewrite schemas/specc-v1.schema.json
    python tools/bundle_schema.py --check  # exit 1 if it is out of date

The hand-written part of schemas/specc-v1.schema.json is everything except
the `$defs/layer.<name>` entries and the layer-name entries of `$defs/layer_item/properties`, which come
from schemas/layers-v1.defs.json (written by tools/gen_catalog.py from the installed Keras).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "specc-v1.schema.json"
DEFS = ROOT / "schemas" / "layers-v1.defs.json"
META = ("from", "repeat", "name", "trainable")
LAYER_PREFIX = "layer."


def bundled(schema: dict, defs: dict) -> dict:
    """The schema with the layer definitions spliced in (a new dict)."""
    schema = json.loads(json.dumps(schema))
    # One $defs entry per layer: a `$defs/layer_args` mapping of them would itself be read
    # as a schema, with layer names such as `maximum` taken for keywords.
    kept = {k: v for k, v in schema["$defs"].items() if not k.startswith(LAYER_PREFIX) and k != "layer_args"}
    layers = {f"{LAYER_PREFIX}{name}": defs["layer_args"][name] for name in sorted(defs["layer_args"])}
    schema["$defs"] = {**kept, **layers}
    item = schema["$defs"]["layer_item"]
    props = {key: item["properties"][key] for key in META}
    for name in sorted(defs["layer_args"]):
        props[name] = {"$ref": f"#/$defs/{LAYER_PREFIX}{name}"}
    item["properties"] = props
    return schema


def dump(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    new = dump(bundled(json.loads(SCHEMA.read_text()), json.loads(DEFS.read_text())))
    if "--check" in argv:
        if SCHEMA.read_text() != new:
            print(f"{SCHEMA} is out of date: run python tools/bundle_schema.py")
            return 1
        return 0
    SCHEMA.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
