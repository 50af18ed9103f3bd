"""The epoch loop: the one part of training that differs between ways of running a step.

A loop runs epochs `first_epoch..epochs-1` of a compiled model over a feed, validating on
`validation` after each epoch, and drives the given Keras callbacks (record, checkpoints,
early stopping, NaN watch, progress) exactly as `model.fit` does: everything else of the
training flow (set-up, checkpoints, Ctrl-C, final metrics, the record) is shared, so a loop
of another kind (a custom step under `tf.distribute.MultiWorkerMirroredStrategy`, where
Keras 3's `fit` does not run: keras-team/keras issue 20585) plugs in here beside `KerasFit`.
"""
from __future__ import annotations

from typing import Any, Optional, Protocol

from specc.data.feed import Feed


class Loop(Protocol):
    """Runs the epochs of a compiled model and calls the Keras callbacks as `fit` would."""

    name: str

    def run(self, model: Any, feed: Feed, validation: Optional[Any], epochs: int, first_epoch: int,
            callbacks: list) -> None:
        ...


class KerasFit:
    """Keras's own `model.fit` (one process, any single-worker tf.distribute strategy)."""

    name = "fit"

    def run(self, model: Any, feed: Feed, validation: Optional[Any], epochs: int, first_epoch: int,
            callbacks: list) -> None:
        model.fit(feed.dataset, epochs=epochs, initial_epoch=first_epoch, steps_per_epoch=feed.steps,
                  validation_data=validation, callbacks=callbacks, verbose=0, shuffle=False)
