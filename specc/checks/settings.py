"""Checks of the run settings: batch strategy, device, export, training, data split."""
from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Optional

from specc.registries import EXPORT_FORMATS, task_type
from specc.shown import shown_value
from specc.spec_data import integer, items, mapping, text
from specc.spec_data import problem as _p
from specc.suggest import did_you_mean
from specc.tasks.trees import KIND_WORDS, model_kind

if TYPE_CHECKING:
    from specc.load.document import Document


def check_batch(doc: Document) -> list:
    """The strategy agrees with its settings."""
    batch = doc.data["batch"]
    strategy = batch.get("strategy", "mini_batch")
    size = integer(batch.get("size"))
    if strategy == "full_batch" and size is not None:
        return [_p(doc, ("batch", "size"), "full_batch takes no size: each step uses the whole training set",
                   "remove `size:`, or use strategy: mini_batch", code="batch", key=True)]
    if strategy == "stochastic" and size not in (None, 1):
        return [_p(doc, ("batch", "size"), f"stochastic gradient descent uses batches of one, found size {size}",
                   "remove `size:`, or use strategy: mini_batch", code="batch")]
    return []


def check_device(doc: Document) -> list:
    """Device, strategy and precision combinations that can run."""
    device = doc.data["device"]
    target, strategy = device.get("target", "auto"), device.get("strategy", "auto")
    precision, devices = device.get("precision", "float32"), integer(device.get("devices")) or 1
    out = []
    if precision == "mixed_float16" and target == "cpu":
        out.append(_p(doc, ("device", "precision"), "mixed_float16 needs a GPU; on the CPU it is slower than float32",
                      "use mixed_bfloat16 or float32 on the CPU, or target: gpu", code="device"))
    if devices > 1 and strategy not in ("mirrored", "auto"):
        out.append(_p(doc, ("device", "devices"), f"{devices} devices need strategy: mirrored (found {strategy})",
                      "set device.strategy: mirrored, or devices: 1", code="device"))
    if devices > 1 and target == "gpu":
        out.append(_p(doc, ("device", "devices"), "`devices:` splits the CPU into logical devices; "
                      "on GPUs mirrored uses every local GPU", "remove `devices:` with target: gpu",
                      code="device", key=True))
    return out


def check_export(doc: Document) -> list:
    """Formats can be produced here: optional packages, quantization, static shapes."""
    export = doc.data["export"]
    formats = items(export.get("formats"))
    out = []
    quantizable = [n for n, info in EXPORT_FORMATS.items() if info.quantizable]
    if export.get("quantize", "none") != "none" and not set(quantizable) & set(formats):
        names = " or ".join(quantizable)
        out.append(_p(doc, ("export", "quantize"), f"quantize applies to the {names} format, which is not listed",
                      f"add {names} to export.formats", code="export"))
    kind = model_kind(doc.data)
    for index, name in enumerate(formats):
        info = EXPORT_FORMATS.find(name)
        if info is None:
            continue  # the schema reports an unknown format
        if kind not in info.kinds:
            able = [n for n, other in EXPORT_FORMATS.items() if kind in other.kinds]
            out.append(_p(doc, ("export", "formats", index), f"{name} export takes "
                          f"{' or '.join(KIND_WORDS[k] for k in info.kinds)}, not {KIND_WORDS[kind]}",
                          f"{KIND_WORDS[kind]} exports as {', '.join(able)}", code="export"))
            continue
        missing = [package for package in info.needs_for(kind) if importlib.util.find_spec(package) is None]
        if missing:
            out.append(_p(doc, ("export", "formats", index), f"{name} export needs {', '.join(missing)}, "
                          "not installed", f"pip install 'specc[{info.extra_for(kind)}]'", code="export-preflight"))
        if info.fixed_shapes:
            out += _dynamic_shapes(doc, index, name)
    return out


def _dynamic_shapes(doc, index: int, fmt: str) -> list:
    model = doc.data.get("model")
    inputs = model.get("inputs") if isinstance(model, dict) else None
    for name, value in (inputs.items() if isinstance(inputs, dict) else []):
        shape = items(value if isinstance(value, list) else mapping(value).get("shape"))
        if any(dim is None for dim in shape):
            shown = "[" + ", ".join("null" if d is None else str(d) for d in shape) + "]"
            return [_p(doc, ("export", "formats", index), f"{fmt} needs fixed input shapes; input "
                       f"'{name}' has shape {shown}", "give every dimension a size (null means any "
                       f"size), or drop {fmt}", code="export-preflight")]
    return []


