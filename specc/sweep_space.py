"""A sweep's search space as plain data: its parameters, the values validation tries, the grid,
and the `--set` override of a sampled value. No TensorFlow, no Optuna (`specc validate` reads it).

    sweep:
      space:
        optimizer.adam.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}
        model.layers[2].dense.units: {choice: [32, 64, 128]}
        train.epochs: {int: [10, 40], step: 10}

A key is a `--set` path; a value is one form: `choice` (a list of values), `uniform` /
`log_uniform` (a float range), `int` / `log_int` (an integer range, ends included), with an
optional `step` for `uniform` and `int`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Optional

FORMS = ("choice", "uniform", "log_uniform", "int", "log_int")
RANGES = FORMS[1:]
INTEGER_FORMS = ("int", "log_int")
STEPPED = ("uniform", "int")
SAMPLERS = ("tpe", "random", "grid")
MAX_GRID = 100_000  # points of a grid sweep: more is a typo, not a plan
# sections a trial may not change: they say which spec and which sweep it is
FIXED_SECTIONS = ("specc", "name", "extends", "sweep")
CROSS_VALIDATION = "data.split.cross_validation"  # what `sweep.folds` sets, a fold per run


@dataclass(frozen=True)
class Parameter:
    """One searched setting: its `--set` path, its form and its values.

    `values` is the list of choices, or the two ends of a range.
    """

    path: str
    form: str
    values: tuple
    step: Optional[float] = None

    @property
    def is_range(self) -> bool:
        return self.form in RANGES

    @property
    def is_integer(self) -> bool:
        return self.form in INTEGER_FORMS

    @property
    def is_log(self) -> bool:
        return self.form.startswith("log_")

    def tried(self) -> list[tuple[int, Any]]:
        """(index in the form's list, value): the values validation checks before any trial
        runs: both ends of a range, every choice."""
        return list(enumerate(self.values))

    def grid(self) -> Optional[list]:
        """Every value of the parameter, or None when it has no finite set (a float range
        without a step, a log range)."""
        if self.form == "choice":
            return list(self.values)
        if self.is_log or (self.form == "uniform" and self.step is None):
            return None
        low, high = self.values
        step = self.step or 1
        count = int(math.floor((high - low) / step + 1e-9)) + 1
        if self.is_integer:
            return [int(low + i * step) for i in range(count)]
        return [round(low + i * step, 12) for i in range(count)]


def parameters(section: dict) -> list[Parameter]:
    """The parameters of a valid `sweep:` section, in the order written."""
    out = []
    for path, entry in (section.get("space") or {}).items():
        form = next(f for f in FORMS if f in entry)
        out.append(Parameter(str(path), form, tuple(entry[form]), entry.get("step")))
    return out


def grid_size(params: list[Parameter]) -> Optional[int]:
    """How many points the grid of these parameters has (None: one of them has no grid)."""
    size = 1
    for param in params:
        values = param.grid()
        if values is None:
            return None
        size *= len(values)
    return size


def override(path: str, value: Any) -> str:
    """The `--set` text of one sampled value: `model.layers[0].dense.units=64` (JSON is YAML,
    so the value reads back as it was: 1e-05 a float, "relu" a string, [1, 2] a list)."""
    return f"{path}={json.dumps(value)}"


def higher_is_better(metric: str) -> bool:
    """Keras's rule for `mode: auto`: accuracy, AUC, precision and recall grow; the rest shrink."""
    name = metric.removeprefix("val_")
    return any(word in name for word in ("accuracy", "auc", "precision", "recall"))


def direction_of(metric: str, direction: str = "auto") -> str:
    """`minimize` or `maximize`: the section's own, or (auto) the metric's."""
    if direction != "auto":
        return direction
    return "maximize" if higher_is_better(metric) else "minimize"


def show_value(value: Any) -> str:
    """A value as the space writes it (JSON: 0.0001, "relu", [1, 2])."""
    return json.dumps(value)


# --- the resolved section ------------------------------------------------------------------------

DEFAULT_TRIALS = 20
DEFAULT_HEARTBEAT = 10  # seconds; a trial silent for three times as long is taken as dead
DEFAULT_STARTUP_TRIALS = 5


def resolve_section(section: dict, name: str, train: dict) -> dict:
    """The sweep section with its defaults filled in (`train` is the resolved train section)."""
    metric = section.get("metric") or train["checkpoints"]["monitor"]
    sampler = section.get("sampler", "tpe")
    trials = section.get("trials")
    if trials is None:
        trials = grid_size(parameters(section)) if sampler == "grid" else DEFAULT_TRIALS
    return {
        "name": section.get("name", name),
        "metric": metric,
        "direction": direction_of(metric, section.get("direction", "auto")),
        "sampler": sampler,
        "trials": trials,
        "pruning": _pruning(section.get("pruning", True), train["epochs"]),
        "storage": section.get("storage"),
        "heartbeat": section.get("heartbeat", DEFAULT_HEARTBEAT),
        "space": {path: dict(entry) for path, entry in section["space"].items()},
        **_folds(section),
    }


def _folds(section: dict) -> dict:
    """With folds: {folds: K, refit: true unless said otherwise}; without: nothing."""
    if not section.get("folds"):
        return {}
    return {"folds": section["folds"], "refit": bool(section.get("refit", True))}


def _pruning(given: Any, epochs: int) -> Any:
    """False, or the median rule's settings (a third of training is never pruned by default)."""
    if given is False:
        return False
    given = given if isinstance(given, dict) else {}
    return {"startup_trials": given.get("startup_trials", DEFAULT_STARTUP_TRIALS),
            "warmup_epochs": given.get("warmup_epochs", epochs // 3)}
