"""Device set-up: target, tf.distribute strategy, precision, XLA and determinism.

`configure` must run before TensorFlow touches a device (logical CPU devices for `mirrored`
can only be made then), so the trainer calls it first. `multi_worker` asks more: its strategy
must exist before TensorFlow runs any operation ("Collective ops must be configured at program
startup"), so the trainer configures such a run before it loads the data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from specc.errors import SpeccError, EXIT_USAGE
from specc.run.cluster import Cluster


AUTO_CPU = "auto"  # `jit: auto` on one CPU device, decided from the built model (run/jit.py)


class DeviceError(SpeccError):
    """The spec asks for a device this machine does not have."""

    exit_code = EXIT_USAGE


@dataclass
class DeviceSetup:
    strategy: Any
    jit: Any  # True, False, or AUTO_CPU until the model is built
    info: dict = field(default_factory=dict)
    cluster: Optional[Cluster] = None  # multi_worker: the workers, and which one this process is


def configure(device: dict, seed: int, cluster: Optional[Cluster] = None) -> DeviceSetup:
    """Apply `device:` and the seed; say what `auto` became in `info`.

    `cluster` (multi_worker only): the workers from the command line; without it, TF_CONFIG's,
    and without TF_CONFIG this process alone.
    """
    from specc.run.quiet import import_tensorflow

    tf = import_tensorflow()
    import keras

    gpus = tf.config.list_physical_devices("GPU")
    target = _target(device["target"], gpus)
    if target == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
    if device["strategy"] == "mirrored" and target == "cpu" and device.get("devices", 1) > 1:
        _split_cpu(tf, device["devices"])
    if device["strategy"] == "multi_worker":
        cluster = _join(cluster)
    keras.utils.set_random_seed(seed)
    if device.get("deterministic", True) and target == "gpu":
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(device["precision"])
    strategy, strategy_name = _strategy(tf, device["strategy"], target, cluster)
    jit = _jit(device["jit"], device, target)
    info = {"target": target, "strategy": strategy_name, "precision": device["precision"],
            "jit": jit, "replicas": strategy.num_replicas_in_sync,
            "gpus": [g.name for g in gpus], "deterministic": device.get("deterministic", True)}
    return DeviceSetup(strategy, jit, info, cluster)


def _join(cluster: Optional[Cluster]) -> Cluster:
    """The cluster this process trains in, handed to TensorFlow as TF_CONFIG.

    Raises:
        UsageError: TF_CONFIG cannot be read (cluster.py).
    """
    from specc.run import cluster as clusters

    cluster = cluster or clusters.from_environment() or clusters.single()
    if cluster.source == "single":
        os.environ.pop(clusters.TF_CONFIG, None)
    else:
        os.environ[clusters.TF_CONFIG] = cluster.tf_config()
    return cluster


def _target(wanted: str, gpus: list) -> str:
    if wanted == "gpu" and not gpus:
        raise DeviceError("device.target is gpu, but TensorFlow sees no GPU on this machine",
                          "use target: auto (picks the GPU when there is one) or target: cpu")
    if wanted == "auto":
        return "gpu" if gpus else "cpu"
    return wanted


def _split_cpu(tf, count: int) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:  # already initialised in this process (tests): keep what there is
        pass


def _strategy(tf, wanted: str, target: str, cluster: Optional[Cluster] = None):
    if wanted == "multi_worker":
        return _multi_worker(tf, target, cluster)
    if wanted == "mirrored":
        kind = "GPU" if target == "gpu" else "CPU"
        devices = [d.name for d in tf.config.list_logical_devices(kind)]
        return tf.distribute.MirroredStrategy(devices=devices), f"mirrored ({len(devices)} {kind})"
    if wanted == "one_device":
        name = "/gpu:0" if target == "gpu" else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(name), f"one_device ({name})"
    return tf.distribute.get_strategy(), "default"


def _multi_worker(tf, target: str, cluster: Optional[Cluster]):
    """MultiWorkerMirroredStrategy over the cluster (TF_CONFIG is set); it waits for every worker."""
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "program startup" not in str(exc):
            raise
        raise DeviceError("device.strategy multi_worker must be set up before TensorFlow runs anything "
                          "in this process", "train a multi_worker spec in a process of its own "
                          "(`specc train`), not after other TensorFlow work") from None
    kind = "GPU" if target == "gpu" else "CPU"
    local = strategy.num_replicas_in_sync // max(1, cluster.size if cluster else 1)
    workers = cluster.size if cluster else 1
    return strategy, f"multi_worker ({workers} worker(s) x {local} {kind})"


def _jit(wanted: Any, device: dict, target: str) -> Any:
    """XLA: True, False, or AUTO_CPU (decided once the model is built: specc/run/jit.py).

    auto turns it on for single-device runs on a GPU; on one CPU device it depends on the
    model and the run's work (run/jit.py: XLA compiles a small CNN for 6-24 s here and trains it
    no faster, but doubles the speed of a large MLP). Several devices: off. specc's
    multi-worker step (run/distributed.py) runs without XLA.
    """
    if device["strategy"] == "multi_worker":
        return False
    if wanted == "auto":
        if device["strategy"] not in ("auto", "default", "one_device"):
            return False
        return True if target == "gpu" else AUTO_CPU
    return bool(wanted)
