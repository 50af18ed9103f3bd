"""A block's parameters, checked where they are used.

The schema cannot check `filters: $filters` inside a block: the value comes from each call
(or the parameter's default). Once specc/checks/networks.py has put a call's values in, the
layer's arguments are checked against the layer's schema like any other, and a value that
does not fit is reported where it is written: at the call's argument, or at the default.
No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from specc.errors import Problem, json_path
from specc.layer_items import layer_key
from specc.schema import load_schema

if TYPE_CHECKING:
    from specc.load.document import Document


def param_problems(doc: Document, block: str, body_path: tuple, item: Any, filled: Any, call: tuple,
                   given: dict, params: dict) -> list[Problem]:
    """Problems of the values a call puts into one item of the block's body.

    Args:
        body_path: Spec path of the item in the block's body.
        item: The item as written (`{conv2d: {filters: $filters}}`), long form.
        filled: The same item with the call's values in.
        call: Spec path of the call; `given`: the call's arguments; `params`: the block's.
    """
    from specc.schema_errors import reduce_error, to_problems, validator

    key = layer_key(filled) if isinstance(filled, dict) else None
    schema = load_schema()["$defs"].get(f"layer.{key}") if key else None
    if schema is None or not isinstance(item, dict) or not isinstance(item.get(key), dict) \
            or "$" not in repr(item[key]):
        return []
    out = []
    for error in validator().evolve(schema=schema).iter_errors(filled[key]):
        for leaf in reduce_error(error):
            param = _param_at(item[key], tuple(leaf.absolute_path))
            if param is None or param not in given and param not in params:
                continue  # not a parameter of the block: specc/checks/model.py says so
            where = call + (block, param) if param in given else ("model", "blocks", block, "params", param)
            for found in to_problems(doc, leaf, body_path + (key,)):
                arg = ".".join(str(p) for p in leaf.absolute_path) or "value"
                out.append(Problem(where, f"block '{block}' parameter '{param}' is {key}'s {arg} (at "
                                   f"{json_path(body_path)}): {found.message}", found.hint,
                                   doc.position_of(where), code=found.code))
    return out


def _param_at(args: Any, path: tuple) -> Optional[str]:
    """The parameter (`$name`) written at `path` in the item's arguments, if one is."""
    value = args
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return None
    return value[1:] if isinstance(value, str) and value.startswith("$") else None
