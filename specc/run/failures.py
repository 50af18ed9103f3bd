"""How a training that failed is told: a shape mismatch Keras found in a step (exit 4, not an
internal error), a data error placed in the spec, the run named on an unexpected error."""
from __future__ import annotations

import re
from typing import Callable, Optional

from specc.errors import DataError, TrainingError
from specc.run.records import RunRecord

# What Keras and TensorFlow say when labels, outputs, the loss or a metric disagree in shape
# (found only when the first step runs; validation catches the cases it knows of first).
SHAPE_MISMATCH = re.compile(r"must have the same rank|must have rank|Dimensions must be equal|expects \d+D inputs|"
                            r"Shape must be rank|[Ii]ncompatible shapes|must have the same shape|are incompatible|"
                            r"outside the valid range")


def shape_mismatch(error: BaseException) -> Optional[TrainingError]:
    """A training step Keras refused because labels and outputs do not fit, as a TrainingError
    (exit 4) rather than an internal error; None for any other error."""
    from specc.compile.shapes import clean_message

    if type(error).__name__ not in ("ValueError", "InvalidArgumentError") or not SHAPE_MISMATCH.search(str(error)):
        return None
    return TrainingError(f"the labels do not fit the model's output, its loss or a metric: {clean_message(error)}",
                         "check task: (classes, encoding, targets), loss: and metrics: against the task table "
                         "(docs/guides/classifiers.md); the run is recorded as failed")


def finish_if_possible(record: RunRecord, message: str) -> None:
    """Mark the run failed; on a full disk even record.json may not be writable, and then the
    dead lock holder is what tells (`specc runs list` shows the run as `running?`)."""
    try:
        record.finish("failed", message)
    except OSError:
        pass


def placed(error: DataError, resolved: dict, where: Optional[Callable]) -> DataError:
    """The error with the place in the spec it disagrees with (a model input), as validation
    would give it: `spec.yaml:9:15: error: ...`."""
    if where is None or not error.spec_path:
        return error
    path = tuple(error.spec_path)
    model = resolved.get("model") or {}
    if path[:2] == ("model", "inputs") and "inputs" not in model:
        part = next((p for p in model if isinstance(model[p], dict) and path[-1] in (model[p].get("inputs") or {})),
                    None)
        path = ("model", part, "inputs", path[-1]) if part else path
    error.position = where(path)
    return error


def tag_run(error: BaseException, run_id: str) -> None:
    """Name the run on an unexpected error, so its crash log says which run it was."""
    try:
        error.specc_run_id = run_id  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without a __dict__
        pass
