"""Read a spec file into plain data plus the source position of every value.

YAML is read with PyYAML's safe composer only; the node tree is turned into plain data here
(no PyYAML constructor runs), so:

- scalars follow the YAML 1.2 core schema: `1e-3` is a float, `on`/`yes`/`n` are strings,
  only `true`/`false` (`True`, `TRUE`, ...) are booleans, `null`/`~`/empty are None,
  `.nan`/`.inf` are floats; quoted scalars are always strings;
- only the standard tags `!!str !!int !!float !!bool !!null !!seq !!map` are accepted; any
  other tag (`!!python/object`, `!!binary`, `!custom`, ...) is an error;
- mapping keys must be strings and may not repeat;
- YAML merge keys (`<<: *base`) are refused: use `extends:` or repeat the values;
- aliases are allowed but expanding them may visit at most 100_000 nodes (alias bombs).

JSON files go through the same YAML reader (JSON is YAML) so they get positions too; a
`.json` file is first checked with the `json` module so syntax errors are worded for JSON.
"""
from __future__ import annotations

import copy
import json
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import yaml

from specc.errors import Position, SpecLoadError, UsageError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 200
MAX_EXTENDS_FILES = 100

_PLAIN = "specc:plain"  # tag given to untagged plain scalars; resolved by _resolve_plain
_STD = "tag:yaml.org,2002:"
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL = {s + f: float(s + "inf") for s in ("", "+", "-") for f in (".inf", ".Inf", ".INF")}
_SPECIAL.update({f: float("nan") for f in (".nan", ".NaN", ".NAN")})
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INDEX = re.compile(r"[0-9]+")


