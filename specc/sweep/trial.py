"""One trial of a sweep, in a process of its own (`specc sweep-trial`, started by `specc sweep`).

The driver has asked Optuna for the trial and sampled its values; this process trains the spec
with them as `--set` overrides (a normal run record, which also keeps the values and the
sweep's id), reports each epoch's metric, stops when the pruner says so (the record says
`pruned`), and tells Optuna how the trial ended. It sends heartbeats the whole time (and its
driver beats for it while it runs), so a trial whose process dies (kill -9, a machine lost) is
found dead and queued again; the trial that takes it up continues its run folder from the last
checkpoint, or, when that run had finished, reports what it recorded.

A process whose trial was taken for dead while it still lived (its driver was killed and its
own heartbeats were late) steps aside: it stops as on a stop signal (its run keeps its last
epoch), tells Optuna nothing and ends with exit code 0; the trial queued in its place runs it.

A trial that ends here tells Optuna itself, so trials whose driver was killed still finish.
"""
from __future__ import annotations

import _thread
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from specc.errors import SpeccError, UsageError
from specc.report import SILENT, Reporter
from specc.run.records import RECORD, RunRecord
from specc.run.records.lock import RunLock
from specc.sweep import study as studies
from specc.sweep.settings import Settings, storage_url, sweep_folder
from specc.sweep_space import CROSS_VALIDATION, override

FINISHED = ("completed", "pruned")  # run statuses a trial's value can be read from
STEPPED_ASIDE = "stepped aside"  # a trial process's end when another process took its trial for dead
REFIT = "refit"  # the study's user attribute: the run that trained the best values on the spec's split


@dataclass
class TrialResult:
    """How a trial ended: `complete`, `pruned`, `failed` or `stepped aside`, its value, its run folder."""

    number: int
    state: str
    value: Optional[float]
    run: Optional[str]


@dataclass
class _Trial:
    """What the steps of one trial share."""

    settings: Settings
    study: Any
    storage: Any
    trial_id: int
    number: int
    url: str
    reporter: Reporter
    runs: dict = field(default_factory=dict)  # fold (None: the trial's one run) -> RunRecord
    ending: bool = False  # this process tells Optuna the trial's end (from then on a finished trial is not taken)

    def taken(self) -> bool:
        """Another process failed the trial for want of heartbeats (and queued it again) while
        this one had not told Optuna its end (a trial failed for a reason says why: `error`)."""
        if self.ending:
            return False
        frozen = self.storage.get_trial(self.trial_id)
        return frozen.state.name == "FAIL" and "error" not in frozen.user_attrs

    def note_run(self, fold: Optional[int], record: RunRecord) -> None:
        """Keep the run of a fold in the trial's user attributes as soon as it exists, so a
        retry finds it and the table shows it, however the trial ends."""
        self.runs[fold] = record
        self.set(run_key(fold), str(record.path))
        ordered = [self.runs[k] for k in sorted(self.runs, key=lambda k: -1 if k is None else k)]
        if fold is not None:
            self.set("runs", [str(r.path) for r in ordered])
        self.set("run_id", " ".join(r.run_id for r in ordered))

    def set(self, key: str, value: Any) -> None:
        self.storage.set_trial_user_attr(self.trial_id, key, value)

    def fail(self, message: str) -> None:
        """Tell Optuna the trial failed (the message stays with it)."""
        optuna = studies.optuna()
        self.ending = True
        try:
            self.set("error", message)
        except optuna.exceptions.UpdateFinishedTrialError:
            return
        self.study.tell(self.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)

    def give_back(self) -> None:
        """An interrupted trial is queued again at once (as a dead one would be): the next
        `specc sweep` continues its run."""
        self.fail("interrupted (Ctrl-C or a stop signal); queued again")
        queue_again = self.storage.get_heartbeat_stale_trial_callback()
        if queue_again is not None:
            queue_again(self.study, self.storage.get_trial(self.trial_id))


