"""Gradient-boosted trees (`model: {trees: ...}`): validate, train, resume, evaluate, predict,
export and the verdict, on tiny data and few rounds.

Validation of the hyperparameters (types, ranges, choices, did-you-mean) is in the golden
cases tests/cases/invalid/trees_*.yaml; that validate never imports XGBoost is in
tests/test_cli_validate.py.
"""
from __future__ import annotations

import yaml

from specc.load import parse_text
from specc.load.document import Document
from specc.registries import TASK_TYPES
from specc.validate import validate

NEEDS = {"classes": 3, "labels": 3, "latent_dim": 4}  # what each type's required fields take


def _trees_doc(task_type: str) -> Document:
    task = {"type": task_type, **{k: NEEDS[k] for k in TASK_TYPES.get(task_type).required}}
    text = yaml.safe_dump({"specc": 1, "name": "t", "data": {"source": {"builtin": "iris"}},
                           "task": task, "model": {"trees": {"rounds": 3}}})
    data, positions, keys = parse_text(text, "t.yaml")
    return Document(data=data, positions=positions, key_positions=keys, files=["t.yaml"])


def test_task_types_trees_cannot_learn_are_refused_from_the_registry():
    for name in TASK_TYPES:
        messages = [p.message for p in validate(_trees_doc(name))]
        refused = any("trees cannot learn" in m for m in messages)
        assert refused == (TASK_TYPES.get(name).trees is None), (name, messages)
