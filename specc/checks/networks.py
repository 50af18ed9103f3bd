"""Walking one network of a spec the way specc/compile connects it, with shapes: inputs,
`data.preprocessing`, a stack or a graph, block calls, `repeat`, wrappers and how many
inputs each layer takes. specc/checks/shapes.py decides which networks to walk and what
their outputs must be. No TensorFlow here.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from specc import catalog
from specc.backbones import KEY as BACKBONE
from specc.checks.block_params import param_problems
from specc.checks.layer_shapes import infer
from specc.checks.shape_basics import Out, ShapeError, rank_error
from specc.checks.spatial_shapes import check_arguments
from specc.checks.size import MAX_LAYERS, Tally
from specc.errors import json_path
from specc.layer_items import layer_key, normalize_item
from specc.registries import fed_parts
from specc.spec_data import integer, items, mapping
from specc.spec_data import problem as _p

if TYPE_CHECKING:
    from specc.load.document import Document

FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
# Layers that take a list of tensors, and how many at least (Keras merges a list of one tensor;
# subtract's rule asks for exactly two); layers that take them as separate arguments.
LIST_INPUTS = {"add": 1, "subtract": 1, "multiply": 1, "average": 1, "maximum": 1, "minimum": 1,
               "concatenate": 1, "dot": 2, "attention": 2, "additive_attention": 2}
POSITIONAL_INPUTS = {"multi_head_attention": 2, "group_query_attention": 2}
RECURRENT = ("lstm", "gru", "simple_rnn", "conv_lstm1d", "conv_lstm2d", "conv_lstm3d")
MAX_RANK = 254  # axes of a TensorFlow tensor at most; running a larger one aborts the process


@dataclass
class Made:
    """A network output: its shape (None: unknown), the spec path and layer that make it."""

    shape: Optional[tuple]
    path: tuple
    key: Optional[str] = None


@dataclass
class Walk:
    """One spec's walk: the problems found and the layers and parameters counted."""

    doc: Document
    blocks: dict
    tally: Tally
    problems: list = field(default_factory=list)
    reported: set = field(default_factory=set)  # item paths with a problem (a block body reports once)
    states: set = field(default_factory=set)  # paths of recurrent layers that return their states too
    plugins: dict = field(default_factory=dict)  # plugin layer name -> PluginLayer (when known)
    checked_calls: set = field(default_factory=set)  # (block, call path) whose values were checked

    # --- problems ----------------------------------------------------------------------------

    def fail(self, path: tuple, error: ShapeError, key: Optional[str], note: str = "") -> None:
        if path in self.reported:
            return
        self.reported.add(path)
        where = path + (key, error.arg) if error.arg and key else path
        self.problems.append(_p(self.doc, where, error.message + note, error.hint, code="shape"))

    # --- networks ----------------------------------------------------------------------------

    def preprocessed(self, inputs: dict, layers: list) -> dict:
        """Input name -> shape after `data.preprocessing` (applied to float inputs only)."""
        out = dict(inputs)
        for name, shape in inputs.items():
            if self.dtypes.get(name, "float32") not in FLOAT_DTYPES:
                continue
            for index, item in enumerate(layers):
                shape = self.item(item, ("data", "preprocessing", index), [shape], f" (on input '{name}')",
                                  alone=True)
            out[name] = shape
        return out

    @property
    def dtypes(self) -> dict:
        inputs = {}
        for part in (("model",), *(("model", fed) for fed in fed_parts())):
            node: Any = self.doc.data
            for key in part:
                node = mapping(node).get(key)
            inputs.update(mapping(mapping(node).get("inputs")))
        return {name: mapping(value).get("dtype", "float32") for name, value in inputs.items()}

    def network(self, spec: dict, path: tuple, inputs: dict) -> dict:
        """Output name -> Made, for a `layers:` stack or a `nodes:` graph on `inputs` (name -> shape)."""
        if isinstance(spec.get("layers"), list):
            return self.stack(spec["layers"], path, inputs)
        if isinstance(spec.get("nodes"), dict):
            done = self.graph(spec["nodes"], path + ("nodes",), inputs, "")
            outputs = mapping(spec.get("outputs")) or ({"output": list(spec["nodes"])[-1]} if spec["nodes"] else {})
            return {name: done.get(node, Made(None, path)) for name, node in outputs.items() if isinstance(node, str)}
        return {}

    def stack(self, layers: list, path: tuple, inputs: dict) -> dict:
        if len(inputs) != 1:
            if len(inputs) > 1:
                self.problems.append(_p(self.doc, path + ("inputs",), f"a `layers:` stack takes one input, the "
                                        f"model has {len(inputs)}: {', '.join(inputs)}", "use `nodes:` with "
                                        "`from:` (and a `concatenate` node) for several inputs", code="shape"))
            return {}
        shape = next(iter(inputs.values()))
        made = Made(shape, path)
        for index, item in enumerate(layers):
            where = path + ("layers", index)
            shape = None if self.takes_states(where, [made.path]) else self.item(item, where, [made.shape])
            made = Made(shape, where, item_key(item))
        return {"output": made}

    def graph(self, nodes: dict, base: tuple, inputs: dict, note: str = "", open_blocks: tuple = ()) -> dict:
        """Node (and input) name -> Made, nodes taken in the order their inputs are ready."""
        done = {name: Made(shape, base) for name, shape in inputs.items()}
        sources = _sources(nodes, list(inputs))
        for node in _order(nodes, sources, set(inputs)):
            ins = [done[s].shape if s in done else None for s in sources[node]]
            item, where = nodes[node], base + (node,)
            if self.takes_states(where, [done[s].path for s in sources[node] if s in done]):
                shape = None
            else:
                shape = self.item(item, where, ins, note, names=sources[node], open_blocks=open_blocks)
            done[node] = Made(shape, where, item_key(item))
        return done

    def takes_states(self, path: tuple, sources: list, what: str = "this layer") -> bool:
        """A layer fed by a recurrent layer with `return_state` gets [output, states...]: Keras
        connects one tensor to one input, so it refuses (a problem at the layer fed)."""
        given = [source for source in sources if source in self.states]
        if given:
            self.problems.append(_p(self.doc, path, f"{what} is fed by {json_path(given[0])}, which sets "
                                    "return_state: true and so makes [output, state, ...], several tensors; a "
                                    "layer takes one", "remove return_state (specc connects one tensor to the "
                                    "next layer)", code="shape"))
        return bool(given)

    # --- one item ----------------------------------------------------------------------------

    def item(self, item: Any, path: tuple, ins: list, note: str = "", names: Optional[list] = None,
             alone: bool = False, open_blocks: tuple = ()) -> Optional[tuple]:
        """Apply a layer item (or block call) `repeat` times; its output shape."""
        try:
            item = normalize_item(item)
        except (AttributeError, TypeError, ValueError):
            return None
        key = layer_key(item)
        repeat = integer(item.get("repeat"))
        repeat = repeat if repeat and repeat > 0 else 1
        args = item.get(key) if key else None
        shape: Optional[tuple] = None
        for done in range(repeat):
            if self.tally.layers > MAX_LAYERS:  # past the limit: count, do not follow
                self.tally.layers += (repeat - done) * self.layers_in(key, set())
                return None
            if key is not None and key in self.blocks and key not in open_blocks:
                shape = self.block_call(key, args, path, ins, names, open_blocks + (key,))
            else:
                out = self.layer(key, args, path, ins, note, names, alone)
                self.tally.add(path, out.parameters, out.shape)
                shape = out.shape
            ins, names = [shape], None
        return shape

    def layer(self, key: Optional[str], args: Any, path: tuple, ins: list, note: str, names: Optional[list],
              alone: bool) -> Out:
        if key == BACKBONE:
            return self.backbone(args, path, ins, note)
        info = catalog.layer_info(key) if key else None
        if info is None:
            keeps = key in self.plugins and self.plugins[key].keeps_shape and len(ins) == 1
            return Out(ins[0] if keeps else None)  # a plugin layer whose output is its input's shape
        if not isinstance(args, dict):
            return Out(None)
        if key in RECURRENT and args.get("return_state") is True:
            self.states.add(path)
        key = str(info.get("alias_of", key))
        if any(arg["required"] and arg["name"] not in args for arg in info["args"]):
            return Out(None)  # specc/checks/model.py reports the missing argument
        try:
            check_arguments(key, args)
            _input_count(key, ins, names, alone)
            if key in ("bidirectional", "time_distributed"):
                return _within_rank(self.wrapper(key, args, path, ins))
            return _within_rank(infer(key, args, ins))
        except ShapeError as error:
            self.fail(path, error, key, note)
            return Out(None)

    def backbone(self, args: Any, path: tuple, ins: list, note: str) -> Out:
        """specc's `backbone:` layer: an architecture's input constraints (layer_shapes.py)."""
        if not isinstance(args, dict) or len(ins) != 1 or ins[0] is None:
            return Out(None)
        try:
            return infer(BACKBONE, args, ins)
        except ShapeError as error:
            self.fail(path, error, BACKBONE, note)
            return Out(None)

    def wrapper(self, key: str, args: dict, path: tuple, ins: list) -> Out:
        """A layer applied in both directions, or to every step of a sequence."""
        inner = args.get("layer")
        try:
            inner = normalize_item(inner)
        except (AttributeError, TypeError, ValueError):
            return Out(None)
        name = layer_key(inner) if isinstance(inner, dict) else None
        info = catalog.layer_info(name) if name else None
        if info is None or not isinstance(inner.get(name), dict):
            return Out(None)
        name, inner_args, shape = str(info.get("alias_of", name)), inner[name], ins[0]
        if key == "time_distributed":
            if shape is None or len(shape) < 2:
                if shape is not None:
                    raise rank_error(key, shape, 3, at_least=True)
                return Out(None)
            try:
                out = infer(name, inner_args, [shape[1:]])
            except ShapeError:  # Keras calls the wrapped layer without checking its input rank
                return Out(None)
            return Out((shape[0],) + out.shape if out.shape is not None else None, out.parameters)
        if name not in RECURRENT:
            raise ShapeError(f"bidirectional runs a recurrent layer both ways; '{name}' is not one",
                             "wrap lstm, gru or simple_rnn, e.g. `bidirectional: {lstm: 16}`", arg="layer")
        if inner_args.get("go_backwards") is True:
            raise ShapeError("bidirectional makes the backward copy itself; the layer it wraps must not set "
                             "go_backwards", "remove go_backwards from the wrapped layer", arg="layer")
        out = infer(name, inner_args, ins)
        merge = args.get("merge_mode", "concat")
        if out.shape is None or args.get("backward_layer") is not None or merge not in ("concat", "sum", "mul", "ave"):
            return Out(None, 2 * out.parameters)
        shape = out.shape[:-1] + (2 * out.shape[-1],) if merge == "concat" else out.shape
        return Out(shape, 2 * out.parameters)

    # --- blocks ------------------------------------------------------------------------------

    def block_call(self, name: str, args: Any, path: tuple, ins: list, names: Optional[list],
                   open_blocks: tuple) -> Optional[tuple]:
        """One call of a block: its body with the call's parameters, on the call's one input."""
        block = mapping(self.blocks.get(name))
        params = mapping(block.get("params"))
        given = args if isinstance(args, dict) else {}
        values = {**params, **given}
        if any(v is None for v in values.values()) or not set(given) <= set(params):
            self.tally.layers += self.layers_in(name, set())
            return None
        if len(ins) != 1:
            self.problems.append(_p(self.doc, path, f"block '{name}' takes one input but `from` names {len(ins)}: "
                                    f"{', '.join(names or [])}", "concatenate the inputs in a node first",
                                    code="shape"))
            return None
        body = _substitute(copy.deepcopy(block), values)
        base = ("model", "blocks", name)
        self.param_problems(name, block, body, path, given)
        note = f" (in block '{name}' called at {json_path(path)})"
        if isinstance(body.get("nodes"), dict):
            nodes = body["nodes"]
            start = block.get("input") if isinstance(block.get("input"), str) else "x"
            done = self.graph(nodes, base + ("nodes",), {start: ins[0]}, note, open_blocks)
            output = block.get("output") if isinstance(block.get("output"), str) else (list(nodes) or [None])[-1]
            return done[output].shape if output in done else None
        shape, last = ins[0], path
        for index, item in enumerate(items(body.get("layers"))):
            where = base + ("layers", index)
            shape = None if self.takes_states(where, [last]) else self.item(item, where, [shape], note,
                                                                            open_blocks=open_blocks)
            last = where
        return shape

    def param_problems(self, name: str, block: dict, body: dict, call: tuple, given: dict) -> None:
        """The call's values, checked where the block's layers use them (once per call site:
        a repeated call passes the same values)."""
        if (name, call) in self.checked_calls:
            return
        self.checked_calls.add((name, call))
        base = ("model", "blocks", name)
        written = [(base + ("layers", i), item) for i, item in enumerate(items(block.get("layers")))]
        written += [(base + ("nodes", n), item) for n, item in mapping(block.get("nodes")).items()]
        filled = items(body.get("layers")) + list(mapping(body.get("nodes")).values())
        for (path, item), new in zip(written, filled):
            try:
                item, new = normalize_item(item), normalize_item(new)
            except (AttributeError, TypeError, ValueError):
                continue
            placed = {problem.path for problem in self.problems}
            self.problems += [p for p in param_problems(self.doc, name, path, item, new, call, given,
                                                             mapping(block.get("params")))
                              if p.path not in placed]

    def layers_in(self, key: Optional[str], seen: set) -> int:
        """Layers one call of `key` makes (a block's, nested blocks expanded; a cycle counts once)."""
        if key not in self.blocks or key in seen:
            return 1
        block = mapping(self.blocks[key])
        total = 0
        for item in items(block.get("layers")) + list(mapping(block.get("nodes")).values()):
            repeat = integer(item.get("repeat")) if isinstance(item, dict) else None
            total += (repeat if repeat and repeat > 0 else 1) * self.layers_in(item_key(item), seen | {key})
        return total


