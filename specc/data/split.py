"""Split a Table into train / validation / test, by fractions or from explicit sources."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from specc.errors import DataError
from specc.data.select import class_ids, class_labels, keep_classes_of
from specc.data.classes import align_classes
from specc.data.table import Table

SPLIT_NAMES = ("validation", "test")


@dataclass
class Splits:
    """The three parts of a data set; validation and test are None when not asked for."""

    train: Table
    validation: Optional[Table] = None
    test: Optional[Table] = None

    def items(self) -> Iterator[tuple[str, Table]]:
        """Yield (name, table) for the parts that exist, train first."""
        for name in ("train",) + SPLIT_NAMES:
            table = getattr(self, name)
            if table is not None:
                yield name, table


def split_table(table: Table, split: Optional[dict], seed: int,
                base_dir: Optional[Path] = None, select: Optional[dict] = None) -> Splits:
    """Split `table` as `data.split` says; the same seed always gives the same split.

    Fractions are of the whole data set and rounded down (`1797 * 0.1` -> 179). With
    `stratify: true` and integer class labels each class is split in the same proportion
    (per class counts within one sample of exact). Splits given as `{source: {...}}` are
    loaded from that source and leave the main table whole for training; string class
    labels in them are mapped to the training set's class ids. `hold_out: {classes: [...]}`
    moves every sample of those classes to the test split: the fractions split the others.
    `cross_validation: {folds: K, fold: i}` then pools train and validation, divides the pool
    into K folds and makes fold i the validation split (`_cross_validate`); test is unchanged.

    Args:
        table: The loaded `data.source` (after `data.select`).
        split: The `data.split` mapping, e.g. {"validation": 0.1, "test": 0.2, "stratify": True}.
        seed: Seed for numpy's default_rng.
        base_dir: The spec's directory, needed only for explicit split sources.
        select: `data.select`, applied to `table` already: explicit split sources keep the
            samples of the same classes (by: class takes them as they are).

    Raises:
        DataError: A split would be empty (a cross-validation fold too), or an explicit
            split's labels do not fit.
    """
    split = split or {}
    _cross_validation_fits(split)
    if split.get("by") == "class":
        return _split_by_class(table, split, seed, base_dir)
    _no_class_lists(split)
    explicit = {name: _load_explicit(split[name], name, table, seed, base_dir, select)
                for name in SPLIT_NAMES if isinstance(split.get(name), dict)}
    pool, held = _hold_out(table, split, "test" in explicit)
    fractions = {name: float(split.get(name) or 0) for name in SPLIT_NAMES if name not in explicit}
    counts = _counts(len(pool), fractions)
    rng = np.random.default_rng(seed)
    labels = _strata(table) if split.get("stratify", True) else None
    if labels is None:
        parts = _random_parts(len(pool), counts, rng)
    else:
        parts = _stratified_parts(labels[pool], counts, rng)
    index = {name: pool[part] for name, part in parts.items()}
    if held is not None:
        index["test"] = np.concatenate([index.get("test", held[:0]), held])
    folds = split.get("cross_validation")
    if folds:
        index.update(_cross_validate(index, labels, folds, seed, table.origin))
    result = {name: table.take(rows) for name, rows in index.items() if name != "train"}
    result.update(explicit)
    whole = not counts and held is None and not folds
    return Splits(train=table if whole else table.take(index["train"]),
                  validation=result.get("validation"), test=result.get("test"))


def _no_class_lists(split: dict) -> None:
    """Class lists name whole classes: they only make sense split by class."""
    for name in SPLIT_NAMES:
        if isinstance(split.get(name), list):
            raise DataError(f"data.split.{name} is a list of classes, which needs data.split.by: class",
                            hint=f"add by: class, or give {name} a fraction of the samples")


def _cross_validation_fits(split: dict) -> None:
    """Cross-validation pools the samples split off data.source: not whole classes, not a file."""
    folds = split.get("cross_validation")
    if not folds:
        return
    if split.get("by") == "class":
        raise DataError("data.split.cross_validation folds the samples, but by: class splits the classes",
                        hint="remove cross_validation, or by: class")
    if isinstance(split.get("validation"), dict):
        raise DataError("data.split.cross_validation makes the validation split from a fold of data.source, "
                        "but data.split.validation is a source of its own",
                        hint="remove cross_validation, or give validation as a fraction")
    if not 0 <= folds["fold"] < folds["folds"]:
        raise DataError(f"data.split.cross_validation.fold is {folds['fold']}, but the {folds['folds']} folds are "
                        f"numbered 0 to {folds['folds'] - 1}", hint=f"set fold to one of 0 .. {folds['folds'] - 1}")


def _cross_validate(index: dict, labels: Optional[np.ndarray], folds: dict, seed: int,
                    origin: str) -> dict:
    """{"train": rows, "validation": rows}: train and validation pooled and cut into
    `folds["folds"]` folds (class by class with `labels`), fold `folds["fold"]` validating.
    The folds' own rng stream leaves the rest of the split as it is without folds."""
    pool = np.sort(np.concatenate([index["train"], index.get("validation", index["train"][:0])]))
    count = int(folds["folds"])
    if len(pool) < count:
        raise DataError(f"{origin}: data.split.cross_validation asks for {count} folds, but train + validation "
                        f"hold {len(pool)} samples: a fold would be empty",
                        hint=f"use at most {len(pool)} folds, or more data")
    rng = np.random.default_rng([seed, 7])
    fold = _fold_of(labels[pool] if labels is not None else None, len(pool), count, rng)
    chosen = fold == int(folds["fold"])
    return {"train": rng.permutation(pool[~chosen]), "validation": rng.permutation(pool[chosen])}


