"""specc's own training step, for `device.strategy: multi_worker` and `mirrored` over several
devices (a `Loop`, beside `KerasFit`).

Keras 3's `model.fit` does not run under `tf.distribute.MultiWorkerMirroredStrategy`
(keras-team/keras issue 20585), so `StepLoop` runs the model's own `train_step` in
`strategy.run` on every replica and drives the Keras callbacks as `fit` does (train and epoch
begin/end, batch end after each call of `steps_per_execution` steps, `val_` metrics,
`model.stop_training`): the record, checkpoints, early stopping, the NaN stop, progress and
Ctrl-C are those of every other run.

The global batch is the spec's: each global batch of the feed is split over the replicas
(replica r of R takes samples r, r+R, ...), and each replica's samples are weighted by
len(part) x R / len(batch), so that Keras's per-replica mean, summed over the replicas, is the
mean over the global batch even when a batch does not split evenly. Metrics are read in
cross-replica context, which sums their totals and counts over every worker: every worker sees
the same logs. A stop (early stopping, NaN, a callback) on any worker stops all of them at the
same step. BatchNormalization layers use the statistics of the global batch
(`synchronized=True`), so the weights stay identical on every worker.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Iterable, Optional

from specc.data.feed import Feed
from specc.errors import ClusterError, DataError

# What TensorFlow raises on a worker when a peer dies or stops answering (its gRPC socket
# closes, or the coordination service misses its heartbeats).
LOST = ("UnavailableError", "DeadlineExceededError", "AbortedError", "CancelledError")
LOST_HINT = ("resume the run when every worker is back: `specc train --resume RUN` on each worker "
             "(or with --workers N); it continues from its last checkpoint")


class StepLoop:
    """Epochs of `strategy.run(model.train_step)` with the callbacks `fit` would call."""

    name = "strategy.run"

    def __init__(self, strategy: Any, cluster: Any = None):
        self.strategy = strategy
        self.cluster = cluster
        self.weights_agree: Optional[bool] = None  # at the end of training, before callbacks' last word

    def run(self, model: Any, feed: Feed, validation: Optional[Any], epochs: int, first_epoch: int,
            callbacks: list) -> None:
        try:
            self._run(model, feed, validation, epochs, first_epoch, callbacks)
        except Exception as exc:
            if type(exc).__name__ in LOST and type(exc).__module__.startswith("tensorflow"):
                raise ClusterError(lost_worker(exc, self.cluster), LOST_HINT) from None
            raise

    def _run(self, model: Any, feed: Feed, validation: Optional[Any], epochs: int, first_epoch: int,
             callbacks: list) -> None:
        import keras
        import tensorflow as tf

        strategy = self.strategy
        _build_state(model, feed, strategy)
        batches = iter(strategy.distribute_datasets_from_function(shards(feed.dataset, weighted=True)))
        checked = None if validation is None else \
            strategy.distribute_datasets_from_function(shards(validation, weighted=False))
        checks = 0 if validation is None else batch_count(validation)
        train_steps, test_steps = _steps_function(model.train_step, strategy), _steps_function(model.test_step, strategy)
        reset = _reset_function(model)
        listed = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=False, model=model,
                                              verbose=0, epochs=epochs, steps=feed.steps)
        per_call = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
        self.check_same_start(model, first_epoch)
        model.stop_training = False
        listed.on_train_begin()
        logs: dict = {}
        for epoch in range(first_epoch, epochs):
            reset()
            listed.on_epoch_begin(epoch)
            done = 0
            while done < feed.steps:
                count = min(per_call, feed.steps - done)
                listed.on_train_batch_begin(done)
                train_steps(batches, tf.constant(count, tf.int64))
                done += count
                listed.on_train_batch_end(done - 1, metric_values(model))
                if self.stop_agreed(model):
                    break
            epoch_logs = metric_values(model)
            if checked is not None:
                epoch_logs.update(self._validate(model, checked, checks, test_steps, reset, listed))
            listed.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_agreed(model):
                break
        if isinstance(model.optimizer, keras.optimizers.Optimizer) and epochs > first_epoch:
            model.optimizer.finalize_variable_values(model.trainable_weights)
        # before on_train_end: early stopping may then restore its best weights on one worker
        self.weights_agree = agree(strategy, weights_fingerprint(model, first_epoch))
        listed.on_train_end(logs=logs)

    def check_same_start(self, model: Any, first_epoch: int) -> None:
        """Every worker starts from the same weights, optimizer state and epoch.

        Raises:
            UsageError: They do not (another spec, other data, or another run folder on a worker).
        """
        from specc.errors import UsageError

        if not agree(self.strategy, weights_fingerprint(model, first_epoch)):
            raise UsageError("the workers do not start from the same weights, optimizer state and epoch",
                             "every worker must train the same spec on the same data; to resume, every "
                             "worker must read the same run folder (shared storage)")

    def _validate(self, model: Any, checked: Any, count: int, test_steps: Any, reset: Any, listed: Any) -> dict:
        import tensorflow as tf

        reset()
        listed.on_test_begin()
        listed.on_test_batch_begin(0)
        test_steps(iter(checked), tf.constant(count, tf.int64))
        listed.on_test_batch_end(count - 1)
        values = metric_values(model)
        listed.on_test_end(values)
        return {f"val_{name}": value for name, value in values.items()}

    def stop_agreed(self, model: Any) -> bool:
        """Whether any worker's callbacks asked to stop; then every worker stops here."""
        stop = total(self.strategy, [1.0 if model.stop_training else 0.0])[0] > 0
        model.stop_training = stop
        return stop


