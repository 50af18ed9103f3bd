"""Train a spec: data -> model -> epochs with checkpoints -> final metrics -> run record.

One flow for every paradigm: the paradigm (specc/paradigms) builds the model, feeds it and
compiles it; the loop (specc/run/loop.py) runs the epochs; everything else is here.

The order matters for "nothing is lost" and "nothing left behind": the data is loaded and
checked, the device configured and the model built, adapted and compiled before a new run's
folder exists (bad data or a spec that cannot be built leaves nothing behind); once the
folder exists, every way out (finished, early stop, NaN, Ctrl-C, an error) leaves a record
whose status says which.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

from specc.backbones import pin
from specc.errors import ClusterError, DataError, TrainingError, resource_error
from specc.report import SILENT, Reporter, figures_text
from specc.run.columns import training_columns
from specc.run.data import Prepared, prepare_data
from specc.run.records import RunRecord, find_run
from specc.run.checkpoints import read_state
from specc.run.failures import finish_if_possible, placed, shape_mismatch, tag_run
from specc.run.records.lock import RunLock
from specc.run.resume import DEFAULT_RUNS_DIR, check_resumable, reopen, resume_text
from specc.run.stop_signals import terminate_as_interrupt
from specc.tasks.trees import is_trees


@dataclass
class TrainOptions:
    """How to run `train` (the spec says what to train).

    Attributes:
        runs_dir: Where run records go (default: the spec's train.runs_dir).
        resume: A run to continue from its last checkpoint (id, prefix, NAME/latest or folder).
        export: Apply the spec's `export:` section when training completes (the
            `specc.workflows` layer does; `train` itself never exports).
        callbacks: Extra Keras callbacks (Python API only), called after specc's own, so at
            the end of an epoch the record and checkpoints already hold that epoch.
        overrides: The `--set` overrides the spec was loaded with (record.json keeps them).
        on_record: Called with the RunRecord once the run's folder exists (a new run, or the
            one resumed), before the first epoch.
        reporter: Where progress lines go (default: nowhere).
        loop: The epoch loop (default: Keras's `fit`; specc's own step for multi_worker).
        cluster: multi_worker: the workers and which one this process is (run/cluster.py);
            None: TF_CONFIG's, or this process alone.
    """

    runs_dir: Optional[str] = None
    resume: Optional[str] = None
    export: bool = True
    callbacks: list = field(default_factory=list)
    overrides: tuple = ()
    on_record: Optional[Callable[[RunRecord], None]] = None
    reporter: Reporter = SILENT
    loop: Any = None
    cluster: Any = None


@dataclass
class Outcome:
    """What a finished training run gives back (`record` is None on a worker of a multi-worker
    run that is not the chief: it writes nothing)."""

    record: Optional[RunRecord]
    metrics: dict
    seconds: float
    samples_per_second: float
    epochs: int
    kept_epoch: Optional[int] = None  # an earlier best epoch whose weights the run keeps (and measured)
    unit: str = "epoch"  # what `epochs` counts: epochs, or a trees run's boosting rounds


def train(resolved: dict, spec_file: str, where: Optional[Callable] = None,
          options: Optional[TrainOptions] = None, source_files: tuple = ()) -> Outcome:
    """Train the resolved spec and return its record and final metrics.

    A new run's folder is made only once its model is built, adapted and compiled: a spec
    that cannot be built (SpecInvalid) or data found bad while building it leaves nothing
    behind. A resumed run is opened first (its checkpoint is the model).

    Raises:
        DataError: The data does not fit the spec (nothing is written).
        SpecInvalid: The model cannot be built (nothing is written).
        TrainingError: The loss became NaN (the record says `diverged`).
        ResourceError: The disk or the memory ran out (the record, if any, says `failed`).
        KeyboardInterrupt: Ctrl-C (the record says `interrupted`; resume with `--resume`).
    """
    from specc.run import workers

    options = options or TrainOptions()
    setup = workers.join(resolved, options.cluster)  # multi_worker: before TensorFlow runs anything
    prepared = prepare_data(resolved, Path(spec_file).resolve().parent)
    runs_dir = runs_folder(resolved, spec_file, options.runs_dir)

    def pinned() -> tuple[dict, list]:  # the backbones' files, found (a resumed model has them in it)
        return pin(resolved, prepared.spec_dir, Path(runs_dir), where)

    if setup is not None and not setup.cluster.is_chief:
        return _follow(pinned()[0], prepared, runs_dir, setup, where, options)
    if is_trees(resolved):
        return _train_trees(resolved, prepared, runs_dir, spec_file, where, options, source_files)
    if options.resume:
        record = find_run(options.resume, runs_dir)
        with RunLock(record.path, record.run_id, "resuming"):
            state = reopen(record, prepared.fingerprint, options)
            checkpoints = record.checkpoint_dir if state else None
            return _recorded(resolved, prepared, record, options,
                             lambda: _build(resolved if state else pinned()[0], prepared, where, checkpoints, state,
                                            setup))
    built_from, sources = pinned()
    try:
        built = _build(built_from, prepared, where, setup=setup)
    except DataError as exc:
        raise placed(exc, resolved, where) from None
    except Exception as exc:  # a model past this machine's memory (validate's limits are generous)
        error = resource_error(exc)
        if error is None:
            raise
        raise error from None
    record = RunRecord.create(runs_dir, resolved, spec_file, list(source_files), options.overrides)
    if sources:
        record.update(weight_sources=[source.recorded() for source in sources])
    with RunLock(record.path, record.run_id, "training"):
        return _recorded(resolved, prepared, record, options, lambda: built)


def _train_trees(resolved: dict, prepared: Prepared, runs_dir: str, spec_file: str, where: Optional[Callable],
                 options: TrainOptions, source_files: tuple) -> Outcome:
    """A trees spec: a booster instead of a network, in the same record and statuses."""
    from specc.run import trees

    if options.resume:
        record = find_run(options.resume, runs_dir)
        with RunLock(record.path, record.run_id, "resuming"):
            check_resumable(record, prepared.fingerprint)
            record.remove_temporaries(resuming=True)
            record.update(status="running", finished=None)
            checkpoint = record.checkpoint_dir / trees.LAST
            return _recorded(resolved, prepared, record, options, lambda: trees.build(resolved, prepared, checkpoint),
                             body=trees.boost_in_record)
    try:
        built = trees.build(resolved, prepared)
    except DataError as exc:
        raise placed(exc, resolved, where) from None
    record = RunRecord.create(runs_dir, resolved, spec_file, list(source_files), options.overrides)
    with RunLock(record.path, record.run_id, "training"):
        return _recorded(resolved, prepared, record, options, lambda: built, body=trees.boost_in_record)


def runs_folder(resolved: dict, spec_file: str, given: Optional[str] = None) -> str:
    """Where run records go: the command line's --runs-dir; else the spec's train.runs_dir,
    relative to the spec (as every path a spec names); else runs/ in the current folder."""
    from specc.project import resolve_path

    if given:
        return given
    named = (resolved.get("train") or {}).get("runs_dir")
    if named:
        return str(resolve_path(named, Path(spec_file).resolve().parent))
    return DEFAULT_RUNS_DIR


@dataclass
class _Built:
    """A model ready to train on its device: what comes before the first epoch."""

    setup: Any
    trainable: Any
    validation: Any
    state: dict


def _build(resolved: dict, prepared: Prepared, where: Optional[Callable],
           checkpoint_dir: Optional[Path] = None, state: Optional[dict] = None, setup: Any = None,
           read_state: Optional[Callable[[], tuple]] = None) -> _Built:
    """Configure the device (unless `setup` is given: multi_worker, made first), then build,
    adapt and compile the model (or, with a resume `state`, load it from `checkpoint_dir`);
    make its feeds.

    A multi-worker run first waits for every worker; a worker that is not the chief reads the
    resume state only then (`read_state`), once the chief has repaired the run folder."""
    from specc.paradigms import paradigm_of
    from specc.run import workers
    from specc.run.devices import configure
    from specc.run.trainable import prepare

    setup = setup or configure(resolved["device"], resolved["seed"])
    if setup.cluster is not None:
        workers.meet(setup, resolved, prepared.fingerprint)
    if read_state is not None:
        checkpoint_dir, state = read_state()
    state = state or {}
    paradigm = paradigm_of(resolved)
    with setup.strategy.scope():
        trainable = prepare(paradigm, resolved, prepared, checkpoint_dir, state, setup.jit, where)
        if trainable.jit is not None:
            setup.jit = trainable.jit[0]
            setup.info.update(jit=trainable.jit[0], jit_reason=trainable.jit[1])
        if workers.replicated(setup):
            workers.ready(setup, trainable)
        setup.info["learning_rate_scale"] = workers.scale_learning_rate(setup, trainable, resolved, new=not state)
    validation = prepared.validation_dataset(paradigm, trainable.model)
    return _Built(setup, trainable, validation, state)


def _follow(resolved: dict, prepared: Prepared, runs_dir: str, setup: Any, where: Optional[Callable],
            options: TrainOptions) -> Outcome:
    """A worker that is not the chief: the same steps as the chief, nothing written. On resume
    it reads the run's last checkpoint (the run folder must be on storage every worker sees)."""
    from specc.run import workers

    def resume_state() -> tuple:
        if not options.resume:
            return None, {}
        record = find_run(options.resume, runs_dir)
        folder = record.path / "checkpoints"  # not record.checkpoint_dir: that makes the folder
        state = read_state(folder, record.run_id, repair=False) or {}
        return (folder if state else None), state

    options.reporter.line(setup.cluster.describe() + ": it trains, and writes nothing")
    built = _build(resolved, prepared, where, setup=setup, read_state=resume_state)
    trainable = built.trainable
    loop = options.loop or workers.loop_for(setup)
    started = time.perf_counter()
    loop.run(trainable.model, trainable.feed, built.validation, resolved["train"]["epochs"],
             trainable.first_epoch, list(options.callbacks))
    seconds = time.perf_counter() - started
    epochs = len(getattr(trainable.model.history, "epoch", []) or [])
    samples = trainable.feed.samples * epochs
    return Outcome(None, {}, seconds, samples / seconds if seconds else 0.0, trainable.first_epoch + epochs)