def run_trial(spec_file: str, overrides: Sequence[str], number: int, runs_dir: str,
              reporter: Reporter = SILENT) -> TrialResult:
    """Run trial `number` of the spec's sweep (see the module's docstring).

    Raises:
        TrainingError: The loss became NaN (the trial is failed; the sweep goes on).
        SpeccError: Any other error of the run (the trial is failed).
        KeyboardInterrupt: Ctrl-C or SIGTERM (the trial is queued again).
    """
    from specc.run.stop_signals import terminate_as_interrupt

    settings, url, storage, study = _open_study(spec_file, overrides, runs_dir)
    try:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    except KeyError:
        raise UsageError(f"the study '{settings.name}' has no trial {number}") from None
    trial = _Trial(settings, study, storage, trial_id, number, url, reporter)
    if trial.taken():
        return _step_aside(trial, "before this process could start it")
    with terminate_as_interrupt(), Heartbeat(storage, trial_id, settings.heartbeat, trial.taken) as heartbeat:
        try:
            return _guarded(trial, spec_file, list(overrides), runs_dir)
        except BaseException:
            if heartbeat.found_taken or trial.taken():
                return _step_aside(trial, "while this process ran it")
            raise


def run_refit(spec_file: str, overrides: Sequence[str], number: int, runs_dir: str,
              reporter: Reporter = SILENT) -> dict:
    """Train trial `number`'s values once on the spec's own split (a sweep with folds chose
    them): a run of its own, named in the study's user attribute `refit`. A refit stopped
    before its end is continued by the next one of the same trial; an ended one is kept.

    Raises:
        UsageError: The study has no such completed trial.
        SpeccError: The run's own errors.
        KeyboardInterrupt: Ctrl-C or SIGTERM (the run keeps its last epoch).
    """
    from specc.run.stop_signals import terminate_as_interrupt

    settings, url, _, study = _open_study(spec_file, overrides, runs_dir)
    frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if frozen is None or frozen.state.name != "COMPLETE":
        raise UsageError(f"the study '{settings.name}' has no completed trial {number} to refit")
    values = studies.values_of(frozen, settings.params)
    known = study.user_attrs.get(REFIT) or {}
    earlier = _earlier_run(known.get("run"), reporter) if known.get("trial") == number else None
    if earlier is not None and earlier.read().get("status") == "completed":
        return _refit_ended(study, settings, number, earlier)
    sweep = {"id": settings.name, "trial": number, "values": values, "storage": url, "refit": True}

    def on_record(record: RunRecord) -> None:
        record.update(sweep=sweep)
        study.set_user_attr(REFIT, {"trial": number, "run": str(record.path), "run_id": record.run_id})

    reporter.line(f"refit of trial {number} on the spec's own split: "
                  + "  ".join(f"{k}={v}" for k, v in values.items()))
    with terminate_as_interrupt():
        record = train_run(spec_file, list(overrides) + [override(k, v) for k, v in values.items()], runs_dir,
                           earlier, [], on_record, reporter)
    return _refit_ended(study, settings, number, record)


def _open_study(spec_file: str, overrides: Sequence[str], runs_dir: str) -> tuple:
    """(settings, storage URL, storage, study) of the spec's sweep, as the driver opened it."""
    from specc.api import load_and_check, resolved_spec

    doc, _ = load_and_check(spec_file, list(overrides))
    resolved = resolved_spec(doc)
    settings = Settings.of(resolved)
    url = storage_url(settings, sweep_folder(runs_dir, resolved, settings), spec_file)
    storage = studies.reused_storage(url, settings)
    return settings, url, storage, studies.load_study(settings, storage)


def _refit_ended(study: Any, settings: Settings, number: int, record: RunRecord) -> dict:
    """The study's `refit` attribute once the run ended: its trial, run, status and best metric."""
    data = record.read()
    ended = {"trial": number, "run": str(record.path), "run_id": record.run_id, "status": data.get("status"),
             "value": best_value(record.history(), settings.metric, settings.direction)}
    study.set_user_attr(REFIT, ended)
    return ended


def _step_aside(trial: _Trial, when: str) -> TrialResult:
    """The trial was taken for dead and queued again by another process: leave it to the
    trial queued in its place (which continues the run this process began, if any)."""
    trial.reporter.line(f"trial {trial.number}: another process took it for dead (its heartbeats late) and "
                        f"queued it again {when}; this process steps aside, the trial queued in its place runs it")
    run = " ".join(str(r.path) for r in trial.runs.values()) or None
    return TrialResult(trial.number, STEPPED_ASIDE, None, run)


