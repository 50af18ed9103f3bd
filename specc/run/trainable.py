"""The model a run trains, its feed and where it starts: built new, or restored from the last
checkpoint when resuming. One set-up for every paradigm (it asks the paradigm, never the
task type's name)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from specc.data.feed import Feed

STEPS_PER_EXECUTION_CAP = 64


@dataclass
class Trainable:
    """A compiled model ready to train, its feed, and the first epoch to run (0-based)."""

    paradigm: Any
    model: Any
    feed: Feed
    first_epoch: int


def prepare(paradigm: Any, resolved: dict, prepared: Any, checkpoint_dir: Optional[Path], state: dict,
            jit: bool, where: Optional[Callable] = None) -> Trainable:
    """Build (or, with a resume `state`, load from `checkpoint_dir`) the model, make its feed,
    compile it.

    The schedule's length is counted in batches (Keras advances a schedule every batch, also
    when `batch.accumulate` gathers several batches into one update).
    """
    first_epoch = state.get("epoch", -1) + 1
    epochs = resolved["train"]["epochs"]
    train = prepared.splits.train
    if state:
        assert checkpoint_dir is not None, "a resumed run loads its model from its checkpoints"
        model = restore(paradigm, resolved, prepared.spec_dir, checkpoint_dir, state)
    else:
        from specc.compile import load_plugins

        load_plugins(resolved.get("plugins") or [], str(prepared.spec_dir), where)
        model = paradigm.build(resolved, where)
        paradigm.adapt(model, train)
    feed = paradigm.training_feed(model, train, resolved["batch"], resolved["seed"], first_epoch, epochs)
    if not state:
        spe = steps_per_execution(resolved["train"]["steps_per_execution"], feed.steps)
        paradigm.compile(model, resolved, total_steps=max(1, epochs * feed.steps), steps_per_execution=spe,
                         jit_compile=jit, where=where)
    return Trainable(paradigm, model, feed, first_epoch)


def restore(paradigm: Any, resolved: dict, spec_dir: Path, checkpoint_dir: Path, state: dict) -> Any:
    """The last checkpoint (compiled, with its optimizers' state) and its layers' random state."""
    import keras

    from specc.compile import load_plugins
    from specc.run.callbacks import restore_seed_states

    load_plugins(resolved.get("plugins") or [], str(spec_dir))
    model = keras.saving.load_model(Path(checkpoint_dir) / "last.keras")
    restore_seed_states(model, state.get("seed_states"))
    return model


def steps_per_execution(wanted: Any, steps: int) -> int:
    """auto: a whole epoch per call, up to 64 steps (what a careful Keras user would set).

    Over 64 steps, the largest divisor of the epoch's steps up to 64: Keras runs whole calls,
    so 100 steps at 64 per call would train 128 steps per epoch on the repeating feed."""
    if wanted == "auto":
        cap = max(1, min(steps, STEPS_PER_EXECUTION_CAP))
        return next(n for n in range(cap, 0, -1) if steps % n == 0)
    return int(wanted)
