"""Build the functional keras.Model of a resolved spec.

- `model.inputs` become `keras.Input`s named after the spec;
- `data.preprocessing` layers go right after each float input, named `<input>_<layer>`
  (e.g. `features_normalization`); `adapt_preprocessing` adapts them on training data;
- a sequential `layers:` stack is chained; a graph's `nodes:` are connected in dependency
  order through `from:` (a merge layer gets the list of its inputs);
- blocks are expanded with their parameters (`$filters`), `repeat: N` stacks N copies, each
  feeding the next (`res_1`, `res_2`; the layers inside a block call are `res_1_a`, ...);
- every output layer is named after its output, so `model.output_names`, loss dicts and
  exported signatures use the spec's words.

Spec paths given to `where` are those of the original spec: `model.layers[i]` keeps its
index, an appended head is `("model", "head")`, a layer inside a block is
`("model", "blocks", <block>, "nodes", <node>)`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, cast

import keras

from specc.compile.blocks import call_block
from specc.compile.layers import build_layer, input_mode
from specc.compile.preprocessing import add_preprocessing
from specc.compile.objects import problem
from specc.compile.shapes import check_outputs, connect, shape_text
from specc.errors import Position, Problem, SpecInvalid, json_path
from specc.backbones import KEY as BACKBONE
from specc.layer_items import layer_key
from specc.render import DEFAULT_OUTPUT, output_tasks
from specc.suggest import did_you_mean

@dataclass
class Scope:
    """Where a set of nodes or layers lives: spec path prefix, name prefix, message note."""

    path: tuple
    prefix: str = ""
    note: str = ""
    trainable: Optional[bool] = None
    blocks_open: tuple = ()


@dataclass
class Builder:
    """State shared while one model is built."""

    blocks: dict[str, Any]
    where: Optional[Callable] = None
    defaults: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)       # Keras layer name -> spec path
    used: dict = field(default_factory=dict)        # Keras layer name -> spec path (first user)
    preprocessing: dict = field(default_factory=dict)  # input name -> [layer names]

    def place(self, path: tuple) -> Optional[Position]:
        return self.where(tuple(path)) if self.where else None

    def claim(self, name: Optional[str], path: tuple) -> None:
        """Reserve a layer name; two layers with one name is a spec problem."""
        if name is None:
            return
        if name in self.used and self.used[name] != tuple(path):
            other = json_path(self.used[name])
            raise problem(path, f"layer name '{name}' is already used by {other}",
                          "give one of them another `name:`", self.where)
        self.used[name] = tuple(path)

    def make(self, item: dict, path: tuple, name: Optional[str], scope: Scope,
             extra: Optional[dict] = None) -> Any:
        """Build one layer and remember which spec path it came from."""
        self.claim(name, path)
        layer = build_layer(item, path, self.where, name=name, defaults={**self.defaults, **(extra or {})},
                            blocks=tuple(self.blocks))
        if scope.trainable is not None:
            layer.trainable = scope.trainable
        self.paths[layer.name] = tuple(path)
        self.used.setdefault(layer.name, tuple(path))
        return layer

    def backbone(self, item: dict, x: Any, path: tuple, name: Optional[str], trainable: Optional[bool]) -> Any:
        """Build a backbone item (compile/backbone.py) and call it on `x`."""
        from specc.compile.backbone import build_backbone, freeze_batch_norm, inference

        name = name or item.get("name") or BACKBONE
        self.claim(name, path)
        layer = build_backbone(item, BACKBONE, path, name, tuple(x.shape[1:]), self.where)
        if trainable is not None:
            layer.trainable = trainable
        if inference(item[BACKBONE]):
            freeze_batch_norm(layer)
        self.paths[layer.name] = tuple(path)
        try:
            return layer(x)
        except Exception as err:  # noqa: BLE001 - an input the saved network does not take
            from specc.compile.shapes import clean_message

            raise problem(tuple(path) + (BACKBONE,), f"the backbone does not take {shape_text(x)}: "
                          f"{clean_message(err)}", "give it inputs of the shape it was trained on",
                          self.where) from None


# --- entry points ----------------------------------------------------------------------------

def build(resolved: dict, where: Optional[Callable] = None) -> Any:
    """The uncompiled keras.Model of a resolved spec's `model:` (see the module docstring)."""
    return build_network(resolved["model"], resolved, where, ("model",), resolved.get("name", "model"), top=True)


