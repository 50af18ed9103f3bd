"""Checks a task type's declaration implies (specc/tasks): a fixed loss, metrics it reports
itself, optimizers per network, export, splitting by class, what "best" can mean; then
the task type's own checks. No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from specc.registries import TASK_TYPES, spec_task_type
from specc.spec_data import integer, mapping
from specc.spec_data import problem as _p
from specc.suggest import a_or_an

if TYPE_CHECKING:
    from specc.load.document import Document


def check_paradigm(doc: Document) -> list:
    """What the spec asks of its task type agrees with the type's declaration."""
    data = doc.data
    declared = spec_task_type(data)
    out = _split_by_class(doc, declared)
    if declared is None:
        return out + _optimizer_pair(doc, None)
    out += _fixed_loss(doc, declared) + _own_metrics(doc, declared) + _optimizer_pair(doc, declared)
    out += _export(doc, declared) + _early_stopping(doc, declared) + _accumulate(doc, declared)
    out += _multi_worker(doc, declared)
    for check in declared.checks:
        out += check(doc)
    return out


def _fixed_loss(doc, declared) -> list:
    loss = doc.data.get("loss", "auto")
    if declared.fixed_loss and loss not in ("auto", None, declared.auto_loss({"type": declared.name})):
        return [_p(doc, ("loss",), f"the loss of {a_or_an(declared.name)} task is fixed: {declared.fixed_loss}",
                   "remove `loss:` (or write loss: auto)", code="task")]
    return []


def _own_metrics(doc, declared) -> list:
    if declared.own_metrics and doc.data.get("metrics"):
        return [_p(doc, ("metrics",), f"{a_or_an(declared.name)} task reports {declared.own_metrics} itself; "
                   "`metrics:` is ignored", "remove `metrics:`", code="task", severity="warning")]
    return []


def _optimizer_pair(doc, declared) -> list:
    optimizer = doc.data.get("optimizer")
    if not isinstance(optimizer, dict) or len(optimizer) < 2:
        return []
    owners = [name for name in TASK_TYPES if set(TASK_TYPES.get(name).optimizer_parts) == set(optimizer)]
    if owners and (declared is None or declared.name not in owners):
        parts = ", ".join(f"{p}: ..." for p in optimizer)
        return [_p(doc, ("optimizer",), f"an optimizer per network ({{{parts}}}) belongs to a "
                   f"{' or '.join(owners)} task", "give one optimizer, e.g. optimizer: {adam: {}}",
                   code="optimizer")]
    return []


def _export(doc, declared) -> list:
    formats = mapping(doc.data.get("export")).get("formats")
    if declared.exports or not isinstance(formats, list) or not formats:
        return []
    kept = " and ".join(f"{part}.keras" for part in declared.kept)
    return [_p(doc, ("export", "formats"), f"exporting {a_or_an(declared.name)} model is not supported yet",
               f"remove export.formats; training keeps its networks as checkpoints/{kept}", code="export")]


def _split_by_class(doc, declared) -> list:
    split = mapping(mapping(doc.data.get("data")).get("split"))
    if split.get("by") != "class" or (declared is not None and declared.split_by_class):
        return []
    suited = [name for name in TASK_TYPES if TASK_TYPES.get(name).split_by_class]
    return [_p(doc, ("data", "split", "by"), "splitting by class leaves the test classes unseen in "
               f"training; only a {' or '.join(suited)} task can be evaluated on them",
               f"remove `by: class` (or use task.type: {suited[0]})", code="data")]


def _early_stopping(doc, declared) -> list:
    """A paradigm whose best epoch is its last has no figure to stop on."""
    stop = mapping(doc.data.get("train")).get("early_stopping")
    if declared.best != "last" or not stop:
        return []
    return [_p(doc, ("train", "early_stopping"), f"{a_or_an(declared.name)} task keeps its last epoch as the best: "
               "its losses do not say when it is good, so early stopping on them would stop at a poor "
               "model", "remove train.early_stopping (set train.epochs instead)", code="train")]


def _accumulate(doc, declared) -> list:
    accumulate = integer(mapping(doc.data.get("batch")).get("accumulate"))
    if declared.accumulate or accumulate is None or accumulate <= 1:
        return []
    return [_p(doc, ("batch", "accumulate"), f"{a_or_an(declared.name)} task does not accumulate gradients",
               "remove batch.accumulate (or use a larger batch size)", code="batch")]


def _multi_worker(doc, declared) -> list:
    device = mapping(doc.data.get("device"))
    if device.get("strategy") != "multi_worker":
        return []
    if declared.distributed:
        return [_p(doc, ("device", "strategy"), f"{a_or_an(declared.name)} task cannot train with multi_worker: "
                   f"{declared.distributed}", "train it in one process (device.strategy: auto or mirrored)",
                   code="device")]
    accumulate = integer(mapping(doc.data.get("batch")).get("accumulate"))
    if accumulate is not None and accumulate > 1:
        return [_p(doc, ("batch", "accumulate"), "batch.accumulate is not supported with multi_worker "
                   "(specc's multi-worker step applies every batch's gradients)",
                   "remove batch.accumulate, or use a larger batch.size: the workers share it", code="batch")]
    return []