def _build_state(model: Any, feed: Feed, strategy: Any) -> None:
    """Create the metrics' and optimizer's variables before the first step, as `fit` does:
    variables first created inside the steps' tf.function and loop cannot be placed on several
    local replicas (mirrored)."""
    from specc.run.trainable import build_state

    with strategy.scope():
        build_state(model, feed)


def _steps_function(step: Any, strategy: Any) -> Any:
    """`count` steps of `step` (a model's train_step or test_step) on every replica, in one
    tf.function: the input iterator's cross-worker bookkeeping then runs in the graph too."""
    import tensorflow as tf

    def replica_step(data: Any) -> None:
        step(data)

    @tf.function
    def steps(iterator: Any, count: Any) -> None:
        for _ in tf.range(count):
            strategy.run(replica_step, args=(next(iterator),))

    return steps


def _reset_function(model: Any) -> Any:
    """Reset the metrics in a tf.function (an eager reset of a metric read across workers
    starts a thread pool per variable). Traced again once the metrics are built: Keras's
    compiled metrics are built by the first step, and a reset traced before then holds no
    op for them (they would never be reset)."""
    import tensorflow as tf

    traced: dict = {}

    def reset() -> None:
        key = tuple(bool(getattr(metric, "built", True)) for metric in model.metrics)
        if key not in traced:
            traced[key] = tf.function(model.reset_metrics)
        traced[key]()

    return reset


def batch_count(dataset: Any) -> int:
    """The batches of a finite dataset (validation), counted once if TensorFlow cannot tell."""
    import tensorflow as tf

    count = int(dataset.cardinality())
    if count < 0:
        count = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    return count


def metric_values(model: Any) -> dict:
    """The model's metrics over every worker (read in cross-replica context, which sums each
    metric's totals and counts over the workers), as floats. Read in a tf.function: an eager
    cross-replica read starts a thread pool per read."""
    import tensorflow as tf

    read = getattr(model, "_specc_metric_reader", None)
    if read is None:
        read = tf.function(model.get_metrics_result)
        model._specc_metric_reader = read
    return {name: float(value) for name, value in read().items()}


def shards(dataset: Any, weighted: bool) -> Any:
    """A `distribute_datasets_from_function` function: each worker's input pipeline takes its
    replicas' parts of every global batch of `dataset` (replica r of R: samples r, r+R, ...).

    `weighted` adds each part's weight, len(part) x R / len(batch), as sample weights (see the
    module's docstring); evaluation needs none (metrics sum totals and counts)."""
    import tensorflow as tf

    def per_worker(context: Any) -> Any:
        replicas = context.num_replicas_in_sync
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        source = dataset.with_options(options)

        def parts(*element: Any) -> Any:
            element = element if len(element) > 1 else element[0]
            if local == 1:
                return tf.data.Dataset.from_tensors(replica_part(element, first, replicas, weighted))
            return tf.data.Dataset.range(local).map(
                lambda index: replica_part(element, first + index, replicas, weighted))

        return source.flat_map(parts)

    return per_worker


def replica_part(element: Any, replica: Any, replicas: int, weighted: bool) -> Any:
    """Replica `replica`'s samples of one global batch (x, (x, y) or (x, y, weights))."""
    import tensorflow as tf

    size = tf.shape(tf.nest.flatten(element)[0])[0]
    index = tf.range(tf.cast(replica, tf.int32), size, replicas)
    part = tf.nest.map_structure(lambda tensor: tf.gather(tensor, index), element)
    if not weighted:
        return part
    count = tf.shape(index)[0]
    weight = tf.cast(count * replicas, tf.float32) / tf.cast(tf.maximum(size, 1), tf.float32)
    weights = tf.fill([count], weight)
    if isinstance(part, tuple) and len(part) == 3:
        return part[0], part[1], tf.cast(part[2], tf.float32) * weights
    if isinstance(part, tuple) and len(part) == 2:
        return part[0], part[1], weights
    # x alone: only an autoencoder's feed (it reconstructs its input and ignores the label slot;
    # a dataset cannot hold None, and the weights must be the third item)
    return part, tf.zeros([count]), weights