def build_network(spec: dict, resolved: dict, where: Optional[Callable], path: tuple, name: str,
                  top: bool = True) -> Any:
    """One functional model from a `layers:` stack or a `nodes:` graph.

    Args:
        spec: The model (or part) section of a resolved spec.
        resolved: The whole resolved spec (task, data.preprocessing).
        where: Maps a spec path to a Position.
        path: Spec path of `spec` (`("model",)`, `("model", "encoder")`).
        name: The Keras model name.
        top: Whether data.preprocessing and the task's output checks apply.
    """
    builder = Builder(blocks=spec.get("blocks") or resolved["model"].get("blocks") or {}, where=where)
    if resolved["model"].get("initializer") is not None:
        builder.defaults["kernel_initializer"] = resolved["model"]["initializer"]
    inputs = make_inputs(spec.get("inputs") or {}, path, where)
    tensors = dict(inputs)
    if top:
        tensors = add_preprocessing(builder, inputs, resolved.get("data", {}).get("preprocessing") or [])
    if "layers" in spec:
        outputs, out_paths = _sequential(builder, spec, tensors, path)
    elif "nodes" in spec:
        outputs, out_paths = _graph(builder, spec, tensors, path)
    else:
        raise problem(path, "the model has neither `layers:` nor `nodes:`",
                      "list the layers under `layers:` (a stack) or `nodes:` (a graph)", where)
    if top:
        check_outputs(outputs, output_tasks(resolved.get("task", {})), out_paths, where)
    model = _functional(list(inputs.values()), outputs, name, path, where, len(builder.paths))
    remember(model, builder.paths, builder.preprocessing)
    return model


def _functional(inputs: list, outputs: dict, name: str, path: tuple, where, layer_count: int = 0):
    outs = list(outputs.values())
    # Keras walks the layer graph recursively (a few frames per layer): deep stacks need room.
    limit = sys.getrecursionlimit()
    needed = 1000 + 8 * layer_count
    try:
        if needed > limit:
            sys.setrecursionlimit(needed)
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                           outs[0] if len(outs) == 1 else outs, name=name)
    except SpecInvalid:
        raise
    except RecursionError:
        raise problem(path, f"the model is too deep for Keras to connect ({layer_count} layers)",
                      "raise Python's recursion limit (sys.setrecursionlimit) or use fewer layers",
                      where) from None
    except Exception as err:  # noqa: BLE001
        from specc.compile.shapes import clean_message

        raise problem(path, f"the layers do not form a model: {clean_message(err)}",
                      "every output must be reachable from the inputs", where) from None
    finally:
        sys.setrecursionlimit(limit)


def remember(model: Any, paths: dict, preprocessing: dict) -> None:
    """Keep the spec paths and preprocessing layer names on the model (for summary/adapt)."""
    object.__setattr__(model, "specc_paths", dict(paths))
    object.__setattr__(model, "specc_preprocessing", {k: list(v) for k, v in preprocessing.items()})


# --- inputs ---------------------------------------------------------------------------------------

def make_inputs(inputs: dict, path: tuple, where: Optional[Callable]) -> dict:
    """Input name -> keras.Input (shape without the batch axis, dtype, name)."""
    if not inputs:
        raise problem(tuple(path) + ("inputs",), "the model has no inputs",
                      "add `inputs: {features: [13]}` (input name -> shape without the batch axis)", where)
    made = {}
    for name, value in inputs.items():
        value = value if isinstance(value, dict) else {"shape": value}
        shape = tuple(value["shape"])
        made[name] = keras.Input(shape=shape, dtype=value.get("dtype", "float32"), name=name)
    return made


# --- sequential stacks -------------------------------------------------------------------------

def _sequential(builder: Builder, spec: dict, tensors: dict, path: tuple) -> tuple[dict, dict]:
    if len(tensors) != 1:
        raise problem(tuple(path) + ("inputs",),
                      f"a `layers:` stack takes one input, the model has {len(tensors)}: "
                      f"{', '.join(tensors)}",
                      "use `nodes:` with `from:` (and a `concatenate` node) for several inputs",
                      builder.where)
    x = next(iter(tensors.values()))
    items = spec["layers"]
    if not items:
        raise problem(tuple(path) + ("layers",), "the layer stack is empty", "add layers", builder.where)
    last_path = tuple(path) + ("layers", len(items) - 1)
    for index, item in enumerate(items):
        item_path = _item_path(path, index, item, len(items))
        name = item.get("name")
        if index == len(items) - 1 and path == ("model",) and not name and not item.get("repeat", 1) > 1 \
                and layer_key(item) not in builder.blocks:
            name = DEFAULT_OUTPUT
        x = apply_item(builder, item, [x], None, item_path, name, Scope(tuple(path) + ("layers",)))
        last_path = item_path
    return {DEFAULT_OUTPUT if path == ("model",) else x.name: x}, {DEFAULT_OUTPUT: last_path}