def _fold_of(labels: Optional[np.ndarray], n: int, count: int, rng) -> np.ndarray:
    """The fold of each of `n` samples: a random order dealt round-robin into `count` folds;
    with labels the order is class by class, so each class is spread evenly over the folds."""
    if labels is None:
        order = rng.permutation(n)
    else:
        order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)])
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.arange(n) % count
    return fold


def _hold_out(table: Table, split: dict, test_from_source: bool) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(the samples the fractions split, the held-out samples or None): `hold_out` keeps every
    sample of its classes out of train and validation; they all go to the test split."""
    everything = np.arange(len(table))
    wanted = (split.get("hold_out") or {}).get("classes")
    if not wanted:
        return everything, None
    if test_from_source:
        raise DataError("data.split.hold_out moves samples to the test split, but data.split.test is a "
                        "source of its own", hint="remove hold_out, or give test as a fraction")
    labels = class_labels(table, "data.split.hold_out")
    held = np.isin(labels, class_ids(table, wanted, "data.split.hold_out.classes"))
    if held.all():
        raise DataError(f"{table.origin}: data.split.hold_out holds out every class; none is left to train on",
                        hint="hold out fewer classes")
    return everything[~held], everything[held]


def _counts(n: int, fractions: dict) -> dict:
    """Return {split: size} for the non-zero fractions, checking nothing ends up empty."""
    counts = {}
    for name, fraction in fractions.items():
        if fraction <= 0:
            continue
        if fraction >= 1:
            raise DataError(f"the {name} split fraction {fraction} must be below 1")
        count = math.floor(n * fraction + 1e-9)
        if count < 1:
            raise DataError(f"the {name} split is empty: {n} samples * {fraction} < 1; "
                            f"use a larger fraction or more data")
        counts[name] = count
    total = sum(fraction for name, fraction in fractions.items() if name in counts)
    if counts and (n - sum(counts.values()) < 1 or total >= 1 - 1e-9):
        taken = " + ".join(f"{name} {fractions[name]}" for name in counts)
        raise DataError(f"the train split is empty: {taken} leave none of the {n} samples for training",
                        hint="use smaller validation / test fractions")
    return counts


def _strata(table: Table) -> Optional[np.ndarray]:
    """Return the class id of each sample when the labels are single integer class ids."""
    labels = table.labels
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        return None
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    return labels if labels.ndim == 1 else None


def _random_parts(n: int, counts: dict, rng) -> dict:
    order = rng.permutation(n)
    parts, start = {}, 0
    for name in SPLIT_NAMES:
        if name in counts:
            parts[name] = order[start:start + counts[name]]
            start += counts[name]
    parts["train"] = order[start:]
    return parts


def _stratified_parts(labels: np.ndarray, counts: dict, rng) -> dict:
    """Give each class its share of every split (largest remainder), then shuffle each split."""
    classes, inverse = np.unique(labels, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    sizes = np.array([len(m) for m in members])
    left = sizes.copy()
    picked = {}
    for name in SPLIT_NAMES:
        if name in counts:
            quota = _apportion(sizes, counts[name], left)
            picked[name] = quota
            left = left - quota
    parts: dict[str, list[np.ndarray]] = {name: [] for name in picked}
    parts["train"] = []
    for c, indices in enumerate(members):
        start = 0
        for name, quota in picked.items():
            parts[name].append(indices[start:start + quota[c]])
            start += quota[c]
        parts["train"].append(indices[start:])
    return {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}


def _apportion(sizes: np.ndarray, total: int, left: np.ndarray) -> np.ndarray:
    """Split `total` over classes in proportion to `sizes`, never above what is `left`."""
    exact = sizes * total / sizes.sum()
    quota = np.minimum(np.floor(exact).astype(np.int64), left)
    remainder = exact - quota
    while quota.sum() < total:
        room = quota < left
        if not room.any():
            break
        best = int(np.argmax(np.where(room, remainder, -np.inf)))
        quota[best] += 1
        remainder[best] = -np.inf if quota[best] >= left[best] else remainder[best] - 1
    return quota


def _load_explicit(entry: dict, name: str, train: Table, seed: int, base_dir: Optional[Path],
                   select: Optional[dict]) -> Table:
    from specc.data.sources import load_source

    if "source" not in entry:
        raise DataError(f"data.split.{name} must be a fraction or {{source: {{...}}}}")
    if base_dir is None:
        raise DataError(f"data.split.{name} names a source, but no base directory was given")
    key = f"data.split.{name}.source"
    table = load_source(entry["source"], base_dir, seed, key=key)
    if select and train.class_names:
        table = keep_classes_of(table, train.class_names, key)
    _align_classes(table, train, name)
    return table


def _align_classes(table: Table, train: Table, name: str) -> None:
    """Re-number string class labels of an explicit split to the training set's class ids."""
    def mismatch(table: Table, unknown: list, known: list) -> DataError:
        return DataError(f"{table.origin}: the {name} split has classes the training data does not have: "
                         f"{', '.join(map(str, unknown[:10]))}",
                         hint=f"training classes: {', '.join(map(str, known[:20]))}")

    align_classes(table, train.class_names, train.output_class_names, mismatch)


