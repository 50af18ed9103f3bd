"""Resolve a valid spec: defaults filled in, short forms expanded, `auto` decided.

`resolve(data)` returns the spec every later stage (compile, data, run, export) reads, so they
never need a default of their own. The result is itself a valid spec, and resolving it again
gives the same thing (`render` of a rendered spec is identical). No TensorFlow here.

What `auto` becomes here: `head: auto` is appended to the model as an explicit layer (named
after the output) and `head` becomes `none`; `loss: auto` the loss of the task table's row;
metrics default to the task's. `device.target: auto` and `strategy: auto` stay `auto`: only
the machine that runs the spec can decide them (the run record says what they became).
"""
from __future__ import annotations

import copy
from typing import Any, Optional

import yaml

from specc.layer_items import normalize_item
from specc.registries import is_optimizer_set, model_parts, task_type
from specc.sweep_space import resolve_section
from specc.tasks import supervised, trees

DEFAULT_OUTPUT = "output"

DEFAULTS = {
    "description": "",
    "seed": 0,
    "plugins": [],
    "batch": {"strategy": "mini_batch", "size": 32, "accumulate": 1, "drop_remainder": False,
              "shuffle": True},
    "train": {"epochs": 10, "early_stopping": False, "steps_per_execution": "auto",
              "checkpoints": {"keep": "both", "monitor": "val_loss", "every_seconds": 10}},
    "device": {"target": "auto", "strategy": "auto", "devices": 1, "precision": "float32",
               "jit": "auto", "deterministic": True, "scale_learning_rate": False},
    "export": {"formats": [], "quantize": "none"},
    "optimizer": {"adam": {}},
    "schedule": None,
}
ORDER = ("description", "seed", "plugins", "data", "task", "model", "loss", "loss_weights",
         "metrics", "optimizer", "schedule", "batch", "train", "device", "export", "sweep")
EARLY_STOPPING = {"monitor": "val_loss", "patience": 5, "min_delta": 0.0, "mode": "auto",
                  "restore_best_weights": True}


def resolve(spec: dict) -> dict:
    """The fully resolved form of a valid spec (a new dict; the input is not changed)."""
    spec = copy.deepcopy(spec)
    spec.pop("extends", None)
    spec.pop("$schema", None)
    out = {"specc": spec.pop("specc", 1), "name": spec.pop("name")}
    for key, default in DEFAULTS.items():
        value = spec.get(key, copy.deepcopy(default))
        if isinstance(default, dict) and key not in ("optimizer",) and isinstance(value, dict):
            value = merge_defaults(default, value)
        spec[key] = value
    spec["task"] = resolve_task(spec["task"])
    spec["data"] = resolve_data(spec["data"], spec["task"])
    spec["model"] = resolve_model(spec["model"], spec["task"])
    spec["loss"] = resolve_loss(spec.get("loss", "auto"), spec["task"])
    spec["metrics"] = resolve_metrics(spec.get("metrics"), spec["task"])
    spec["optimizer"] = resolve_call(spec["optimizer"])
    spec["schedule"] = resolve_call(spec["schedule"]) if spec["schedule"] else None
    spec["batch"] = resolve_batch(spec["batch"])
    spec["train"] = resolve_train(spec["train"])
    if "sweep" in spec:
        spec["sweep"] = resolve_section(spec["sweep"], out["name"], spec["train"])
    out.update({key: spec[key] for key in ORDER if key in spec})
    out.update({key: value for key, value in spec.items() if key not in out})
    return out


def merge_defaults(default: dict, given: dict) -> dict:
    """`given` over `default`, mappings merged key by key (a new dict)."""
    out = copy.deepcopy(default)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = merge_defaults(out[key], value)
        out[key] = value
    return out


def render(spec: dict) -> str:
    """The resolved spec as YAML, sections in a fixed order."""
    return dump_yaml(resolve(spec))


