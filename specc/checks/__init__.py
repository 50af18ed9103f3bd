"""Semantic checks: what the JSON Schema cannot say.

Each check reads the (schema-valid) sections it needs and returns problems; a check whose
sections already failed the schema is skipped, so checks never trip over malformed data.
No TensorFlow here.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from specc.checks.model import check_blocks, check_graphs, check_layer_items, check_model_form
from specc.checks.settings import check_batch, check_data, check_device, check_export, check_train
from specc.checks.task import check_head_and_loss, check_names, check_task
from specc.errors import Problem

Check = Callable[[Any], list]
REQUIRED = {"data", "task", "model"}

CHECKS: list[tuple[tuple, Check]] = [
    (("model", "task"), check_model_form),
    (("model",), check_layer_items),
    (("model",), check_graphs),
    (("model",), check_blocks),
    (("task",), check_task),
    (("task", "model", "loss", "metrics"), check_head_and_loss),
    (("loss", "metrics", "optimizer", "schedule"), check_names),
    (("batch",), check_batch),
    (("device",), check_device),
    (("export", "model"), check_export),
    (("train",), check_train),
    (("data", "task"), check_data),
]


def semantic_problems(doc, skip: Iterable[str] = ()) -> list[Problem]:
    """Run every check whose sections are present and passed the schema."""
    skip = set(skip)
    problems: list[Problem] = []
    for sections, check in CHECKS:
        needed = set(sections) & REQUIRED
        if skip & set(sections) or not (needed | {sections[0]}) <= set(doc.data):
            continue
        problems += check(doc)
    return problems
