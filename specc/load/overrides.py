"""`--set PATH=VALUE` overrides: a dotted path into the spec and a YAML value, placed at the
pseudo-file `<--set #N>` so that problems with it are positioned too."""
from __future__ import annotations

import copy
import re
from typing import Any, Callable, Optional, Sequence

from specc.errors import Position, SpecLoadError, UsageError
from specc.load.document import Document
from specc.load.yaml_tree import Node, flatten, kind_of, parse_tree
from specc.schema import free_form, known_keys, subschema_at
from specc.suggest import did_you_mean, one_of

_INDEX = re.compile(r"[0-9]+")
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


def apply_overrides(
    doc: Document,
    overrides: Sequence[str],
    allowed: Optional[Callable[[tuple], Optional[str]]] = None,
) -> Document:
    """Return a copy of `doc` with `PATH=VALUE` overrides applied in order.

    Args:
        doc: The loaded document (not changed).
        overrides: Strings such as `train.epochs=5` or `model.layers.2.dense.units=64`
            (also `model.layers[2].dense.units=64`, as `runs compare` shows paths); the
            value is read as YAML with the same scalar rules as spec files.
        allowed: Optional check; given the path tuple it returns None if the path may be
            set, else an error message.

    Raises:
        UsageError: A malformed override, a path that cannot be set, or `allowed` refused it.
    """
    data = copy.deepcopy(doc.data)
    positions, key_positions = dict(doc.positions), dict(doc.key_positions)
    for i, item in enumerate(overrides):
        label = f"<--set #{i + 1}>"
        dotted, text = split_override(item)
        path = override_path(data, dotted)
        if allowed is not None:
            message = allowed(path)
            if message:
                raise UsageError(message)
        value = parse_override_value(text, label, len(dotted) + 1, item)
        set_path(data, positions, key_positions, path, value, Position(label, 1, 1))
    return Document(data, positions, key_positions, list(doc.files), list(doc.extends))


def split_override(item: str) -> tuple[str, str]:
    """Split `PATH=VALUE`; the path must be dotted names or numbers (`[N]` is `.N`)."""
    if "=" not in item:
        raise UsageError(f"--set expects PATH=VALUE, got {item!r}", hint="e.g. --set train.epochs=5")
    dotted, text = item.split("=", 1)
    dotted = dotted.strip()
    if not dotted or any(not part for part in path_parts(dotted, item)):
        raise UsageError(f"--set {item!r}: the path before '=' is empty or has an empty part",
                         hint="e.g. --set optimizer.adam.learning_rate=0.001")
    return dotted, text


def path_parts(dotted: str, item: str = "") -> list[str]:
    """`model.layers[2].dense` -> ['model', 'layers', '2', 'dense']: a bracketed index is the
    same as a dotted one."""
    def index(match: re.Match) -> str:
        if not _INDEX.fullmatch(match.group(1).strip()):
            raise UsageError(f"--set {item or dotted!r}: [{match.group(1)}] is not a list index",
                             hint="write a number in brackets, e.g. model.layers[2].dense.units=64")
        return "." + match.group(1).strip()

    plain = _BRACKETED.sub(index, dotted)
    if "[" in plain or "]" in plain:
        raise UsageError(f"--set {item or dotted!r}: unbalanced brackets in the path",
                         hint="e.g. model.layers[2].dense.units=64")
    return plain.split(".")


def override_path(data: dict, dotted: str) -> tuple:
    """Turn `a.b.2.c` (or `a.b[2].c`) into ('a', 'b', 2, 'c'), using ints where the data holds
    a list."""
    path: list = []
    current: Any = data
    for part in path_parts(dotted):
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
            raise UsageError(f"--set {dotted}: {where} is {kind_of(current)}, not a mapping")
    return tuple(path)


def parse_override_value(text: str, label: str, col_offset: int, item: str) -> Node:
    """Read an override value as YAML; positions are placed on the `<--set #N>` pseudo-file."""
    try:
        tree = parse_tree(text, label, col_offset)
    except SpecLoadError as exc:
        raise UsageError(f"--set {item!r}: cannot read the value: {exc.message}") from None
    return tree if tree is not None else Node(None, Position(label, 1, col_offset + 1))


def set_path(data: dict, positions: dict, key_positions: dict, path: tuple, value: Node,
             here: Position) -> None:
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
    plain, new_positions, new_keys = flatten(value)
    current[path[-1]] = plain
    positions.update({path + p: pos for p, pos in new_positions.items()})
    key_positions.update({path + p: pos for p, pos in new_keys.items()})
    key_positions[path] = here


def override_allowed(path: tuple) -> Optional[str]:
    """None if the schema knows `path` (for --set), else a message with 'did you mean'.

    Below a free-form mapping (optimizer or schedule arguments, a block call) any key is
    allowed: validation and the run check those.
    """
    for depth in range(1, len(path) + 1):
        if subschema_at(path[:depth]) is None:
            if free_form(subschema_at(path[:depth - 1])):
                return None
            parent, key = path[:depth - 1], path[depth - 1]
            keys = known_keys(parent)
            where = ".".join(str(p) for p in parent) or "the top level"
            hint = did_you_mean(str(key), keys) or (f"known here: {one_of(keys)}" if keys else "")
            return f"--set: the spec has no setting '{key}' under {where}" + (f"; {hint}" if hint else "")
    return None