def _recorded(resolved: dict, prepared: Prepared, record: RunRecord, options: TrainOptions,
              build: Callable[[], Any], body: Optional[Callable[..., Outcome]] = None) -> Outcome:
    """Train in a run folder: every way out from here on is recorded in it (`body` trains what
    `build` made: a network by default, a booster for a trees spec)."""
    options.reporter.line(prepared.splits.train.description.replace(":", " (train):", 1))
    record.update(data_fingerprint=prepared.fingerprint, seed=resolved["seed"],
                  data={name: len(t) for name, t in prepared.splits.items()},
                  class_names=prepared.splits.train.class_names,
                  output_class_names=prepared.splits.train.output_class_names or None,
                  columns=training_columns(prepared.splits.train))
    try:
        with terminate_as_interrupt():
            if options.on_record:
                options.on_record(record)
            return (body or _train_in_record)(resolved, prepared, record, build(), options)
    except KeyboardInterrupt:
        resume = resume_text(record)
        record.finish("interrupted", f"stopped by Ctrl-C or a stop signal; {resume}")
        raise KeyboardInterrupt(f"run {record.run_id} stopped; {resume}") from None
    except TrainingError as exc:
        record.finish("diverged", exc.message)
        raise
    except BaseException as exc:
        error = resource_error(exc) or shape_mismatch(exc)
        if error is not None:
            finish_if_possible(record, error.message)
            raise error from None
        record.finish("failed", f"{type(exc).__name__}: {exc}")
        tag_run(exc, record.run_id)
        raise


