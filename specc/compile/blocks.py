"""Blocks: reusable sub-graphs with parameters, expanded at each call.

`blocks: {residual: {params: {filters: 32}, input: x, nodes: {...}, output: out}}` is called
like a layer, `{residual: {filters: 64}, from: stem, repeat: 2}`; `$filters` anywhere in the
block's body becomes the call's value (or the parameter's default; a null default makes the
parameter required). Layers inside a call are named `<call>_<node>` (`res_1_a`), or
`<call>_<layer>` for a block written as a `layers:` list (`blk_dense`, `blk_dense_2`).
"""
from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any, Optional

from specc.compile.objects import problem
from specc.errors import Problem, SpecInvalid, json_path
from specc.layer_items import layer_key
from specc.suggest import did_you_mean

if TYPE_CHECKING:
    from specc.compile.graph import Builder, Scope

_PARAM = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


def call_block(builder: Builder, block_name: str, item: dict, ins: list, srcs: Optional[list],
               call_path: tuple, prefix: str, scope: Scope, repetition: Optional[int],
               trainable: Optional[bool]) -> Any:
    """Expand one call of a block on `ins`; return the block's output tensor."""
    block = builder.blocks[block_name]
    block_path = ("model", "blocks", block_name)
    if block_name in scope.blocks_open:
        raise problem(call_path, f"block '{block_name}' calls itself "
                      f"({' -> '.join(scope.blocks_open + (block_name,))})",
                      "a block cannot contain a call of itself", builder.where)
    values = _block_values(builder, block, block_name, item.get(block_name) or {}, call_path)
    note = f" (in block '{block_name}' called at {json_path(call_path)}" + \
           (f", repetition {repetition}" if repetition else "") + ")"
    if len(ins) != 1:
        raise problem(call_path, f"block '{block_name}' takes one input but `from` names {len(ins)}: "
                      f"{', '.join(srcs or [])}", "concatenate the inputs in a node first", builder.where)
    from specc.compile.graph import Scope, apply_item, build_nodes

    inner = Scope(block_path, f"{prefix}_", note, trainable, scope.blocks_open + (block_name,))
    if "nodes" in block:
        body = _substitute(copy.deepcopy(block["nodes"]), values, block_path + ("nodes",), builder)
        inner.path = block_path + ("nodes",)
        done = build_nodes(builder, body, {block.get("input", "x"): ins[0]}, inner)
        output = block.get("output") or list(body)[-1]
        if output not in done:
            raise problem(block_path + ("output",), f"block output '{output}' is not one of its nodes",
                          did_you_mean(output, list(body)), builder.where)
        return done[output]
    body = _substitute(copy.deepcopy(block.get("layers") or []), values, block_path + ("layers",), builder)
    seen: dict[str, int]  # layer name -> how many layers of the body use it so far
    x, seen = ins[0], {}
    inner.path = block_path + ("layers",)
    for index, sub in enumerate(body):
        base = sub.get("name") or layer_key(sub) or "layer"
        seen[base] = seen.get(base, 0) + 1
        name = f"{prefix}_{base}" + (f"_{seen[base]}" if seen[base] > 1 else "")
        x = apply_item(builder, sub, [x], None, block_path + ("layers", index), name, inner)
    return x


def _block_values(builder: Builder, block: dict, block_name: str, args: Any, call_path: tuple) -> dict:
    params = block.get("params") or {}
    if not isinstance(args, dict):
        raise problem(tuple(call_path) + (block_name,), f"arguments of block '{block_name}' must be a mapping",
                      f"parameters: {', '.join(params) or 'none'}", builder.where)
    problems = []
    for arg in args:
        if arg not in params:
            hint = did_you_mean(arg, list(params)) or f"block '{block_name}' takes: {', '.join(params) or 'nothing'}"
            p = tuple(call_path) + (block_name, arg)
            problems.append(Problem(p, f"unknown parameter '{arg}' for block '{block_name}'", hint, builder.place(p)))
    for param, default in params.items():
        if default is None and param not in args:
            problems.append(Problem(tuple(call_path), f"block '{block_name}' needs the parameter '{param}'",
                                    f"call it as `{{{block_name}: {{{param}: ...}}}}`", builder.place(call_path)))
    if problems:
        raise SpecInvalid(problems)
    return {**params, **args}


def _substitute(value: Any, values: dict, path: tuple, builder: Builder) -> Any:
    """Replace `$param` strings (whole values) by the call's values, anywhere in a block body."""
    if isinstance(value, dict):
        return {k: _substitute(v, values, tuple(path) + (k,), builder) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values, tuple(path) + (i,), builder) for i, v in enumerate(value)]
    if isinstance(value, str):
        match = _PARAM.match(value)
        if match:
            param = match.group(1)
            if param not in values:
                hint = did_you_mean(param, list(values)) or f"parameters: {', '.join(values) or 'none'}"
                raise problem(path, f"unknown block parameter '${param}'", hint, builder.where)
            return values[param]
    return value