# --- helpers ---------------------------------------------------------------------------------

def _input_count(key: str, ins: list, names: Optional[list], alone: bool) -> None:
    """Raise when a layer gets a number of inputs Keras refuses."""
    several = LIST_INPUTS.get(key) or POSITIONAL_INPUTS.get(key)
    if several is None:
        if len(ins) > 1:
            shown = ", ".join(names or [])
            raise ShapeError(f"{key} takes one input but `from` names {len(ins)}: {shown}",
                             "add a node `{concatenate: {}, from: [" + shown + "]}` (or `add`) and take from it")
        return
    if alone:
        raise ShapeError(f"{key} combines several tensors (a list of inputs); data.preprocessing gives each "
                         "input's layers one tensor", f"remove {key} from data.preprocessing; combine inputs "
                         "in model.nodes")
    if len(ins) < several:
        what = "query and value" if key in POSITIONAL_INPUTS or "attention" in key else "two tensors"
        raise ShapeError(f"{key} takes {several} inputs ({what}), gets {len(ins)}",
                         "use it in a graph (`nodes:`) with `from: [a, b]`")


def _sources(nodes: dict, inputs: list) -> dict:
    """Node -> the names it takes from (`from:`, else the node before it, else the one input)."""
    out, previous = {}, None
    for node, item in nodes.items():
        found = item.get("from") if isinstance(item, dict) else None
        if found is None:
            found = [previous] if previous else (inputs[:1] if len(inputs) == 1 else [])
        out[node] = [found] if isinstance(found, str) else [s for s in items(found) if isinstance(s, str)]
        previous = node
    return out


