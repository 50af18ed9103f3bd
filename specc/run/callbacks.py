"""Keras callbacks for a specc run: the record, checkpoints, NaN watch and progress lines."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Optional

import keras

from specc.errors import Problem, SpecInvalid
from specc.report import Reporter
from specc.run.stop_signals import raise_if_stopped
from specc.shown import shown_value

BAR = 20


class StopCheck(keras.callbacks.Callback):
    """Raises a stop signal again at every training batch and epoch end, in case library code
    caught the KeyboardInterrupt its handler raised (specc/run/stop_signals.py). No test-batch
    hook: one would turn off Keras's asynchronous dispatch of validation batches."""

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        raise_if_stopped()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        raise_if_stopped()


HELD_BEST_BYTES = 64 * 2**20  # a model this small keeps its best weights in memory to the end too


class RecordCallback(keras.callbacks.Callback):
    """Captures every epoch (history row, last and best weights) and writes them to disk.

    Writing a `.keras` checkpoint costs ~0.1 s, more than a whole epoch of a small model, so
    the files are written at most every `every_seconds` (0: after every epoch), and always
    at the end, on Ctrl-C and before a NaN stop. The best weights are kept in memory between
    writes, so `best.keras` is always the best epoch seen.

    `best` is the paradigm's rule (specc/tasks): `monitor` keeps the epoch with the best value
    of `monitor`; `last` makes every epoch the best one (a GAN's losses do not rank its
    generators), so best.keras is not written at all and "best" means last.keras.
    `optimizers(model)` lists every optimizer the model trains with (a GAN has two): an
    in-memory snapshot holds all of their states.
    """

    def __init__(self, record: Any, monitor: str, mode: str, keep: str, state: Optional[dict] = None,
                 every_seconds: float = 10.0, min_delta: float = 0.0, best: str = "monitor",
                 optimizers: Optional[Callable[[Any], list]] = None, max_loss: Optional[float] = None):
        super().__init__()
        self.max_loss = max_loss
        self.epoch = 0
        self.first_loss: Optional[float] = None
        self.record, self.monitor, self.keep = record, monitor, keep
        self.rule = best
        self.optimizers = optimizers or (lambda model: [model.optimizer] if model.optimizer else [])
        self.every_seconds = every_seconds
        self.min_delta = abs(min_delta)  # as EarlyStopping's, so best.keras is its best epoch
        self.sign = -1.0 if mode == "max" or (mode == "auto" and _is_higher_better(monitor)) else 1.0
        state = state or {}
        self.best = state.get("best_value")
        self.best_epoch = state.get("best_epoch")
        self.diverged: Optional[str] = None
        self.last_epoch = state.get("epoch", -1)
        self.saved_epoch = self.last_epoch
        self.pending_rows: list = []
        self.best_weights = None
        self.held_best: Optional[list] = None  # the weights of best.keras (best_epoch's), kept to the run's end
        self.snapshot: Optional[dict] = None
        self.last_write = time.monotonic()
        self.extra_state: Optional[Callable[[int], dict]] = None  # a phase's own state (run/phases.py)
        self.extra: dict = {}

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged:
            return
        reason = _divergence(float(loss), self.max_loss)
        if reason:
            self.diverged = f"{reason} in epoch {self.epoch + 1}, {self._steps(batch)}"
            self.model.stop_training = True

    def _steps(self, batch: int) -> str:
        """Which steps the loss was seen after: Keras reports once per compiled call of
        `steps_per_execution` steps, so it is a range unless that is 1."""
        run = int(getattr(self.model, "steps_per_execution", 1) or 1)
        last = batch + 1
        first = max(1, last - run + 1)
        return f"step {last}" if first == last else f"steps {first}-{last}"

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if self.diverged is None:
            for key, value in logs.items():
                reason = _divergence(value, self.max_loss) if "loss" in key else None
                if reason:
                    self.diverged = f"{reason} in epoch {epoch + 1} ({key})"
                    self.model.stop_training = True
                    break
        if self.first_loss is None and math.isfinite(logs.get("loss", math.nan)):
            self.first_loss = logs["loss"]
        self.pending_rows.append((epoch + 1, logs))
        if self.diverged:
            self.flush(checkpoint=False)
            return
        self.last_epoch = epoch
        if self.extra_state is not None:
            self.extra = self.extra_state(epoch)
        self._maybe_best(epoch, logs)
        if time.monotonic() - self.last_write >= self.every_seconds:
            self.flush()
        else:
            self.snapshot = self._snapshot()

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        self.flush(checkpoint=not self.diverged)

    def _maybe_best(self, epoch, logs):
        if self.rule == "last":
            self.best_epoch = epoch + 1
            return
        value = logs.get(self.monitor)
        if value is None:
            return
        if self.best is None or self.sign * value < self.sign * self.best - self.min_delta:
            self.best, self.best_epoch = value, epoch + 1
            if self.keep in ("best", "both"):
                weights = self.model.get_weights()
                self.best_weights = weights
                small = sum(w.nbytes for w in weights) <= HELD_BEST_BYTES
                self.held_best = weights if small else None

    def flush(self, checkpoint: bool = True) -> None:
        """Write the history rows and checkpoints captured since the last write."""
        self.record.append_epochs(self.pending_rows)
        self.pending_rows = []
        if checkpoint and self.last_epoch > self.saved_epoch:
            self.commit()
        self.last_write = time.monotonic()

    def interrupted(self, moment: bool = True) -> None:
        """Ctrl-C: keep the history, the weights of this moment as `interrupted.keras` (unless
        `moment` is False: a lost worker leaves them half-updated), and `last.keras` as the end
        of the last finished epoch (from the in-memory snapshot), so a resumed run continues
        from a clean epoch boundary.
        """
        self.record.append_epochs(self.pending_rows)
        self.pending_rows = []
        if moment:
            self.save_interrupted()
        if self.snapshot is not None and self.last_epoch > self.saved_epoch:
            self._restore(self.snapshot)
            self.commit()

    def _snapshot(self) -> dict:
        """The end-of-epoch state (weights, every optimizer, layers' random state), in memory."""
        return {"weights": self.model.get_weights(),
                "optimizers": [[keras.ops.convert_to_numpy(v) for v in optimizer.variables]
                               for optimizer in self.optimizers(self.model)],
                "seeds": seed_states(self.model)}

    def _restore(self, snapshot: dict) -> None:
        self.model.set_weights(snapshot["weights"])
        for optimizer, values in zip(self.optimizers(self.model), snapshot["optimizers"], strict=True):
            for variable, value in zip(optimizer.variables, values, strict=True):
                variable.assign(value)
        restore_seed_states(self.model, snapshot["seeds"])

    def commit(self) -> None:
        """Write best.keras (when a better epoch came), last.keras and state.json as one
        unit (specc/run/checkpoints.py): a kill at any moment leaves all three old or all new."""
        from specc.run.checkpoints import BEST, LAST, STATE, commit, next_name, sha256

        folder = self.record.checkpoint_dir
        writers = {}
        if self.best_weights is not None:
            writers[BEST] = self._best_writer(self.best_weights)
        writers[LAST] = self.model.save
        state = self.state()

        def write_state(path: Path) -> None:
            last = sha256(folder / next_name(LAST))
            path.write_text(json.dumps({**state, "files": {LAST: last}}, indent=2), encoding="utf-8")

        writers[STATE] = write_state
        commit(folder, writers)
        self.best_weights = None
        self.saved_epoch = self.last_epoch

    def _best_writer(self, weights: list) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            current = self.model.get_weights()
            self.model.set_weights(weights)
            try:
                self.model.save(path)
            finally:
                self.model.set_weights(current)
        return write

    def save_interrupted(self) -> None:
        """The weights of the moment Ctrl-C came (mid-epoch): interrupted.keras, for a look;
        resuming uses last.keras, the end of the last whole epoch."""
        from specc.run.records.files import fsync_file

        folder = self.record.checkpoint_dir
        staged = folder / ".interrupted.tmp.keras"
        self.model.save(staged)
        fsync_file(staged)
        staged.replace(folder / "interrupted.keras")

    def state(self) -> dict:
        """What a resumed run needs besides last.keras: where it was, its best epoch, and the
        random-number state of its layers (dropout), which `.keras` files do not hold."""
        return {"epoch": self.last_epoch, "best_value": self.best, "best_epoch": self.best_epoch,
                "monitor": self.monitor, "seed_states": seed_states(self.model), **self.extra}


