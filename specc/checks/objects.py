"""Checks of the named objects' arguments that the schema cannot say: a schedule in place of
an optimizer's learning rate, and one way of clipping gradients. No TensorFlow here."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specc import catalog
from specc.checks.task import FILLED_BY_SPECC, check_call, is_pair, kind_of, schedule_required
from specc.spec_data import problem as _p
from specc.suggest import did_you_mean, one_of

if TYPE_CHECKING:
    from specc.load.document import Document

CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")


def check_optimizer_args(doc: Document) -> list:
    """Each optimizer's learning_rate schedule and clipping (a GAN's two optimizers each)."""
    optimizer = doc.data.get("optimizer")
    calls: list[tuple[tuple, Any]]
    if isinstance(optimizer, dict) and is_pair(optimizer):
        calls = [(("optimizer", part), value) for part, value in optimizer.items()]
    else:
        calls = [(("optimizer",), optimizer)]
    out = []
    for path, value in calls:
        if isinstance(value, dict) and len(value) == 1:
            name, args = next(iter(value.items()))
            if isinstance(args, dict):
                out += _clipping(doc, path + (name,), args)
                if "learning_rate" in args:
                    out += _check_rate_schedule(doc, path + (name, "learning_rate"), args["learning_rate"])
    return out


def _clipping(doc, path, args: dict) -> list:
    """Keras clips gradients one way only (it refuses two of clipnorm, clipvalue, global_clipnorm)."""
    given = [arg for arg in CLIPPING if args.get(arg) is not None]
    if len(given) < 2:
        return []
    return [_p(doc, path + (given[1],), f"give one of clipnorm, clipvalue and global_clipnorm; found {given[0]} "
               f"and {given[1]}", f"keep {given[0]} (or {given[1]}) and remove the other", code="optimizer",
               key=True)]


def _check_rate_schedule(doc, path, value) -> list:
    """`learning_rate: {cosine_decay: {...}}`: a schedule in place of the optimizer's rate.

    There is no optimizer rate for it to start from, so its initial_learning_rate is needed.
    """
    if not isinstance(value, dict):
        return []
    if len(value) != 1:
        return [_p(doc, path, f"learning_rate takes a number or one schedule, found {kind_of(value)} with "
                   f"{len(value)} keys", "e.g. learning_rate: 1.0e-3, or {cosine_decay: {initial_learning_rate: "
                   "1.0e-3}}", code="type")]
    name, args = next(iter(value.items()))
    known = catalog.names("schedules")
    if name not in known:
        return [_p(doc, path + (name,), f"unknown schedule '{name}' in learning_rate",
                   did_you_mean(str(name), known) or f"a number, or one of the schedules: {one_of(known)}",
                   code="unknown-schedule", key=True)]
    out = check_call(doc, path, value, "schedules", "schedule")
    if out or not isinstance(args, (dict, type(None))):
        return out
    return schedule_required(doc, path + (name,), name, args or {}, filled=FILLED_BY_SPECC[1:])
