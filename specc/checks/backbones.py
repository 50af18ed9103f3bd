"""Backbones, freezing and phases: what validate can tell from the files, without TensorFlow.

- a backbone's architecture is one keras.applications knows (catalog/applications.json); its
  weights file exists and holds that architecture's weights (tensors and values); its run
  or `.keras` file exists, and `until:` names one of the saved network's layers;
- each freeze pattern (`train.freeze`, a phase's `freeze:`) names some layer of the spec;
- phases' epochs add up to `train.epochs` when both are given; early stopping is per phase.

The input constraints of an architecture (smallest size, channels) are shape rules
(`checks/layer_shapes.py`), so they are checked where the shape walk meets the backbone.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from specc import backbones
from specc.layer_items import layer_items
from specc.layer_items import layer_key
from specc.registries import task_type
from specc.spec_data import mapping, problem as _p
from specc.suggest import did_you_mean

if TYPE_CHECKING:
    from specc.errors import Problem
    from specc.load.document import Document


def check_backbones(doc: Document) -> list[Problem]:
    """Each backbone names an architecture, run or file that exists and fits."""
    out = []
    for path, args in _backbones(doc.data):
        out += _check_one(doc, path + (backbones.KEY,), args)
    return out


def _backbones(data: dict) -> Iterable[tuple[tuple, dict]]:
    for path, item in layer_items(data):
        if isinstance(item, dict) and layer_key(item) == backbones.KEY and isinstance(item[backbones.KEY], dict):
            yield path, item[backbones.KEY]


def _check_one(doc: Document, path: tuple, args: dict) -> list[Problem]:
    if "application" in args and backbones.application(args["application"]) is None:
        names = list(backbones.applications())
        hint = did_you_mean(str(args["application"]), names) or f"known: {', '.join(names)}"
        return [_p(doc, path + ("application",), f"keras.applications has no architecture "
                   f"'{args['application']}'", hint, code="backbone")]
    if not doc.files:
        return []
    spec_dir = Path(doc.files[-1]).resolve().parent
    try:
        backbones.pin({"model": {"layers": [{backbones.KEY: args}]}, "train": doc.data.get("train") or {}},
                      spec_dir)
    except Exception as exc:  # noqa: BLE001 - SpecInvalid with the problem at the backbone's own path
        problems = getattr(exc, "problems", None)
        if not problems:
            raise
        return [_p(doc, path + tuple(p.path[4:]), p.message, p.hint, code=p.code,
                   severity="warning" if p.code == backbones.MISSING_RUN else "error") for p in problems]
    return []


# --- freezing and phases ---------------------------------------------------------------------------

def check_freezing(doc: Document) -> list[Problem]:
    """Freeze patterns that name no layer; phases whose epochs do not add up."""
    train = mapping(doc.data.get("train"))
    given = train.get("phases")
    phases: list = given if isinstance(given, list) else []
    out = _phase_epochs(doc, train, phases)
    names, shown, open_prefixes = _layer_names(doc)
    lists: list[tuple[tuple, Any]] = [(("train", "freeze"), train.get("freeze"))]
    lists += [(("train", "phases", i, "freeze"), mapping(p).get("freeze")) for i, p in enumerate(phases)]
    for base, patterns in lists:
        for index, pattern in enumerate(patterns if isinstance(patterns, list) else []):
            if not isinstance(pattern, str) or any(pattern.startswith(prefix) for prefix in open_prefixes):
                continue
            if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
                out.append(_p(doc, base + (index,), f"freeze pattern '{pattern}' matches no layer of the model",
                              did_you_mean(pattern, shown) or f"the model's named layers: {', '.join(shown)}; "
                              "give a layer `name:` to freeze it", code="freeze"))
    return out


def _phase_epochs(doc: Document, train: dict, phases: list) -> list[Problem]:
    if not phases:
        return []
    out = []
    counts = [c for c in (mapping(p).get("epochs") for p in phases) if isinstance(c, int)]
    if "epochs" in train and len(counts) == len(phases) and sum(counts) != train["epochs"]:
        out.append(_p(doc, ("train", "epochs"), f"train.epochs is {train['epochs']}, but the phases add up to "
                      f"{sum(counts)} ({' + '.join(map(str, counts))})",
                      "leave train.epochs out (the phases' sum), or make them agree", code="phases"))
    if train.get("early_stopping"):
        out.append(_p(doc, ("train", "early_stopping"), "with phases, early stopping belongs to each phase",
                      "move it into the phases that should stop early: `phases: [{epochs: 10, early_stopping: "
                      "{patience: 3}}, ...]`", code="phases"))
    declared = task_type(mapping(doc.data.get("task")))
    if declared is not None and declared.optimizer_parts:
        out.append(_p(doc, ("train", "phases"), f"a {declared.name} trains several networks with optimizers of "
                      "their own; phases change one optimizer", "train it without phases", code="phases"))
    if mapping(doc.data.get("device")).get("strategy") == "multi_worker":
        out.append(_p(doc, ("train", "phases"), "phases do not run under device.strategy: multi_worker yet",
                      "train phases on one machine (mirrored devices are fine)", code="phases"))
    return out


def _layer_names(doc: Document) -> tuple[set, list, list]:
    """The layer names the spec makes (given names, node names, the Keras names of unnamed
    layers, a saved backbone's layers as `backbone/inner`), those it names itself (for hints),
    and the prefixes of backbones whose layers validate cannot list (an architecture's)."""
    named: set = set()
    unnamed: set = set()  # what Keras calls an unnamed layer: its key, key_1, ...
    prefixes: list = []
    for path, item in layer_items(doc.data):
        key = item if isinstance(item, str) else layer_key(item) if isinstance(item, dict) else None
        if key is None:
            continue
        args = item.get(key) if isinstance(item, dict) else None
        given = (item.get("name") if isinstance(item, dict) else None) or \
            (args.get("name") if isinstance(args, dict) else None)
        node = str(path[-1]) if len(path) >= 2 and path[-2] == "nodes" else None
        named.update(n for n in (given, node) if n)
        if not given:
            unnamed.update({key, f"{key}_1"})
        if key == backbones.KEY and isinstance(item, dict):
            prefix = given or node or backbones.KEY
            named.add(prefix)
            named.update(_inner_names(doc, args, prefix, prefixes))
    return named | unnamed, sorted(n for n in named if "/" not in n), prefixes


def _inner_names(doc: Document, args: Any, prefix: str, prefixes: list) -> list:
    """A saved backbone's layers (read from its .keras file), as `prefix/inner`."""
    if not isinstance(args, dict) or "from" not in args or not doc.files:
        prefixes.append(prefix + "/")
        return []
    try:
        spec_dir = Path(doc.files[-1]).resolve().parent
        runs_dir = backbones.default_runs_dir(doc.data, spec_dir)
        source = backbones.model_file(args, spec_dir, runs_dir)
        return [f"{prefix}/{name}" for name in backbones.layer_names(backbones.keras_config(Path(source.path)))]
    except Exception:  # noqa: BLE001 - check_backbones reports a backbone that cannot be read
        prefixes.append(prefix + "/")
        return []
