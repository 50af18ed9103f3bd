"""The Keras callback of a sweep's trial: each epoch's metric goes to Optuna (the pruner's
evidence), and a trial the pruner gives up on stops at the end of that epoch.

Imported only inside the trial process (it imports Keras).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import keras

from specc.errors import UsageError
from specc.sweep import study as studies


class ReportEpochs(keras.callbacks.Callback):
    """`trial.report(value, epoch)` after every epoch; `stop_training` when the trial is pruned.
    With `report` false (a trial's later folds) the metric is only checked to be there.

    Runs after specc's own callbacks, so the epoch is already in the record and checkpoints.
    """

    def __init__(self, trial: Any, metric: str, prune: bool, report: bool = True, warmup_epochs: int = 0):
        super().__init__()
        self.trial, self.metric, self.prune, self.report = trial, metric, prune, report
        self.warmup_epochs = warmup_epochs  # the pruner keeps every trial before this epoch: not asked
        self.pruned_at: Optional[int] = None  # the 1-based epoch the trial was pruned after

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        if self.metric not in logs:
            raise UsageError(f"the sweep's metric {self.metric} is not among the metrics of an epoch "
                             f"({', '.join(sorted(logs))})", "set sweep.metric to one of them")
        value = float(logs[self.metric])
        if not math.isfinite(value) or not self.report:
            return  # a NaN loss ends the run as diverged by itself; a later fold is not reported
        try:
            self.trial.report(value, epoch)
        except studies.optuna().exceptions.UpdateFinishedTrialError:
            # another process took the trial for dead and queued it again: the run stops as on a
            # stop signal (this epoch is saved) and the trial queued in its place continues it
            raise KeyboardInterrupt from None
        if self.prune and epoch >= self.warmup_epochs and self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True
