"""Evaluate a model on the splits of a run (the paradigm says how a split is fed)."""
from __future__ import annotations

from typing import Any


def evaluate_splits(paradigm: Any, model: Any, splits: Any) -> dict:
    """Final metrics per split: {"train": {"loss": ..., "accuracy": ...}, ...}."""
    return {name: evaluate_table(paradigm, model, table) for name, table in splits.items()}


def evaluate_table(paradigm: Any, model: Any, table: Any) -> dict:
    values = model.evaluate(paradigm.evaluation_data(model, table), verbose=0, return_dict=True)
    return {k: float(v) for k, v in values.items()}
