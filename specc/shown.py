"""What a message may show of a user's file: the names of its columns, never its contents;
and text read from a file (a run's record.json) only without control characters.

A file whose first line is not a header (a token, a password, a row of data) must not end up
in an error message, a terminal's scrollback or a CI log. So a first-row cell is shown only
when it looks like a column name: printable, at most NAME_LIMIT characters, and, when the row
has one cell only, shaped like a name. No TensorFlow here.
"""
from __future__ import annotations

import re
from typing import Optional

from specc.suggest import one_of

NAME_LIMIT = 40
NAME = re.compile(r"[^\W\d][\w .()/%-]*")  # what a lone first-row cell must look like
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: ESC, CSI, OSC, BEL, CR, ...


def printable(text: str) -> str:
    """Text as a terminal may be given it: every control character dropped, line breaks kept.

    A received run's record.json could hold escape sequences that set the terminal's title,
    write its clipboard (OSC 52) or rewrite what was printed before (CR, CSI); none reach the
    terminal.
    """
    return "\n".join(CONTROL.sub("", line) for line in text.split("\n"))


def name_like(cell: str) -> bool:
    """Printable and short: a cell a message may quote."""
    return 0 < len(cell) <= NAME_LIMIT and cell.isprintable()


def shown_names(header: list) -> list[Optional[str]]:
    """Each first-row cell as a message may show it, or None."""
    single = len(header) == 1
    return [cell if name_like(cell) and (not single or NAME.fullmatch(cell)) else None for cell in header]


def shown_value(cell: str) -> str:
    """A cell as a message shows it: quoted when short and printable, else its length only."""
    return f"'{cell}'" if name_like(cell) else f"a value of {len(cell)} characters"


def header_text(header: list, limit: int = 12) -> str:
    """The header's names for a message (cells that are not names counted, not shown)."""
    names = [cell for cell in shown_names(header) if cell is not None]
    hidden = len(header) - len(names)
    text = one_of(names, limit)
    if hidden:
        text += (", and " if names else "") + f"{hidden} cell(s) that do not look like column names"
    return text
