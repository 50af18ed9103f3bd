"""Layer names that would clash when the model is built (Keras refuses a model in which two
layers share a name).

specc names the layers itself (`<input>_<layer>` for `data.preprocessing`, `<call>_<node>`
inside blocks, the head after its output), so a clash comes from the spec: the same layer
twice in `data.preprocessing`, one `name:` given to two items, or a `name` argument (which
Keras takes as it is) on an item that is repeated or inside a block called more than once.
Names Keras makes up itself (`dense_1`) are not predicted. No TensorFlow here.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Optional

from specc.errors import Problem, json_path
from specc.layer_items import layer_key
from specc.registries import model_parts, task_type
from specc.shown import shown_value
from specc.spec_data import integer, items, mapping, text
from specc.spec_data import problem as _p

if TYPE_CHECKING:
    from specc.load.document import Document

MAX_REPEAT = 1000  # the schema's limit of `repeat` (a larger one is reported there)
FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
SCOPE_NAME = re.compile(r"[A-Za-z0-9_.>-]+")  # TensorFlow's name scopes (tf.name_scope), without '/'


def check_layer_names(doc: Document) -> list[Problem]:
    """No two layers of one network get the same name."""
    model = mapping(doc.data.get("model"))
    blocks = mapping(model.get("blocks"))
    calls = _block_calls(model, blocks)
    out = _preprocessing_names(doc, _preprocessed_inputs(doc))
    for path, network in _networks(model):
        named = list(_network_names(network, path, blocks, calls))
        out += _clashes(doc, named) + _unusable(doc, named)
    out += _clashes(doc, list(_block_names(blocks, calls)))
    return out


def _networks(model: dict) -> Iterable[tuple[tuple, dict]]:
    if "layers" in model or "nodes" in model:
        yield ("model",), model
    for part in model_parts():
        if isinstance(model.get(part), dict):
            yield ("model", part), model[part]


# --- data.preprocessing ------------------------------------------------------------------------

def _preprocessed_inputs(doc: Document) -> list:
    """The float inputs `data.preprocessing` is applied to (one copy of each layer per input)."""
    model = mapping(doc.data.get("model"))
    declared = task_type(mapping(doc.data.get("task")))
    if declared is None or declared.feeds is None:
        inputs = mapping(model.get("inputs"))
    else:  # a fed part that declares none takes model.inputs, else what a linked part makes
        fed, _ = declared.fed_part(model)
        linked: dict = {link.input: {} for link in declared.links if link.target == declared.feeds}
        inputs = mapping(fed.get("inputs")) or mapping(model.get("inputs")) or linked
    return [name for name, value in inputs.items() if mapping(value).get("dtype", "float32") in FLOAT_DTYPES]


def _preprocessing_names(doc: Document, inputs: list) -> list[Problem]:
    """`data.preprocessing` layers are named `<input>_<name or layer>`: two alike clash."""
    if not inputs:
        return []
    seen: dict[str, int] = {}
    out = []
    for index, item in enumerate(items(mapping(doc.data.get("data")).get("preprocessing"))):
        name = _item_name(item) or _key(item)
        if name is None:
            continue
        if name in seen:
            first = inputs[0]
            out.append(_p(doc, ("data", "preprocessing", index), f"data.preprocessing has two layers named "
                          f"'{name}' (items {seen[name]} and {index}): on input '{first}' both would be "
                          f"'{first}_{name}'", f"give this one its own name, e.g. `{{{name}: {{...}}, name: "
                          f"{name}_2}}`, or remove it if it is there twice by mistake", code="name"))
        else:
            seen[name] = index
    return out


# --- names given in the spec -------------------------------------------------------------------

def _network_names(network: dict, base: tuple, blocks: dict, calls: dict) -> Iterable[tuple[str, tuple, str]]:
    """(Keras name, spec path, why) of every layer of one network whose name the spec gives."""
    listed = [(base + ("layers", i), item) for i, item in enumerate(items(network.get("layers")))]
    listed += [(base + ("nodes", n), item) for n, item in mapping(network.get("nodes")).items()]
    for path, item in listed:
        if not isinstance(item, dict) or _key(item) in blocks:
            continue
        repeat = _repeat(item)
        given, own = _item_name(item), _arg_name(item)
        if own is not None:  # two copies are enough to clash
            yield from ((own, path, "its `name` argument") for _ in range(min(repeat, 2)))
        elif given is not None:
            names = [given] if repeat == 1 else [f"{given}_{r}" for r in range(1, min(repeat, MAX_REPEAT) + 1)]
            yield from ((name, path, "its `name:`") for name in names)


def _block_names(blocks: dict, calls: dict) -> Iterable[tuple[str, tuple, str]]:
    """A `name` argument inside a block is taken as it is by every call of the block."""
    for block_name, block in blocks.items():
        block = mapping(block)
        listed = [(("model", "blocks", block_name, "layers", i), item)
                  for i, item in enumerate(items(block.get("layers")))]
        listed += [(("model", "blocks", block_name, "nodes", n), item) for n, item in mapping(block.get("nodes")).items()]
        for path, item in listed:
            own = _arg_name(item) if isinstance(item, dict) else None
            times = calls.get(block_name, 0) * _repeat(item)
            if own is not None and times > 1:
                yield from ((own, path, f"its `name` argument, in every call of block '{block_name}'")
                            for _ in range(2))


def _block_calls(model: dict, blocks: dict) -> dict:
    """Block name -> how many times it is called (repeats and calls from other blocks counted)."""
    counts: dict[str, int] = {}

    def visit(listed: list, times: int, seen: tuple) -> None:
        for item in listed:
            key = _key(item)
            if key is not None and key in blocks and key not in seen:
                counts[key] = counts.get(key, 0) + times * _repeat(item)
                inner = mapping(blocks[key])
                visit(items(inner.get("layers")) + list(mapping(inner.get("nodes")).values()),
                      times * _repeat(item), seen + (key,))

    for _, network in _networks(model):
        visit(items(network.get("layers")) + list(mapping(network.get("nodes")).values()), 1, ())
    return counts


def _clashes(doc: Document, named: list) -> list[Problem]:
    first: dict[str, tuple] = {}
    out, reported = [], set()
    for name, path, why in named:
        if name not in first:
            first[name] = path
            continue
        if path in reported:
            continue
        reported.add(path)
        if first[name] == path:
            message = f"layer name '{name}' would be given to several layers ({why})"
            hint = "remove the `name` argument (specc names each copy), or give the item a `name:` instead"
        else:
            message = f"layer name '{name}' is already used by {json_path(first[name])}"
            hint = "give one of them another name"
        out.append(_p(doc, path, message, hint, code="name"))
    return out


def _unusable(doc: Document, named: list) -> list[Problem]:
    """Names TensorFlow refuses as name scopes when it traces the training step (Keras builds
    and compiles with them, so training ended in exit 70): 'schicht_ä', a control character."""
    out, seen = [], set()
    for name, path, why in named:
        if path not in seen and not SCOPE_NAME.fullmatch(name):
            seen.add(path)
            out.append(_p(doc, path, f"layer name {shown_value(name)} ({why}) holds characters TensorFlow "
                          "refuses in a layer's name", "use ASCII letters, digits and _ . - only",
                          code="name"))
    return out


# --- items -----------------------------------------------------------------------------------

def _key(item: Any) -> Optional[str]:
    if isinstance(item, str):
        return item
    return layer_key(item) if isinstance(item, dict) else None


def _item_name(item: Any) -> Optional[str]:
    return text(item.get("name")) if isinstance(item, dict) else None


def _arg_name(item: dict) -> Optional[str]:
    key = _key(item)
    args = item.get(key) if key else None
    return text(args.get("name")) if isinstance(args, dict) else None


def _repeat(item: Any) -> int:
    repeat = integer(item.get("repeat")) if isinstance(item, dict) else None
    return repeat if repeat and repeat > 0 else 1
