"""Semantic checks of graphs (`nodes:`): references exist, no cycles, every node reaches an
output, no node named like an input. No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from specc.errors import Problem
from specc.spec_data import mapping, text
from specc.spec_data import problem as _p
from specc.suggest import did_you_mean, one_of

if TYPE_CHECKING:
    from specc.load.document import Document


def check_graphs(doc: Document) -> list[Problem]:
    """References exist, no cycles, every node reaches an output, names unique."""
    model = doc.data["model"]
    out = []
    if isinstance(model.get("nodes"), dict):
        out += _check_graph(doc, ("model",), model["nodes"], list(mapping(model.get("inputs"))),
                            mapping(model.get("outputs")))
    for bname, block in mapping(model.get("blocks")).items():
        if isinstance(block, dict) and isinstance(block.get("nodes"), dict):
            output = block.get("output")
            out += _check_graph(doc, ("model", "blocks", bname), block["nodes"],
                                [text(block.get("input")) or "x"], {"out": output} if output else None)
    return out


def _sources(item: Any) -> list[str]:
    src = item.get("from", []) if isinstance(item, dict) else []
    if isinstance(src, str):
        return [src]
    return [s for s in src if isinstance(s, str)] if isinstance(src, list) else []


def _check_graph(doc, base, nodes, inputs, outputs) -> list[Problem]:
    if not nodes:
        return []
    out = []
    for name in nodes:
        if name in inputs:
            out.append(_p(doc, base + ("nodes", name), f"node '{name}' has the name of an input",
                          "give the node another name", key=True))
    out += _check_references(doc, base, nodes, inputs)
    for oname, node in (outputs or {}).items():
        if isinstance(node, str) and node not in nodes and node not in inputs:
            out.append(_p(doc, base + ("outputs", oname), f"output '{oname}' names '{node}', which is not a node",
                          did_you_mean(node, list(nodes)) or f"nodes: {one_of(list(nodes))}",
                          code="unknown-reference"))
    out += _check_cycles(doc, base, nodes, inputs)
    if not out:  # with a broken reference, "does not lead to an output" would only echo it
        targets = [t for t in (outputs or {}).values() if isinstance(t, str)] or [list(nodes)[-1]]
        out += _check_reach(doc, base, nodes, targets)
    return out


def _check_references(doc, base, nodes, inputs) -> list[Problem]:
    """Every node has `from:`, and each name in it is an input or a node."""
    known, out = list(inputs) + list(nodes), []
    for index, (name, item) in enumerate(nodes.items()):
        if isinstance(item, dict) and "from" not in item:
            feed = list(nodes)[index - 1] if index else (inputs[0] if inputs else "NAME")
            out.append(_p(doc, base + ("nodes", name), f"node '{name}' has no `from:`",
                          f"say which input or node feeds it, e.g. from: {feed}"))
        for i, src in enumerate(_sources(item)):
            if src not in known:
                where = base + ("nodes", name, "from") + ((i,) if isinstance(item["from"], list) else ())
                out.append(_p(doc, where, f"'{src}' is not an input or a node",
                              did_you_mean(src, known) or f"known here: {one_of(known)}",
                              code="unknown-reference"))
    return out


def _check_cycles(doc, base, nodes, inputs) -> list[Problem]:
    """The first cycle, shown in the direction data flows (a -> b: a feeds b)."""
    chain = _find_cycle(nodes, set(inputs))
    if not chain:
        return []
    text = " -> ".join(reversed(chain))
    return [_p(doc, base + ("nodes", chain[0]), f"the graph has a cycle: {text}",
               "a node cannot take its own output, directly or through other nodes; break the loop",
               code="cycle", key=True)]


def _find_cycle(nodes: dict, inputs: set) -> Optional[list]:
    """A cycle as [n0, n1, ..., n0] where each takes the next one as input, or None.

    Iterative depth-first search, so a long chain of nodes cannot exhaust the stack; a name
    that is an input refers to the input, not to a node of the same name.
    """
    def feeds(node: str) -> list[str]:
        return [s for s in _sources(nodes[node]) if s in nodes and s not in inputs]

    done: set = set()
    for start in nodes:
        if start in done:
            continue
        path, on_path, stack = [start], {start}, [iter(feeds(start))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                stack.pop()
                continue
            if nxt in on_path:
                return path[path.index(nxt):] + [nxt]
            if nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter(feeds(nxt)))
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
