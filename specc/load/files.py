"""Spec files: reading them safely (size, encoding, binary) and following `extends:` chains
(relative to the file that names them; cycles and runaway chains refused)."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

from specc.errors import Position, SpecLoadError, UsageError
from specc.load.merge import merge
from specc.load.yaml_tree import Node, parse_spec_tree
from specc.project import has_control, inside, project_root

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_EXTENDS_FILES = 100


def read_text(path: str) -> str:
    """Read a spec file as UTF-8 text, refusing missing, huge, binary or badly encoded files."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{path} is a directory, not a spec file")
    if not stat.S_ISREG(info.st_mode):  # a named pipe or a device would be read forever
        raise UsageError(f"{path} is not a regular file (a pipe, a socket or a device)",
                         "give the path of a spec file")
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


def load_tree(path: str, stack: list, loaded: list) -> tuple[Node, list[str]]:
    """Load `path` and its extends chain; return (merged tree, the file's own extends list).

    `stack` holds (real path, shown path) of the files naming this one (cycle check);
    `loaded` gets every file read, in order, bases first (repeats included, to bound work).
    """
    tree = parse_spec_tree(read_text(path), path)
    entries = _extends_entries(tree.value.pop("extends", None))
    stack = stack + [(os.path.realpath(path), path)]
    merged = None
    for name, pos in entries:
        base = _load_base(path, name, pos, stack, loaded)
        merged = base if merged is None else merge(merged, base)
    loaded.append(path)
    return (tree if merged is None else merge(merged, tree)), [name for name, _ in entries]


def _load_base(parent: str, name: str, pos: Position, stack: list, loaded: list) -> Node:
    """Load one extends entry of `parent`, named at `pos`."""
    target = os.path.normpath(os.path.join(os.path.dirname(parent), name))
    real = os.path.realpath(target)
    if real in [r for r, _ in stack]:
        chain = " -> ".join([shown for _, shown in stack] + [target])
        raise SpecLoadError(f"extends cycle: {chain}", pos)
    if len(loaded) + len(stack) > MAX_EXTENDS_FILES:
        raise SpecLoadError(f"too many files in the extends chain (limit {MAX_EXTENDS_FILES})", pos)
    root = project_root(os.path.dirname(stack[0][0]))
    if not inside(Path(target), root):
        raise SpecLoadError(f"extends: {name} is outside the project", pos,
                            hint="a spec may extend specs of its own project (its git repository, or its folder)")
    if not os.path.exists(target):
        raise SpecLoadError(f"extends: no such file: {name} (looked for {target})", pos)
    try:
        tree, _ = load_tree(target, stack, loaded)
    except UsageError as exc:
        raise SpecLoadError(f"extends: {exc.message}", pos) from None
    return tree


def _extends_entries(node: Optional[Node]) -> list:
    """Turn an `extends:` value into [(file name, position)]."""
    if node is None:
        return []
    items = node.value if isinstance(node.value, list) else [node]
    for item in items:
        if not isinstance(item.value, str) or not item.value.strip():
            raise SpecLoadError("extends: must be a file name or a list of file names", item.pos)
        if has_control(item.value):  # the OS refuses a NUL in a path
            raise SpecLoadError("extends: a file name cannot hold control characters (a NUL byte, a "
                                "newline, ...)", item.pos, hint="check the quoted name for escapes such as \\0")
    return [(item.value, item.pos) for item in items]