def _item_path(path: tuple, index: int, item: dict, count: int) -> tuple:
    """Original spec path of a stack item; the appended head is `model.head`."""
    if path == ("model",) and index == count - 1 and item.get("name") == DEFAULT_OUTPUT:
        return ("model", "head")
    return tuple(path) + ("layers", index)


# --- graphs ----------------------------------------------------------------------------------------

def _graph(builder: Builder, spec: dict, tensors: dict, path: tuple) -> tuple[dict, dict]:
    nodes = spec["nodes"]
    outputs = spec.get("outputs") or {DEFAULT_OUTPUT: list(nodes)[-1]}
    heads = _head_nodes(nodes, outputs) if path == ("model",) else set()
    for output, node in outputs.items():
        if node not in nodes and node not in tensors:
            raise problem(tuple(path) + ("outputs", output), f"output '{output}' names '{node}', which is "
                          "neither a node nor an input", did_you_mean(node, list(nodes) + list(tensors)),
                          builder.where)
    names = _node_names(nodes, outputs, builder.blocks)
    paths = {n: (("model", "head") if n in heads else tuple(path) + ("nodes", n)) for n in nodes}
    done = build_nodes(builder, nodes, tensors, Scope(tuple(path) + ("nodes",)), names, paths)
    result, out_paths = {}, {}
    for output, node in outputs.items():
        x = done[node]
        if _made_by(x) != output:
            layer = builder.make({"identity": {}}, paths.get(node, tuple(path) + ("outputs", output)),
                                 output, Scope(path))
            x = layer(x)
        result[output] = x
        out_paths[output] = paths.get(node, tuple(path) + ("outputs", output))
    return result, out_paths


def _head_nodes(nodes: dict, outputs: dict) -> set:
    """Nodes render appended for `head:` (the last ones, named after their output)."""
    tail = list(nodes)[-len(outputs):] if outputs else []
    return {n for n in tail if nodes[n].get("name") in outputs and outputs[nodes[n]["name"]] == n}


def _made_by(tensor) -> Optional[str]:
    """Name of the layer that produced a symbolic tensor."""
    operation = getattr(getattr(tensor, "_keras_history", None), "operation", None)
    return getattr(operation, "name", None)


def _node_names(nodes: dict, outputs: dict, blocks: dict) -> dict:
    """Node -> Keras layer name: its `name:`, the output it alone makes (a plain layer node),
    or the node name."""
    explicit = {item["name"] for item in nodes.values() if item.get("name")}
    makes: dict[str, list[str]] = {}  # node -> the outputs it makes
    for output, node in outputs.items():
        makes.setdefault(node, []).append(output)
    names = {}
    for node, item in nodes.items():
        if item.get("name"):
            names[node] = item["name"]
        elif len(makes.get(node, [])) == 1 and makes[node][0] not in nodes and makes[node][0] not in explicit \
                and layer_key(item) not in blocks and (item.get("repeat") or 1) == 1:
            names[node] = makes[node][0]
        elif node in explicit:
            names[node] = f"{node}_layer"
        else:
            names[node] = node
    return names


def build_nodes(builder: Builder, nodes: dict, tensors: dict, scope: Scope, names: Optional[dict] = None,
                paths: Optional[dict] = None) -> dict:
    """Connect graph nodes in dependency order; return name -> tensor (inputs included)."""
    names = names or {n: n for n in nodes}
    paths = paths or {n: tuple(scope.path) + (n,) for n in nodes}
    sources = _sources(builder, nodes, tensors, scope, paths)
    done = dict(tensors)
    for node in _order(builder, nodes, sources, tensors, paths):
        ins = [done[s] for s in sources[node]]
        item = nodes[node]
        done[node] = apply_item(builder, item, ins, sources[node], paths[node], scope.prefix + names[node],
                                scope)
    return done


