"""Training in phases (`train.phases`): freeze a backbone and train the head, then unfreeze and
fine-tune at a low learning rate, each phase with its own epochs, frozen layers, optimizer and
early stopping.

A phase starts by setting every layer's `trainable` (its `freeze:` patterns, and the layers
the model itself froze) and compiling the model with a fresh optimizer; then its epochs run
as any run's do. What a resumed run needs to continue inside a phase (which phase, where it
started, its early stopping's wait and best) goes into the checkpoint's state.json beside the
model, whose `.keras` file holds the phase's trainable flags and optimizer state: a run killed
in phase 2 resumes in phase 2 as if it had never stopped.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import keras



@dataclass
class Phase:
    index: int
    name: str
    epochs: int
    freeze: list
    optimizer: Optional[dict]
    learning_rate: Optional[float]
    early_stopping: Any


def phases_of(train: dict) -> list:
    """The phases of a resolved `train:` (empty: the run is one phase, the usual flow)."""
    return [Phase(i, p["name"], p["epochs"], list(p.get("freeze") or []), p.get("optimizer"),
                  p.get("learning_rate"), p.get("early_stopping")) for i, p in enumerate(train.get("phases") or [])]


# --- which layers train ------------------------------------------------------------------------

def layer_paths(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, layer) for every layer, top-down; a nested model's layers are `outer/inner`."""
    for layer in model.layers:
        path = prefix + layer.name
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from layer_paths(layer, path + "/")


def frozen_paths(model: Any) -> list:
    """The layers a model was built frozen (`trainable: false` in the spec, a saved backbone's)."""
    return [path for path, layer in layer_paths(model) if not layer.trainable]


def matches(path: str, patterns: list) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def unmatched(model: Any, patterns: list) -> list:
    """The patterns that name no layer of the model."""
    paths = [path for path, _ in layer_paths(model)]
    return [p for p in patterns if not any(fnmatch.fnmatchcase(path, p) for path in paths)]


def check_patterns(model: Any, patterns: list, path: tuple) -> None:
    """Refuse patterns that match no layer of the built model, at their place in the spec."""
    from specc.errors import Problem, SpecInvalid

    missing = unmatched(model, patterns)
    if missing:
        shown = ", ".join(sorted(p for p, _ in layer_paths(model) if p.count("/") <= 1)[:40])
        raise SpecInvalid([Problem(path + (patterns.index(m),), f"freeze pattern '{m}' matches no layer of the "
                                   "model", f"its layers: {shown}", code="freeze") for m in missing])


def set_trainable(model: Any, freeze: list, baseline: list, where: tuple = ("train", "freeze")) -> None:
    """Freeze the layers `freeze` matches and those of `baseline`; every other layer trains.
    Top-down, so a frozen model freezes all its layers (Keras sets them with it).

    Raises:
        SpecInvalid: A pattern matches no layer (validate cannot list an architecture's layers).
    """
    check_patterns(model, freeze, where)
    frozen_above: list = []
    for name, layer in layer_paths(model):
        above = any(name.startswith(f + "/") for f in frozen_above)
        train = not (above or matches(name, freeze) or name in baseline)
        if layer.trainable != train or not above:
            layer.trainable = train
        if not train:
            frozen_above.append(name)


# --- a phase's optimizer and early stopping ---------------------------------------------------------

def phase_spec(resolved: dict, phase: Phase) -> dict:
    """The resolved spec a phase compiles with: its optimizer, its learning rate."""
    optimizer = dict(phase.optimizer or resolved["optimizer"])
    if phase.learning_rate is not None:
        name, args = next(iter(optimizer.items()))
        optimizer = {name: {**(args or {}), "learning_rate": phase.learning_rate}}
    return {**resolved, "optimizer": optimizer}


