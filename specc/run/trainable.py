"""The model a run trains, its feed and where it starts: built new, or restored from the last
checkpoint when resuming. One set-up for every paradigm (it asks the paradigm, never the
task type's name)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from specc.data.feed import Feed
from specc.run.devices import AUTO_CPU
from specc.suggest import a_or_an

STEPS_PER_EXECUTION_CAP = 64


@dataclass
class Trainable:
    """A compiled model ready to train, its feed, and the first epoch to run (0-based)."""

    paradigm: Any
    model: Any
    feed: Feed
    first_epoch: int
    jit: Optional[tuple] = None  # (XLA on?, why) when `jit: auto` was decided from the model


def prepare(paradigm: Any, resolved: dict, prepared: Any, checkpoint_dir: Optional[Path], state: dict,
            jit: Any, where: Optional[Callable] = None) -> Trainable:
    """Build (or, with a resume `state`, load from `checkpoint_dir`) the model, make its feed,
    compile it. `jit` is True, False or "auto" (one CPU device: decided here from the built
    model and the run's work, specc/run/jit.py; a resumed model keeps its compiled setting).

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
        freeze(model, resolved["train"])
    feed = paradigm.training_feed(model, train, resolved["batch"], resolved["seed"], first_epoch, epochs)
    decided = None
    if state:
        decided = (bool(getattr(model, "jit_compile", False)), "as the run being resumed was compiled")
    elif jit == AUTO_CPU:
        decided = _auto_jit(paradigm, model, feed, epochs)
    if not state:
        spe = steps_per_execution(resolved["train"]["steps_per_execution"], feed.steps)
        paradigm.compile(model, resolved, total_steps=max(1, epochs * feed.steps), steps_per_execution=spe,
                         jit_compile=decided[0] if decided else bool(jit), where=where)
    if paradigm.keras_train_step:
        build_state(model, feed)
    return Trainable(paradigm, model, feed, first_epoch, decided)


def freeze(model: Any, train: dict) -> None:
    """`train.freeze` of a run without phases; a phased run's patterns are checked against the
    built model now (before its run folder exists) and set when each phase starts."""
    from specc.run.phases import check_patterns, frozen_paths, set_trainable

    for index, phase in enumerate(train.get("phases") or []):
        check_patterns(model, phase.get("freeze") or [], ("train", "phases", index, "freeze"))
    if train.get("freeze") and not train.get("phases"):
        set_trainable(model, train["freeze"], frozen_paths(model))


def build_state(model: Any, feed: Feed) -> None:
    """Create the compiled metrics', loss trackers' and optimizer's variables now, from the
    feed's shapes, as Keras does itself under a distribution strategy.

    Without a strategy Keras defers them to the first trace of the train function; variables
    created inside a `tf.function` trace make TensorFlow trace it a second time, which cost
    ~0.3 s of LeNet's first epoch here (tracing the train step twice: issue 14). Only what is
    missing is built; a Keras without `_symbolic_build`, or a model it cannot build
    symbolically, is left to build them in its first step (run/distributed.py uses it too).
    """
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is None:
        return
    try:
        symbolic_build(data_batch=feed.dataset.element_spec)
    except Exception:  # noqa: BLE001 - a model Keras cannot build symbolically builds in its first step
        pass


def _auto_jit(paradigm: Any, model: Any, feed: Feed, epochs: int) -> tuple:
    if not paradigm.keras_train_step:
        return False, f"auto: off for {a_or_an(paradigm.task_type.name)} (its own train step is not tried with XLA)"
    from specc.run.jit import auto_jit

    return auto_jit(model, feed.samples, epochs)


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