def check_batches(feed: Feed, replicas: int) -> None:
    """Every global batch must give each replica at least one sample.

    Raises:
        DataError: The batch, or the last batch of an epoch, holds fewer samples than replicas.
    """
    last = feed.samples - (feed.steps - 1) * feed.batch_size
    smallest = min(feed.batch_size, last)
    if smallest < replicas:
        where = "a batch" if feed.batch_size < replicas else "the last batch of each epoch"
        raise DataError(f"{where} holds {smallest} sample(s), fewer than the {replicas} replicas it is split over",
                        "use a larger batch.size, or set batch.drop_remainder: true")


def total(strategy: Any, values: list) -> list:
    """Each value summed over every replica (a collective: every worker must call it alike)."""
    import tensorflow as tf

    key = (id(strategy), len(values))
    if key not in _SUMS:
        @tf.function
        def summed(mine: Any) -> Any:
            return strategy.reduce("SUM", strategy.run(tf.identity, args=(mine,)), axis=None)

        _SUMS[key] = summed
    return [float(v) for v in _SUMS[key](tf.constant(values, tf.float32)).numpy()]


_SUMS: dict = {}  # (strategy, length) -> its tf.function, traced once


def agree(strategy: Any, fingerprint: bytes) -> bool:
    """Whether every worker has the same fingerprint (8 bytes compared): the sum of each byte
    squared equals the replicas times the sum of its squares only when all are equal, and every
    worker sees the same sums, so every worker reaches the same verdict."""
    values = [float(b) for b in fingerprint[:8]]
    sums = total(strategy, values + [v * v for v in values])
    replicas = strategy.num_replicas_in_sync
    return all(sums[i] ** 2 == replicas * sums[i + 8] for i in range(8))


def fingerprint(*parts: Any) -> bytes:
    """sha256 of the text of each part (a spec hash, a data fingerprint, an epoch, ...)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode("utf-8"))
        digest.update(b"\0")
    return digest.digest()


def weights_fingerprint(model: Any, first_epoch: int) -> bytes:
    """sha256 of every weight and optimizer variable, and the epoch training starts from."""
    import keras
    import numpy as np

    digest = hashlib.sha256(str(first_epoch).encode())
    for value in model.get_weights():
        digest.update(np.ascontiguousarray(value).tobytes())
    optimizer = getattr(model, "optimizer", None)
    for variable in (optimizer.variables if optimizer is not None else []):
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.digest()


def local_copy(model: Any) -> Any:
    """The trained model outside the strategy (same weights, optimizer state and layers' random
    state): the chief evaluates it and keeps its parts without the other workers."""
    import tempfile
    from pathlib import Path

    import keras

    from specc.run.callbacks import restore_seed_states, seed_states

    with tempfile.TemporaryDirectory(prefix="specc-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        copy = keras.saving.load_model(path)
    restore_seed_states(copy, seed_states(model))
    return copy


def synchronize_batch_norm(model: Any) -> int:
    """Make every BatchNormalization layer normalize with the global batch's statistics;
    return how many there are."""
    import keras

    count = 0
    for layer in _layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
            count += 1
    return count


def _layers(layer: Any, seen: Optional[set] = None) -> Iterable[Any]:
    seen = seen if seen is not None else set()
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield layer
    for sub in getattr(layer, "layers", None) or []:
        yield from _layers(sub, seen)


def lost_worker(error: BaseException, cluster: Any) -> str:
    """What TensorFlow's error says about the worker that was lost, in one sentence."""
    text = str(error)
    who = "a worker"
    if cluster is not None and cluster.jobs:
        tasks = [(job, int(index)) for job, index in re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)", text)]
        others = [t for t in dict.fromkeys(tasks) if t != (cluster.task_type, cluster.task_index)]
        known = [(job, index) for job, index in others if index < len(cluster.jobs.get(job, ()))]
        if known:
            address = cluster.jobs[known[-1][0]][known[-1][1]]
            rank = cluster.addresses.index(address)
            who = f"worker {rank}{' (the chief)' if rank == 0 else ''} at {address}"
    reason = next((r for r in ("Socket closed", "stopped sending heartbeats", "Connection reset",
                               "failed to connect", "Deadline Exceeded") if r in text), type(error).__name__)
    return f"{who} of the cluster was lost ({reason}): it died or stopped answering, so every worker stops"