def dump_yaml(data: Any) -> str:
    """YAML that specc's loader reads back to the same data."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100,
                          allow_unicode=True)


# --- sections ------------------------------------------------------------------------------

def output_tasks(task: dict) -> dict:
    """Output name -> task, for one output (`output`) or several (`task.outputs`)."""
    if "outputs" in task:
        return task["outputs"]
    return {DEFAULT_OUTPUT: task}


def resolve_task(task: dict) -> dict:
    """The task with its type's defaults (specc/tasks) filled in."""
    if "outputs" in task:
        return {"outputs": {name: resolve_task(sub) for name, sub in task["outputs"].items()}}
    declared = task_type(task)
    return declared.resolve(task) if declared else dict(task)


def _classifies(task: dict) -> bool:
    declared = task_type(task)
    return declared is not None and declared.supervised and declared.class_labels


def resolve_data(data: dict, task: dict) -> dict:
    data = dict(data)
    classify = all(_classifies(t) for t in output_tasks(task).values())
    given = data.get("split", {})
    data["split"] = {**split_fractions(given), "stratify": classify, **given}
    data["preprocessing"] = [normalize_item(i) for i in data.get("preprocessing", [])]
    return data


def split_fractions(split: dict) -> dict:
    """The default validation and test fractions of a `data.split` mapping.

    0.1 and 0.2 of the data (of the classes, with by: class), unless the spec gives one of
    the two as a source of its own or as a class list: then the split is the spec's to decide,
    and the other one is not carved out of data.source unless the spec asks (an explicit test
    file used to leave a silent 10% validation split taken from the training data).
    """
    explicit = any(isinstance(split.get(name), (dict, list)) for name in ("validation", "test"))
    return {"validation": 0 if explicit else 0.1, "test": 0 if explicit else 0.2}


def resolve_model(model: dict, task: dict) -> dict:
    model = copy.deepcopy(model)
    if trees.FORM in model:  # no network: the hyperparameters with XGBoost-free defaults
        return {trees.FORM: {**trees.defaults(), **(model[trees.FORM] or {})}}
    if "inputs" in model:  # composite parts may take theirs from another part
        model["inputs"] = {name: _input(value) for name, value in model["inputs"].items()}
    if "blocks" in model:
        model["blocks"] = {name: _block(b) for name, b in model["blocks"].items()}
    if "layers" in model:
        model["layers"] = [normalize_item(i) for i in model["layers"]]
    if "nodes" in model:
        model["nodes"] = {name: normalize_item(i) for name, i in model["nodes"].items()}
        model.setdefault("outputs", {DEFAULT_OUTPUT: list(model["nodes"])[-1]})
    for part in model_parts():
        if part in model:
            model[part] = resolve_model(model[part], {})
            model[part].pop("head", None)
    head = model.pop("head", "auto" if ("layers" in model or "nodes" in model) else "none")
    if head is not None:
        _append_heads(model, head, task)
        model["head"] = "none"
    return model


def _input(value: Any) -> dict:
    if isinstance(value, list):
        return {"shape": value, "dtype": "float32"}
    return {"shape": value["shape"], "dtype": value.get("dtype", "float32")}


def _block(block: dict) -> dict:
    block = dict(block)
    block.setdefault("params", {})
    block.setdefault("input", "x")
    if "layers" in block:
        block["layers"] = [normalize_item(i) for i in block["layers"]]
    if "nodes" in block:
        block["nodes"] = {n: normalize_item(i) for n, i in block["nodes"].items()}
        block.setdefault("output", list(block["nodes"])[-1])
    return block


def _append_heads(model: dict, head: Any, task: dict) -> None:
    """Fold `head:` into the layers (sequential) or nodes (graph), one per output."""
    if head == "none":
        return
    if "layers" in model:
        item = _head_item(head, task)
        if item is not None:
            model["layers"].append({**item, "name": DEFAULT_OUTPUT})
        return
    heads = output_tasks(task)
    for output, node in list(model.get("outputs", {}).items()):
        item = _head_item(head, heads.get(output, {}) if "outputs" in task else task)
        if item is None:
            continue
        name = output if output not in model["nodes"] else f"{output}_head"
        model["nodes"][name] = {**item, "from": [node], "name": output}
        model["outputs"][output] = name


