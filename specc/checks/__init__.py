"""Semantic checks: what the JSON Schema cannot say.

Each check names the sections it needs (all must be present) and the other sections it
reads when they are there. A check whose needed sections failed the schema structurally is
skipped, so checks never trip over malformed data; one whose sections only have other schema
errors still runs, so that every problem is reported at once. No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from specc.checks.backbones import check_backbones, check_freezing
from specc.checks.paradigm import check_paradigm
from specc.checks.graphs import check_graphs
from specc.checks.model import check_blocks, check_layer_items, check_model_form
from specc.checks.data_fit import check_data_fits
from specc.checks.data_select import check_data_select
from specc.checks.names import check_layer_names
from specc.checks.objects import check_optimizer_args
from specc.checks.paths import check_paths
from specc.checks.plugins import check_plugins
from specc.checks.shapes import check_shapes
from specc.checks.string_inputs import check_string_exports, check_string_inputs
from specc.checks.sweep import check_sweep
from specc.checks.trainable import check_trainable
from specc.checks.settings import check_batch, check_data, check_device, check_export, check_train
from specc.checks.task import (check_head_and_loss, check_metric_labels, check_names, check_task,
                               check_task_outputs)
from specc.errors import Problem

if TYPE_CHECKING:
    from specc.load.document import Document

Check = Callable[[Any], list]

# (sections needed, other sections read, check)
CHECKS: list[tuple[tuple, tuple, Check]] = [
    (("model", "task"), ("data",), check_model_form),
    (("model",), ("data", "plugins"), check_layer_items),
    (("model",), (), check_graphs),
    (("model",), (), check_blocks),
    (("model",), ("data", "task"), check_layer_names),
    (("task",), (), check_task),
    (("task", "model"), ("loss",), check_head_and_loss),
    (("task", "model"), (), check_task_outputs),
    (("task",), ("loss", "metrics", "optimizer", "schedule"), check_names),
    (("task", "metrics"), (), check_metric_labels),
    (("optimizer",), (), check_optimizer_args),
    ((), ("optimizer", "schedule", "model", "data"), check_trainable),
    (("batch",), (), check_batch),
    (("device",), (), check_device),
    (("export",), ("model",), check_export),
    (("train",), ("data",), check_train),
    (("data", "task"), (), check_data),
    (("task",), ("model", "data", "loss", "metrics", "optimizer", "export", "train", "batch", "device"),
     check_paradigm),
    (("model",), ("batch", "task", "data"), check_shapes),
    (("data", "model"), ("task",), check_data_fits),
    (("data", "model"), ("task",), check_string_inputs),
    (("export", "model"), ("task",), check_string_exports),
    (("data",), ("task", "train"), check_data_select),
    ((), ("data", "train", "export", "model", "sweep"), check_paths),
    (("plugins",), (), check_plugins),
    (("model",), ("train",), check_backbones),
    (("train",), ("model", "data", "task", "device"), check_freezing),
    (("sweep",), ("data", "train"), check_sweep),
]


def semantic_problems(doc: Document, skip: Iterable[str] = (), shaky: Iterable[str] = ()) -> list[Problem]:
    """Run every check whose needed sections are present and well-formed.

    Args:
        doc: The loaded document.
        skip: Sections whose structure is wrong (a list where a mapping belongs, ...).
        shaky: Sections with any schema error; a check that reads one of them and trips
            over the damage is dropped instead of failing (the schema problem says it all).
    """
    skip, shaky = set(skip), set(shaky)
    problems: list[Problem] = []
    for needs, reads, check in CHECKS:
        if skip & set(needs) or not set(needs) <= set(doc.data):
            continue
        try:
            problems += check(doc)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            if not shaky & (set(needs) | set(reads)):
                raise
    return problems
