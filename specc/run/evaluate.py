"""Evaluate a model on the splits of a run, and predict for new inputs."""
from __future__ import annotations

from specc.run.feed import eval_dataset


def evaluate_splits(model, splits) -> dict:
    """Final metrics per split: {"train": {"loss": ..., "accuracy": ...}, ...}."""
    return {name: evaluate_table(model, table) for name, table in splits.items()}


def evaluate_table(model, table) -> dict:
    values = model.evaluate(eval_dataset(table, model), verbose=0, return_dict=True)
    return {k: float(v) for k, v in values.items()}
