"""What a sweep found: one row per trial, the best trial, trials.csv and sweep.json in the
sweep's folder, and the plots."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from specc.report import Reporter
from specc.run.records import atomic_write_json, atomic_write_text
from specc.sweep import study as studies
from specc.sweep.settings import Settings

TABLE = "trials.csv"
SUMMARY = "sweep.json"


@dataclass
class TrialRow:
    """One trial of the table. A trial whose process died and that was run again is shown as
    the trial that ran it again (`retry_of` names the first)."""

    number: int
    state: str                      # complete, pruned, failed, running, waiting
    values: dict                    # {path: sampled value}
    value: Optional[float]          # the best epoch's metric (pruned: the best before it stopped)
    epochs: Optional[int]
    seconds: Optional[float]
    run_id: Optional[str]
    run: Optional[str]              # the run folder
    retry_of: Optional[int] = None
    error: Optional[str] = None
    fold_values: Optional[list] = None  # with folds: each fold's best metric (value is their mean)
    runs: Optional[list] = None         # with folds: each fold's run folder (run is None)


@dataclass
class SweepOutcome:
    """The end of `specc sweep`: the table, the best trial, the files written."""

    settings: Settings
    folder: Path
    storage: str
    rows: list
    best: Optional[TrialRow]
    seconds: float                  # this command's wall time
    plots: dict = field(default_factory=dict)          # file name -> path
    plots_skipped: dict = field(default_factory=dict)  # file name -> why it was not drawn
    refit: Optional[dict] = None    # with folds: the best values' run on the spec's own split


STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
          "WAITING": "waiting"}


def finish_sweep(study: Any, settings: Settings, folder: Path, storage: str, seconds: float,
                 reporter: Reporter, refit: Optional[dict] = None) -> SweepOutcome:
    """The table and best trial of the study; trials.csv, sweep.json and the plots written."""
    from specc.sweep.plots import draw_plots

    trials = study.get_trials(deepcopy=False)
    rows = trial_rows(trials, settings)
    best = best_trial(trials, settings.direction)
    outcome = SweepOutcome(settings, folder, storage, rows,
                           next((r for r in rows if best is not None and r.number == best.number), None), seconds,
                           refit=refit)
    outcome.plots, outcome.plots_skipped = draw_plots(study, settings, folder)
    atomic_write_text(folder / TABLE, table_csv(rows, settings))
    atomic_write_json(folder / SUMMARY, summary(outcome))
    return outcome


def trial_rows(trials: list, settings: Settings) -> list[TrialRow]:
    """A row per trial, in trial order, less the dead trials that were run again."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    rows = []
    for t in trials:
        if t.number in retried:
            continue
        state = STATES.get(t.state.name, t.state.name.lower())
        value = t.value if state == "complete" else best_intermediate(t, settings.direction)
        seconds = ((t.datetime_complete - t.datetime_start).total_seconds()
                   if t.datetime_complete and t.datetime_start else None)
        rows.append(TrialRow(t.number, state, studies.values_of(t, settings.params), value,
                             t.user_attrs.get("epochs"), seconds, t.user_attrs.get("run_id"),
                             t.user_attrs.get("run"), t.system_attrs.get(studies.RETRY_OF),
                             t.user_attrs.get("error") if state == "failed" else None,
                             t.user_attrs.get("fold_values"), t.user_attrs.get("runs")))
    return rows


def best_trial(trials: list, direction: str) -> Any:
    """The completed trial with the best value (the first of equals), or None."""
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    if not complete:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    return min(complete, key=lambda t: (sign * t.value, t.number))


def best_intermediate(trial: Any, direction: str) -> Optional[float]:
    """The best per-epoch value a trial reported (what a pruned trial reached)."""
    values = [v for v in trial.intermediate_values.values() if v is not None and math.isfinite(v)]
    if not values:
        return None
    return max(values) if direction == "maximize" else min(values)


def table_csv(rows: list, settings: Settings) -> str:
    """trials.csv: trial, state, one column per parameter, the metric, epochs, seconds, run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    paths = [p.path for p in settings.params]
    folds = [f"{settings.metric} fold {k}" for k in range(settings.folds or 0)]
    writer.writerow(["trial", "state", *paths, settings.metric, *folds, "epochs", "seconds", "run_id", "retry_of",
                     "error"])
    for row in rows:
        by_fold = list(row.fold_values or [])[:len(folds)]
        by_fold += [None] * (len(folds) - len(by_fold))
        writer.writerow([row.number, row.state, *[row.values.get(p, "") for p in paths], _cell(row.value),
                         *[_cell(v) for v in by_fold],
                         _cell(row.epochs), _cell(None if row.seconds is None else round(row.seconds, 1)),
                         _cell(row.run_id), _cell(row.retry_of), _cell(row.error)])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


def summary(outcome: SweepOutcome) -> dict:
    """sweep.json: the settings, the best trial, the count of trials by state, the files."""
    settings = outcome.settings
    counts: dict = {}
    for row in outcome.rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return {
        "name": settings.name,
        "storage": outcome.storage,
        "metric": settings.metric,
        "direction": settings.direction,
        "sampler": settings.sampler,
        "trials": settings.trials,
        "folds": settings.folds,
        "states": counts,
        "best": asdict(outcome.best) if outcome.best else None,
        "refit": outcome.refit,
        "table": TABLE,
        "plots": sorted(outcome.plots),
        "plots_skipped": outcome.plots_skipped,
    }


def seconds_text(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
