"""`specc sweep`: a hyperparameter search over a spec's `sweep:` section (Optuna); and the hidden
`specc sweep-trial`, the process of one trial. Optuna and TensorFlow are imported inside."""
from __future__ import annotations

import signal
from typing import Any, Optional

import click

from specc.cli.common import Echo, load_checked, reporter, spec_options
from specc.cli.group import main
from specc.cli.runs_commands import columns
from specc.errors import TrainingError

RUNS_DIR_HELP = "Where run records and the sweep's folder go (default: the spec's train.runs_dir, runs/)."


@main.command()
@click.argument("file")
@spec_options
@click.option("--trials", type=click.IntRange(min=1), metavar="N",
              help="How many trials the study holds in the end, across restarts and processes "
                   "(default: the spec's sweep.trials).")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True, metavar="K",
              help="Trials at once on this machine.")
@click.option("--process-per-trial", is_flag=True,
              help="Start a new process for each trial, instead of K warm workers that import TensorFlow "
                   "once and run trial after trial, each in a fresh Keras state.")
@click.option("--max-worker-mb", type=click.IntRange(min=1), metavar="MB",
              help="A trial (or the refit) whose process passes this resident memory is killed and fails; "
                   "its worker is replaced.")
@click.option("--trial-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="A trial (or the refit) running longer is killed and fails (its worker is replaced).")
@click.option("--recycle-after", type=click.IntRange(min=1), metavar="N",
              help="Replace a warm worker after N trials.")
@click.option("--recycle-growth", type=click.IntRange(min=1), metavar="MB",
              help="Replace a warm worker once its memory grew MB past its start.")
@click.option("--runs-dir", help=RUNS_DIR_HELP)
@click.option("--quiet", "-q", is_flag=True, help="Print only the best trial and the table at the end.")
def sweep(file: str, overrides: tuple, trials: Optional[int], parallel: int, process_per_trial: bool,
          max_worker_mb: Optional[int], trial_timeout: Optional[float], recycle_after: Optional[int],
          recycle_growth: Optional[int], runs_dir: Optional[str], quiet: bool) -> None:
    """Search the hyperparameters of a spec's sweep: section; each trial is a run.

    \b
    The study lives in a database (default: runs/<name>/sweeps/<sweep name>/study.db): the
    same command continues an interrupted sweep, and several processes or machines given the
    same storage work on one study. At the end: the best trial, the table of trials
    (trials.csv) and plots (history.png, importances.png, intermediate.png) in the sweep's folder.
    """
    from specc.api import resolved_spec
    from specc.sweep.driver import run_sweep
    from specc.sweep.workers import PoolOptions

    doc = load_checked(file, overrides)  # the space is checked before any trial runs
    pool = PoolOptions("process" if process_per_trial else "warm", max_worker_mb, recycle_after, recycle_growth, trial_timeout)
    outcome = run_sweep(resolved_spec(doc), file, overrides, runs_dir=runs_dir, trials=trials,
                        parallel=parallel, reporter=reporter(quiet), pool=pool)
    for line in outcome_lines(outcome):
        click.echo(line)
    if outcome.refit and outcome.refit.get("error"):
        raise TrainingError(f"the refit of trial {outcome.refit['trial']} failed: {outcome.refit['error']}",
                            "the trials are kept: the same `specc sweep` command tries the refit again")


def outcome_lines(outcome: Any) -> list[str]:
    """The best trial, the table, and where the files are."""
    from specc.sweep.results import seconds_text

    settings = outcome.settings
    lines = [""]
    best = outcome.best
    if best is None:
        lines.append(f"no trial completed ({len(outcome.rows)} in the study)")
    else:
        values = "  ".join(f"{k}={_number(v)}" for k, v in best.values.items())
        lines.append(f"best: trial {best.number}, {settings.metric} {_number(best.value)}: {values}")
        if settings.folds:
            folds = ", ".join(str(_number(v)) for v in best.fold_values or [])
            lines.append(f"      the mean of {settings.folds} folds ({folds}); runs {best.run_id}")
        else:
            lines.append(f"      run {best.run_id}: {best.run}")
    lines += _refit_lines(outcome.refit, settings.metric)
    header = ["TRIAL", "STATE", *[p.path for p in settings.params], settings.metric.upper(), "EPOCHS", "TIME", "RUN"]
    rows = [[r.number, r.state + (f" (retry of {r.retry_of})" if r.retry_of is not None else ""),
             *[_number(r.values.get(p.path)) for p in settings.params], _number(r.value), r.epochs,
             seconds_text(r.seconds) if r.seconds is not None else None, _runs_text(r.run_id)] for r in outcome.rows]
    lines += [""] + columns(rows, header) + [""]
    files = ", ".join(["trials.csv", "sweep.json", *sorted(outcome.plots)])
    lines.append(f"sweep folder: {outcome.folder}/ ({files})")
    for name, why in outcome.plots_skipped.items():
        lines.append(f"  {name} not drawn: {why}")
    lines.append(f"this command ran {seconds_text(outcome.seconds)}")
    return lines


def _refit_lines(refit: Optional[dict], metric: str) -> list[str]:
    """What the refit of the best values on the spec's own split gave (with folds)."""
    if not refit:
        return []
    if refit.get("error"):
        return [f"refit of trial {refit['trial']}: {refit['error']}"]
    value = f", {metric} {_number(refit['value'])}" if refit.get("value") is not None else ""
    return [f"refit: trial {refit['trial']}'s values on the spec's own split{value}",
            f"      run {refit['run_id']}: {refit['run']}  (specc evaluate {refit['run']})"]


def _runs_text(run_ids: Optional[str]) -> Optional[str]:
    """A trial's run id; with folds, the first fold's and how many more."""
    ids = (run_ids or "").split()
    return None if not ids else ids[0] + (f" +{len(ids) - 1}" if len(ids) > 1 else "")


def _number(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value


@main.command("sweep-trial", hidden=True)
@click.argument("file")
@spec_options
@click.option("--trial", "number", type=int, required=True)
@click.option("--runs-dir", required=True)
@click.option("--refit", is_flag=True, help="Train the trial's values on the spec's own split (sweep.folds).")
def sweep_trial(file: str, overrides: tuple, number: int, runs_dir: str, refit: bool) -> None:
    """One trial of a sweep, as `specc sweep` starts it (its output goes to the trial's log)."""
    from specc.sweep.trial import run_refit, run_trial

    # Ctrl-C at the terminal reaches the driver too, which stops each trial once, with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if refit:
        ended = run_refit(file, overrides, number, runs_dir, reporter=Echo())
        click.echo(f"refit of trial {number}: {ended['status']} ({ended['run']})")
        return
    result = run_trial(file, overrides, number, runs_dir, reporter=Echo())
    value = f", {_number(result.value)}" if result.value is not None else ""
    click.echo(f"trial {number}: {result.state}{value}" + (f" ({result.run})" if result.run else ""))
