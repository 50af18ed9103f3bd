"""Train a trees spec (`model: {trees: ...}`) in a run folder: the same record, splits,
fingerprint, statuses and final figures as a network's run (run/train.py hands over here once
the data is prepared); only the model is a booster, boosted round by round.

Checkpoints: `checkpoints/last.ubj` (every round boosted so far, with their history inside:
one file, one atomic rename) is written every `train.checkpoints.every_seconds`, at Ctrl-C and
at the end; `checkpoints/best.ubj` holds the rounds early stopping kept. A resumed run loads
last.ubj and boosts on, round numbers continuing, to the same booster as an uninterrupted run
(rows and columns not sampled: XGBoost does not save its random state, dmlc/xgboost#10324, so
with `subsample` or `colsample_bytree` below 1 a resumed run samples other rows).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from specc.errors import DataError
from specc.run.data import Prepared
from specc.run.records import RunRecord, atomic_write_bytes

LAST = "last.ubj"
BEST = "best.ubj"
IMPORTANCES = "importances.png"


@dataclass
class Booster:
    """A booster ready to boost: what comes before the first round."""

    model: Any          # paradigms.trees.TreesModel
    dtrain: Any
    dvalid: Any
    progress: Any       # paradigms.trees.Progress
    params: dict


def build(resolved: dict, prepared: Prepared, checkpoint: Optional[Path] = None) -> Booster:
    """The training matrices and a new booster, or (resuming) the one of `checkpoint`.

    Raises:
        DataError: The data cannot be read as XGBoost's matrix.
    """
    import xgboost as xgb

    from specc.paradigms import declaration_of
    from specc.paradigms.trees import PLAN, STATE, Plan, Progress, TreesModel, dmatrix, params

    splits, task = prepared.splits, resolved["task"]
    declared = declaration_of(resolved)
    plan = Plan.of(splits.train)
    try:
        dtrain = dmatrix(plan, splits.train, task)
        dvalid = dmatrix(plan, splits.validation, task) if splits.validation is not None else None
    except (ValueError, xgb.core.XGBoostError) as exc:
        raise DataError(f"{splits.train.origin}: XGBoost cannot read the data: {exc}".split("\n")[0]) from None
    classes = len(splits.train.class_names) if splits.train.class_names else None
    settings = params(declared, resolved, classes)
    booster = xgb.Booster(settings, [dtrain] + ([dvalid] if dvalid is not None else []))
    progress = Progress()
    if checkpoint is not None and checkpoint.exists():
        booster.load_model(str(checkpoint))
        booster.set_param(settings)  # a loaded booster must be configured as the first was
        progress = Progress.replayed(json.loads(booster.attr(STATE) or "[]"))
    booster.set_attr(**{PLAN: plan.to_json()})
    return Booster(TreesModel(booster, plan), dtrain, dvalid, progress, settings)


class Checkpoints:
    """Writes last.ubj (and the history rows) every `every_seconds`; `save` at any moment."""

    def __init__(self, record: RunRecord, model: Any, every_seconds: float, total: int, reporter: Any):
        self.record, self.model, self.every = record, model, float(every_seconds)
        self.total, self.say = total, reporter.line
        self.saved_at = time.monotonic()
        self.saved_rounds = 0
        self.step = max(1, total // 20)

    def after_round(self, progress: Any) -> None:
        if progress.rounds % self.step == 0 or progress.rounds == self.total:
            self.say(_progress_line(progress, self.total))
        if time.monotonic() - self.saved_at >= self.every:
            self.save(progress)

    def save(self, progress: Any) -> None:
        """last.ubj with the rounds of the history (a Ctrl-C between a round's update and its
        row leaves the booster a round ahead: that round is cut off), then the history."""
        from specc.paradigms.trees import STATE

        rounds = progress.rounds
        if rounds == self.saved_rounds:
            return
        booster = self.model.booster
        if booster.num_boosted_rounds() != rounds:
            booster = booster[:rounds]
        booster.set_attr(**{STATE: json.dumps(progress.history)})
        atomic_write_bytes(self.record.checkpoint_dir / LAST, bytes(booster.save_raw("ubj")))
        self.record.append_epochs([(row["epoch"], _logs(row)) for row in progress.history[self.saved_rounds:]])
        self.saved_rounds, self.saved_at = rounds, time.monotonic()


def _logs(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "epoch"}


def _progress_line(progress: Any, total: int) -> str:
    row = progress.history[-1]
    text = f"round {progress.rounds}/{total}: loss {row['loss']:.4f}"
    if "val_loss" in row:
        text += f", val_loss {row['val_loss']:.4f} (best round {progress.best_round})"
    return text


def boost_in_record(resolved: dict, prepared: Prepared, record: RunRecord, built: Booster, options: Any) -> Any:
    """Boost, checkpointing as it goes, then the final figures: the `_train_in_record` of trees."""
    import xgboost as xgb

    from specc.paradigms.trees import boost

    trees = resolved["model"]["trees"]
    say = options.reporter.line
    say(f"run {record.run_id}: {record.path}")
    say(f"model: gradient-boosted trees (XGBoost {xgb.__version__}, {built.params['objective']}), "
        f"{trees['rounds']} rounds at most" + (f", early stopping after {trees['early_stopping_rounds']}"
                                                if trees["early_stopping_rounds"] else ""))
    record.update(device={"target": "cpu", "strategy": "xgboost", "precision": "float32", "jit": False,
                          "threads": built.params["nthread"]})
    if built.progress.rounds:
        say(f"resuming after round {built.progress.rounds}")
    checkpoints = Checkpoints(record, built.model, resolved["train"]["checkpoints"]["every_seconds"],
                              trees["rounds"], options.reporter)
    if built.progress.rounds:  # the history as the checkpoint holds it (rows past it were never kept)
        record.clear_history()
        checkpoints.save(built.progress)
    first = built.progress.rounds
    started = time.perf_counter()
    try:
        progress = boost(built.model.booster, built.dtrain, built.dvalid, trees["rounds"],
                         trees["early_stopping_rounds"], built.progress, checkpoints.after_round)
    except KeyboardInterrupt:
        checkpoints.save(built.progress)
        raise
    seconds = time.perf_counter() - started
    checkpoints.save(progress)
    return _finish(resolved, prepared, record, built, progress, seconds, first)


def _finish(resolved: dict, prepared: Prepared, record: RunRecord, built: Booster, progress: Any,
            seconds: float, first: int) -> Any:
    """The kept booster (best.ubj), every split's figures, importances, the record completed."""
    from specc.paradigms.base import Context
    from specc.paradigms import paradigm_of
    from specc.paradigms.trees import STATE
    from specc.run.evaluate import evaluate_splits
    from specc.run.finish import baseline_warnings, class_warnings
    from specc.run.train import Outcome

    record.start_curves()
    model = built.model
    model.best_round = progress.best_round
    kept = model.kept()
    kept.set_attr(**{STATE: json.dumps(progress.history[: progress.best_round or progress.rounds])})
    atomic_write_bytes(record.checkpoint_dir / BEST, bytes(kept.save_raw("ubj")))
    splits = prepared.splits
    metrics = evaluate_splits(paradigm_of(resolved), model, splits, Context(resolved, train=splits.train,
                                                                validation=splits.validation))
    record.write_metrics(metrics)
    samples = len(splits.train) * max(0, progress.rounds - first)
    record.update(epochs_completed=progress.rounds, train_seconds=round(seconds, 3),
                  samples_per_second=round(samples / seconds, 1) if seconds else None,
                  best={"epoch": progress.best_round or progress.rounds,
                        "monitor": "val_loss" if progress.best_round else "last round", "value": progress.best},
                  checkpoints={"best": f"checkpoints/{BEST}", "last": f"checkpoints/{LAST}"},
                  trees={"rounds": progress.rounds, "kept_rounds": progress.best_round or progress.rounds,
                         "importances": model.importances()})
    _plot_importances(record, model.importances())
    warnings = class_warnings(splits.train) + baseline_warnings(metrics)
    if warnings:
        record.update(warnings=warnings)
    record.finish("completed")
    kept_epoch = progress.best_round if progress.best_round and progress.best_round < progress.rounds else None
    return Outcome(record, metrics, seconds, samples / seconds if seconds else 0.0, progress.rounds,
                   kept_epoch=kept_epoch, unit="round")



def _plot_importances(record: RunRecord, importances: dict) -> None:
    """importances.png beside curves.png (a plot is not worth failing a finished run for)."""
    from specc.run.records.plots import plot_importances

    try:
        plot_importances(importances, record.path / IMPORTANCES)
    except Exception as exc:  # noqa: BLE001
        record.update(curves_error=f"importances.png: {type(exc).__name__}: {exc}")
