"""Semantic checks of the model: its form, layer names and arguments, blocks (graphs: graphs.py).

No TensorFlow here: layer names and arguments come from the shipped Keras catalog.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional

from specc import catalog
from specc.registries import TASK_TYPES, model_parts, task_type
from specc.spec_data import items, mapping
from specc.tasks import trees
from specc.spec_data import problem as _p
from specc.errors import Problem
from specc.suggest import a_or_an, did_you_mean, one_of

from specc.checks.plugins import plugin_args, plugin_layers
from specc.layer_items import META_KEYS, layer_items, layer_items_of
from specc.backbones import KEY as BACKBONE

if TYPE_CHECKING:
    from specc.load.document import Document


# --- model structure -------------------------------------------------------------------------

def check_trees_form(doc: Document) -> list[Problem]:
    """A `trees:` model: nothing of a network beside it, and a task type trees can learn (its
    declaration's `trees` objective)."""
    model, task = doc.data["model"], mapping(doc.data["task"])
    out = [_p(doc, ("model", key), f"`{key}:` belongs to a network; a trees model has only `trees:`",
              "remove it, or remove `trees:` to train a network", key=True)
           for key in model if key != trees.FORM]
    if "outputs" in task:
        out.append(_p(doc, ("task", "outputs"), "a trees model learns one task, not several outputs",
                      "give one task type, or use a network for several outputs", key=True))
        return out
    preprocessing = mapping(doc.data.get("data")).get("preprocessing")
    if preprocessing:
        out.append(_p(doc, ("data", "preprocessing"), "a trees model takes no data.preprocessing: its layers "
                      "belong to a network", "remove it: trees split on raw values, so scaling changes nothing",
                      key=True))
    declared = task_type(task)
    if declared is not None and declared.trees is None:
        able = [name for name in TASK_TYPES if TASK_TYPES.get(name).trees]
        out.append(_p(doc, ("model", trees.FORM), f"gradient-boosted trees cannot learn {a_or_an(declared.name)} "
                      f"task", f"trees learn {one_of(able)}; use a network for {declared.name}", key=True))
    return out


def check_model_form(doc: Document) -> list[Problem]:
    """Exactly one architecture form, and the one the task needs."""
    model, task = doc.data["model"], mapping(doc.data["task"])
    if trees.FORM in model:
        return check_trees_form(doc)
    forms = [k for k in ("layers", "nodes") if k in model]
    owners = {part: name for name in TASK_TYPES for part in TASK_TYPES.get(name).parts}
    parts = [k for k in owners if k in model]
    declared = task_type(task)
    kind = declared.name if declared else None
    out = []
    if declared is not None and declared.parts:
        need = declared.parts
        for part in need:
            if part not in model:
                shown = ", ".join(f"{p}: ..." for p in need)
                out.append(_p(doc, ("model",), f"{a_or_an(kind)} model needs `{part}:`",
                              f"{a_or_an(kind)} spec has model: {{{shown}}}", missing=part))
            elif isinstance(model[part], dict) and "layers" not in model[part] and "nodes" not in model[part]:
                out.append(_p(doc, ("model", part), f"the {part} has no `layers:` or `nodes:`",
                              f"add `layers:` with a list of layers under model.{part}", missing="layers"))
        return out
    if parts:
        composite = [n for n in TASK_TYPES if TASK_TYPES.get(n).parts]
        out.append(_p(doc, ("model", parts[0]), f"`{parts[0]}:` belongs to an {' or '.join(composite)} task",
                      f"set task.type to {owners[parts[0]]}, or use layers:/nodes:", key=True))
    if len(forms) == 2:
        out.append(_p(doc, ("model", "nodes"), "give either `layers:` (a stack) or `nodes:` (a graph), not both",
                      "a stack is a graph where each node takes the previous one", key=True))
    elif not forms and not parts:
        out.append(_p(doc, ("model",), "the model has no `layers:` or `nodes:`",
                      "add `layers:` with a list of layers", missing="layers"))
    if "outputs" in model and "nodes" not in model:
        out.append(_p(doc, ("model", "outputs"), "`outputs:` goes with a graph (`nodes:`)",
                      "remove it, or turn the layers into nodes", key=True))
    if "inputs" not in model:
        out.append(_p(doc, ("model",), "the model has no `inputs:`",
                      "name each input with its shape, e.g. inputs: {image: [8, 8, 1]}", missing="inputs"))
    return out


def wrapped_layers(item: Any, path: tuple) -> Iterable[tuple[tuple, str, dict]]:
    """(path of the args, wrapper name, args) of every wrapper in `item` given in its long form
    (`bidirectional: {layer: {lstm: 16}, merge_mode: sum}`), wrappers inside wrappers too."""
    name = _item_name(item)
    info = catalog.layer_info(name) if name else None
    if not name or not info or not info.get("wrapper") or not isinstance(item, dict):
        return
    args = item[name]
    if not isinstance(args, dict):
        return
    own = {arg["name"] for arg in info.get("args", [])}
    if not set(args) & own:  # the short form: the args are the wrapped layer itself
        yield from wrapped_layers(args, path + (name,))
        return
    yield path + (name,), name, args
    for key in ("layer", "backward_layer"):
        if key in args:
            yield from wrapped_layers(args[key], path + (name, key))


def _item_name(item: Any) -> Optional[str]:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        names = [k for k in item if k not in META_KEYS]
        return names[0] if len(names) == 1 else None
    return None


def check_layer_items(doc: Document) -> list[Problem]:
    """Each item names one known layer or block, with known arguments."""
    model = doc.data["model"]
    blocks = list(mapping(model.get("blocks")))
    plugins: Any = bool(doc.data.get("plugins"))
    if plugins:  # the plugins' layers, when their sources tell (else True: unknown layers may be theirs)
        known = plugin_layers(doc)
        plugins = known if known is not None else True
    out = []
    for path, item in layer_items(doc.data):
        names = blocks if path[0] == "model" else []
        out += _check_item(doc, path, item, blocks=names, plugins=plugins)
    return out


def _check_item(doc, path, item, blocks, plugins) -> list[Problem]:
    """One layer item; `from:` is allowed only in a graph (a node's path ends with its name)."""
    if isinstance(item, str):
        return (_check_name(doc, path, item, blocks, plugins, key=False) or _check_required(doc, path, item)
                or _check_one_of(doc, path, item, None))
    if not isinstance(item, dict):
        return []  # the schema reports the wrong type
    names = [k for k in item if k not in META_KEYS]
    if not names:
        return [_p(doc, path, "this item names no layer", "write e.g. `dense: {units: 64}`")]
    if len(names) > 1:
        shown = ", ".join(f"'{n}'" for n in names)
        return [_p(doc, path + (names[1],), f"one item holds several layers ({shown})",
                   "put each layer in its own list item (or node)", key=True)]
    name = names[0]
    out = _check_name(doc, path + (name,), name, blocks, plugins, key=True)
    in_graph = len(path) >= 2 and path[-2] == "nodes"
    if "from" in item and not in_graph:
        out.append(_p(doc, path + ("from",), "`from:` only means something in a graph (`nodes:`)",
                      "in `layers:` each layer takes the previous one; remove `from:`", key=True))
    if not out and isinstance(plugins, dict) and name in plugins:
        out += plugin_args(doc, path + (name,), name, item[name], plugins[name])
    if not out:
        out += _check_one_of(doc, path + (name,), name, item[name])
        out += _check_wrapped(doc, path + (name,), name, item[name], blocks, plugins)
        out += _check_named_args(doc, path + (name,), name, item[name])
    return out


def _check_one_of(doc, path, name, args) -> list[Problem]:
    """Layers whose constructor needs one of some optional arguments (`discretization`:
    num_bins or bin_boundaries); the catalog says which (tools/arg_constraints.py)."""
    needs = (catalog.layer_info(name) or {}).get("needs_one_of")
    given = args if isinstance(args, dict) else {}
    if not needs or any(given.get(arg) is not None for arg in needs):
        return []
    shown = " or ".join(needs)
    return [_p(doc, path, f"{name} needs {shown}", f"e.g. `{name}: {{{needs[0]}: ...}}`", code="required",
               missing=needs[0])]


def _check_required(doc, path, name) -> list[Problem]:
    """A layer named bare (`- dot`) still needs its required arguments (the schema checks
    the other forms, `dot: {...}` and `dot: VALUE`, itself)."""
    info = catalog.layer_info(name)
    required = [arg["name"] for arg in info["args"] if arg["required"]] if info else []
    if not required:
        return []
    short = info.get("short") if info else None
    if info and info.get("wrapper"):
        hint = f"name the layer it wraps, e.g. `{name}: {{dense: 8}}`"
    elif required == [short]:
        hint = f"write `{name}: VALUE` (its {short}), or `{name}: {{{short}: VALUE}}`"
    else:
        hint = f"write it with its arguments: `{name}: {{" + ", ".join(f"{arg}: ..." for arg in required) + "}`"
    needed = " and ".join(f"'{arg}'" for arg in required)
    return [_p(doc, path, f"{name} needs the argument{'s' if len(required) > 1 else ''} {needed}", hint,
               code="required", missing=required[0])]


def _check_name(doc, path, name, blocks, plugins, key) -> list[Problem]:
    if name == BACKBONE:  # specc's own layer: a trained network (checks/backbones.py)
        return []
    if name in catalog.layer_names() or name in blocks or (isinstance(plugins, dict) and name in plugins):
        return []
    if isinstance(plugins, dict):
        ours = sorted(n for n in plugins if ">" not in n)
        hint = did_you_mean(name, catalog.layer_names() + blocks + ours)
        return [_p(doc, path, f"unknown layer '{name}'", hint or "layers are Keras's snake_case names, blocks "
                   f"under model.blocks, or the plugins' layers ({', '.join(ours) or 'none'})",
                   code="unknown-layer", key=key)]
    if plugins:
        return [_p(doc, path, f"'{name}' is not a Keras layer or a block; it must come from a plugin",
                   "it is looked up when the plugins are imported (specc compile)",
                   code="unknown-layer", severity="warning", key=key)]
    hint = did_you_mean(name, catalog.layer_names() + blocks)
    return [_p(doc, path, f"unknown layer '{name}'",
               hint or "layers are Keras's snake_case names (dense, conv2d, lstm, ...) or blocks "
                       "under model.blocks; custom layers come from `plugins:`",
               code="unknown-layer", key=key)]


def _check_wrapped(doc, path, name, args, blocks, plugins) -> list[Problem]:
    """The layer(s) inside a wrapper: `{layer: ITEM, ...}`, or the short form `{lstm: 16}`."""
    info = catalog.layer_info(name) or {}
    if info.get("wrapper") and isinstance(args, str):  # `bidirectional: lstm`, the wrapped layer's name
        return _check_item(doc, path, args, blocks, plugins)
    if not info.get("wrapper") or not isinstance(args, dict):
        return []
    own = {arg["name"] for arg in info.get("args", [])}
    if not set(args) & own:
        return _check_item(doc, path, args, blocks, plugins)
    out = []
    for key in ("layer", "backward_layer"):
        if key in args and args[key] is not None:
            out += _check_item(doc, path + (key,), args[key], blocks, plugins)
    return out


ARG_KINDS = {"activation": "activations", "recurrent_activation": "activations"}
SUFFIX_KINDS = {"_initializer": "initializers", "_regularizer": "regularizers",
                "_constraint": "constraints"}


def _arg_kind(arg: str) -> Optional[str]:
    if arg in ARG_KINDS:
        return ARG_KINDS[arg]
    for suffix, kind in SUFFIX_KINDS.items():
        if arg.endswith(suffix):
            return kind
    return None


def _check_named_args(doc, path, name, args) -> list[Problem]:
    """Activation / initializer / regularizer / constraint names inside layer arguments
    (the short form too: `activation: relu` is the activation layer's one argument)."""
    if isinstance(args, dict):
        given = [(arg, value, path + (arg,)) for arg, value in args.items()]
    else:
        given = [(catalog.short_arg(name), args, path)]
    out = []
    for arg, value, where in given:
        kind = _arg_kind(arg) if isinstance(arg, str) else None
        if not kind:
            continue
        if isinstance(value, str) and not value.startswith("$"):
            out += _check_catalog_name(doc, where, value, kind, key=False) or _needs_arguments(doc, where, value, kind)
        elif isinstance(value, dict) and len(value) == 1:  # {l2: {l2: 0.01}}: point at the name
            out += _check_called(doc, where, value, kind)
        elif isinstance(value, dict) and kind == "activations":  # the schema checks the others' mappings
            what = kind[:-1]
            out.append(_p(doc, where, f"expected {_an(what)} {what} name or {{name: {{arguments}}}}, found a "
                          f"mapping with {len(value)} keys", f"e.g. {arg}: {_example(kind)}", code="type"))
    return out


def _check_called(doc, path, value, kind) -> list[Problem]:
    name, args = next(iter(value.items()))
    out = _check_catalog_name(doc, path + (name,), name, kind, key=True)
    if not out and kind == "activations" and args:
        out.append(_p(doc, path + (name,), f"activation '{name}' cannot take arguments here",
                      f"write `{name}` alone, or use the layer `{name}` with its arguments", code="type",
                      key=True))
    return out


def _needs_arguments(doc, path, name, kind) -> list[Problem]:
    """An activation Keras cannot call without arguments (`threshold`): a layer's activation
    is named alone, so it cannot have them."""
    entry = catalog.entry(kind, name) or {}
    required = [arg["name"] for arg in entry.get("args", []) if arg["required"]]
    if kind != "activations" or not required:
        return []
    needed = " and ".join(f"'{arg}'" for arg in required)
    return [_p(doc, path, f"activation '{name}' needs {needed}, which an activation named in a layer cannot "
               "take", f"use an activation without required arguments, e.g. {_example(kind)}", code="required")]


def _an(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _example(kind: str) -> str:
    return {"activations": "relu", "initializers": "he_normal", "regularizers": "{l2: 1.0e-4}",
            "constraints": "max_norm"}.get(kind, "NAME")


def _check_catalog_name(doc, path, name, kind, key) -> list[Problem]:
    known = catalog.names(kind)
    if not known or name in known:
        return []
    what = kind[:-1]
    hint = did_you_mean(name, known) or f"known {kind}: {one_of(sorted(known))}"
    return [_p(doc, path, f"unknown {what} '{name}'", hint, code=f"unknown-{what}", key=key)]


# --- blocks ----------------------------------------------------------------------------------

def check_blocks(doc: Document) -> list[Problem]:
    """Block params are declared, used, and given when required; calls pass known params."""
    model = doc.data["model"]
    blocks = mapping(model.get("blocks"))
    out = []
    for bname, block in blocks.items():
        if isinstance(block, dict):
            out += _check_block_body(doc, ("model", "blocks", bname), block, bname)
    for path, item, _ in layer_items_of(model, ("model",)):
        name = _item_name(item)
        if name in blocks and isinstance(blocks[name], dict) and name not in catalog.layer_names():
            args = item.get(name) if isinstance(item, dict) else None
            out += _check_block_call(doc, path + (name,), blocks[name], name, args or {})
    return out


def _check_block_body(doc, base, block, bname) -> list[Problem]:
    if not block.get("layers") and not block.get("nodes"):
        return [_p(doc, base, f"block '{bname}' has no `layers:` or `nodes:`", "give its layers",
                   missing="layers")]
    params = mapping(block.get("params"))
    used: dict[str, tuple] = {}  # `$name` -> where it is first used
    for path, value in _walk(block, base):
        if isinstance(value, str) and value.startswith("$"):
            used.setdefault(value[1:], path)
    out = [_p(doc, path, f"'${name}' is not a parameter of block '{bname}'",
              did_you_mean(name, list(params)) or f"declare it: params: {{{name}: <default>}}",
              code="block-param")
           for name, path in used.items() if name not in params]
    out += [_p(doc, base + ("params", name), f"parameter '{name}' of block '{bname}' is never used",
               f"use it as ${name} in the block's layers, or remove it",
               code="block-param", severity="warning", key=True)
            for name in params if name not in used]
    return out


def _check_block_call(doc, path, block, bname, args) -> list[Problem]:
    params = mapping(block.get("params"))
    if not isinstance(args, dict):
        return [_p(doc, path, f"block '{bname}' takes a mapping of its params, found {_kind(args)}",
                   f"params: {one_of(list(params)) or 'none'}")]
    out = [_p(doc, path + (arg,), f"block '{bname}' has no parameter '{arg}'",
              did_you_mean(arg, list(params)) or f"its params: {one_of(list(params)) or 'none'}",
              code="block-param", key=True)
           for arg in args if arg not in params]
    out += [_p(doc, path, f"block '{bname}' needs parameter '{name}'", f"add {name}: <value>",
               code="block-param", missing=name)
            for name, default in params.items() if default is None and name not in args]
    return out


def _kind(value) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _walk(node, path):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "params":
                yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))
