"""Evaluate a model on the splits of a run: the paradigm says how a split is fed and which
figures it has (specc/paradigms/base.py `Paradigm.evaluate`)."""
from __future__ import annotations

from typing import Any, Optional


def evaluate_splits(paradigm: Any, model: Any, splits: Any, context: Optional[Any] = None) -> dict:
    """Final figures per split: {"train": {"loss": ..., "accuracy": ..., "baseline_accuracy": ...}, ...}."""
    return {name: evaluate_table(paradigm, model, table, context) for name, table in splits.items()}


def evaluate_table(paradigm: Any, model: Any, table: Any, context: Optional[Any] = None) -> dict:
    from specc.paradigms.base import Context

    return paradigm.evaluate(model, table, context or Context(resolved={}))
