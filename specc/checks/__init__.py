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
    (("task", "model"), check_head_and_loss),
    (("loss", "metrics", "optimizer", "schedule", "task"), check_names),
    (("batch",), check_batch),
    (("device",), check_device),
    (("export", "model"), check_export),
    (("train",), check_train),
    (("data", "task"), check_data),
]


def semantic_problems(doc, skip: Iterable[str] = (), shaky: Iterable[str] = ()) -> list[Problem]:
    """Run every check whose sections are present and well-formed.

    Args:
        doc: The loaded document.
        skip: Sections whose structure is wrong (a list where a mapping belongs, ...).
        shaky: Sections with other schema errors (unknown keys, bad values); their checks
            still run, so that every problem is reported at once, but one that trips over
            the damage is dropped instead of failing.
    """
    skip, shaky = set(skip), set(shaky)
    problems: list[Problem] = []
    for sections, check in CHECKS:
        needed = set(sections) & REQUIRED
        if skip & set(sections) or not needed <= set(doc.data) or not set(sections) & set(doc.data):
            continue
        try:
            problems += check(doc)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            if not shaky & set(sections):
                raise
    return problems
