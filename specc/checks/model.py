"""Semantic checks of the model: layer names and arguments, graphs, blocks.

No TensorFlow here: layer names and arguments come from the shipped Keras catalog.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from specc import catalog
from specc.checks._common import problem as _p
from specc.errors import Problem
from specc.suggest import did_you_mean, one_of

META_KEYS = ("from", "repeat", "name", "trainable")
COMPOSITES = {"autoencoder": ("encoder", "decoder"), "gan": ("generator", "discriminator")}


# --- model structure -------------------------------------------------------------------------

def check_model_form(doc) -> list[Problem]:
    """Exactly one architecture form, and the one the task needs."""
    model, task = doc.data["model"], doc.data["task"]
    forms = [k for k in ("layers", "nodes") if k in model]
    parts = [k for k in ("encoder", "decoder", "generator", "discriminator") if k in model]
    kind = task.get("type")
    out = []
    if kind in COMPOSITES:
        need = COMPOSITES[kind]
        for part in need:
            if part not in model:
                out.append(_p(doc, ("model",), f"a {kind} model needs `{part}:`",
                              f"a {kind} spec has model: {{{need[0]}: ..., {need[1]}: ...}}"))
        return out
    if parts:
        out.append(_p(doc, ("model", parts[0]), f"`{parts[0]}:` belongs to an autoencoder or gan task",
                      f"set task.type to {'autoencoder' if parts[0] in ('encoder', 'decoder') else 'gan'}, or use layers:/nodes:", key=True))
    if len(forms) == 2:
        out.append(_p(doc, ("model", "nodes"), "give either `layers:` (a stack) or `nodes:` (a graph), not both",
                      "a stack is a graph where each node takes the previous one", key=True))
    elif not forms and not parts:
        out.append(_p(doc, ("model",), "the model has no `layers:` or `nodes:`",
                      "add `layers:` with a list of layers"))
    if "outputs" in model and "nodes" not in model:
        out.append(_p(doc, ("model", "outputs"), "`outputs:` goes with a graph (`nodes:`)",
                      "remove it, or turn the layers into nodes", key=True))
    if not model.get("inputs") and kind not in COMPOSITES:
        out.append(_p(doc, ("model",), "the model has no `inputs:`",
                      "name each input with its shape, e.g. inputs: {image: [8, 8, 1]}"))
    return out


def _layer_items(model: dict, base: tuple) -> Iterable[tuple[tuple, Any, bool]]:
    """(path, item, in_graph) for every layer item in a model, its blocks and sub-networks."""
    for i, item in enumerate(model.get("layers", [])):
        yield base + ("layers", i), item, False
    for name, item in model.get("nodes", {}).items():
        yield base + ("nodes", name), item, True
    head = model.get("head")
    if head is not None and head not in ("auto", "none"):
        yield base + ("head",), head, False
    for bname, block in model.get("blocks", {}).items():
        yield from _layer_items(block, base + ("blocks", bname))
    for part in ("encoder", "decoder", "generator", "discriminator"):
        if isinstance(model.get(part), dict):
            yield from _layer_items(model[part], base + (part,))


def check_layer_items(doc) -> list[Problem]:
    """Each item names one known layer or block, with known arguments."""
    model = doc.data["model"]
    blocks = list(model.get("blocks", {}))
    plugins = bool(doc.data.get("plugins"))
    out = []
    for path, item, in_graph in _layer_items(model, ("model",)):
        out += _check_item(doc, path, item, in_graph, blocks, plugins)
    preprocessing = doc.data.get("data", {}).get("preprocessing", [])
    for i, item in enumerate(preprocessing if isinstance(preprocessing, list) else []):
        if isinstance(item, (str, dict)):
            out += _check_item(doc, ("data", "preprocessing", i), item, False, [], plugins)
    return out


def _check_item(doc, path, item, in_graph, blocks, plugins) -> list[Problem]:
    if isinstance(item, str):
        return _check_name(doc, path, item, blocks, plugins, key=False)
    names = [k for k in item if k not in META_KEYS]
    if not names:
        return [_p(doc, path, "this item names no layer", "write e.g. `dense: {units: 64}`")]
    if len(names) > 1:
        shown = ", ".join(f"'{n}'" for n in names)
        return [_p(doc, path + (names[1],), f"one item holds several layers ({shown})",
                   "put each layer in its own list item (or node)", key=True)]
    name = names[0]
    out = _check_name(doc, path + (name,), name, blocks, plugins, key=True)
    if "from" in item and not in_graph:
        out.append(_p(doc, path + ("from",), "`from:` only means something in a graph (`nodes:`)",
                      "in `layers:` each layer takes the previous one; remove `from:`", key=True))
    if in_graph and "from" not in item:
        out.append(_p(doc, path, "this node has no `from:`",
                      "say which input or node feeds it, e.g. from: image"))
    if not out:
        out += _check_wrapped(doc, path + (name,), name, item[name], in_graph, blocks, plugins)
        out += _check_named_args(doc, path + (name,), item[name])
    return out


def _check_name(doc, path, name, blocks, plugins, key) -> list[Problem]:
    if name in catalog.layer_names() or name in blocks:
        return []
    if plugins:
        return [_p(doc, path, f"'{name}' is not a Keras layer or a block; it must come from a plugin",
                   "it is looked up when the plugins are imported (specc compile)",
                   code="unknown-layer", severity="warning", key=key)]
    hint = did_you_mean(name, catalog.layer_names() + blocks)
    return [_p(doc, path, f"unknown layer '{name}'",
               hint or "layers are Keras's snake_case names (dense, conv2d, lstm, ...) or blocks "
                       "under model.blocks; custom layers come from `plugins:`",
               code="unknown-layer", key=key)]


def _check_wrapped(doc, path, name, args, in_graph, blocks, plugins) -> list[Problem]:
    info = catalog.layer_info(name) or {}
    if info.get("wrapper") and isinstance(args, dict) and "layer" in args:
        return _check_item(doc, path + ("layer",), args["layer"], False, blocks, plugins)
    return []


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


def _check_named_args(doc, path, args) -> list[Problem]:
    """Activation / initializer / regularizer / constraint names inside layer arguments."""
    if not isinstance(args, dict):
        return []
    out = []
    for arg, value in args.items():
        kind = _arg_kind(arg)
        name = value if isinstance(value, str) else (next(iter(value)) if isinstance(value, dict) and len(value) == 1 else None)
        if kind and isinstance(name, str) and not name.startswith("$"):
            out += _check_catalog_name(doc, path + (arg,), name, kind, kind[:-1])
    return out


def _check_catalog_name(doc, path, name, kind, what) -> list[Problem]:
    known = catalog.names(kind)
    if not known or name in known:
        return []
    hint = did_you_mean(name, known) or f"known {kind}: {one_of(sorted(known))}"
    return [_p(doc, path, f"unknown {what} '{name}'", hint, code=f"unknown-{what}")]


# --- graphs ----------------------------------------------------------------------------------

def check_graphs(doc) -> list[Problem]:
    """References exist, no cycles, every node reaches an output, names unique."""
    model = doc.data["model"]
    out = []
    if "nodes" in model:
        out += _check_graph(doc, ("model",), model["nodes"], list(model.get("inputs", {})),
                            model.get("outputs"))
    for bname, block in model.get("blocks", {}).items():
        if "nodes" in block:
            out += _check_graph(doc, ("model", "blocks", bname), block["nodes"],
                                [block.get("input", "x")],
                                {"out": block["output"]} if "output" in block else None)
    return out


def _sources(item: Any) -> list[str]:
    src = item.get("from", []) if isinstance(item, dict) else []
    return [src] if isinstance(src, str) else list(src)


def _check_graph(doc, base, nodes, inputs, outputs) -> list[Problem]:
    out = []
    for name in nodes:
        if name in inputs:
            out.append(_p(doc, base + ("nodes", name), f"node '{name}' has the name of an input",
                          "give the node another name", key=True))
    known = list(inputs) + list(nodes)
    for name, item in nodes.items():
        for i, src in enumerate(_sources(item)):
            if src not in known:
                where = base + ("nodes", name, "from") + ((i,) if isinstance(item["from"], list) else ())
                out.append(_p(doc, where, f"'{src}' is not an input or a node",
                              did_you_mean(src, known) or f"known here: {one_of(known)}",
                              code="unknown-reference"))
    out += _check_cycles(doc, base, nodes)
    targets = list((outputs or {}).values()) or [list(nodes)[-1]]
    for oname, node in (outputs or {}).items():
        if node not in nodes and node not in inputs:
            out.append(_p(doc, base + ("outputs", oname), f"output '{oname}' names '{node}', which is not a node",
                          did_you_mean(node, list(nodes)) or f"nodes: {one_of(list(nodes))}",
                          code="unknown-reference"))
    out += _check_reach(doc, base, nodes, targets)
    return out


def _check_cycles(doc, base, nodes) -> list[Problem]:
    state: dict[str, int] = {}
    for start in nodes:
        chain = _find_cycle(start, nodes, state, [])
        if chain:
            text = " -> ".join(chain)
            return [_p(doc, base + ("nodes", chain[0]), f"the graph has a cycle: {text}",
                       "a node cannot depend on itself; break the loop", code="cycle", key=True)]
    return []


def _find_cycle(node, nodes, state, stack) -> Optional[list]:
    if state.get(node) == 2 or node not in nodes:
        return None
    if state.get(node) == 1:
        return stack[stack.index(node):] + [node]
    state[node] = 1
    for src in _sources(nodes[node]):
        found = _find_cycle(src, nodes, state, stack + [node])
        if found:
            return found
    state[node] = 2
    return None


def _check_reach(doc, base, nodes, targets) -> list[Problem]:
    used, todo = set(), [t for t in targets if t in nodes]
    while todo:
        node = todo.pop()
        if node in used:
            continue
        used.add(node)
        todo += [s for s in _sources(nodes[node]) if s in nodes]
    return [_p(doc, base + ("nodes", name), f"node '{name}' does not lead to any output",
               "feed it into a node on the way to an output, or remove it",
               code="dead-node", severity="error", key=True)
            for name in nodes if name not in used]


# --- blocks ----------------------------------------------------------------------------------

def check_blocks(doc) -> list[Problem]:
    """Block params are declared, used, and given when required; calls pass known params."""
    model = doc.data["model"]
    blocks = model.get("blocks", {})
    out = []
    for bname, block in blocks.items():
        out += _check_block_body(doc, ("model", "blocks", bname), block, bname)
    for path, item, _ in _layer_items(model, ("model",)):
        name = next((k for k in item if k not in META_KEYS), None) if isinstance(item, dict) else item
        if name in blocks and name not in catalog.layer_names():
            args = item.get(name) if isinstance(item, dict) else None
            out += _check_block_call(doc, path + (name,), blocks[name], name, args or {})
    return out


def _check_block_body(doc, base, block, bname) -> list[Problem]:
    if not block.get("layers") and not block.get("nodes"):
        return [_p(doc, base, f"block '{bname}' has no `layers:` or `nodes:`", "give its layers")]
    params = block.get("params") or {}
    used = {}
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
    params = block.get("params") or {}
    if not isinstance(args, dict):
        return [_p(doc, path, f"block '{bname}' takes a mapping of its params",
                   f"params: {one_of(list(params)) or 'none'}")]
    out = [_p(doc, path + (arg,), f"block '{bname}' has no parameter '{arg}'",
              did_you_mean(arg, list(params)) or f"its params: {one_of(list(params)) or 'none'}",
              code="block-param", key=True)
           for arg in args if arg not in params]
    out += [_p(doc, path, f"block '{bname}' needs parameter '{name}'", f"add {name}: <value>",
               code="block-param")
            for name, default in params.items() if default is None and name not in args]
    return out


def _walk(node, path):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "params":
                yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))