def _train_in_record(resolved: dict, prepared: Prepared, record: RunRecord, built: _Built,
                     options: TrainOptions) -> Outcome:
    from specc.run import workers

    setup, trainable = built.setup, built.trainable
    record.update(device=setup.info)
    if setup.cluster is not None:
        record.update(workers=workers.recorded(setup, trainable.feed))
    say = options.reporter.line
    say(f"run {record.run_id}: {record.path}")
    say(f"device: {setup.info['target']}, strategy {setup.info['strategy']}, "
        f"precision {setup.info['precision']}, XLA {'on' if setup.jit else 'off'}"
        + (f" ({setup.info['jit_reason']})" if setup.info.get("jit_reason") else ""))
    if setup.cluster is not None:
        say(setup.cluster.describe())
    callbacks, recorder = _callbacks(resolved, record, built.state, options, trainable)
    loop = options.loop or workers.loop_for(setup)
    started = time.perf_counter()
    try:
        if resolved["train"].get("phases"):
            from specc.run.phases import run_phases

            run_phases(loop, trainable, built.validation, resolved, prepared, recorder, callbacks, built.state,
                       record, say)
        else:
            loop.run(trainable.model, trainable.feed, built.validation, resolved["train"]["epochs"],
                     trainable.first_epoch, callbacks)
    except KeyboardInterrupt:
        recorder.interrupted()
        raise
    except ClusterError:
        recorder.interrupted(moment=False)  # the last whole epoch stays resumable
        raise
    seconds = time.perf_counter() - started
    if setup.cluster is not None and getattr(loop, "weights_agree", None) is not None:
        record.update(workers={**record.read()["workers"], "weights_agree": loop.weights_agree})
    if recorder.diverged:
        raise TrainingError(recorder.diverged, "lower the learning rate, add clipnorm to the "
                            "optimizer, or normalize the inputs (data.preprocessing: [normalization])")
    if workers.replicated(setup):  # finished outside the strategy: no collective op ties the model to the others
        from specc.run.distributed import local_copy

        trainable = replace(trainable, model=local_copy(trainable.model))
    from specc.run.finish import finish

    return finish(resolved, prepared, trainable, record, recorder, seconds)


