"""How `extends:` combines a base spec with the spec that extends it.

Mappings merge key by key, anything else from the extending spec replaces the base's. One
exception keeps a mapping that is a choice of one form valid: when the extending spec names a
form, the base's other forms are dropped instead of merged beside it. A base with
`source: {builtin: digits}` extended by `source: {csv: {...}}` gets the CSV source alone, not
both (which no validation could accept); `optimizer: {adam: {...}}` extended by
`optimizer: {sgd: {...}}` gets SGD; a graph node `{dense: {...}, from: x}` extended by
`{conv1d: {...}}` keeps its `from:`. An extension naming the same form still merges into it
(`optimizer: {adam: {learning_rate: 0.01}}` keeps the base's other Adam arguments).

Which keys are forms the schema says (specc/schema.py):
- every key of a mapping that takes one key at most (`maxProperties: 1`: data.source,
  data.select, schedule, a GAN's generator / discriminator optimizer, anomaly.threshold);
- a key whose schema is a named Keras object or layer (`$defs/call.<kind>.<name>`,
  `$defs/layer.<name>`): optimizer and loss names, layer names in a graph node or a block.
"""
from __future__ import annotations

from specc.load.yaml_tree import Node
from specc.schema import resolve_ref, subschema_at

# $defs entries that are one named form each (a Keras object's arguments, a layer's)
FORM_REFS = ("#/$defs/call.", "#/$defs/layer.")


def merge(base: Node, over: Node, path: tuple = ()) -> Node:
    """Deep-merge `over` onto `base` (neither is changed); `path` is where they are in the spec.

    Args:
        base: The value from the base spec.
        over: The value from the spec that extends it.
        path: Keys from the top of the spec to these values, e.g. ("data", "source").

    Returns:
        The merged value.
    """
    if not (isinstance(base.value, dict) and isinstance(over.value, dict)):
        return over
    merged = _without_other_forms(base.value, over.value, path)
    for key, child in over.value.items():
        merged[key] = merge(merged[key], child, path + (key,)) if key in merged else child
    return Node(merged, over.pos, over.key_pos)


def _without_other_forms(base: dict, over: dict, path: tuple) -> dict:
    """`base` without the forms that `over` replaces by naming another one."""
    named = [key for key in over if key not in base and is_form(path, key)]
    if not named:
        return dict(base)
    return {key: value for key, value in base.items() if not is_form(path, key)}


def is_form(path: tuple, key: str) -> bool:
    """Whether `key` of the mapping at `path` is one of the forms that mapping chooses from."""
    node = subschema_at(path)
    if not isinstance(node, dict):
        return False
    if node.get("maxProperties") == 1:
        return True
    branches = [node] + [resolve_ref(b) for b in node.get("anyOf", []) + node.get("oneOf", [])]
    for branch in branches:
        entry = branch.get("properties", {}).get(key) if isinstance(branch, dict) else None
        if isinstance(entry, dict) and str(entry.get("$ref", "")).startswith(FORM_REFS):
            return True
    return False