def check_train(doc: Document) -> list:
    """Early stopping on validation metrics needs a validation split; what early stopping and
    the checkpoints monitor must be a metric the run logs."""
    stop = doc.data["train"].get("early_stopping")
    split = mapping(mapping(doc.data.get("data")).get("split"))
    monitor = text(stop.get("monitor", "val_loss")) if isinstance(stop, dict) else ("val_loss" if stop is True else None)
    folded = bool(split.get("cross_validation"))  # a fold is the validation split
    if monitor and monitor.startswith("val_") and split.get("validation", 0.1) == 0 and not folded:
        return [_p(doc, ("train", "early_stopping"), f"early stopping monitors {monitor}, but there is no validation split",
                   "set data.split.validation above 0, or monitor: loss", code="train")]
    return _monitor_problems(doc, ("train", "early_stopping", "monitor")) + \
        _monitor_problems(doc, ("train", "checkpoints", "monitor"))


def logged_metrics(doc: Document) -> Optional[list[str]]:
    """The names a run of this spec logs each epoch: loss, each metric, and val_ of each; None
    when the spec does not say them plainly (several outputs, a task type that reports its own
    metrics, a metric with arguments, whose name Keras makes)."""
    task = mapping(doc.data.get("task"))
    declared = task_type(task)
    if declared is None or not declared.supervised:
        return None
    metrics = mapping(doc.data).get("metrics")
    if metrics is None:
        metrics = declared.auto_metrics(task)
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        return None
    names = ["loss", *metrics]
    return names + [f"val_{name}" for name in names]


def _monitor_problems(doc: Document, path: tuple) -> list:
    """A monitor the run never logs: Keras cannot tell its direction, and nothing would be kept."""
    section = mapping(mapping(doc.data["train"]).get(path[1]))
    monitor = section.get("monitor")
    names = logged_metrics(doc)
    if not isinstance(monitor, str) or names is None or monitor in names:
        return []
    close = did_you_mean(monitor, names)
    return [_p(doc, path, f"{shown_value(monitor)} is not a metric this spec logs each epoch",
               close or f"it logs: {', '.join(names)}", code="train")]


def check_data(doc: Document) -> list:
    """Splits leave training data; stratification needs classes."""
    data, task = doc.data["data"], mapping(doc.data["task"])
    split = mapping(data.get("split"))
    out = []
    fractions = [split[k] for k in ("validation", "test")
                 if isinstance(split.get(k), (int, float)) and not isinstance(split.get(k), bool)]
    if sum(fractions) >= 1:
        out.append(_p(doc, ("data", "split"), f"validation + test take {sum(fractions):g} of the data, leaving none to train on",
                      "keep their sum below 1, e.g. validation: 0.1, test: 0.2", code="data"))
    outputs = mapping(task.get("outputs")) or {"": task}
    declared = [task_type(t) for t in outputs.values()]
    other = sorted({d.name for d in declared if d is not None and not (d.supervised and d.class_labels)})
    if split.get("stratify") is True and other:
        out.append(_p(doc, ("data", "split", "stratify"), "stratify keeps class proportions; a "
                      f"{'/'.join(other)} task has no classes", "remove stratify", code="data"))
    return out + _cross_validation(doc, split)


def _cross_validation(doc: Document, split: dict) -> list:
    """Folds of the samples split off data.source: a fold that exists, no whole classes, no
    validation file (there would be nothing to pool)."""
    folds = split.get("cross_validation")
    if not isinstance(folds, dict):
        return []
    at = ("data", "split", "cross_validation")
    if split.get("by") == "class":
        return [_p(doc, at, "cross_validation folds the samples, but by: class splits the classes",
                   "remove cross_validation, or by: class", code="data", key=True)]
    if isinstance(split.get("validation"), dict):
        return [_p(doc, at, "cross_validation makes the validation split from a fold of data.source, but "
                   "data.split.validation is a source of its own: there is nothing to pool",
                   "remove cross_validation, or give data.split.validation as a fraction", code="data",
                   key=True)]
    count, fold = integer(folds.get("folds")), integer(folds.get("fold"))
    if count is not None and fold is not None and fold >= count:
        return [_p(doc, at + ("fold",), f"fold is {fold}, but the {count} folds are numbered 0 to {count - 1}",
                   f"set fold to one of 0 .. {count - 1}", code="data")]
    return []
