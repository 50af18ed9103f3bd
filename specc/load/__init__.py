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

import os
from typing import Any, Sequence

from specc.errors import Position
from specc.load.document import Document
from specc.load.files import MAX_FILE_BYTES, load_tree
from specc.load.overrides import apply_overrides
from specc.load.yaml_tree import flatten, parse_spec_tree

__all__ = ["Document", "MAX_FILE_BYTES", "apply_overrides", "load_spec", "parse_text"]


def load_spec(path: Any, overrides: Sequence[str] = ()) -> Document:
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
    tree, extends = load_tree(os.fspath(path), [], loaded)
    data, positions, key_positions = flatten(tree)
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
    return flatten(parse_spec_tree(text, filename))
