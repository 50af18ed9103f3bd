"""Few-shot episodes: which samples make each episode, and the tf.data stream of them.

Training: epoch `e`'s episodes are drawn with numpy's default_rng([seed, e]) from the
training split's classes, so a resumed run sees the episodes an uninterrupted one would.
Evaluation (validation, test, `specc evaluate`): default_rng([seed, EVALUATION]) from the
classes of the split evaluated, `min(ways, its classes)`-way, `shots`-shot,
`task.episodes` of them: the same episodes every time.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from specc.data.feed import Feed
from specc.data.table import Table
from specc.errors import DataError
from specc.paradigms._common import input_array

EVALUATION = 2**31 - 7  # the second word of the evaluation episodes' seed


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


def episode_dataset(x: np.ndarray, indices: np.ndarray, ways: int, shots: int, queries: int) -> Any:
    """Episodes as ({"support", "query"}, query class index) elements, one per step."""
    import tensorflow as tf

    split = ways * shots
    labels = np.repeat(np.arange(ways, dtype=np.int32), queries)

    def episode(index: Any, samples: Any) -> Any:
        chosen = tf.gather(samples, index)
        return {"support": chosen[:split], "query": chosen[split:]}, tf.constant(labels)

    data = tf.data.Dataset.from_tensors(x).cache().repeat()
    return tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(indices), data).map(
        episode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def episode_feed(table: Table, model: Any, first_epoch: int, epochs: int) -> Feed:
    """Training episodes for epochs first_epoch..epochs-1 (epoch e drawn with rng([seed, e]))."""
    import tensorflow as tf

    labels = class_labels(table)
    ways, shots, queries = model.ways, model.shots, model.queries
    groups = by_class(labels, shots + queries)
    if len(groups) < ways:
        raise DataError(f"{table.origin}: the training split has {len(groups)} classes with at least "
                        f"{shots + queries} samples (shots + queries); a {ways}-way episode needs {ways}",
                        hint="lower task.ways, shots or queries, or give more classes to training "
                             "(data.split)")
    rounds = [draw_episodes(groups, ways, shots, queries, model.episodes,
                            np.random.default_rng([model.seed, epoch]))
              for epoch in range(first_epoch, max(epochs, first_epoch + 1))]
    x = input_array(table, model.inputs[0])
    dataset = episode_dataset(x, np.concatenate(rounds), ways, shots, queries).prefetch(tf.data.AUTOTUNE)
    return Feed(dataset, model.episodes, 1, model.episodes * ways * (shots + queries))


def evaluation_episodes(table: Table, model: Any) -> Any:
    """The evaluation episodes of a split: `min(ways, classes)`-way, seeded, the same each time."""
    labels = class_labels(table)
    shots = model.shots
    groups = by_class(labels, shots + 1)
    if len(groups) < 2:
        raise DataError(f"{table.origin}: {len(groups)} class(es) with more than {shots} samples; "
                        "a few-shot evaluation episode needs at least 2",
                        hint="give this split more classes (data.split with by: class)")
    ways = min(model.ways, len(groups))
    queries = min(model.queries, min(len(v) for v in groups.values()) - shots)
    indices = draw_episodes(groups, ways, shots, queries, model.episodes,
                            np.random.default_rng([model.seed, EVALUATION]))
    return episode_dataset(input_array(table, model.inputs[0]), indices, ways, shots, queries)