def _callbacks(resolved: dict, record: RunRecord, state: dict, options: TrainOptions,
               trainable: Any) -> tuple[list, Any]:
    from specc.paradigms import declaration_of
    from specc.run.callbacks import ProgressLine, RecordCallback, StopCheck
    from specc.run.tensorboard import ScalarWriter

    train = resolved["train"]
    stop = train["early_stopping"]
    checkpoints = train["checkpoints"]
    monitor = stop["monitor"] if stop else checkpoints["monitor"]
    recorder = RecordCallback(record, monitor, stop["mode"] if stop else "auto",
                              checkpoints["keep"], state, checkpoints["every_seconds"],
                              min_delta=stop["min_delta"] if stop else 0.0,
                              best=declaration_of(resolved).best,
                              optimizers=trainable.paradigm.optimizers, max_loss=train.get("max_loss"))
    callbacks = [recorder, StopCheck()]
    if stop:
        callbacks.append(_early_stopping(stop, record, state))
    callbacks.append(ScalarWriter(record.tensorboard_dir))
    if options.reporter is not SILENT:
        callbacks.append(ProgressLine(train["epochs"], options.reporter))
    callbacks += trainable.paradigm.callbacks(record, resolved)  # after specc's (e.g. sample grids)
    return callbacks + list(options.callbacks), recorder


def _early_stopping(stop: dict, record: RunRecord, state: dict) -> Any:
    """Keras EarlyStopping; on resume it starts from the interrupted run's wait and best."""
    import keras

    from specc.run.callbacks import ResumableEarlyStopping

    best = Path(record.checkpoint_dir) / "best.keras"
    load_best = (lambda: keras.saving.load_model(best).get_weights()) if best.exists() else None
    return ResumableEarlyStopping(
        resume=state, best_weights=load_best, monitor=stop["monitor"], patience=stop["patience"],
        min_delta=stop["min_delta"], mode=stop["mode"],
        restore_best_weights=stop["restore_best_weights"])


def summary_text(outcome: Outcome) -> str:
    """The one-screen summary the command line prints at the end of training."""
    lines = [f"trained {outcome.epochs} {outcome.unit}(s) in {outcome.seconds:.1f}s "
             f"({outcome.samples_per_second:,.0f} samples/s)"]
    if outcome.record is None:
        return lines[0] + "; the chief writes the record"
    if outcome.kept_epoch is not None:
        best = outcome.record.read().get("best") or {}
        value = f" ({best['monitor']} {best['value']:.4g})" if best.get("value") is not None else ""
        lines.append(f"  the best {outcome.unit}, {outcome.kept_epoch}{value}, is the model the run keeps:")
    for split, values in outcome.metrics.items():
        lines.append(f"  {split:<10} {figures_text(values)}")
    lines += [f"warning: {text}" for text in outcome.record.read().get("warnings") or []]
    lines.append(f"record: {outcome.record.path}")
    return "\n".join(lines)