@dataclass
class Document:
    """A loaded spec: plain data and where each value came from.

    Attributes:
        data: Plain JSON-like data (dict/list/str/int/float/bool/None).
        positions: Path tuple -> Position of the value at that path.
        key_positions: Path tuple -> Position of the mapping key naming that path.
        files: Files read, extends first, the spec itself last.
        extends: The spec's own `extends:` entries as written (the key is not in `data`).
    """

    data: dict
    positions: dict[tuple, Position]
    key_positions: dict[tuple, Position]
    files: list[str]
    extends: list[str] = field(default_factory=list)

    def position_of(self, path) -> Optional[Position]:
        """Return the position of `path`, else of its nearest known ancestor."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get(())

    def key_position_of(self, path) -> Optional[Position]:
        """Return the position of the key naming `path` if known, else `position_of(path)`."""
        return self.key_positions.get(tuple(path)) or self.position_of(path)


@dataclass
class _Node:
    """A value while loading: dict of _Node, list of _Node, or a scalar, with positions."""

    value: Any
    pos: Position
    key_pos: Optional[Position] = None


class _Loader(yaml.SafeLoader):
    """Safe composer whose resolver leaves plain scalars for _resolve_plain."""

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _STD + "str"
        return super().resolve(kind, value, implicit)


# ---------------------------------------------------------------- public API


def load_spec(path, overrides: Sequence[str] = ()) -> Document:
    """Load a spec file, follow its `extends:` chain and apply `--set` overrides.

    Args:
        path: The spec file, as the user gave it (positions keep it as given).
        overrides: `PATH=VALUE` strings, applied after merging extends.

    Returns:
        The merged Document.

    Raises:
        UsageError: The file is missing, a directory or unreadable; a bad override.
        SpecLoadError: The file cannot be parsed or its extends chain is broken.
    """
    loaded: list = []
    tree, extends = _load_tree(os.fspath(path), [], loaded)
    data, positions, key_positions = _flatten(tree)
    doc = Document(data, positions, key_positions, list(dict.fromkeys(loaded)), extends)
    return apply_overrides(doc, overrides) if overrides else doc


def parse_text(text: str, filename: str) -> tuple[dict, dict[tuple, Position], dict[tuple, Position]]:
    """Parse one spec text (no extends processing).

    Args:
        text: The file's text.
        filename: The name used in positions and messages.

    Returns:
        (data, positions, key_positions) as in Document.

    Raises:
        SpecLoadError: Syntax error, bad tag, duplicate key, empty or non-mapping top level.
    """
    return _flatten(_parse_spec_tree(text, filename))


def apply_overrides(
    doc: Document,
    overrides: Sequence[str],
    allowed: Optional[Callable[[tuple], Optional[str]]] = None,
) -> Document:
    """Return a copy of `doc` with `PATH=VALUE` overrides applied in order.

    Args:
        doc: The loaded document (not changed).
        overrides: Strings such as `train.epochs=5` or `model.layers.2.dense.units=64`;
            the value is read as YAML with the same scalar rules as spec files.
        allowed: Optional check; given the path tuple it returns None if the path may be
            set, else an error message.

    Raises:
        UsageError: A malformed override, a path that cannot be set, or `allowed` refused it.
    """
    data = copy.deepcopy(doc.data)
    positions, key_positions = dict(doc.positions), dict(doc.key_positions)
    for i, item in enumerate(overrides):
        label = f"<--set #{i + 1}>"
        dotted, text = _split_override(item)
        path = _override_path(data, dotted)
        if allowed is not None:
            message = allowed(path)
            if message:
                raise UsageError(message)
        value = _parse_override_value(text, label, len(dotted) + 1, item)
        _set_path(data, positions, key_positions, path, value, Position(label, 1, 1))
    return Document(data, positions, key_positions, list(doc.files), list(doc.extends))


# ---------------------------------------------------------------- files and extends


def _read_text(path: str) -> str:
    """Read a spec file as UTF-8 text, refusing missing, huge, binary or badly encoded files."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{path} is a directory, not a spec file")
    if info.st_size > MAX_FILE_BYTES:
        raise _too_large(path, info.st_size)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except PermissionError:
        raise UsageError(f"permission denied: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _too_large(path, len(raw))
    return _decode(raw, path)


def _too_large(path: str, size: int) -> SpecLoadError:
    mib = size / (1024 * 1024)
    return SpecLoadError(f"the file is too large ({mib:.1f} MiB; the limit is 5 MiB)", Position(path, 1, 1))


def _decode(raw: bytes, path: str) -> str:
    """Decode UTF-8 (a BOM is dropped); name the first bad byte's offset and line."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecLoadError("the file is UTF-16 encoded; save it as UTF-8", Position(path, 1, 1))
    head = raw[:8192]
    controls = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if b"\x00" in raw or controls > len(head) // 20:
        raise SpecLoadError("looks like a binary file, not YAML or JSON", Position(path, 1, 1))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} (line {line})"
        raise SpecLoadError(message, Position(path, line, column), hint="save the file as UTF-8") from None


def _load_tree(path: str, stack: list, loaded: list):
    """Load `path` and its extends chain; return (merged tree, the file's own extends list).

    `stack` holds (real path, shown path) of the files naming this one (cycle check);
    `loaded` gets every file read, in order, bases first (repeats included, to bound work).
    """
    tree = _parse_spec_tree(_read_text(path), path)
    entries = _extends_entries(tree.value.pop("extends", None))
    stack = stack + [(os.path.realpath(path), path)]
    merged = None
    for name, pos in entries:
        base = _load_base(path, name, pos, stack, loaded)
        merged = base if merged is None else _merge(merged, base)
    loaded.append(path)
    return (tree if merged is None else _merge(merged, tree)), [name for name, _ in entries]


def _load_base(parent: str, name: str, pos: Position, stack: list, loaded: list) -> _Node:
    """Load one extends entry of `parent`, named at `pos`."""
    target = os.path.normpath(os.path.join(os.path.dirname(parent), name))
    real = os.path.realpath(target)
    if real in [r for r, _ in stack]:
        chain = " -> ".join([shown for _, shown in stack] + [target])
        raise SpecLoadError(f"extends cycle: {chain}", pos)
    if len(loaded) + len(stack) > MAX_EXTENDS_FILES:
        raise SpecLoadError(f"too many files in the extends chain (limit {MAX_EXTENDS_FILES})", pos)
    if not os.path.exists(target):
        raise SpecLoadError(f"extends: no such file: {name} (looked for {target})", pos)
    try:
        tree, _ = _load_tree(target, stack, loaded)
    except UsageError as exc:
        raise SpecLoadError(f"extends: {exc.message}", pos) from None
    return tree


def _extends_entries(node: Optional[_Node]) -> list:
    """Turn an `extends:` value into [(file name, position)]."""
    if node is None:
        return []
    items = node.value if isinstance(node.value, list) else [node]
    for item in items:
        if not isinstance(item.value, str) or not item.value.strip():
            raise SpecLoadError("extends: must be a file name or a list of file names", item.pos)
    return [(item.value, item.pos) for item in items]


def _merge(base: _Node, over: _Node) -> _Node:
    """Deep-merge: mappings merge key by key, anything else from `over` replaces `base`."""
    if not (isinstance(base.value, dict) and isinstance(over.value, dict)):
        return over
    merged = dict(base.value)
    for key, child in over.value.items():
        merged[key] = _merge(merged[key], child) if key in merged else child
    return _Node(merged, over.pos, over.key_pos)


def _flatten(tree: _Node, path: tuple = (), positions=None, key_positions=None):
    """Split a _Node tree into (data, positions, key_positions)."""
    positions = {} if positions is None else positions
    key_positions = {} if key_positions is None else key_positions
    positions[path] = tree.pos
    if tree.key_pos is not None:
        key_positions[path] = tree.key_pos
    if isinstance(tree.value, dict):
        data = {k: _flatten(v, path + (k,), positions, key_positions)[0] for k, v in tree.value.items()}
    elif isinstance(tree.value, list):
        data = [_flatten(v, path + (i,), positions, key_positions)[0] for i, v in enumerate(tree.value)]
    else:
        data = tree.value
    return data, positions, key_positions


# ---------------------------------------------------------------- YAML -> _Node


def _parse_spec_tree(text: str, filename: str) -> _Node:
    """Parse a whole spec file; the top level must be a non-empty mapping."""
    tree = _parse_tree(_check_json(text, filename), filename)
    if tree is None or tree.value is None:
        raise SpecLoadError("the spec is empty", Position(filename, 1, 1))
    if not isinstance(tree.value, dict):
        found = _kind(tree.value)
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


def _parse_tree(text: str, filename: str, col_offset: int = 0) -> Optional[_Node]:
    """Compose YAML safely and build a _Node tree; None for an empty document."""
    try:
        root = yaml.compose(text, Loader=_Loader)
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
    builder = _Builder(filename, col_offset)
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


class _Builder:
    """Turn composed YAML nodes into a _Node tree (an alias is expanded where it is used)."""

    def __init__(self, filename: str, col_offset: int = 0):
        self.filename, self.col_offset = filename, col_offset
        self.sizes: dict = {}  # id(node) -> nodes visited when expanding it
        self.active: set = set()
        self.marks: dict = {}

    def pos(self, node) -> Position:
        if id(node) not in self.marks:
            mark = node.start_mark
            column = mark.column + 1 + (self.col_offset if mark.line == 0 else 0)
            self.marks[id(node)] = Position(self.filename, mark.line + 1, column)
        return self.marks[id(node)]

    def size(self, node) -> int:
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

    def build(self, node, depth: int = 0) -> _Node:
        if depth > MAX_DEPTH:
            raise SpecLoadError(f"the spec is nested too deeply (limit {MAX_DEPTH} levels)", self.pos(node))
        if isinstance(node, yaml.ScalarNode):
            return _Node(self.scalar(node), self.pos(node))
        if node.tag not in (_STD + "seq", _STD + "map"):
            raise self.bad_tag(node)
        if isinstance(node, yaml.SequenceNode):
            return _Node([self.build(item, depth + 1) for item in node.value], self.pos(node))
        out: dict = {}
        for key_node, value_node in node.value:
            key, key_pos = self.key(key_node), self.pos(key_node)
            if key in out:
                raise SpecLoadError(f"duplicate key '{key}' (first at line {out[key].key_pos.line})", key_pos)
            child = self.build(value_node, depth + 1)
            out[key] = _Node(child.value, child.pos, key_pos)
        return _Node(out, self.pos(node))

    def key(self, node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            raise SpecLoadError(f"a mapping key must be a string, found a {kind}", self.pos(node))
        if node.tag == _PLAIN and node.value == "<<":
            raise SpecLoadError("YAML merge keys (<<) are not supported", self.pos(node),
                                hint="use extends: to share settings between specs, or repeat the values")
        key = self.scalar(node)
        if not isinstance(key, str):
            raise SpecLoadError(f"a mapping key must be a string, found {_kind(key)} {node.value!r}",
                                self.pos(node), hint=f'quote it if you mean the text: "{node.value}"')
        return key

    def scalar(self, node):
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

    def bad_tag(self, node) -> SpecLoadError:
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


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {list: "a list", str: "a string", dict: "a mapping", type(None): "null"}[type(value)]


# ---------------------------------------------------------------- overrides


def _split_override(item: str):
    """Split `PATH=VALUE`; the path must be dotted names or numbers."""
    if "=" not in item:
        raise UsageError(f"--set expects PATH=VALUE, got {item!r}", hint="e.g. --set train.epochs=5")
    dotted, text = item.split("=", 1)
    dotted = dotted.strip()
    if not dotted or any(not part for part in dotted.split(".")):
        raise UsageError(f"--set {item!r}: the path before '=' is empty or has an empty part",
                         hint="e.g. --set optimizer.adam.learning_rate=0.001")
    return dotted, text


def _override_path(data: dict, dotted: str) -> tuple:
    """Turn `a.b.2.c` into ('a', 'b', 2, 'c'), using ints where the data holds a list."""
    path: list = []
    current: Any = data
    for part in dotted.split("."):
        where = ".".join(str(p) for p in path)
        if isinstance(current, list):
            if not _INDEX.fullmatch(part):
                raise UsageError(f"--set {dotted}: {where} is a list; use a number index, e.g. {where}.0")
            if int(part) >= len(current):
                raise UsageError(f"--set {dotted}: index {part} is out of range, {where} has {len(current)} items")
            path.append(int(part))
            current = current[int(part)]
        elif isinstance(current, dict) or current is None:
            path.append(part)
            current = current.get(part) if isinstance(current, dict) else None
        else:
            raise UsageError(f"--set {dotted}: {where} is {_kind(current)}, not a mapping")
    return tuple(path)


def _parse_override_value(text: str, label: str, col_offset: int, item: str) -> _Node:
    """Read an override value as YAML; positions are placed on the `<--set #N>` pseudo-file."""
    try:
        tree = _parse_tree(text, label, col_offset)
    except SpecLoadError as exc:
        raise UsageError(f"--set {item!r}: cannot read the value: {exc.message}") from None
    return tree if tree is not None else _Node(None, Position(label, 1, col_offset + 1))


def _set_path(data: dict, positions: dict, key_positions: dict, path: tuple, value: _Node, here: Position):
    """Set `value` at `path`, creating mappings as needed and replacing the old positions."""
    current = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(current, dict) and not isinstance(current.get(part), (dict, list)):
            current[part] = {}
            positions[path[: depth + 1]] = key_positions[path[: depth + 1]] = here
        current = current[part]
    for table in (positions, key_positions):
        for old in [p for p in table if p[: len(path)] == path]:
            del table[old]
    plain, new_positions, new_keys = _flatten(value)
    current[path[-1]] = plain
    positions.update({path + p: pos for p, pos in new_positions.items()})
    key_positions.update({path + p: pos for p, pos in new_keys.items()})
    key_positions[path] = here
