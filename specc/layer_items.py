"""Layer items: `{conv2d: {filters: 16}, name: c1, from: [x]}`, their meta keys, the layer
they name, and their long form. No TensorFlow here (short values go to the argument the
shipped catalog names)."""
from __future__ import annotations

from typing import Any, Optional

from specc.catalog import layer_info, short_arg

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