def _order(nodes: dict, sources: dict, inputs: set) -> list:
    """Nodes in dependency order; nodes on a cycle or fed by an unknown name are left out."""
    order: list = []
    placed = set(inputs)
    pending = list(nodes)
    while pending:
        ready = [n for n in pending if all(s in placed for s in sources[n])]
        if not ready:
            break
        for node in ready:
            order.append(node)
            placed.add(node)
        pending = [n for n in pending if n not in placed]
    return order


def _substitute(value: Any, values: dict) -> Any:
    """`$name` strings replaced by the call's values, anywhere in a block body."""
    if isinstance(value, dict):
        return {k: (v if k == "params" else _substitute(v, values)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    if isinstance(value, str) and value.startswith("$") and value[1:] in values:
        return values[value[1:]]
    return value


def input_shapes(network: dict) -> dict:
    """Input name -> shape (a tuple; None where the spec's shape is not a list of sizes)."""
    out = {}
    for name, value in mapping(network.get("inputs")).items():
        shape = value.get("shape") if isinstance(value, dict) else value
        valid = isinstance(shape, list) and all(d is None or (integer(d) is not None and d > 0) for d in shape)
        out[name] = tuple(shape) if valid and isinstance(shape, list) else None
    return out


def same_shape(one: tuple, two: tuple) -> bool:
    """Shapes agree (None matches any size)."""
    return len(one) == len(two) and all(a is None or b is None or a == b for a, b in zip(one, two))


def item_key(item: Any) -> Optional[str]:
    if isinstance(item, str):
        return item
    return layer_key(item) if isinstance(item, dict) else None


def _within_rank(out: Out) -> Out:
    """A layer's output, refused when it has more axes than a TensorFlow tensor can (an
    `embedding` repeated 300 times adds 300)."""
    if out.shape is not None and len(out.shape) + 1 > MAX_RANK:
        raise ShapeError(f"this layer's output would have {len(out.shape) + 1} axes with the batch axis; a "
                         f"TensorFlow tensor has at most {MAX_RANK}", "lower `repeat`, or reshape or flatten first")
    return out
