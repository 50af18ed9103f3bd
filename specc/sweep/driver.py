"""`specc sweep`: run a spec's sweep, K trial processes at a time, until the study holds its
number of trials; then the table, the best trial and the plots.

The driver asks Optuna for each trial (so the sampler sees every result so far), samples its
values, and hands `specc sweep-trial SPEC --trial N` to a warm worker (workers.py: a process
that imported TensorFlow once and runs trial after trial), or starts it as a process of its own
(`--process-per-trial`), with its output in logs/trial-NNNN.log; the trial's process does the
rest and tells Optuna itself. A "trial process" below is either. The study's
database is the only state: a driver started again on the same study (after Ctrl-C, kill -9,
a lost machine) counts what is there, waits for trials other processes are running, lets
Optuna queue again the trials whose process died (no heartbeat for `grace_period` seconds),
and starts only what is missing. Several drivers, on one machine or many, can share a study.

The driver beats for each trial process it started while that process runs: it sees the
process alive, so a trial slow to start (Python, the spec and Optuna load before the trial's
own heartbeats begin) or whose own heartbeats are late on a busy machine is never taken for
dead. A trial process whose trial another driver took for dead anyway steps aside (exit code
0, its trial failed): the trial queued in its place runs it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from specc.errors import (EXIT_DATA, EXIT_INTERRUPTED, EXIT_TRAINING, EXIT_USAGE, DataError, SpeccError,
                          TrainingError, UsageError)
from specc.report import SILENT, Reporter
from specc.sweep import study as studies
from specc.sweep.plots import import_ahead
from specc.sweep.results import SweepOutcome, best_intermediate, best_trial, finish_sweep, seconds_text
from specc.sweep.settings import Settings, fingerprint, storage_url, sweep_folder
from specc.sweep.workers import PoolOptions, open_pool, rss_mb, stop_processes

POLL_SECONDS = 0.5
STOP_AFTER_FAILURES = 3  # trials in a row failing (not diverging) stop the sweep: each would fail alike


@dataclass
class _Launched:
    """A trial this driver started, in a process of its own or a warm worker."""

    number: int
    trial_id: int
    values: dict
    process: Any  # subprocess.Popen, or a workers.WarmTask that behaves as one
    log: Path
    started: float = field(default_factory=time.monotonic)
    killed_for: Optional[str] = None  # why the driver killed it (its memory)


def run_sweep(resolved: dict, spec_file: str, overrides: Sequence[str] = (), runs_dir: Optional[str] = None,
              trials: Optional[int] = None, parallel: int = 1, reporter: Reporter = SILENT,
              pool: PoolOptions = PoolOptions()) -> SweepOutcome:
    """Run (or continue) the sweep of a resolved spec; return its outcome once every trial ended.

    Args:
        resolved: The resolved spec (with its `sweep:` section); `spec_file` and `overrides`
            are what it was loaded from: each trial process loads them again, with its values.
        runs_dir: Where run records go (default: the spec's train.runs_dir, runs/).
        trials: The number of trials of the study (default: the section's).
        parallel: Trials at once, on this machine.
        pool: Where trials run: warm workers (the default) or a process each; their bounds.

    Raises:
        UsageError: No sweep section, a storage that cannot be opened, a study of another
            spec; a trial's usage error (every trial would have it).
        DataError: A trial found the data bad.
        TrainingError: Trials fail one after another.
        KeyboardInterrupt: Ctrl-C or SIGTERM: running trials are stopped and queued again.
    """
    from specc.run.train import runs_folder

    if parallel < 1:
        raise UsageError(f"--parallel takes 1 or more trial processes, got {parallel}")
    settings = Settings.of(resolved, trials)
    runs = str(Path(runs_folder(resolved, spec_file, runs_dir)).absolute())
    folder = sweep_folder(runs, resolved, settings)
    try:
        (folder / "logs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the sweep's folder {folder}: {exc.strerror or exc}",
                         "give --runs-dir (or train.runs_dir) a folder you can write to") from None
    workers = open_pool(pool, folder / "logs" / "workers.log")
    workers.prestart(parallel)  # their imports overlap the opening of the study
    try:
        return _sweep(resolved, spec_file, overrides, settings, runs, folder, parallel, reporter, workers)
    finally:
        workers.close()


def _sweep(resolved: dict, spec_file: str, overrides: Sequence[str], settings: Settings, runs: str, folder: Path,
           parallel: int, reporter: Reporter, workers: Any) -> SweepOutcome:
    url = storage_url(settings, folder, spec_file)
    storage = studies.open_storage(url, settings)
    study = studies.open_study(settings, storage, settings.seed, fingerprint(resolved))
    earlier = len(study.get_trials(deepcopy=False))
    if earlier:  # a sampler seeded as before would start by repeating the values it sampled then
        study.sampler = studies.sampler(settings, settings.seed + earlier)
    reporter.line(f"sweep {settings.name}: {settings.trials} trials ({settings.sampler}), {parallel} at a time, "
                  f"scored by {settings.metric} ({settings.direction})")
    reporter.line(f"study: {url}" + (f" ({earlier} trial(s) there already)" if earlier else ""))
    if studies.counted(study.get_trials(deepcopy=False)) >= settings.trials:
        reporter.line(f"the study holds {settings.trials} or more trials: none to start (--trials N asks for more)")
    command = ["sweep-trial", spec_file, "--runs-dir", runs]
    command += [part for item in overrides for part in ("--set", item)]
    driver = _Driver(study, storage, settings, command, folder, parallel, reporter, workers)
    started = time.monotonic()
    import_ahead()
    driver.run()
    refit = refit_best(study, settings, command, folder, reporter, workers) if settings.folds and settings.refit else None
    workers.close()  # before the plots: idle workers' memory back
    return finish_sweep(study, settings, folder, url, time.monotonic() - started, reporter, refit)


def refit_best(study: Any, settings: Settings, command: list, folder: Path, reporter: Reporter,
               workers: Any) -> Optional[dict]:
    """With folds: train the best trial's values on the spec's own split, in a worker of
    `workers` (logs/refit.log); kept when an earlier `specc sweep` already did it for this trial.
    Returns the study's `refit` attribute (with `error` when the run failed), or None when no
    trial completed.

    Raises:
        KeyboardInterrupt: Ctrl-C or SIGTERM: the refit process is stopped (its run keeps its
            last epoch; the same command continues it).
    """
    from specc.run.stop_signals import terminate_as_interrupt
    from specc.sweep.trial import REFIT

    best = best_trial(study.get_trials(deepcopy=False), settings.direction)
    if best is None:
        return None
    known = dict(study.user_attrs.get(REFIT) or {})
    if known.get("trial") == best.number and known.get("status") == "completed" and \
            Path(str(known.get("run"))).is_dir():
        return known
    log = folder / "logs" / "refit.log"
    reporter.line(f"refit: trial {best.number}'s values trained on the spec's own split (log: {log})")
    process = workers.start(command + ["--trial", str(best.number), "--refit"], log)
    launched = _Launched(best.number, best._trial_id, {}, process, log)
    try:
        with terminate_as_interrupt():
            code = _wait_within_bounds(launched, workers)
    except KeyboardInterrupt:
        stop_processes([process])
        raise KeyboardInterrupt(f"sweep {settings.name} stopped during its refit; the same `specc sweep` "
                                "command continues it") from None
    refit = dict(study.user_attrs.get(REFIT) or {})
    if refit.get("trial") != best.number:  # it failed before its run existed: another trial's refit is there
        refit = {"trial": best.number}
    if code == 0 and refit.get("status") == "completed":
        return refit
    why = launched.killed_for or f"ended with exit code {code}"
    return {"trial": best.number, "run": refit.get("run"), "run_id": refit.get("run_id"),
            "error": f"the refit {why}{_run_ending(refit.get('run'))} (log: {log})"}


def _wait_within_bounds(launched: "_Launched", workers: Any) -> int:
    """The exit code of a process the driver waits for alone (the refit), killed once past the
    pool's memory bound or time limit (`launched.killed_for` says which)."""
    while (code := launched.process.poll()) is None:
        _kill_past_bounds(launched, workers.options)
        workers.wait(POLL_SECONDS)
    return code


def _run_ending(run: Optional[str]) -> str:
    """`: diverged: the loss became NaN ...`: how a run ended, from its record (or nothing)."""
    from specc.run.records import RECORD, RunRecord

    if not run or not (Path(run) / RECORD).is_file():
        return ""
    data = RunRecord.open(run).read()
    message = data.get("message")
    return f": run {data.get('status')}" + (f": {message}" if message else "")


class _Driver:
    def __init__(self, study: Any, storage: Any, settings: Settings, command: list, folder: Path,
                 parallel: int, reporter: Reporter, workers: Any):
        self.study, self.storage, self.settings, self.workers = study, storage, settings, workers
        self.command, self.folder, self.parallel, self.say = command, folder, parallel, reporter.line
        self.running: dict[int, _Launched] = {}
        self.error: Optional[SpeccError] = None
        self.failures = 0
        self.waiting_for: tuple = ()
        self.stale_checked = 0.0

    def run(self) -> None:
        from specc.run.stop_signals import terminate_as_interrupt

        try:
            with terminate_as_interrupt():
                while self._step():
                    self.workers.wait(POLL_SECONDS)
        except KeyboardInterrupt:
            self._stop_trials()
            raise KeyboardInterrupt(f"sweep {self.settings.name} stopped; the same `specc sweep` command "
                                    "continues it (stopped trials resume their runs)") from None
        if self.error is not None:
            raise self.error

    def _step(self) -> bool:
        """One look at the trials: collect the ended, start new ones; False once all ended."""
        self._heartbeats()
        self._reap()
        if self.error is None:
            self._fill()
        trials = self.study.get_trials(deepcopy=False)
        elsewhere = tuple(t.number for t in trials if t.state.name == "RUNNING" and t.number not in self.running)
        if elsewhere:  # the sweep ends only once they end too (another driver's, or a killed driver's)
            self._say_waiting(elsewhere)
        if self.running:
            return True
        if self.error is not None:
            return False
        if elsewhere:
            return True
        return any(t.state.name == "WAITING" for t in trials)

    def _heartbeats(self) -> None:
        """A heartbeat for each trial process of this driver that runs; then trials whose
        process stopped sending heartbeats are failed and queued again."""
        self._bound()
        now = time.monotonic()
        if now - self.stale_checked >= min(self.settings.heartbeat, 5):
            self.stale_checked = now
            for launched in self.running.values():
                if launched.process.poll() is None:
                    self.storage.record_heartbeat(launched.trial_id)
            studies.optuna().storages.fail_stale_trials(self.study)

    def _bound(self) -> None:
        """Kill the process of a trial past the memory bound or the time limit (a warm worker
        with it: the next trial gets a new one); the trial fails, and says why."""
        for launched in self.running.values():
            if launched.process.poll() is None:
                _kill_past_bounds(launched, self.workers.options)

    def _fill(self) -> None:
        while len(self.running) < self.parallel:
            trials = self.study.get_trials(deepcopy=False)
            waiting = any(t.state.name == "WAITING" for t in trials)
            if not waiting and studies.counted(trials) >= self.settings.trials:
                return
            self._launch(self.study.ask())

    def _launch(self, trial: Any) -> None:
        values = studies.suggest(trial, self.settings.params)
        self.storage.record_heartbeat(trial._trial_id)  # a driver killed now leaves a trial that goes stale
        log = self.folder / "logs" / f"trial-{trial.number:04d}.log"
        process = self.workers.start(self.command + ["--trial", str(trial.number)], log)
        self.running[trial.number] = _Launched(trial.number, trial._trial_id, values, process, log)
        retry_of = self.storage.get_trial(trial._trial_id).system_attrs.get(studies.RETRY_OF)
        again = f" (trial {retry_of} again, continuing its run)" if retry_of is not None else ""
        self.say(f"trial {trial.number} started{again}: {_values_text(values)}")

    def _reap(self) -> None:
        for number, launched in list(self.running.items()):
            code = launched.process.poll()
            if code is None:
                continue
            del self.running[number]
            frozen = self.storage.get_trial(launched.trial_id)
            if frozen.state.name == "RUNNING":  # it ended before it could tell Optuna
                self._fail_unreported(launched, code)
                frozen = self.storage.get_trial(launched.trial_id)
            self._ended(launched, frozen, code)

    def _fail_unreported(self, launched: _Launched, code: int) -> None:
        optuna = studies.optuna()
        reason = f"killed by signal {-code}" if code < 0 else f"ended with exit code {code}"
        error = f"the trial {launched.killed_for}" if launched.killed_for else f"the trial process {reason}"
        try:
            self.storage.set_trial_user_attr(launched.trial_id, "error", error)
            # the storage, not study.tell: Optuna's grid sampler would call study.stop() on the
            # last cell, which raises outside study.optimize (the sampler learns nothing from a death)
            self.storage.set_trial_state_values(launched.trial_id, state=optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass

    def _ended(self, launched: _Launched, frozen: Any, code: int) -> None:
        """Report one ended trial; decide whether the sweep goes on."""
        seconds = time.monotonic() - launched.started
        state = frozen.state.name.lower()
        if code == EXIT_INTERRUPTED and state == "fail":
            self.say(f"trial {launched.number} was stopped; it is queued again")
            return
        if code == 0 and state == "fail":
            self.say(f"trial {launched.number} stepped aside: another process took it for dead and queued it "
                     f"again (log: {launched.log})")
            return
        if state == "fail":
            message = frozen.user_attrs.get("error") or "failed"
            self.say(f"trial {launched.number} failed in {seconds_text(seconds)}: {message} (log: {launched.log})")
            self._after_failure(launched, code, message)
            return
        self.failures = 0
        value = frozen.value if state == "complete" else best_intermediate(frozen, self.settings.direction)
        shown = f"{self.settings.metric} {value:.4g}" if value is not None else "no value"
        epochs = frozen.user_attrs.get("epochs")
        at = f" after epoch {epochs}" if state == "pruned" and epochs else ""
        self.say(f"trial {launched.number} {'completed' if state == 'complete' else state}{at} in "
                 f"{seconds_text(seconds)}: {shown}  ({_values_text(launched.values)})  {self._progress()}")

    def _after_failure(self, launched: _Launched, code: int, message: str) -> None:
        where = f"trial {launched.number}: {message}"
        hint = f"its log: {launched.log}"
        if code == EXIT_USAGE:
            self.error = UsageError(where, hint)
        elif code == EXIT_DATA:
            self.error = DataError(where, hint)
        elif code != EXIT_TRAINING and not launched.killed_for:  # diverging, or too big: a result of its values
            self.failures += 1
            if self.failures >= STOP_AFTER_FAILURES:
                self.error = TrainingError(f"{self.failures} trials in a row failed; the last, {where}", hint)
        if self.error is not None:
            running = ", ".join(str(n) for n in self.running)
            self.say("the sweep stops" + (f" once trial(s) {running} end" if running else ""))

    def _progress(self) -> str:
        """`4/12 done, best 0.0412 (trial 1), about 1m10s left`."""
        trials = self.study.get_trials(deepcopy=False)
        retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
        ended = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")
                 or (t.state.name == "FAIL" and t.number not in retried)]
        text = f"{len(ended)}/{self.settings.trials} done"
        best = best_trial(trials, self.settings.direction)
        if best is not None:
            text += f", best {best.value:.4g} (trial {best.number})"
        durations = [(t.datetime_complete - t.datetime_start).total_seconds() for t in ended
                     if t.datetime_complete and t.datetime_start]
        left = self.settings.trials - len(ended)
        if durations and left > 0:
            text += f", about {seconds_text(sum(durations) / len(durations) * math.ceil(left / self.parallel))} left"
        return text

    def _say_waiting(self, numbers: tuple) -> None:
        if numbers != self.waiting_for:
            self.waiting_for = numbers
            self.say(f"waiting for trial(s) {', '.join(map(str, numbers))}, running in another process "
                     f"(one whose process died is run again once silent for {self.settings.grace_period} s)")

    def _stop_trials(self) -> None:
        """SIGTERM to each trial process (a trial stops as on Ctrl-C: its run keeps its last
        epoch, and the trial is queued again); a process that does not end in time is killed."""
        if not self.running:
            return
        self.say(f"stopping trial(s) {', '.join(map(str, self.running))}")
        stop_processes([launched.process for launched in self.running.values()])
        self.running.clear()


def _kill_past_bounds(launched: _Launched, options: PoolOptions) -> None:
    """Kill a running trial's (or the refit's) process once past the memory bound or the time
    limit; `launched.killed_for` says why."""
    if launched.killed_for is None:
        launched.killed_for = _past_bounds(launched, options)
        if launched.killed_for:
            launched.process.kill()


def _past_bounds(launched: _Launched, options: PoolOptions) -> Optional[str]:
    """Why the trial's process is to be killed: its memory or its time; None: neither."""
    bound = options.max_worker_mb
    used = rss_mb(launched.process.pid) if bound else None
    if bound and used is not None and used > bound:
        return f"used {used} MB in its process, past the bound of {bound} MB (--max-worker-mb), and was killed"
    since = getattr(launched.process, "started", launched.started)  # a warm worker's: once it began the trial
    if options.trial_timeout and since is not None and time.monotonic() - since > options.trial_timeout:
        return f"ran past the time limit of {options.trial_timeout:g} s (--trial-timeout), and was killed"
    return None


def _values_text(values: dict) -> str:
    return "  ".join(f"{path}={_short(value)}" for path, value in values.items())


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