def _guarded(trial: _Trial, spec_file: str, overrides: list, runs_dir: str) -> TrialResult:
    """Run the trial; whatever ends it, Optuna hears of it (unless another process took it)."""
    frozen = trial.storage.get_trial(trial.trial_id)
    if frozen.state.name != "RUNNING":
        raise UsageError(f"trial {trial.number} of the study '{trial.settings.name}' is "
                         f"{frozen.state.name.lower()}, not running: there is nothing to do")
    try:
        return _run(trial, frozen, spec_file, overrides, runs_dir)
    except BaseException as exc:
        if trial.taken():  # another process queued it again: run_trial steps aside, nothing to tell
            raise
        if isinstance(exc, KeyboardInterrupt):
            trial.give_back()
        else:
            trial.fail(exc.message if isinstance(exc, SpeccError) else f"{type(exc).__name__}: {exc}")
        raise


def _run(trial: _Trial, frozen: Any, spec_file: str, overrides: list, runs_dir: str) -> TrialResult:
    values = studies.values_of(frozen, trial.settings.params)
    sweep = {"id": trial.settings.name, "trial": trial.number, "values": values, "storage": trial.url}
    retry_of = frozen.system_attrs.get(studies.RETRY_OF)
    if retry_of is not None:
        sweep["retry_of"] = retry_of
    trial.reporter.line(f"trial {trial.number}: " + "  ".join(f"{k}={v}" for k, v in values.items()))
    overrides = overrides + [override(k, v) for k, v in values.items()]
    folds = trial.settings.folds
    if not folds:
        record = _fold_run(trial, frozen, spec_file, overrides, runs_dir, sweep, None)
        return _tell(trial, [record])
    records = []
    for fold in range(folds):
        split = override(CROSS_VALIDATION, {"folds": folds, "fold": fold})
        record = _fold_run(trial, frozen, spec_file, overrides + [split], runs_dir, dict(sweep, fold=fold), fold)
        records.append(record)
        if record.read().get("status") != "completed":
            break  # pruned or diverged: the folds after it are not run
    return _tell(trial, records)


def run_key(fold: Optional[int]) -> str:
    """The trial's user attribute that holds the run folder of a fold (of the trial, without folds)."""
    return "run" if fold is None else f"fold {fold} run"


def _fold_run(trial: _Trial, frozen: Any, spec_file: str, overrides: list, runs_dir: str, sweep: dict,
              fold: Optional[int]) -> RunRecord:
    """The run of one fold (or of the trial): continued from a dead attempt's folder, that
    folder as it is when its run had ended, or trained."""
    earlier = _earlier_run(frozen.user_attrs.get(run_key(fold)), trial.reporter)
    if earlier is not None:
        status = earlier.read().get("status")
        which = "" if fold is None else f"fold {fold}: "
        trial.reporter.line(f"trial {trial.number}: {which}continues the run {earlier.path} ({status})")
        earlier.update(sweep=sweep)
        trial.note_run(fold, earlier)
        if status in FINISHED or status == "diverged":
            return earlier
    return _train(trial, spec_file, overrides, runs_dir, sweep, earlier, fold)


def _earlier_run(path: Optional[str], reporter: Reporter) -> Optional[RunRecord]:
    """The run folder a dead attempt left (a user attribute of the trial, or the sweep's refit),
    once no process writes it any more; None for a first attempt, or a folder that is not here."""
    if not path or not (Path(path) / RECORD).is_file():
        return None
    record = RunRecord.open(path)
    _wait_for_writer(record, reporter)
    return record


def _wait_for_writer(record: RunRecord, reporter: Reporter, every: float = 5.0) -> None:
    """A trial taken for dead may still be training (its heartbeats were late): wait for it."""
    said = False
    while True:
        try:
            with RunLock(record.path, record.run_id, "checking"):
                return
        except UsageError as exc:
            if not said:
                reporter.line(f"{exc.message}; waiting for it to end")
                said = True
            time.sleep(every)


def _train(trial: _Trial, spec_file: str, overrides: list, runs_dir: str, sweep: dict,
           earlier: Optional[RunRecord], fold: Optional[int]) -> RunRecord:
    """Train (or continue `earlier`) with the trial's values, reporting each epoch (with folds,
    the first fold's epochs are the pruner's evidence)."""
    from specc.run.quiet import import_tensorflow

    import_tensorflow()
    from specc.sweep.pruning import ReportEpochs

    optuna = studies.optuna()
    judged = fold in (None, 0)
    pruning = trial.settings.pruning
    report = ReportEpochs(optuna.trial.Trial(trial.study, trial.trial_id), trial.settings.metric,
                          prune=judged and bool(pruning), report=judged,
                          warmup_epochs=pruning["warmup_epochs"] if pruning else 0)

    def on_record(record: RunRecord) -> None:
        record.update(sweep=sweep)
        try:
            trial.note_run(fold, record)
        except optuna.exceptions.UpdateFinishedTrialError:
            raise KeyboardInterrupt from None  # taken for dead before its run began: as in ReportEpochs

    record = train_run(spec_file, overrides, runs_dir, earlier, [report], on_record, trial.reporter)
    if report.pruned_at is not None:
        record.update(status="pruned", message=f"pruned by the sweep after epoch {report.pruned_at}: its "
                      f"{trial.settings.metric} was worse than the median of the trials before it")
    return record


