"""Train a spec: data -> model -> fit with checkpoints -> final metrics -> run record.

The order matters for "nothing is lost": the data is loaded and checked before the run
folder exists (bad data leaves nothing behind); once training starts, every way out
(finished, early stop, NaN, Ctrl-C) leaves a record whose status says which.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import click

from specc.errors import TrainingError, UsageError
from specc.run.data import Prepared, prepare_data

STEPS_PER_EXECUTION_CAP = 64


@dataclass
class TrainOptions:
    """How to run `train` (the spec says what to train).

    runs_dir: where run records go (default: the spec's train.runs_dir).
    quiet: print nothing but errors.
    resume: a run to continue from its last checkpoint (id, prefix, NAME/latest or folder).
    export: apply the spec's `export:` section when training completes.
    callbacks: extra Keras callbacks (Python API only), called after specc's own, so at the
        end of an epoch the record and checkpoints already hold that epoch.
    """

    runs_dir: Optional[str] = None
    quiet: bool = False
    resume: Optional[str] = None
    export: bool = True
    callbacks: list = field(default_factory=list)


@dataclass
class Outcome:
    record: object
    metrics: dict
    seconds: float
    samples_per_second: float


def train(resolved: dict, spec_file: str, where: Optional[Callable] = None,
          options: Optional[TrainOptions] = None, source_files: tuple = ()) -> Outcome:
    """Train the resolved spec and return its record and final metrics."""
    options = options or TrainOptions()
    say = (lambda *a, **k: None) if options.quiet else click.echo
    spec_dir = Path(spec_file).resolve().parent
    prepared = prepare_data(resolved, spec_dir)
    say(prepared.splits.train.description.replace(":", " (train):", 1))
    record, state = _open_record(resolved, spec_file, source_files, options, prepared.fingerprint)
    record.update(data_fingerprint=prepared.fingerprint, seed=resolved["seed"],
                  data={name: len(t) for name, t in prepared.splits.items()},
                  class_names=prepared.splits.train.class_names)
    try:
        return _train_in_record(resolved, prepared, record, state, where, options, say)
    except KeyboardInterrupt:
        message = (f"stopped by Ctrl-C; `specc train --resume {record.run_id}` continues "
                   "from the last checkpoint")
        record.finish("interrupted", message)
        raise KeyboardInterrupt(f"run {record.run_id} stopped; `specc train --resume "
                                f"{record.run_id}` continues from the last checkpoint") from None
    except TrainingError as exc:
        record.finish("diverged", exc.message)
        raise
    except BaseException as exc:
        record.finish("failed", f"{type(exc).__name__}: {exc}")
        raise


def _open_record(resolved, spec_file, source_files, options, data_fingerprint):
    from specc.run.records import RunRecord, find_run

    runs_dir = options.runs_dir or resolved["train"]["runs_dir"]
    if options.resume:
        record = find_run(options.resume, runs_dir)
        _check_resumable(record, data_fingerprint)
        state = read_state(record)
        record.update(status="running", finished=None)
        return record, state
    return RunRecord.create(runs_dir, resolved, spec_file, list(source_files)), {}


def _check_resumable(record, data_fingerprint: str) -> None:
    """A completed run has nothing left to do; a run whose data changed cannot be continued."""
    from specc.errors import DataError

    data = record.read()
    if data.get("status") == "completed":
        raise UsageError(f"run {record.run_id} has completed; there is nothing to resume",
                         "to train longer, train the spec again with --set train.epochs=N")
    if data.get("data_fingerprint") not in (None, data_fingerprint):
        raise DataError(f"the data of run {record.run_id} changed since it started "
                        f"({data['data_fingerprint']} then, {data_fingerprint} now)",
                        "restore the data it was trained on, or train the spec again")


def read_state(record) -> dict:
    """The resume state written with the last checkpoint ({} when there is none)."""
    path = Path(record.checkpoint_dir) / "state.json"
    if not path.exists():
        raise UsageError(f"run {record.run_id} has no checkpoint to resume from",
                         "it stopped before its first checkpoint was written; train it again")
    return json.loads(path.read_text(encoding="utf-8"))


def _train_in_record(resolved, prepared: Prepared, record, state, where, options, say) -> Outcome:
    from specc.run.devices import configure

    setup = configure(resolved["device"], resolved["seed"])
    record.update(device=setup.info)
    say(f"run {record.run_id}: {record.path}")
    say(f"device: {setup.info['target']}, strategy {setup.info['strategy']}, "
        f"precision {setup.info['precision']}, XLA {'on' if setup.jit else 'off'}")
    with setup.strategy.scope():
        model, feed, first_epoch = _model_and_feed(resolved, prepared, record, state, setup, where)
    callbacks, recorder = _callbacks(resolved, record, state, options)
    callbacks += getattr(feed, "callbacks", [])  # composite paradigms: save their parts
    started = time.perf_counter()
    epochs = resolved["train"]["epochs"]
    try:
        model.fit(feed.dataset, epochs=epochs, initial_epoch=first_epoch, steps_per_epoch=feed.steps,
                  validation_data=prepared.validation_dataset(model), callbacks=callbacks, verbose=0,
                  shuffle=False)
    except KeyboardInterrupt:
        recorder.interrupted()
        raise
    seconds = time.perf_counter() - started
    if recorder.diverged:
        raise TrainingError(recorder.diverged, "lower the learning rate, add clipnorm to the "
                            "optimizer, or normalize the inputs (data.preprocessing: [normalization])")
    return _finish(resolved, prepared, model, record, recorder, seconds, first_epoch, feed, options, say)


def _model_and_feed(resolved, prepared, record, state, setup, where):
    import keras

    from specc.compile import adapt_preprocessing, build_model, compile_model, load_plugins
    from specc.run.feed import model_arrays, training_feed

    if resolved["task"].get("type") in ("autoencoder", "gan", "few_shot"):
        from specc.run.composite import model_and_feed

        return model_and_feed(resolved, prepared, record, state, setup, where)
    first_epoch = state.get("epoch", -1) + 1
    epochs = resolved["train"]["epochs"]
    if state:
        from specc.run.callbacks import restore_seed_states

        load_plugins(resolved.get("plugins", []), str(prepared.spec_dir))
        model = keras.saving.load_model(record.checkpoint_dir / "last.keras")
        restore_seed_states(model, state.get("seed_states"))
    else:
        model = build_model(resolved, where=where, spec_dir=str(prepared.spec_dir))
        adapt_preprocessing(model, model_arrays(prepared.splits.train, model)[0])
    feed = training_feed(prepared.splits.train, model, resolved["batch"], resolved["seed"],
                         first_epoch, epochs)
    if not state:
        spe = _steps_per_execution(resolved["train"]["steps_per_execution"], feed.steps)
        total = max(1, epochs * feed.steps)  # Keras advances schedules every batch
        compile_model(model, resolved, total_steps=total, steps_per_execution=spe,
                      jit_compile=setup.jit)
    return model, feed, first_epoch


def _steps_per_execution(wanted, steps: int) -> int:
    """auto: a whole epoch per call, up to 64 steps (what a careful Keras user would set).

    Over 64 steps, the largest divisor of the epoch's steps up to 64: Keras runs whole calls,
    so 100 steps at 64 per call would train 128 steps per epoch on the repeating feed."""
    if wanted == "auto":
        cap = max(1, min(steps, STEPS_PER_EXECUTION_CAP))
        return next(n for n in range(cap, 0, -1) if steps % n == 0)
    return int(wanted)


def _callbacks(resolved, record, state, options):
    import keras

    from specc.run.callbacks import ProgressLine, RecordCallback

    train = resolved["train"]
    stop = train["early_stopping"]
    checkpoints = train["checkpoints"]
    monitor = stop["monitor"] if stop else checkpoints["monitor"]
    recorder = RecordCallback(record, monitor, stop["mode"] if stop else "auto",
                              checkpoints["keep"], state, checkpoints["every_seconds"],
                              min_delta=stop["min_delta"] if stop else 0.0)
    callbacks = [recorder]
    if stop:
        callbacks.append(_early_stopping(stop, record, state))
    callbacks.append(keras.callbacks.TensorBoard(str(record.tensorboard_dir), write_graph=False))
    if not options.quiet:
        callbacks.append(ProgressLine(train["epochs"]))
    return callbacks + list(options.callbacks), recorder


def _early_stopping(stop: dict, record, state: dict):
    """Keras EarlyStopping; on resume it starts from the interrupted run's wait and best."""
    import keras

    from specc.run.callbacks import ResumableEarlyStopping

    best = Path(record.checkpoint_dir) / "best.keras"
    load_best = (lambda: keras.saving.load_model(best).get_weights()) if best.exists() else None
    return ResumableEarlyStopping(
        resume=state, best_weights=load_best, monitor=stop["monitor"], patience=stop["patience"],
        min_delta=stop["min_delta"], mode=stop["mode"],
        restore_best_weights=stop["restore_best_weights"])


def _finish(resolved, prepared, model, record, recorder, seconds, first_epoch, feed, options, say) -> Outcome:
    from specc.run.evaluate import evaluate_splits

    epochs_done = recorder.last_epoch + 1
    samples = feed.samples * max(0, epochs_done - first_epoch)
    metrics = evaluate_splits(model, prepared.splits)
    record.write_metrics(metrics)
    record.update(epochs_completed=epochs_done, train_seconds=round(seconds, 3),
                  samples_per_second=round(samples / seconds, 1) if seconds else None,
                  best={"epoch": recorder.best_epoch, "monitor": recorder.monitor, "value": recorder.best},
                  checkpoints={"best": "checkpoints/best.keras", "last": "checkpoints/last.keras"})
    record.finish("completed")
    outcome = Outcome(record, metrics, seconds, samples / seconds if seconds else 0.0)
    if options.export and resolved["export"]["formats"]:
        from specc.export import export_run

        export_run(record, resolved["export"]["formats"], quantize=resolved["export"]["quantize"],
                   quiet=options.quiet)
    say(summary_text(outcome, epochs_done))
    return outcome


def summary_text(outcome: Outcome, epochs: int) -> str:
    """The one-screen summary printed at the end of training."""
    lines = [f"trained {epochs} epoch(s) in {outcome.seconds:.1f}s "
             f"({outcome.samples_per_second:,.0f} samples/s)"]
    for split, values in outcome.metrics.items():
        shown = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
        lines.append(f"  {split:<10} {shown}")
    lines.append(f"record: {outcome.record.path}")
    return "\n".join(lines)
