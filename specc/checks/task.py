"""Checks against the task table: task fields, head, output activation, loss; known names."""
from __future__ import annotations

from typing import Any, Optional

from specc import catalog, tasks
from specc.checks._common import problem as _p
from specc.suggest import did_you_mean, one_of

NEEDS = {"multiclass": "classes", "multilabel": "labels"}
FIELDS = {
    "binary": set(), "multiclass": {"classes", "encoding"}, "multilabel": {"labels"},
    "regression": {"targets", "range", "outliers"}, "autoencoder": {"noise"},
    "gan": {"latent_dim"}, "few_shot": {"method", "ways", "shots", "queries", "episodes"},
}


def check_task(doc) -> list:
    """Each task has what its row needs and nothing that belongs to another row."""
    task = doc.data["task"]
    if "outputs" in task:
        out = []
        if "type" in task:
            out.append(_p(doc, ("task", "type"), "give either `type:` or `outputs:`, not both",
                          "with several outputs, each output has its own type", key=True))
        for name, sub in task["outputs"].items():
            out += _check_one_task(doc, ("task", "outputs", name), sub)
        return out
    if "type" not in task:
        return [_p(doc, ("task",), "the task has no `type:`",
                   f"one of: {one_of(list(FIELDS))}; or `outputs:` for several outputs")]
    return _check_one_task(doc, ("task",), task)


def _check_one_task(doc, base, task) -> list:
    kind = task.get("type")
    if kind is None:
        return [_p(doc, base, "this output has no `type:`", f"one of: {one_of(list(FIELDS))}")]
    out = []
    if kind in NEEDS and NEEDS[kind] not in task:
        out.append(_p(doc, base, f"a {kind} task needs `{NEEDS[kind]}:`",
                      f"task table row: {tasks.TABLE_ROWS[kind]}", code="task"))
    allowed = FIELDS.get(kind, set()) | {"type"}
    for key in task:
        if key not in allowed and key != "outputs":
            owner = next((k for k, f in FIELDS.items() if key in f), None)
            out.append(_p(doc, base + (key,), f"`{key}` does not apply to a {kind} task",
                          f"`{key}` belongs to {owner} tasks" if owner else None, code="task", key=True))
    return out


# --- head, output activation, loss --------------------------------------------------------

def check_head_and_loss(doc) -> list:
    """The head and loss agree with the task table's row (per output)."""
    task, model = doc.data["task"], doc.data["model"]
    heads = task.get("outputs") or {"output": task}
    out = []
    for name, sub in heads.items():
        if sub.get("type") not in tasks.SUPERVISED:
            continue
        out += _check_head(doc, sub, model)
        loss, path = _loss_for(doc.data.get("loss", "auto"), name, "outputs" in task)
        if loss is not None:
            out += _check_loss(doc, path, sub, loss)
    return out


def _loss_for(loss: Any, output: str, several: bool) -> tuple[Optional[str], tuple]:
    if several and isinstance(loss, dict) and output in loss:
        value, path = loss[output], ("loss", output)
    else:
        value, path = loss, ("loss",)
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value)), path + (next(iter(value)),)
    return (value if isinstance(value, str) and value != "auto" else None), path


def _check_loss(doc, path, task, loss) -> list:
    if tasks.loss_fits(task, loss):
        return []
    kind = task["type"]
    hint = f"task table row: {tasks.TABLE_ROWS[kind]}; or write `loss: auto`"
    if kind == "multiclass" and loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        enc = task.get("encoding", "sparse")
        msg = f"{loss} does not fit {enc} labels (task.encoding: {enc})"
        hint = ("class ids take sparse_categorical_crossentropy; one-hot labels take "
                "categorical_crossentropy (set task.encoding: one_hot)")
        return [_p(doc, path, msg, hint, code="task-table")]
    return [_p(doc, path, f"loss '{loss}' does not fit a {kind} task", hint, code="task-table")]


def _check_head(doc, task, model) -> list:
    head = model.get("head", "auto")
    if head == "auto":
        return []
    if head == "none":
        item, path = _last_layer(model)
        if item is None:
            return []
    else:
        item, path = head, ("model", "head")
    layer, args = _split(item)
    if layer != "dense" or not isinstance(args, dict):
        return []
    return _check_dense_head(doc, path + ("dense",), task, args)


def _check_dense_head(doc, path, task, args) -> list:
    kind, out = task["type"], []
    row = f"task table row: {tasks.TABLE_ROWS[kind]}"
    units, act = args.get("units"), args.get("activation", "linear")
    want_units = tasks.output_units(task)
    if isinstance(units, int) and want_units is not None and units != want_units:
        out.append(_p(doc, path + ("units",), f"the output layer has {units} unit(s); a {kind} task "
                      f"with this setting needs {want_units}", row, code="task-table"))
    if isinstance(act, str) and act not in tasks.COMPATIBLE_ACTIVATIONS[kind]:
        out.append(_p(doc, path + ("activation",), f"output activation '{act}' does not fit a {kind} task",
                      row, code="task-table"))
    if kind == "multiclass" and act == "softmax" and units == 1:
        out.append(_p(doc, path, "softmax over one unit is always 1.0", row, code="task-table"))
    return out


def _last_layer(model):
    layers = model.get("layers")
    if layers:
        return layers[-1], ("model", "layers", len(layers) - 1)
    return None, ()


def _split(item) -> tuple[Optional[str], Any]:
    if isinstance(item, str):
        return item, {}
    keys = [k for k in item if k not in ("from", "repeat", "name", "trainable")]
    return (keys[0], item[keys[0]]) if len(keys) == 1 else (None, None)


# --- names of losses, metrics, optimizers, schedules ----------------------------------------

def check_names(doc) -> list:
    """Loss, metric, optimizer and schedule names are ones Keras knows."""
    data, out = doc.data, []
    several = "outputs" in data["task"]
    loss = data.get("loss", "auto")
    if several and isinstance(loss, dict):
        for name, value in loss.items():
            out += _check_call(doc, ("loss", name), value, "losses", "loss")
    else:
        out += _check_call(doc, ("loss",), loss, "losses", "loss")
    metrics = data.get("metrics", [])
    groups = metrics.items() if isinstance(metrics, dict) else [(None, metrics)]
    for output, items in groups:
        base = ("metrics",) + ((output,) if output else ())
        for i, item in enumerate(items if isinstance(items, list) else []):
            out += _check_call(doc, base + (i,), item, "metrics", "metric")
    opt = data.get("optimizer")
    if isinstance(opt, dict) and set(opt) == {"generator", "discriminator"}:
        for part, value in opt.items():
            out += _check_call(doc, ("optimizer", part), value, "optimizers", "optimizer")
    elif opt is not None:
        out += _check_call(doc, ("optimizer",), opt, "optimizers", "optimizer")
    if data.get("schedule"):
        out += _check_call(doc, ("schedule",), data["schedule"], "schedules", "schedule")
    return out


def _check_call(doc, path, value, kind, what) -> list:
    if value == "auto" and kind == "losses":
        return []
    if isinstance(value, str):
        name, where, key = value, path, False
    elif isinstance(value, dict) and len(value) == 1:
        name = next(iter(value))
        where, key = path + (name,), True
    else:
        return []
    known = catalog.names(kind) + (["accuracy"] if kind == "metrics" else [])
    if name in known or (kind == "schedules" and name == "warmup"):
        return []
    hint = did_you_mean(name, known) or f"known {kind}: {one_of(sorted(known))}"
    return [_p(doc, where, f"unknown {what} '{name}'", hint, code=f"unknown-{what}", key=key)]