def _divergence(loss: float, limit: Optional[float]) -> Optional[str]:
    """Why a loss means training diverged (None: it does not): not finite, or above the
    spec's train.max_loss."""
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    if limit is not None and loss > limit:
        return f"the loss reached {loss:.4g}, above train.max_loss ({limit:g})"
    return None


LOSS_WARNING = 1e10
LOSS_GROWTH = 1000.0


def loss_warnings(first: Optional[float], last: Optional[float]) -> list:
    """Warnings about a run that ended with a finite but absurd loss (it may have diverged)."""
    if last is None or not math.isfinite(last):
        return []
    if last > LOSS_WARNING:
        return [f"the training loss ended at {last:.4g}: the run may have diverged (set train.max_loss to "
                "stop such runs as diverged)"]
    if first is not None and first > 0 and last > LOSS_GROWTH * first:
        return [f"the training loss grew from {first:.4g} to {last:.4g}: the run may have diverged"]
    return []


def _seed_variables(model) -> list:
    """The state variables of the model's SeedGenerators (dropout, noise, random flips), in
    layer order: the same order for the same architecture."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


def seed_states(model: Any) -> list:
    # Variable.numpy() reads the tf.Variable directly; numpy's np.array(tf.Variable) path calls
    # __array__(copy=...), which TensorFlow's variables refuse with a TypeError that numpy only
    # turns into a retry outside some warning contexts (seen once when SIGTERM arrived mid-step).
    return [[int(i) for i in v.numpy()] for v in _seed_variables(model)]


def restore_seed_states(model: Any, states: Optional[list]) -> None:
    """Put back the layers' random-number state saved by `seed_states` (after load_model)."""
    import numpy as np

    if states is None:  # a checkpoint written before seed states were kept
        return
    for variable, value in zip(_seed_variables(model), states, strict=True):
        variable.assign(np.asarray(value, dtype=variable.dtype))


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that continues a resumed run where the interrupted one stood: the epochs
    waited since the best one, the best value and (restore_best_weights) the best weights."""

    def __init__(self, resume: Optional[dict] = None, best_weights: Optional[Callable] = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.resume, self.load_best_weights = resume or {}, best_weights

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        super().on_train_begin(logs)
        if self.resume.get("best_epoch") is None or self.resume.get("best_value") is None:
            return
        self.best = self.resume["best_value"]
        self.best_epoch = self.resume["best_epoch"] - 1
        self.wait = self.resume["epoch"] + 1 - self.resume["best_epoch"]
        if self.restore_best_weights and self.load_best_weights is not None:
            self.best_weights = self.load_best_weights()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        # Validation knows the names of plain supervised specs only; Keras itself stops with a
        # ValueError (no direction for an unknown name) or a warning (mode min/max).
        if logs is not None and self.monitor not in logs:
            shown = [name for name in logs if name != "learning_rate"]
            raise SpecInvalid([Problem(("train", "early_stopping", "monitor"),
                                       f"early stopping monitors {shown_value(self.monitor)}, which this run "
                                       "does not log", f"it logs: {', '.join(shown)}", code="train")])
        super().on_epoch_end(epoch, logs)


def _is_higher_better(monitor: str) -> bool:
    name = monitor.removeprefix("val_")
    return any(word in name for word in ("accuracy", "auc", "precision", "recall"))


class ProgressLine(keras.callbacks.Callback):
    """One line per epoch to the reporter: a bar of epochs done, the metrics, the time it took."""

    def __init__(self, epochs: int, reporter: Reporter):
        super().__init__()
        self.epochs, self.reporter = epochs, reporter
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        done = int(BAR * (epoch + 1) / self.epochs)
        bar = "#" * done + "." * (BAR - done)
        metrics = "  ".join(f"{k} {float(v):.4g}" for k, v in (logs or {}).items() if k != "learning_rate")
        width = len(str(self.epochs))
        self.reporter.line(f"epoch {epoch + 1:>{width}}/{self.epochs} [{bar}] {metrics}  "
                           f"({time.perf_counter() - self.started:.2f}s)")
