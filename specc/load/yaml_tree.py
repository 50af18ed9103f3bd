"""YAML (and JSON) text -> a tree of `Node`s: plain values with the position of each, read
with PyYAML's safe composer only (no PyYAML constructor runs). See specc/load/__init__.py
for the rules (YAML 1.2 core scalars, standard tags only, string keys that do not repeat,
no merge keys, a bound on alias expansion)."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Optional

import yaml

from specc.errors import Position, SpecLoadError

MAX_NODES = 100_000
MAX_DEPTH = 200

_PLAIN = "specc:plain"  # tag given to untagged plain scalars; resolved by _resolve_plain
_STD = "tag:yaml.org,2002:"
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL = {s + f: float(s + "inf") for s in ("", "+", "-") for f in (".inf", ".Inf", ".INF")}
_SPECIAL.update({f: float("nan") for f in (".nan", ".NaN", ".NAN")})
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


@dataclass
class Node:
    """A value while loading: dict of Node, list of Node, or a scalar, with positions."""

    value: Any
    pos: Position
    key_pos: Optional[Position] = None


class Loader(yaml.SafeLoader):
    """Safe composer whose resolver leaves plain scalars for _resolve_plain."""

    def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _STD + "str"
        return super().resolve(kind, value, implicit)


def parse_spec_tree(text: str, filename: str) -> Node:
    """Parse a whole spec file; the top level must be a non-empty mapping."""
    tree = parse_tree(_check_json(text, filename), filename)
    if tree is None or tree.value is None:
        raise SpecLoadError("the spec is empty", Position(filename, 1, 1))
    if not isinstance(tree.value, dict):
        found = kind_of(tree.value)
        raise SpecLoadError(f"the spec must be a mapping of sections (specc:, name:, model:, ...), found {found}",
                            tree.pos)
    return tree


def _check_json(text: str, filename: str) -> str:
    """For JSON (by extension, or a `{` start), report JSON syntax errors; return YAML-ready text."""
    ext = os.path.splitext(filename)[1].lower()
    if ext != ".json" and (ext in (".yaml", ".yml") or not text.lstrip().startswith("{")):
        return text
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecLoadError(f"JSON syntax: {exc.msg}", Position(filename, exc.lineno, exc.colno)) from None
    except (ValueError, RecursionError):
        pass  # numbers too long, deep nesting: the YAML reader reports them with a position
    return text.replace("\t", " ")  # JSON allows tabs between tokens, YAML does not


def parse_tree(text: str, filename: str, col_offset: int = 0) -> Optional[Node]:
    """Compose YAML safely and build a Node tree; None for an empty document."""
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, filename, col_offset) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"the file contains the control character U+{exc.character:04X}, which YAML does not allow"
        raise SpecLoadError(message, Position(filename, line, column)) from None
    except yaml.YAMLError as exc:
        raise SpecLoadError(f"YAML syntax: {exc}", Position(filename, 1, 1)) from None
    except RecursionError:
        raise SpecLoadError("the spec is nested too deeply", Position(filename, 1, 1)) from None
    if root is None:
        return None
    builder = Builder(filename, col_offset)
    try:
        builder.size(root)
        return builder.build(root)
    except RecursionError:
        raise SpecLoadError("the spec is nested too deeply", Position(filename, 1, 1)) from None


def _syntax_error(exc: yaml.MarkedYAMLError, filename: str, col_offset: int) -> SpecLoadError:
    """Turn a PyYAML error into a one-line SpecLoadError at the problem mark."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    column += col_offset if line == 1 else 0
    if exc.context == "expected a single document in the stream":
        return SpecLoadError("the file holds more than one YAML document (---); a spec is one document",
                             Position(filename, line, column))
    if exc.problem == "second occurrence" and exc.context_mark:  # a duplicate anchor
        first = exc.context.replace("; first occurrence", "")
        return SpecLoadError(f"YAML: {first} (first at line {exc.context_mark.line + 1})",
                             Position(filename, line, column))
    hint = None
    if exc.context and exc.context_mark:
        where = exc.context_mark
        hint = f"{exc.context} started at line {where.line + 1}, column {where.column + 1}"
    if exc.problem and "'\\t'" in exc.problem:
        hint = "YAML does not allow tabs for indentation; use spaces"
    problem = exc.problem or exc.context or "cannot parse"
    return SpecLoadError(f"YAML syntax: {problem}", Position(filename, line, column), hint=hint)


