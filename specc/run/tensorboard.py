"""The run's TensorBoard scalars, written by specc rather than Keras's TensorBoard callback.

The same files and names as Keras's callback writes (`tensorboard/train` and
`tensorboard/validation`, tags `epoch_<metric>` and `epoch_learning_rate`, step = epoch from 0),
so TensorBoard shows them alike; but an epoch costs one small protobuf write instead of Keras's
per-batch hook, its learning-rate read and TensorFlow summary ops. Keras's callback took
~0.2 s of a 30-epoch tabular run here (bench/end_to_end.py); this takes a few milliseconds.
Written through tensorboard's own event-file writer (the `tensorboard` package specc requires).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import keras


class ScalarWriter(keras.callbacks.Callback):
    """Each epoch's logs as TensorBoard scalars, flushed to disk every epoch."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = Path(folder)
        self.writers: dict = {}

    def _writer(self, split: str) -> Any:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        if split not in self.writers:
            self.writers[split] = EventFileWriter(str(self.folder / split))
        return self.writers[split]

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        train: dict = {}
        validation: dict = {}
        for key, value in (logs or {}).items():
            (validation if key.startswith("val_") else train)[key.removeprefix("val_")] = value
        rate = _learning_rate(self.model)
        if rate is not None:
            train.setdefault("learning_rate", rate)
        for split, values in (("train", train), ("validation", validation)):
            if values:
                writer = self._writer(split)
                writer.add_event(_event(epoch, values))
                writer.flush()  # a killed run keeps its curves up to the last epoch (~1 ms)

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        self.close()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


def _event(step: int, values: dict) -> Any:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=f"epoch_{name}", simple_value=float(value))
                                         for name, value in values.items() if _is_number(value)])
    return event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _learning_rate(model: Any) -> Optional[float]:
    """The optimizer's learning rate now (a schedule's value at its current step), if it has one."""
    optimizer = getattr(model, "optimizer", None)
    rate = getattr(optimizer, "learning_rate", None) if optimizer is not None else None
    try:
        return float(keras.ops.convert_to_numpy(rate)) if rate is not None else None
    except (TypeError, ValueError):
        return None
