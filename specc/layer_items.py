"""Layer items: `{conv2d: {filters: 16}, name: c1, from: [x]}`, their meta keys, the layer
they name, and their long form. No TensorFlow here (short values go to the argument the
shipped catalog names)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

from specc.catalog import layer_info, short_arg
from specc.registries import model_parts
from specc.spec_data import items, mapping

META_KEYS = ("from", "repeat", "name", "trainable")


def layer_key(item: dict) -> Optional[str]:
    """The layer (or block) name of a layer item: its one key that is not from/repeat/name."""
    keys = [k for k in item if k not in META_KEYS]
    return keys[0] if len(keys) == 1 else None


def normalize_item(item: Any) -> dict:
    """A layer item in its long form: `{layer: {args}}` plus any from/repeat/name/trainable."""
    if isinstance(item, str):
        return {item: {}}
    item = dict(item)
    key = layer_key(item)
    if key is None:
        return item
    value = item[key]
    if value is None:
        value = {}
    elif not isinstance(value, dict):
        arg = short_arg(key)
        value = {arg: value} if arg else value
    item[key] = _normalize_args(key, value)
    if "from" in item and isinstance(item["from"], str):
        item["from"] = [item["from"]]
    return item


def _normalize_args(key: str, args: Any) -> Any:
    """Wrapped layer specs get their long form: `bidirectional: {lstm: 16}` ->
    `bidirectional: {layer: {lstm: {units: 16}}}`."""
    info = layer_info(key) or {}
    if not info.get("wrapper") or not isinstance(args, dict):
        return args
    own = {arg["name"] for arg in info.get("args", [])}
    if args and not set(args) & own:
        args = {"layer": args}
    for name in ("layer", "backward_layer"):
        if isinstance(args.get(name), (dict, str)):
            args = {**args, name: normalize_item(args[name])}
    return args


def layer_items_of(model: Any, base: tuple) -> Iterable[tuple[tuple, Any, bool]]:
    """(path, item, in_graph) for every layer item in a model, its blocks and sub-networks.

    Safe on data that failed the schema: parts of the wrong type are passed over.
    """
    if not isinstance(model, dict):
        return
    for i, item in enumerate(items(model.get("layers"))):
        yield base + ("layers", i), item, False
    for name, item in mapping(model.get("nodes")).items():
        yield base + ("nodes", name), item, True
    head = model.get("head")
    if head is not None and head not in ("auto", "none"):
        yield base + ("head",), head, False
    for bname, block in mapping(model.get("blocks")).items():
        yield from layer_items_of(block, base + ("blocks", bname))
    for part in model_parts():
        yield from layer_items_of(model.get(part), base + (part,))


def layer_items(data: dict) -> Iterable[tuple[tuple, Any]]:
    """(path, item) for every layer item of a spec: model, blocks, sub-networks, preprocessing."""
    for path, item, _ in layer_items_of(data.get("model"), ("model",)):
        yield path, item
    for i, item in enumerate(items(mapping(data.get("data")).get("preprocessing"))):
        yield ("data", "preprocessing", i), item
