"""Data feeds and training set-up of the composite paradigms (see specc/compile/composite.py).

- autoencoder and gan: batches of samples alone (no labels), in the seeded order of the
  ordinary feed (epoch `e` is shuffled with the stateless seed (seed, e));
- few_shot: one episode per step. Epoch `e`'s episodes are drawn with
  numpy's default_rng([seed, e]) from the training split's classes, so a resumed run sees
  the episodes an uninterrupted one would. Evaluation episodes (validation, test,
  `specc evaluate`) are drawn with default_rng([seed, EVALUATION]) from the classes of the
  split evaluated: `min(ways, its classes)`-way, `shots`-shot, `task.episodes` of them.

`model_and_feed` is what `specc.run.train` calls instead of its own for these tasks; the
rest of training (record, callbacks, checkpoints, final metrics) is the generic one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from specc.data.pipeline import to_arrays
from specc.data.table import Table
from specc.errors import DataError
from specc.run.feed import Feed, seeded_batches

EVALUATION = 2**31 - 7  # the second word of the evaluation episodes' seed


@dataclass
class CompositeFeed(Feed):
    """A Feed with the callbacks the paradigm adds (saving the parts users keep)."""

    callbacks: list = field(default_factory=list)


# --- arrays -----------------------------------------------------------------------------------------

def input_array(table: Table, tensor) -> np.ndarray:
    """The table's samples shaped for a network input (a KerasTensor)."""
    name = tensor.name.split(":")[0]
    shape = list(tuple(tensor.shape)[1:])
    x, _ = to_arrays(table, [name], {name: {"shape": shape, "dtype": str(tensor.dtype)}}, None)
    return x


def class_labels(table: Table) -> np.ndarray:
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


# --- samples (autoencoder, gan) ----------------------------------------------------------------------

def sample_feed(x: np.ndarray, batch: dict, seed: int, first_epoch: int, epochs: int, origin: str) -> Feed:
    """Batches of samples alone, each epoch in its own seeded order."""
    return seeded_batches(x, len(x), batch, seed, first_epoch, epochs, origin, CompositeFeed)