def _head_item(head: Any, task: dict) -> Optional[dict]:
    if head == "auto":
        made = supervised.auto_head(task)
        return normalize_item(made) if made else None
    return normalize_item(head)


def resolve_loss(loss: Any, task: dict) -> Any:
    heads = output_tasks(task)
    if isinstance(loss, dict) and set(loss) <= set(heads) and "outputs" in task:
        return {name: _one_loss(loss.get(name, "auto"), heads[name]) for name in heads}
    if "outputs" in task:
        return {name: _one_loss(loss, heads[name]) for name in heads}
    return _one_loss(loss, task)


def _one_loss(loss: Any, task: dict) -> Any:
    if loss == "auto":
        declared = task_type(task)
        loss = declared.auto_loss(task) if declared else None
    return compact_call(resolve_call(loss)) if loss is not None else None


def resolve_metrics(metrics: Any, task: dict) -> Any:
    heads = output_tasks(task)
    if isinstance(metrics, dict):
        return {name: [compact_call(resolve_call(m)) for m in metrics.get(name, [])] for name in heads}
    if metrics is None:
        if "outputs" in task:
            return {name: _auto_metrics(t) for name, t in heads.items()}
        return _auto_metrics(task)
    return [compact_call(resolve_call(m)) for m in metrics]


def _auto_metrics(task: dict) -> list:
    declared = task_type(task)
    return declared.auto_metrics(task) if declared else []


def resolve_batch(batch: dict) -> dict:
    batch = dict(batch)
    if batch["strategy"] in ("full_batch", "stochastic"):
        batch.pop("size", None)
    return batch


def resolve_train(train: dict) -> dict:
    train = dict(train)
    stop = train.get("early_stopping")
    if stop is True:
        stop = {}
    if isinstance(stop, dict):
        train["early_stopping"] = {**EARLY_STOPPING, **stop}
    if train.get("phases"):
        train["phases"] = [resolve_phase(phase, index, train) for index, phase in enumerate(train["phases"])]
        train["epochs"] = sum(phase["epochs"] for phase in train["phases"])
    return train


def resolve_phase(phase: dict, index: int, train: dict) -> dict:
    """A phase with its name, its frozen layers (default train.freeze) and its early stopping
    (a phase's ends the phase: it restores no weights)."""
    out = {"name": f"phase{index + 1}", **phase}
    out.setdefault("freeze", list(train.get("freeze") or []))
    stop = out.get("early_stopping", False)
    if stop is True:
        stop = {}
    if isinstance(stop, dict):
        stop = {**{k: v for k, v in EARLY_STOPPING.items() if k != "restore_best_weights"}, **stop}
    out["early_stopping"] = stop
    if "optimizer" in out:
        out["optimizer"] = resolve_call(out["optimizer"])
    return out


# --- calls -----------------------------------------------------------------------------------

def resolve_call(value: Any) -> Optional[dict]:
    """`adam` -> `{adam: {}}`; `{adam: null}` -> `{adam: {}}`; GAN optimizer pairs pass through."""
    if value is None:
        return None
    if isinstance(value, str):
        return {value: {}}
    if is_optimizer_set(value):
        return {k: resolve_call(v) for k, v in value.items()}
    return {name: dict(args or {}) for name, args in value.items()}


def compact_call(call: Optional[dict]) -> Any:
    """`{accuracy: {}}` -> `accuracy` (the short form reads better in rendered specs)."""
    if isinstance(call, dict) and len(call) == 1:
        name, args = next(iter(call.items()))
        if not args:
            return name
    return call
