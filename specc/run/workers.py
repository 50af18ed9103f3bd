"""What a multi-worker run (`device.strategy: multi_worker`) adds to the one training flow.

    join        set the strategy up before TensorFlow runs anything (train.py calls it first)
    meet        every worker waits for the others, and checks they train the same spec on the same data
    ready       split checks, global-batch BatchNormalization (mirrored over devices too)
    scale_learning_rate   device.scale_learning_rate (any strategy with several replicas)
    loop_for    specc's own step (distributed.StepLoop) for several replicas; Keras's fit otherwise
    recorded    the record's `workers` field: how many, where, the global and per-worker batch

Only the chief writes the run record, checkpoints and exports (train.py); the other workers
train the same steps and write nothing into the run folder.
"""
from __future__ import annotations

from typing import Any, Optional

from specc.errors import UsageError

MULTI_WORKER = "multi_worker"


def is_multi_worker(resolved: dict) -> bool:
    return resolved["device"]["strategy"] == MULTI_WORKER


def join(resolved: dict, cluster: Any) -> Optional[Any]:
    """The device set-up of a multi_worker run, made before TensorFlow runs anything (None for
    every other strategy: the flow configures those after loading the data).

    Raises:
        UsageError: A cluster is given for a spec that does not train with multi_worker.
    """
    if not is_multi_worker(resolved):
        if cluster is not None:
            raise UsageError(f"--cluster/--worker-index need device.strategy: multi_worker (the spec says "
                             f"{resolved['device']['strategy']})", "add --set device.strategy=multi_worker")
        return None
    from specc.run.devices import configure

    return configure(resolved["device"], resolved["seed"], cluster)


def meet(setup: Any, resolved: dict, data_fingerprint: str) -> None:
    """Wait for every worker (a collective), and check they all train the same spec on the same data.

    Raises:
        UsageError: A worker has another spec or other data than the others.
    """
    from specc.run.distributed import agree, fingerprint
    from specc.run.records import spec_hash

    if not agree(setup.strategy, fingerprint(spec_hash(resolved), data_fingerprint)):
        raise UsageError("the workers do not train the same spec on the same data",
                         "start every worker with the same spec file, --set options and data")


def ready(setup: Any, trainable: Any) -> None:
    """Make a built model ready to train on every replica of a multi-worker run: every global
    batch must give each replica a sample, and BatchNormalization normalizes with the global
    batch's statistics (so every worker keeps the same weights).

    Raises:
        DataError: A batch is too small to split over the replicas.
    """
    from specc.run.distributed import check_batches, synchronize_batch_norm

    check_batches(trainable.feed, setup.strategy.num_replicas_in_sync)
    synchronize_batch_norm(trainable.model)


def scale_learning_rate(setup: Any, trainable: Any, resolved: dict, new: bool) -> float:
    """`device.scale_learning_rate`: multiply the learning rate by the replicas (workers x
    devices); return the scale. A resumed run keeps the rate its checkpoint holds."""
    scale = float(setup.strategy.num_replicas_in_sync) if resolved["device"].get("scale_learning_rate") else 1.0
    if new and scale != 1.0:
        for optimizer in trainable.paradigm.optimizers(trainable.model):
            optimizer.learning_rate = float(optimizer.learning_rate) * scale
    return scale


def replicated(setup: Any) -> bool:
    """Whether training runs on several replicas (multi_worker, or mirrored over devices)."""
    return setup.cluster is not None or setup.strategy.num_replicas_in_sync > 1


def loop_for(setup: Any) -> Any:
    """The epoch loop for a device set-up: specc's own step for multi_worker and for mirrored
    over several devices (Keras 3's fit under MirroredStrategy normalizes BatchNormalization
    per replica and fails on a batch that does not split evenly), else Keras's fit."""
    if not replicated(setup):
        from specc.run.loop import KerasFit

        return KerasFit()
    from specc.run.distributed import StepLoop

    return StepLoop(setup.strategy, setup.cluster)


def recorded(setup: Any, feed: Any) -> dict:
    """record.json `workers`: how many workers ran, where, and the global and per-worker batch."""
    cluster = setup.cluster
    replicas = setup.strategy.num_replicas_in_sync
    local = max(1, replicas // cluster.size)
    per_replica = [len(range(r, feed.batch_size, replicas)) for r in range(replicas)]
    return {"count": cluster.size, "addresses": cluster.addresses or ["this process"],
            "chief": cluster.addresses[0] if cluster.addresses else "this process", "from": cluster.source,
            "replicas": replicas, "global_batch": feed.batch_size,
            "per_worker_batch": [sum(per_replica[w * local:(w + 1) * local]) for w in range(cluster.size)]}
