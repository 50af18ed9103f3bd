"""Did-you-mean suggestions for misspelled names."""
from __future__ import annotations

import difflib
from typing import Iterable, Optional


def _norm(word: str) -> str:
    return word.lower().replace("_", "").replace("-", "")


def suggest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for `word` among `choices`, best first.

    A match that differs only in case, `_` or `-` comes first (`Conv2D`, `conv_2d` -> `conv2d`).
    """
    choices = list(dict.fromkeys(choices))
    if not isinstance(word, str):
        return []
    exact = [c for c in choices if _norm(c) == _norm(word) and c != word]
    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.6)
    normed = {_norm(c): c for c in choices}
    close += [normed[m] for m in difflib.get_close_matches(_norm(word), list(normed), n=n, cutoff=0.75)]
    return list(dict.fromkeys(exact + close))[:n]


def did_you_mean(word: str, choices: Iterable[str]) -> Optional[str]:
    """`did you mean 'units'?` or None."""
    found = suggest(word, choices)
    if not found:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in found) + "?"


def one_of(choices: Iterable[str], limit: int = 12) -> str:
    """A readable list of allowed values, cut after `limit`."""
    items = [str(c) for c in choices]
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f", ... ({len(items)} in all)"
    return text
