"""Did-you-mean suggestions for misspelled names."""
from __future__ import annotations

import difflib
from typing import Iterable, Optional

CUTOFF = 0.7     # how alike a suggestion must be (difflib ratio)
WINDOW = 0.1     # keep only suggestions about as good as the best one
SUBSTRING = 0.85  # the score of a choice that starts or ends with the word (or the reverse),
                  # when the word is at least half of it

# Names people carry over from elsewhere -> the name specc uses.
RENAMES = {
    "tflite": "litert", "fp16": "mixed_float16", "bf16": "mixed_bfloat16", "fp32": "float32",
    "float16": "mixed_float16", "bfloat16": "mixed_bfloat16",
    "crossentropy": "categorical_crossentropy", "ce": "categorical_crossentropy",
    "minibatch": "mini_batch", "lr": "learning_rate", "classification": "multiclass",
}


def _norm(word: str) -> str:
    return word.lower().replace("_", "").replace("-", "")


def _score(word: str, choice: str) -> float:
    a, b = _norm(word), _norm(choice)
    ratio = max(difflib.SequenceMatcher(None, word.lower(), choice.lower()).ratio(),
                difflib.SequenceMatcher(None, a, b).ratio())
    short, long = sorted((a, b), key=len)
    if len(short) >= 3 and 2 * len(short) >= len(long) and (long.startswith(short) or long.endswith(short)):
        ratio = max(ratio, SUBSTRING)
    return ratio


def suggest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for `word` among `choices`, best first.

    A match that differs only in case, `_` or `-` is the only suggestion (`Conv2D` -> `conv2d`);
    a known rename (`tflite` -> `litert`) comes first; then names about as close as the best.
    """
    if not isinstance(word, str) or not word:
        return []
    choices = [c for c in dict.fromkeys(choices) if isinstance(c, str) and c != word]
    exact = [c for c in choices if _norm(c) == _norm(word)]
    if exact:
        return exact[:n]
    renamed = [RENAMES[_norm(word)]] if RENAMES.get(_norm(word)) in choices else []
    scored = sorted(((_score(word, c), c) for c in choices), key=lambda sc: -sc[0])
    best = scored[0][0] if scored else 0.0
    close = [c for s, c in scored if s >= CUTOFF and s >= best - WINDOW]
    return list(dict.fromkeys(renamed + close))[:n]


def did_you_mean(word: str, choices: Iterable[str]) -> Optional[str]:
    """`did you mean 'units'?` or None."""
    found = suggest(word, choices)
    if not found:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in found) + "?"


def one_of(choices: Iterable[str], limit: int = 12) -> str:
    """A readable list of allowed values, cut after `limit` (never to hide a single one: the
    "..." would take the place of the name it stands for)."""
    items = [str(c) for c in choices]
    if len(items) <= limit + 1:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", ... ({len(items)} in all)"


def a_or_an(word: object) -> str:
    """`a gan`, `an autoencoder`: the indefinite article a name takes (by its first letter)."""
    text = str(word)
    return f"{'an' if text[:1] and text[:1].lower() in 'aeiou' else 'a'} {text}"