def _split_by_class(table: Table, split: dict, seed: int, base_dir: Optional[Path]) -> Splits:
    """`by: class`: validation and test take whole classes, so few-shot models are evaluated
    on classes they never saw. A list names them (`test: [7, 8, 9]`); a fraction is of the
    classes, taken from the last ids not listed, test first (digits with test: 0.3 -> test
    classes 7, 8, 9). Explicit split sources are taken as they are (their classes need not be
    training's)."""
    from specc.data.sources import load_source

    if (split.get("hold_out") or {}).get("classes"):
        raise DataError("data.split.hold_out cannot be used with by: class",
                        hint="list the held-out classes under data.split.test instead")
    labels = _strata(table)
    if labels is None:
        raise DataError(f"{table.origin}: data.split.by: class needs one integer class id per sample")
    classes = np.unique(labels)
    listed = _listed_classes(table, split)
    left = [c for c in classes if c not in {c for ids in listed.values() for c in ids}]
    parts, end = {}, len(left)
    for name in ("test", "validation"):
        value = split.get(name)
        if isinstance(value, dict):
            if base_dir is None:
                raise DataError(f"data.split.{name} names a source, but no base directory was given")
            parts[name] = load_source(value["source"], base_dir, seed, key=f"data.split.{name}.source")
            continue
        chosen = listed.get(name)
        if chosen is None:
            chosen = _last_classes(len(classes), left[:end], name, value)
            end -= len(chosen)
        if chosen:
            parts[name] = table.take(np.flatnonzero(np.isin(labels, chosen)))
    if end < 1:
        raise DataError(f"the train split is empty: validation and test take all {len(classes)} classes",
                        hint="use smaller validation / test fractions (with by: class, of the classes)")
    train = table.take(np.flatnonzero(np.isin(labels, left[:end])))
    return Splits(train=train, validation=parts.get("validation"), test=parts.get("test"))


def _listed_classes(table: Table, split: dict) -> dict:
    """{split: class ids} of the splits given as class lists; a class may be in one only."""
    listed = {name: class_ids(table, split[name], f"data.split.{name}")
              for name in SPLIT_NAMES if isinstance(split.get(name), list)}
    if len(listed) == 2:
        both = sorted(set(listed["validation"]) & set(listed["test"]))
        if both:
            raise DataError(f"{table.origin}: class {both[0]} is listed in both data.split.validation and "
                            f"data.split.test", hint="a class goes to one split only")
    return listed


def _last_classes(total: int, left: list, name: str, value: object) -> list:
    """The classes a fraction of `total` classes takes from the end of `left`."""
    fraction = float(value or 0)  # type: ignore[arg-type]
    count = math.floor(total * fraction + 1e-9)
    if fraction and count < 1:
        raise DataError(f"the {name} split is empty: {total} classes * {fraction:g} < 1 class",
                        hint="use a larger fraction (with by: class it is a fraction of the classes)")
    return list(left[max(0, len(left) - count):]) if count else []
