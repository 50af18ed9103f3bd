"""Feed a split to Keras: one deterministic order per epoch, batched as the strategy says.

Epoch `e` is shuffled with the stateless seed (seed, e), so the order of every epoch is a
function of the spec's seed alone: a run resumed at epoch 7 sees exactly the batches an
uninterrupted run sees from epoch 7 on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from specc.data.pipeline import tf_ready, to_arrays
from specc.data.table import Table
from specc.errors import DataError


@dataclass
class Feed:
    """A training stream for `model.fit(feed.dataset, steps_per_epoch=feed.steps)`: `steps`
    batches of `batch_size` per epoch, `samples` samples per epoch."""

    dataset: Any
    steps: int
    batch_size: int
    samples: int


def batch_size_for(batch: dict, samples: int) -> int:
    """Samples per step for the batch strategy: full_batch, stochastic or mini_batch."""
    strategy = batch["strategy"]
    if strategy == "full_batch":
        return samples
    if strategy == "stochastic":
        return 1
    return min(int(batch["size"]), samples)


def steps_per_epoch(samples: int, size: int, drop_remainder: bool) -> int:
    return samples // size if drop_remainder else math.ceil(samples / size)


PREDICT_BATCH = 256


def predict_arrays(model: Any, x: Any, batch_size: int = PREDICT_BATCH) -> Any:
    """What a Keras model predicts for the arrays `x` (its outputs, raw).

    Up to one batch of samples is predicted with `predict_on_batch`: the same computation as
    `predict`'s single batch (the same numbers), without the data pipeline `predict` builds
    on every call (about 150 ms, which a server answering single rows pays per request).
    """
    first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, (list, tuple)) else x
    if len(first) <= batch_size and hasattr(model, "predict_on_batch"):  # trees have no batches
        return model.predict_on_batch(x)
    return model.predict(x, verbose=0, batch_size=batch_size)


def model_arrays(table: Table, model: Any) -> tuple:
    """(x, y) numpy arrays keyed by the model's input and output names."""
    shapes = {t.name.split(":")[0]: list(t.shape[1:]) for t in model.inputs}
    return to_arrays(table, list(shapes), shapes, list(model.output_names))


def training_feed(table: Table, model: Any, batch: dict, seed: int, first_epoch: int,
                  epochs: int) -> Feed:
    """Batches for epochs first_epoch..epochs-1, each epoch in its own seeded order."""
    x, y = model_arrays(table, model)
    return seeded_batches(tf_ready((x, y)), len(table), batch, seed, first_epoch, epochs,
                          table.origin)


def seeded_batches(arrays: Any, n: int, batch: dict, seed: int, first_epoch: int, epochs: int,
                   origin: str) -> Feed:
    """Batches of `arrays` (a structure of n-sample arrays) as the batch strategy says, epoch
    `e` in the order of the stateless seed (seed, e)."""
    import tensorflow as tf

    size = batch_size_for(batch, n)
    drop = bool(batch.get("drop_remainder")) and size < n
    steps = steps_per_epoch(n, size, drop)
    if steps == 0:
        raise DataError(f"{origin}: {n} training samples make no full batch of {size}",
                        hint="use a smaller batch size or drop_remainder: false")
    data = tf.data.Dataset.from_tensors(arrays).cache().repeat()
    order = _epoch_orders(n, size, drop, seed, first_epoch, epochs, batch.get("shuffle", True))
    dataset = tf.data.Dataset.zip(order, data).map(_gather, num_parallel_calls=tf.data.AUTOTUNE,
                                                   deterministic=True)
    return Feed(dataset.prefetch(tf.data.AUTOTUNE), steps, size, n)


def _epoch_orders(n, size, drop, seed, first_epoch, epochs, shuffle):
    import tensorflow as tf

    def one_epoch(epoch: Any) -> Any:
        indices = tf.range(n, dtype=tf.int64)
        if shuffle:
            indices = tf.random.experimental.stateless_shuffle(
                indices, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(indices).batch(size, drop_remainder=drop)

    epochs_ds = tf.data.Dataset.range(first_epoch, max(epochs, first_epoch + 1))
    return epochs_ds.flat_map(one_epoch)


def _gather(indices, arrays):
    import tensorflow as tf

    return tf.nest.map_structure(lambda a: tf.gather(a, indices), arrays)


def eval_dataset(table: Table, model: Any, batch_size: int = 256) -> Any:
    """Unshuffled batches of a split (inputs and labels by the model's names), for evaluate."""
    import tensorflow as tf

    x, y = model_arrays(table, model)
    elements = x if y is None else (x, y)
    return tf.data.Dataset.from_tensor_slices(tf_ready(elements)).batch(batch_size)


def take_sample(table: Table, count: int, seed: int) -> Optional[Table]:
    """A fixed random subset (for calibration and parity checks)."""
    if table is None or len(table) == 0:
        return None
    rng = np.random.default_rng(seed)
    return table.take(np.sort(rng.permutation(len(table))[:count]))
