"""Few-shot episodes: which samples make each episode, and the tf.data stream of them.

Training: epoch `e`'s episodes are drawn with numpy's default_rng([seed, e]) from the
training split's classes (and the new classes `task.augment` makes of them), so a resumed
run sees the episodes an uninterrupted one would.
Evaluation (validation, test, `specc evaluate`): default_rng([evaluation seed, EVALUATION])
from the classes of the split evaluated, with `task.evaluation`'s ways, shots, queries and
count: the same episodes every time, whatever the spec's seed and training episodes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specc.data.feed import Feed
from specc.data.table import Table
from specc.errors import DataError, UsageError
from specc.paradigms._common import input_array

EVALUATION = 2**31 - 7  # the second word of the evaluation episodes' seed


@dataclass(frozen=True)
class Episodes:
    """Episodes drawn from one set of samples.

    Attributes:
        indices: (episodes, ways * (shots + queries)) sample indices: per episode the support
            samples class by class, then the query samples class by class.
        ways: Classes per episode.
        shots: Support samples per class.
        queries: Query samples per class.
    """

    indices: np.ndarray
    ways: int
    shots: int
    queries: int


def class_labels(table: Table) -> np.ndarray:
    """One class id per sample (few-shot data has exactly one label set)."""
    labels = table.labels
    if isinstance(labels, dict):
        if len(labels) != 1:
            raise DataError(f"{table.origin}: a few_shot task takes one label set, found {', '.join(labels)}")
        labels = next(iter(labels.values()))
    if labels is None:
        raise DataError(f"{table.origin}: a few_shot task needs class labels; the data has none",
                        hint="name the label column / array in data.source")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{table.origin}: a few_shot task needs one class id per sample "
                        f"(found labels of shape {list(labels.shape)}, dtype {labels.dtype})")
    return labels


def by_class(labels: np.ndarray, need: int) -> dict:
    """Class id -> sample indices, for the classes with at least `need` samples."""
    out = {}
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        if len(where) >= need:
            out[int(c)] = where
    return out


def draw_episodes(groups: dict, ways: int, shots: int, queries: int, count: int,
                  rng: np.random.Generator) -> np.ndarray:
    """(count, ways*(shots+queries)) sample indices: per episode the support samples class by
    class, then the query samples class by class."""
    classes = np.array(sorted(groups))
    out = np.empty((count, ways * (shots + queries)), dtype=np.int64)
    for e in range(count):
        chosen = rng.choice(classes, ways, replace=False)
        support, query = [], []
        for c in chosen:
            picked = rng.choice(groups[int(c)], shots + queries, replace=False)
            support.append(picked[:shots])
            query.append(picked[shots:])
        out[e] = np.concatenate(support + query)
    return out


def rotated_classes(x: np.ndarray, labels: np.ndarray, rotations: list) -> tuple:
    """The samples and their class ids, plus each rotation of every class as a class of its
    own (ids after the real ones), for training episodes only.

    Raises:
        DataError: The samples are not images, or a quarter turn of non-square ones.
    """
    if not rotations:
        return x, labels
    if x.ndim not in (3, 4):
        raise DataError(f"task.augment.rotations turns images; the samples have shape {list(x.shape[1:])}",
                        hint="give the model an image-shaped input, e.g. [8, 8, 1]")
    if x.shape[1] != x.shape[2] and any(r % 180 for r in rotations):
        raise DataError(f"task.augment.rotations: a quarter turn of {x.shape[1]}x{x.shape[2]} images changes "
                        "their shape", hint="use rotations: [180] for images that are not square")
    step = int(labels.max()) + 1
    xs, ys = [x], [labels]
    for i, angle in enumerate(rotations, start=1):
        xs.append(np.rot90(x, k=int(angle) // 90, axes=(1, 2)))
        ys.append(labels + i * step)
    return np.concatenate(xs), np.concatenate(ys)


def episode_dataset(x: np.ndarray, episodes: Episodes) -> Any:
    """Episodes as ({"support": (ways, shots, ...), "query": (ways*queries, ...)}, query class
    index) elements, one per step: the support's shape tells the model the ways and shots."""
    import tensorflow as tf

    ways, shots, queries = episodes.ways, episodes.shots, episodes.queries
    split = ways * shots
    labels = np.repeat(np.arange(ways, dtype=np.int32), queries)
    support_shape = [ways, shots] + list(x.shape[1:])

    def episode(index: Any, samples: Any) -> Any:
        chosen = tf.gather(samples, index)
        return {"support": tf.reshape(chosen[:split], support_shape), "query": chosen[split:]}, \
            tf.constant(labels)

    data = tf.data.Dataset.from_tensors(x).cache().repeat()
    return tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(episodes.indices), data).map(
        episode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def episode_feed(table: Table, model: Any, first_epoch: int, epochs: int) -> Feed:
    """Training episodes for epochs first_epoch..epochs-1 (epoch e drawn with rng([seed, e]))."""
    import tensorflow as tf

    ways, shots, queries = model.ways, model.shots, model.queries
    x, labels = rotated_classes(input_array(table, model.inputs[0]), class_labels(table), model.rotations)
    groups = by_class(labels, shots + queries)
    if len(groups) < ways:
        raise DataError(f"{table.origin}: the training split has {len(groups)} classes with at least "
                        f"{shots + queries} samples (shots + queries); a {ways}-way episode needs {ways}",
                        hint="lower task.ways, shots or queries, give more classes to training "
                             "(data.split), or add rotated classes (task.augment.rotations)")
    rounds = [draw_episodes(groups, ways, shots, queries, model.episodes,
                            np.random.default_rng([model.seed, epoch]))
              for epoch in range(first_epoch, max(epochs, first_epoch + 1))]
    episodes = Episodes(np.concatenate(rounds), ways, shots, queries)
    dataset = episode_dataset(x, episodes).prefetch(tf.data.AUTOTUNE)
    return Feed(dataset, model.episodes, 1, model.episodes * ways * (shots + queries))


def evaluation_episodes(table: Table, settings: dict, asked: tuple = ()) -> Episodes:
    """The evaluation episodes of a split: `settings` (task.evaluation) decide them, not the
    training seed. The ways are at most the split's classes and the queries at most what its
    smallest class leaves after the support, unless `asked` names them (a --with setting).

    Raises:
        DataError: The split has fewer than 2 classes with more than `shots` samples.
        UsageError: `--with ways` or `queries` beyond what the split has.
    """
    shots = int(settings["shots"])
    groups = by_class(class_labels(table), shots + 1)
    if len(groups) < 2:
        raise DataError(f"{table.origin}: {len(groups)} class(es) with more than {shots} samples; "
                        "a few-shot evaluation episode needs at least 2",
                        hint="give this split more classes (data.split with by: class), or fewer shots")
    ways = min(int(settings["ways"]), len(groups))
    queries = min(int(settings["queries"]), min(len(v) for v in groups.values()) - shots)
    if "ways" in asked and ways < int(settings["ways"]):
        raise UsageError(f"--with ways={settings['ways']}: {table.origin} has {len(groups)} classes with more "
                         f"than {shots} samples", f"use --with ways={ways} or fewer")
    if "queries" in asked and queries < int(settings["queries"]):
        raise UsageError(f"--with queries={settings['queries']}: the smallest class of {table.origin} leaves "
                         f"{queries} after {shots} shots", f"use --with queries={queries} or fewer")
    indices = draw_episodes(groups, ways, shots, queries, int(settings["episodes"]),
                            np.random.default_rng([int(settings["seed"]), EVALUATION]))
    return Episodes(indices, ways, shots, queries)