class PhaseStop(keras.callbacks.EarlyStopping):
    """A phase's early stopping: it ends the phase (the next one starts from these weights) and
    continues a resumed phase from its saved wait and best."""

    def __init__(self, stop: dict, resume: Optional[dict] = None):
        super().__init__(monitor=stop["monitor"], patience=stop["patience"], min_delta=stop["min_delta"],
                         mode=stop["mode"])
        self.resume = resume or {}

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        super().on_train_begin(logs)
        if self.resume:
            self.wait, self.best, self.best_epoch = self.resume["wait"], self.resume["best"], self.resume["best_epoch"]

    def state(self) -> dict:
        best = None if self.best is None else float(self.best)
        return {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch)}


# --- the phases' loop ---------------------------------------------------------------------------

def run_phases(loop: Any, trainable: Any, validation: Any, resolved: dict, prepared: Any, recorder: Any,
               callbacks: list, state: dict, record: Any, say: Any) -> None:
    """Run the phases from where the run stands (a resumed run: inside its phase, or at the
    start of the next one when its phase had ended)."""
    model, paradigm = trainable.model, trainable.paradigm
    saved = state.get("phase") or {}
    baseline = saved.get("baseline")
    if baseline is None:
        baseline = frozen_paths(model)
    epoch, start = trainable.first_epoch, saved.get("first_epoch", 0)
    index = saved.get("index", 0) + (1 if saved.get("done") else 0)
    done_phases = list((record.read().get("phases") or [])[:index])
    total = resolved["train"]["epochs"]
    for phase in phases_of(resolved["train"])[index:]:
        inside = bool(saved) and phase.index == saved.get("index") and not saved.get("done")
        if not inside:
            start = epoch
            begin(model, paradigm, resolved, phase, baseline, prepared, trainable)
        end = start + phase.epochs
        stop = PhaseStop(phase.early_stopping, saved.get("stop") if inside else None) if phase.early_stopping else None
        recorder.extra_state = _provider(model, phase, start, end, stop, baseline)
        feed = paradigm.training_feed(model, prepared.splits.train, resolved["batch"], resolved["seed"], epoch, total)
        frozen = ", ".join(phase.freeze) or "nothing"
        say(f"phase {phase.index + 1}/{len(resolved['train']['phases'])} {phase.name}: epochs {epoch + 1}-{end}, "
            f"frozen: {frozen}, {trainable_count(model):,} trainable values")
        loop.run(model, feed, validation, end, epoch, ([stop] if stop else []) + callbacks)
        epoch = recorder.last_epoch + 1
        done_phases.append({"name": phase.name, "first_epoch": start + 1, "last_epoch": epoch,
                            "freeze": phase.freeze, "stopped_early": bool(stop and stop.stopped_epoch)})
        record.update(phases=done_phases)
        if recorder.diverged:
            return


def begin(model: Any, paradigm: Any, resolved: dict, phase: Phase, baseline: list, prepared: Any,
          trainable: Any) -> None:
    """Set the phase's trainable layers and compile with its fresh optimizer."""
    from specc.run.trainable import build_state

    set_trainable(model, phase.freeze, baseline, ("train", "phases", phase.index, "freeze"))
    spe = int(getattr(model, "steps_per_execution", 1) or 1)
    jit = bool(getattr(model, "jit_compile", False))
    steps = trainable.feed.steps
    paradigm.compile(model, phase_spec(resolved, phase), total_steps=max(1, phase.epochs * steps),
                     steps_per_execution=spe, jit_compile=jit, where=None)
    if paradigm.keras_train_step:
        build_state(model, trainable.feed)


def _provider(model: Any, phase: Phase, start: int, end: int, stop: Optional[PhaseStop], baseline: list) -> Any:
    def state(epoch: int) -> dict:
        done = bool(model.stop_training) or epoch + 1 >= end
        return {"phase": {"index": phase.index, "name": phase.name, "first_epoch": start, "done": done,
                          "stop": stop.state() if stop else None, "baseline": baseline}}
    return state


def trainable_count(model: Any) -> int:
    import math

    return sum(math.prod(w.shape) for w in model.trainable_weights)