def _sources(builder: Builder, nodes: dict, tensors: dict, scope: Scope, paths: dict) -> dict:
    sources, previous = {}, None
    known = list(tensors) + list(nodes)
    for node, item in nodes.items():
        srcs = item.get("from")
        if srcs is None:
            if previous is not None:
                srcs = [previous]
            elif len(tensors) == 1:
                srcs = list(tensors)
            else:
                raise problem(paths[node], f"node '{node}' needs `from:` (the model has several inputs: "
                              f"{', '.join(tensors)})", f"add `from: {next(iter(tensors))}`", builder.where)
        srcs = [srcs] if isinstance(srcs, str) else list(srcs)
        for src in srcs:
            if src not in nodes and src not in tensors:
                hint = did_you_mean(src, known) or f"known: {', '.join(known)}"
                raise problem(tuple(paths[node]) + ("from",),
                              f"node '{node}' takes from '{src}', which is neither a node nor an input"
                              + scope.note, hint, builder.where)
        sources[node] = srcs
        previous = node
    return sources


def _order(builder: Builder, nodes: dict, sources: dict, tensors: dict, paths: dict) -> list:
    """Nodes in dependency order (iterative DFS, so deep graphs do not hit the recursion limit)."""
    state: dict[str, int]  # node -> 1 while its inputs are visited, 2 when placed in order
    order, state = [], {}
    for start in nodes:
        if state.get(start) == 2:
            continue
        stack = [(start, iter(s for s in sources[start] if s in nodes))]
        state[start] = 1
        while stack:
            node, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif state.get(child) == 1:
                cycle = [n for n, _ in stack][[n for n, _ in stack].index(child):] + [child]
                raise problem(paths[child], "the graph has a cycle: " + " -> ".join(cycle),
                              "a node cannot feed itself, directly or through others", builder.where)
            elif state.get(child) != 2:
                state[child] = 1
                stack.append((child, iter(s for s in sources[child] if s in nodes)))
    return order


# --- one item: a layer (maybe repeated) or a block call --------------------------------------------

def apply_item(builder: Builder, item: dict, ins: list, srcs: Optional[list], path: tuple,
               name: Optional[str], scope: Scope) -> Any:
    """Apply a layer item (or block call), `repeat` times, to `ins`; return the output tensor."""
    key = layer_key(item)
    repeat = item.get("repeat", 1) or 1
    trainable = item.get("trainable", scope.trainable)
    x = ins
    for r in range(1, repeat + 1):
        rep_name = f"{name}_{r}" if (name and repeat > 1) else name
        if key in builder.blocks:
            x = [call_block(builder, key, item, x, srcs, path, rep_name or _auto_name(builder, key),
                            scope, r if repeat > 1 else None, trainable)]
        elif key == BACKBONE:
            x = [builder.backbone(item, x[0], path, rep_name, trainable)]
        else:
            extra = {"dtype": "float32"} if path == ("model", "head") and _mixed() else None
            layer = builder.make(item, path, rep_name, Scope(scope.path, trainable=trainable), extra)
            # builder.make has refused an item that names no layer, so the key is a name
            x = [connect_layer(builder, layer, cast(str, key), x, srcs if r == 1 else None, path, scope.note)]
        srcs = None
    return x[0]


def connect_layer(builder: Builder, layer: Any, key: str, ins: list, srcs: Optional[list], path: tuple,
                  note: str = "") -> Any:
    """Call a layer on its inputs the way it takes them (one tensor, a list, or positional)."""
    cls: type = type(layer)  # typed: mypy calls type(<Any>) unhashable, and input_mode is lru_cached
    mode = input_mode(cls)
    if mode == "single" and len(ins) > 1:
        names = ", ".join(srcs or [shape_text(t) for t in ins])
        raise SpecInvalid([Problem(
            tuple(path), f"{key} takes one input but `from` names {len(ins)}: {names}" + note,
            "add a node `{concatenate: {}, from: [" + names + "]}` (or `add`) and take from it",
            builder.place(path), code="shape")])
    if mode == "single":
        return connect(layer, ins[0], key, path, builder.where, note)
    return connect(layer, list(ins), key, path, builder.where, note, positional=(mode == "positional"))


def _auto_name(builder: Builder, base: str) -> str:
    """A fresh prefix for an unnamed block call in a stack: `residual`, `residual_2`, ..."""
    name, n = base, 1
    while name in builder.used or any(u.startswith(name + "_") for u in builder.used):
        n += 1
        name = f"{base}_{n}"
    builder.used[name] = ("model",)
    return name


def _mixed() -> bool:
    try:
        return keras.config.dtype_policy().compute_dtype != keras.config.dtype_policy().variable_dtype
    except Exception:  # noqa: BLE001
        return False