def sample_dataset(table: Table, tensor, batch_size: int = 256):
    """The samples of a split, unshuffled, for evaluation (labels are not needed)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(input_array(table, tensor)).batch(batch_size)


# --- episodes (few_shot) -----------------------------------------------------------------------------

def _by_class(labels: np.ndarray, need: int) -> dict:
    """Class id -> sample indices, for the classes with at least `need` samples."""
    out = {}
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        if len(where) >= need:
            out[int(c)] = where
    return out


def draw_episodes(by_class: dict, ways: int, shots: int, queries: int, count: int,
                  rng: np.random.Generator) -> np.ndarray:
    """(count, ways*(shots+queries)) sample indices: per episode the support samples class by
    class, then the query samples class by class."""
    classes = np.array(sorted(by_class))
    out = np.empty((count, ways * (shots + queries)), dtype=np.int64)
    for e in range(count):
        chosen = rng.choice(classes, ways, replace=False)
        support, query = [], []
        for c in chosen:
            picked = rng.choice(by_class[int(c)], shots + queries, replace=False)
            support.append(picked[:shots])
            query.append(picked[shots:])
        out[e] = np.concatenate(support + query)
    return out


def episode_dataset(x: np.ndarray, indices: np.ndarray, ways: int, shots: int, queries: int):
    """Episodes as ({"support", "query"}, query class index) elements, one per step."""
    import tensorflow as tf

    split = ways * shots
    labels = np.repeat(np.arange(ways, dtype=np.int32), queries)

    def episode(index, samples):
        chosen = tf.gather(samples, index)
        return {"support": chosen[:split], "query": chosen[split:]}, tf.constant(labels)

    data = tf.data.Dataset.from_tensors(x).cache().repeat()
    return tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(indices), data).map(
        episode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def episode_feed(table: Table, model, first_epoch: int, epochs: int) -> Feed:
    """Training episodes for epochs first_epoch..epochs-1 (epoch e drawn with rng([seed, e]))."""
    import tensorflow as tf

    labels = class_labels(table)
    ways, shots, queries = model.ways, model.shots, model.queries
    by_class = _by_class(labels, shots + queries)
    if len(by_class) < ways:
        raise DataError(f"{table.origin}: the training split has {len(by_class)} classes with at least "
                        f"{shots + queries} samples (shots + queries); a {ways}-way episode needs {ways}",
                        hint="lower task.ways, shots or queries, or give more classes to training "
                             "(data.split)")
    rounds = [draw_episodes(by_class, ways, shots, queries, model.episodes,
                            np.random.default_rng([model.seed, epoch]))
              for epoch in range(first_epoch, max(epochs, first_epoch + 1))]
    x = input_array(table, model.inputs[0])
    dataset = episode_dataset(x, np.concatenate(rounds), ways, shots, queries).prefetch(tf.data.AUTOTUNE)
    return CompositeFeed(dataset, model.episodes, 1, model.episodes * ways * (shots + queries))


def evaluation_episodes(table: Table, model):
    """The evaluation episodes of a split: `min(ways, classes)`-way, seeded, the same each time."""
    labels = class_labels(table)
    shots = model.shots
    by_class = _by_class(labels, shots + 1)
    if len(by_class) < 2:
        raise DataError(f"{table.origin}: {len(by_class)} class(es) with more than {shots} samples; "
                        "a few-shot evaluation episode needs at least 2",
                        hint="give this split more classes (data.split with by: class)")
    ways = min(model.ways, len(by_class))
    queries = min(model.queries, min(len(v) for v in by_class.values()) - shots)
    indices = draw_episodes(by_class, ways, shots, queries, model.episodes,
                            np.random.default_rng([model.seed, EVALUATION]))
    return episode_dataset(input_array(table, model.inputs[0]), indices, ways, shots, queries)


# --- training set-up -----------------------------------------------------------------------------------

def model_and_feed(resolved: dict, prepared, record, state: dict, setup, where):
    """The compiled model (new, or the last checkpoint when resuming), its training feed and
    the first epoch, for an autoencoder, gan or few_shot spec."""
    from specc.compile import composite, load_plugins

    first_epoch = state.get("epoch", -1) + 1
    epochs = resolved["train"]["epochs"]
    train = prepared.splits.train
    if state:
        from specc.run.callbacks import restore_seed_states

        load_plugins(resolved.get("plugins", []), str(prepared.spec_dir))
        model = keras.saving.load_model(Path(record.checkpoint_dir) / "last.keras")
        restore_seed_states(model, state.get("seed_states"))
    else:
        from specc.compile import build_model

        model = build_model(resolved, where=where, spec_dir=str(prepared.spec_dir))
        if composite.task_kind(resolved) == "few_shot":
            model = composite.protonet(model, resolved)
        composite.adapt(model, input_array(train, _data_input(model)))
    feed = _feed(model, resolved, train, first_epoch, epochs)
    # a GAN's losses do not say which epoch draws best: its parts come from the last epoch
    feed.callbacks.append(SaveParts(record, ("last",) if isinstance(model, composite.GAN) else ("best", "last")))
    if not state:
        from specc.run.train import _steps_per_execution

        spe = _steps_per_execution(resolved["train"]["steps_per_execution"], feed.steps)
        total = max(1, epochs * feed.steps // resolved["batch"]["accumulate"])
        composite.compile(model, resolved, total_steps=total, steps_per_execution=spe,
                          jit_compile=setup.jit, where=where)
    return model, feed, first_epoch


def _data_input(model):
    """The input the data's samples go to: the discriminator's for a GAN, else the model's."""
    from specc.compile.composite import GAN

    return model.discriminator.inputs[0] if isinstance(model, GAN) else model.inputs[0]


def _feed(model, resolved: dict, train: Table, first_epoch: int, epochs: int) -> Feed:
    from specc.compile.composite import ProtoNet

    if isinstance(model, ProtoNet):
        return episode_feed(train, model, first_epoch, epochs)
    x = input_array(train, _data_input(model))
    return sample_feed(x, resolved["batch"], resolved["seed"], first_epoch, epochs, train.origin)


class SaveParts(keras.callbacks.Callback):
    """At the end of training, save the parts of the first of `which` checkpoints that exists
    beside it: checkpoints/encoder.keras and decoder.keras (autoencoder), generator.keras and
    discriminator.keras (gan), embedding.keras (few_shot). They are plain functional models:
    `keras.saving.load_model` reads them without specc."""

    def __init__(self, record, which: tuple = ("best", "last")):
        super().__init__()
        self.record, self.which = record, tuple(which)

    def on_train_end(self, logs=None):
        from specc.compile.composite import parts

        folder = Path(self.record.checkpoint_dir)
        source = next((folder / f"{w}.keras" for w in self.which if (folder / f"{w}.keras").exists()), None)
        if source is None:
            return
        saved = {}
        for name, part in parts(keras.saving.load_model(source)).items():
            tmp = folder / f".{name}.tmp.keras"
            part.save(tmp)
            tmp.replace(folder / f"{name}.keras")
            saved[name] = f"checkpoints/{name}.keras"
        self.record.update(parts=saved)
