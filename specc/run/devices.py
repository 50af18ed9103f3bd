"""Device set-up: target, tf.distribute strategy, precision, XLA and determinism.

`configure` must run before TensorFlow touches a device (logical CPU devices for `mirrored`
can only be made then), so the trainer calls it first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specc.errors import SpeccError, EXIT_USAGE


class DeviceError(SpeccError):
    """The spec asks for a device this machine does not have."""

    exit_code = EXIT_USAGE


@dataclass
class DeviceSetup:
    strategy: Any
    jit: bool
    info: dict = field(default_factory=dict)


def configure(device: dict, seed: int) -> DeviceSetup:
    """Apply `device:` and the seed; say what `auto` became in `info`."""
    from specc.run.quiet import import_tensorflow

    tf = import_tensorflow()
    import keras

    gpus = tf.config.list_physical_devices("GPU")
    target = _target(device["target"], gpus)
    if target == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
    if device["strategy"] == "mirrored" and target == "cpu" and device.get("devices", 1) > 1:
        _split_cpu(tf, device["devices"])
    keras.utils.set_random_seed(seed)
    if device.get("deterministic", True) and target == "gpu":
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(device["precision"])
    strategy, strategy_name = _strategy(tf, device["strategy"], target)
    jit = _jit(device["jit"], device, target)
    info = {"target": target, "strategy": strategy_name, "precision": device["precision"],
            "jit": jit, "replicas": strategy.num_replicas_in_sync,
            "gpus": [g.name for g in gpus], "deterministic": device.get("deterministic", True)}
    return DeviceSetup(strategy, jit, info)


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


def _strategy(tf, wanted: str, target: str):
    if wanted == "mirrored":
        kind = "GPU" if target == "gpu" else "CPU"
        devices = [d.name for d in tf.config.list_logical_devices(kind)]
        return tf.distribute.MirroredStrategy(devices=devices), f"mirrored ({len(devices)} {kind})"
    if wanted == "one_device":
        name = "/gpu:0" if target == "gpu" else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(name), f"one_device ({name})"
    return tf.distribute.get_strategy(), "default"


def _jit(wanted: Any, device: dict, target: str) -> bool:
    """XLA: auto turns it on for single-device runs on a GPU only.

    On the CPU, XLA took 12-24 s to compile the LeNet digits model here and trained no faster
    than without it (bench/train_bench.py), so auto leaves it off there.
    """
    if wanted == "auto":
        return target == "gpu" and device["strategy"] in ("auto", "default", "one_device")
    return bool(wanted)