def train_run(spec_file: str, overrides: list, runs_dir: str, earlier: Optional[RunRecord], callbacks: list,
              on_record: Callable[[RunRecord], None], reporter: Reporter) -> RunRecord:
    """`specc train` of the spec with `overrides`, or `specc train --resume` of `earlier`."""
    from specc.api import load_and_check, resolved_spec
    from specc.run.quiet import import_tensorflow

    import_tensorflow()
    from specc.run.train import TrainOptions, train

    options = TrainOptions(runs_dir=runs_dir, export=False, callbacks=callbacks, overrides=tuple(overrides),
                           on_record=on_record, reporter=reporter)
    where: Any = None
    files: tuple = ()
    if earlier is not None:
        options.resume = str(earlier.path)
        resolved, spec_file = earlier.spec(), str(earlier.read().get("spec_file"))
    else:
        doc, _ = load_and_check(spec_file, overrides)
        resolved, where, files = resolved_spec(doc), doc.position_of, tuple(doc.files)
    record = train(resolved, spec_file, where=where, options=options, source_files=files).record
    if record is None:
        raise UsageError("the trial's training wrote no run record (a worker of a multi-worker run that is "
                         "not its chief)", "a sweep trains each trial in one process")
    return record


def _tell(trial: _Trial, records: list[RunRecord]) -> TrialResult:
    """Tell Optuna the trial's end from its runs: pruned, diverged (failed), or the best epoch's
    metric (with folds, the mean over the folds)."""
    optuna = studies.optuna()
    settings = trial.settings
    last = records[-1].read()
    paths = " ".join(str(r.path) for r in records)
    values = [best_value(r.history(), settings.metric, settings.direction) for r in records]
    epochs = [r.read().get("epochs_completed") or 0 for r in records]  # each run noted as it began
    if settings.folds:
        trial.set("fold_values", values)
    trial.set("epochs", sum(epochs) if settings.folds else last.get("epochs_completed"))
    trial.ending = True
    if last.get("status") == "diverged":
        trial.fail(str(last.get("message") or "diverged"))
        return TrialResult(trial.number, "failed", None, paths)
    if last.get("status") == "pruned":
        trial.study.tell(trial.number, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
        return TrialResult(trial.number, "pruned", values[0], paths)
    scores = [v for v in values if v is not None]
    if len(scores) < len(values):
        raise UsageError(f"run {records[values.index(None)].run_id} logged no {settings.metric} in any epoch",
                         "set sweep.metric to a metric its history.csv has")
    value = sum(scores) / len(scores)
    trial.study.tell(trial.number, value, skip_if_finished=True)
    return TrialResult(trial.number, "complete", value, paths)


def best_value(history: list, metric: str, direction: str) -> Optional[float]:
    """The best finite value of `metric` over the epochs of a history (None: never logged)."""
    values = [float(row[metric]) for row in history
              if isinstance(row.get(metric), (int, float)) and math.isfinite(float(row[metric]))]
    if not values:
        return None
    return max(values) if direction == "maximize" else min(values)


class Heartbeat:
    """`with Heartbeat(storage, trial_id, seconds, taken):` -- the trial's sign of life in the
    storage, from a thread, every `seconds`, until the block ends. When `taken()` says another
    process took the trial for dead, the main thread is stopped as by SIGTERM (`found_taken`)."""

    def __init__(self, storage: Any, trial_id: int, seconds: float, taken: Callable[[], bool]):
        self.storage, self.trial_id, self.seconds, self.taken = storage, trial_id, seconds, taken
        self.found_taken = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="sweep-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.stop.is_set():
            try:
                self.storage.record_heartbeat(self.trial_id)
                if self.taken():
                    self.found_taken = True
                    # terminate_as_interrupt's handler: training stops and keeps its last epoch
                    _thread.interrupt_main(signal.SIGTERM)
                    return
            except Exception:  # a busy database: the next beat tries again, well within the grace period
                pass
            self.stop.wait(self.seconds)

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
