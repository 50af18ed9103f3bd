"""Checks of the classes a spec names in its data (`data.select`, `data.split.hold_out`, the
class lists of `data.split.by: class`) and of the splits they leave, before any data is
loaded. A builtin data set's classes are known here (specc/registries.py), so naming one it
lacks is reported at validate time; other sources are checked when they are loaded
(specc/data/select.py). No TensorFlow and no NumPy here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from specc.errors import Problem
from specc.registries import BUILTIN_DATA_SETS, spec_task_type
from specc.render import split_fractions
from specc.spec_data import integer, items, mapping, text
from specc.spec_data import problem as _p
from specc.suggest import a_or_an, did_you_mean

if TYPE_CHECKING:
    from specc.load import Document

SPLITS = ("validation", "test")


def check_data_select(doc: Document) -> list[Problem]:
    """Class lists where they can be used, classes a builtin data set has, a task with classes,
    and early stopping on a validation split that an explicit test split left out."""
    data = mapping(doc.data.get("data"))
    split = mapping(data.get("split"))
    out = _class_lists(doc, split) + _hold_out(doc, split)
    named = _named_places(data)
    if named:
        out += _task_has_classes(doc, named[0]) or _builtin_classes(doc, data)
    return out + _early_stopping(doc, split)


def _named_places(data: dict) -> list[tuple]:
    """The spec paths of the class lists the data section has."""
    split = mapping(data.get("split"))
    places: list[tuple] = [("data", "select", how) for how in mapping(data.get("select"))]
    if mapping(split.get("hold_out")).get("classes"):
        places.append(("data", "split", "hold_out", "classes"))
    return places + [("data", "split", name) for name in SPLITS if isinstance(split.get(name), list)]


def _class_lists(doc: Document, split: dict) -> list[Problem]:
    """Lists of classes split by class, and a class goes to one split only."""
    lists = {name: split[name] for name in SPLITS if isinstance(split.get(name), list)}
    if lists and split.get("by") != "class":
        name = next(iter(lists))
        return [_p(doc, ("data", "split", name), f"data.split.{name} is a list of classes, which needs by: class",
                   f"add data.split.by: class, or give {name} a fraction of the samples", code="data")]
    if len(lists) < 2:
        return []
    shown = [str(c) for c in lists["validation"]]
    return [_p(doc, ("data", "split", "test", index), f"class {value} is in both data.split.validation and "
               "data.split.test", "a class goes to one split only", code="data")
            for index, value in enumerate(lists["test"]) if str(value) in shown]


def _hold_out(doc: Document, split: dict) -> list[Problem]:
    """hold_out fills the test split from data.source, and is never trained on."""
    if not mapping(split.get("hold_out")).get("classes"):
        return []
    at = ("data", "split", "hold_out")
    if split.get("by") == "class":
        return [_p(doc, at, "hold_out cannot be used with by: class, which already keeps the test "
                   "classes out of training", "list the held-out classes under data.split.test", code="data",
                   key=True)]
    if isinstance(split.get("test"), dict):
        return [_p(doc, at, "hold_out moves samples to the test split, but data.split.test is a source of "
                   "its own", "remove hold_out, or give data.split.test as a fraction", code="data", key=True)]
    declared = spec_task_type(doc.data)
    if declared is not None and declared.supervised and declared.class_labels:
        return [_p(doc, at, f"{a_or_an(declared.name)} model never trains on the held-out classes, so it cannot "
                   "predict them: every test sample of theirs counts as wrong",
                   "hold_out suits an autoencoder (anomalies) or a few_shot task; to drop classes use "
                   "data.select", code="data", severity="warning", key=True)]
    return []


def _task_has_classes(doc: Document, at: tuple) -> list[Problem]:
    declared = spec_task_type(doc.data)
    if declared is None or not declared.supervised or declared.class_labels:
        return []
    return [_p(doc, at, f"{a_or_an(declared.name)} task has no classes to name",
               "name classes only for classification, autoencoder and few_shot tasks", code="data")]


def _builtin_classes(doc: Document, data: dict) -> list[Problem]:
    """Classes a builtin data set has, before and after data.select; task.classes against them."""
    source = mapping(data.get("source"))
    name = text(source.get("builtin"))
    info = BUILTIN_DATA_SETS.get(name) if name is not None else None
    if name is None or info is None:
        return []
    if not info.class_names:
        return [_p(doc, ("data", "source", "builtin"), f"builtin {name} has no classes to name (its labels are "
                   "numbers)", "remove the class lists from data", code="data")]
    select = mapping(data.get("select"))
    out, kept = _selected(doc, name, list(info.class_names), select)
    split = mapping(data.get("split"))
    places: list[tuple] = [(("data", "split", "hold_out", "classes"), mapping(split.get("hold_out")).get("classes"))]
    places += [(("data", "split", s), split.get(s)) for s in SPLITS]
    after = " after data.select" if select else ""
    for at, values in places:
        out += _unknown(doc, at, items(values), kept, f"builtin {name}{after}", renumbered=bool(select))
    return out + (_task_classes(doc, name, kept) if select and len(out) == 0 else [])


def _selected(doc: Document, name: str, names: list, select: dict) -> tuple[list[Problem], list]:
    """(problems, the class names data.select keeps, in id order)."""
    if not select:
        return [], names
    (how, values), = select.items()
    values = items(values)
    out = _unknown(doc, ("data", "select", how), values, names, f"builtin {name}")
    ids = {_index(v, names) for v in values} - {None}
    kept = [c for i, c in enumerate(names) if (i in ids) == (how == "classes")]
    if not out and not kept:
        out.append(_p(doc, ("data", "select", how), f"data.select.exclude drops every class of builtin {name}",
                      "exclude fewer classes", code="data"))
    return out, kept


def _index(value: Any, names: list) -> Optional[int]:
    """The class id a spec value names, or None when the data set has no such class."""
    number = integer(value)
    if number is not None:
        return number if 0 <= number < len(names) else None
    return names.index(value) if text(value) in names else None


def _unknown(doc: Document, at: tuple, values: list, names: list, origin: str,
             renumbered: bool = False) -> list[Problem]:
    """A problem for each value naming a class `names` lacks."""
    out = []
    listed = ", ".join(f"{i} ({c})" if str(i) != c else c for i, c in enumerate(names))
    if renumbered:
        listed = f"{listed} (id (name): data.select renumbers the ids, a name stays the same)"
    for index, value in enumerate(values):
        if _index(value, names) is not None or not isinstance(value, (int, str)) or isinstance(value, bool):
            continue
        hint = (did_you_mean(value, names) if isinstance(value, str) else None) or f"the classes: {listed}"
        shown = f"'{value}'" if isinstance(value, str) else str(value)
        out.append(_p(doc, at + (index,), f"{origin} has no class {shown}", hint, code="data"))
    return out


def _task_classes(doc: Document, name: str, kept: list) -> list[Problem]:
    """task.classes counts the classes data.select keeps (they are renumbered 0, 1, ...)."""
    task = mapping(doc.data.get("task"))
    kind, classes = text(task.get("type")), integer(task.get("classes"))
    count = len(kept)
    origin = f"data.select keeps {count} class{'es' if count != 1 else ''} of builtin {name}"
    if kind == "binary" and count != 2:
        return [_p(doc, ("task", "type"), f"{origin}; a binary task needs 2", "select 2 classes, or use "
                   "type: multiclass", code="data-shape")]
    if kind != "multiclass" or classes is None or classes == count:
        return []
    if classes < count:
        return [_p(doc, ("task", "classes"), f"{origin}, task.classes is {classes}",
                   f"set task.classes: {count}", code="data-shape")]
    return [_p(doc, ("task", "classes"), f"{origin}, task.classes is {classes}: {classes - count} output "
               "unit(s) would never be a right answer", f"set task.classes: {count}", code="data-shape",
               severity="warning")]


def _early_stopping(doc: Document, split: dict) -> list[Problem]:
    """An explicit test (or validation) split leaves no default validation split to stop on.
    (A validation fraction of 0 written in the spec is checks/settings.py's `check_train`.)"""
    stop = mapping(doc.data.get("train")).get("early_stopping")
    monitor = text(mapping(stop).get("monitor", "val_loss")) if isinstance(stop, dict) else \
        ("val_loss" if stop is True else None)
    if not monitor or not monitor.startswith("val_") or "validation" in split or \
            split_fractions(split)["validation"] != 0:
        return []
    given = "a source of its own" if isinstance(split.get("test"), dict) else "a list of classes"
    return [_p(doc, ("train", "early_stopping"), f"early stopping monitors {monitor}, but there is no "
               f"validation split: data.split.test is {given}, so none is taken from data.source unless "
               "data.split.validation asks", "set data.split.validation (a fraction, or {source: ...}), "
               "or monitor: loss", code="train")]