class Builder:
    """Turn composed YAML nodes into a Node tree (an alias is expanded where it is used)."""

    def __init__(self, filename: str, col_offset: int = 0):
        self.filename, self.col_offset = filename, col_offset
        self.sizes: dict = {}  # id(node) -> nodes visited when expanding it
        self.active: set = set()
        self.marks: dict = {}

    def pos(self, node: Any) -> Position:
        if id(node) not in self.marks:
            mark = node.start_mark
            column = mark.column + 1 + (self.col_offset if mark.line == 0 else 0)
            self.marks[id(node)] = Position(self.filename, mark.line + 1, column)
        return self.marks[id(node)]

    def size(self, node: Any) -> int:
        """Count the nodes building `node` will visit, refusing alias bombs before building."""
        if isinstance(node, yaml.ScalarNode) or id(node) in self.sizes:
            return self.sizes.get(id(node), 1)
        if id(node) in self.active:
            raise SpecLoadError("an alias refers to a node that contains it (recursive alias)", self.pos(node))
        self.active.add(id(node))
        children = node.value if isinstance(node, yaml.SequenceNode) else [v for _, v in node.value]
        total = 1 + sum(self.size(child) for child in children)
        self.active.discard(id(node))
        if total > MAX_NODES:
            message = f"too many nodes after expanding aliases (limit {MAX_NODES}); a YAML alias bomb?"
            raise SpecLoadError(message, self.pos(node))
        self.sizes[id(node)] = total
        return total

    def build(self, node: Any, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise SpecLoadError(f"the spec is nested too deeply (limit {MAX_DEPTH} levels)", self.pos(node))
        if isinstance(node, yaml.ScalarNode):
            return Node(self.scalar(node), self.pos(node))
        if node.tag not in (_STD + "seq", _STD + "map"):
            raise self.bad_tag(node)
        if isinstance(node, yaml.SequenceNode):
            return Node([self.build(item, depth + 1) for item in node.value], self.pos(node))
        out: dict = {}
        for key_node, value_node in node.value:
            key, key_pos = self.key(key_node), self.pos(key_node)
            if key in out:
                raise SpecLoadError(f"duplicate key '{key}' (first at line {out[key].key_pos.line})", key_pos)
            child = self.build(value_node, depth + 1)
            out[key] = Node(child.value, child.pos, key_pos)
        return Node(out, self.pos(node))

    def key(self, node: Any) -> str:
        if not isinstance(node, yaml.ScalarNode):
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            raise SpecLoadError(f"a mapping key must be a string, found a {kind}", self.pos(node))
        if node.tag == _PLAIN and node.value == "<<":
            raise SpecLoadError("YAML merge keys (<<) are not supported", self.pos(node),
                                hint="use extends: to share settings between specs, or repeat the values")
        key = self.scalar(node)
        if not isinstance(key, str):
            raise SpecLoadError(f"a mapping key must be a string, found {kind_of(key)} {node.value!r}",
                                self.pos(node), hint=f'quote it if you mean the text: "{node.value}"')
        return key

    def scalar(self, node: Any) -> Any:
        if node.tag == _STD + "str":
            return _join_surrogates(node.value)
        wanted = {_STD + "int": int, _STD + "float": float, _STD + "bool": bool, _STD + "null": type(None)}
        if node.tag != _PLAIN and node.tag not in wanted:
            raise self.bad_tag(node)
        try:
            value = _resolve_plain(node.value)
        except ValueError:
            raise SpecLoadError(f"the number {node.value[:20]}... is too long", self.pos(node)) from None
        if node.tag == _STD + "float" and type(value) is int:
            value = float(value)
        if node.tag != _PLAIN and type(value) is not wanted[node.tag]:
            raise SpecLoadError(f"{_short_tag(node.tag)} cannot read {node.value!r}", self.pos(node))
        return value

    def bad_tag(self, node: Any) -> SpecLoadError:
        return SpecLoadError(f"the tag {_short_tag(node.tag)} is not allowed here", self.pos(node),
                             hint="a spec holds only plain data: mappings, lists, strings, numbers, "
                                  "booleans and null")


def _resolve_plain(text: str):
    """Resolve a plain scalar by the YAML 1.2 core schema."""
    if text in _NULLS:
        return None
    if text in _BOOLS or text in _SPECIAL:
        return _BOOLS.get(text, _SPECIAL.get(text))
    if _INT.fullmatch(text):
        return int(text, {"0o": 8, "0x": 16}.get(text[:2], 10))
    return float(text) if _FLOAT.fullmatch(text) else text


def _join_surrogates(text: str) -> str:
    """Combine JSON-style escaped surrogate pairs (\\ud83d\\ude00) into one character."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {list: "a list", str: "a string", dict: "a mapping", type(None): "null"}[type(value)]


def flatten(tree: Node, path: tuple = (), positions: Optional[dict] = None,
            key_positions: Optional[dict] = None) -> tuple[Any, dict, dict]:
    """Split a Node tree into (data, positions, key_positions)."""
    positions = {} if positions is None else positions
    key_positions = {} if key_positions is None else key_positions
    positions[path] = tree.pos
    if tree.key_pos is not None:
        key_positions[path] = tree.key_pos
    data: Any
    if isinstance(tree.value, dict):
        data = {k: flatten(v, path + (k,), positions, key_positions)[0] for k, v in tree.value.items()}
    elif isinstance(tree.value, list):
        data = [flatten(v, path + (i,), positions, key_positions)[0] for i, v in enumerate(tree.value)]
    else:
        data = tree.value
    return data, positions, key_positions
