"""Checks against the task table: task fields, head, output activation, loss; known names."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from specc import catalog
from specc.layer_items import META_KEYS
from specc.registries import TASK_TYPES, is_optimizer_set, task_type
from specc.spec_data import integer, items, mapping
from specc.spec_data import problem as _p
from specc.suggest import a_or_an, did_you_mean, one_of
from specc.tasks import supervised as table

if TYPE_CHECKING:
    from specc.load.document import Document


def check_task(doc: Document) -> list:
    """Each task has what its row needs and nothing that belongs to another row."""
    task = doc.data["task"]
    if "outputs" in task:
        out = []
        if "type" in task:
            out.append(_p(doc, ("task", "type"), "give either `type:` or `outputs:`, not both",
                          "with several outputs, each output has its own type", key=True))
        for name, sub in mapping(task["outputs"]).items():
            if isinstance(sub, dict):
                out += _check_one_task(doc, ("task", "outputs", name), sub)
        return out
    if "type" not in task:
        return [_p(doc, ("task",), "the task has no `type:`",
                   f"one of: {one_of(TASK_TYPES.names())}; or `outputs:` for several outputs",
                   missing="type")]
    return _check_one_task(doc, ("task",), task)


def _check_one_task(doc, base, task) -> list:
    kind = task.get("type")
    if kind is None:
        return [_p(doc, base, "this output has no `type:`", f"one of: {one_of(TASK_TYPES.names())}",
                   missing="type")]
    declared = task_type(task)
    if declared is None:
        return []  # the schema reports the unknown type
    out = []
    if base != ("task",) and not declared.supervised:
        supervised_types = [n for n in TASK_TYPES if TASK_TYPES.get(n).supervised]
        out.append(_p(doc, base + ("type",), f"{_a(kind)} {kind} task cannot be one output of several",
                      f"each output is a row of the task table: {one_of(supervised_types)}", code="task"))
    for field in declared.required:
        if field not in task:
            out.append(_p(doc, base, f"{a_or_an(kind)} task needs `{field}:`", _required_hint(declared, field),
                          code="task", missing=field))
    for key in task:
        owners = [n for n in TASK_TYPES if key in TASK_TYPES.get(n).fields]
        if owners and key not in declared.fields:  # unknown keys are the schema's to report
            out.append(_p(doc, base + (key,), f"`{key}` does not apply to {a_or_an(kind)} task",
                          f"`{key}` belongs to {' and '.join(owners)} tasks; remove it, or change "
                          f"task.type", code="task", key=True))
    return out


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _required_hint(declared, field: str) -> str:
    if declared.table_row:
        return f"task table row: {declared.table_row}"
    description = declared.fields[field].get("description", "").split(": ", 1)[-1].split(" (required")[0]
    return f"e.g. task: {{type: {declared.name}, {field}: ...}} ({field}: {description.rstrip('.')})"


# --- head, output activation, loss --------------------------------------------------------

def check_head_and_loss(doc: Document) -> list:
    """The head and loss agree with the task table's row (per output)."""
    task, model = doc.data["task"], doc.data["model"]
    heads = mapping(task.get("outputs")) or {"output": task}
    out = []
    for name, sub in heads.items():
        declared = task_type(sub)
        if declared is None or not declared.supervised:
            continue
        out += _check_head(doc, sub, model)
        loss, path = _loss_for(doc.data.get("loss", "auto"), name, "outputs" in task)
        if loss is not None:
            out += _check_loss(doc, path, sub, loss)
    return out


def _loss_for(loss: Any, output: str, several: bool) -> tuple[Optional[str], tuple]:
    path: tuple
    if several and isinstance(loss, dict) and output in loss:
        value, path = loss[output], ("loss", output)
    else:
        value, path = loss, ("loss",)
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value)), path + (next(iter(value)),)
    return (value if isinstance(value, str) and value != "auto" else None), path


def _check_loss(doc, path, task, loss) -> list:
    if loss not in catalog.names("losses") or table.loss_fits(task, loss):
        return []  # an unknown name is reported by check_names
    kind = task["type"]
    hint = f"task table row: {table.TABLE_ROWS[kind]}; or write `loss: auto`"
    if kind == "multiclass" and loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        enc = task.get("encoding", "sparse")
        msg = f"{loss} does not fit {enc} labels (task.encoding: {enc})"
        hint = ("class ids take sparse_categorical_crossentropy; one-hot labels take "
                "categorical_crossentropy (set task.encoding: one_hot)")
        return [_p(doc, path, msg, hint, code="task-table")]
    return [_p(doc, path, f"loss '{loss}' does not fit {a_or_an(kind)} task", hint, code="task-table")]


# Per label form (tasks/supervised.py label_form): the labels, and the metrics that take them.
LABEL_FORMS = {
    "class_ids": ("class ids (task.encoding: sparse)",
                  "class ids take accuracy, sparse_categorical_accuracy, sparse_top_k_categorical_accuracy or "
                  "sparse_categorical_crossentropy; for other metrics give one-hot labels (task.encoding: one_hot)"),
    "one_per_sample": ("one label per sample", "these take one label per sample: {examples} (the loss is "
                                               "reported as `loss` already)"),
    "rows": ("a row of labels per sample",
             "sparse_ metrics take class ids: use the one without sparse_ (e.g. categorical_accuracy)"),
}

ONE_PER_SAMPLE = {"binary": "binary_accuracy, auc, precision, recall",
                  "regression": "mean_absolute_error, mean_squared_error, root_mean_squared_error"}


def check_metric_labels(doc: Document) -> list:
    """Each metric can take the labels its output trains on (a class id, one value or a row per
    sample): Keras finds out only at the first training step."""
    task, metrics = doc.data["task"], doc.data.get("metrics")
    outputs = mapping(task.get("outputs"))
    out = []
    for name, sub in (outputs or {"": task}).items():
        # Several outputs take a metrics list per output; a flat list is not this check's to judge.
        listed, path = (metrics.get(name), ("metrics", name)) if outputs and isinstance(metrics, dict) \
            else (None if outputs else metrics, ("metrics",))
        declared = task_type(sub) if isinstance(sub, dict) else None
        if declared is None or not declared.table_row or not isinstance(listed, list):
            continue
        for index, item in enumerate(listed):
            metric, _ = _split(item)
            known = metric in catalog.names("metrics") or metric in table.CLASS_ID_METRICS  # else check_names
            if isinstance(metric, str) and known and not table.metric_fits(sub, metric):
                out.append(_metric_problem(doc, path + (index,), sub, metric, name))
    return out


def _metric_problem(doc, path, task, metric, output) -> Any:
    labels, hint = LABEL_FORMS[table.label_form(task) or "rows"]
    hint = hint.format(examples=ONE_PER_SAMPLE.get(task["type"], ""))
    whose = f"output '{output}', {a_or_an(task['type'])} task" if output else a_or_an(task["type"]) + " task"
    return _p(doc, path, f"metric '{metric}' does not fit the labels of {whose}: {labels}; training "
              "would fail at its first step", hint, code="task-table")


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
    row = f"task table row: {table.TABLE_ROWS[kind]}"
    units, act = integer(args.get("units")), args.get("activation", "linear")
    want_units = table.output_units(task)
    if act == "softmax" and units == 1:
        fix = ("use activation: sigmoid" if kind in ("binary", "multilabel")
               else f"use units: {want_units}" if kind == "multiclass" and want_units else row)
        return [_p(doc, path, "softmax over one unit always outputs 1.0, so the model cannot learn",
                   f"{fix} ({row})", code="task-table")]
    if units is not None and isinstance(want_units, int) and units != want_units:
        out.append(_p(doc, path + ("units",), f"the output layer has {units} unit(s); {a_or_an(kind)} task "
                      f"{_units_reason(task)} needs {want_units}", row, code="task-table"))
    if isinstance(act, str) and act not in table.COMPATIBLE_ACTIVATIONS[kind]:
        want = table.output_activation(task)
        if "activation" not in args:
            out.append(_p(doc, path, f"the output layer has no activation (so it is linear); {a_or_an(kind)} "
                          f"task takes {want}", f"add activation: {want} ({row})", code="task-table",
                          missing="activation"))
        else:
            out.append(_p(doc, path + ("activation",), f"output activation '{act}' does not fit a "
                          f"{kind} task, which takes {want}", row, code="task-table"))
    return out


def _units_reason(task) -> str:
    field = {"multiclass": "classes", "multilabel": "labels", "regression": "targets"}.get(task["type"])
    if field is None:
        return ""
    return f"with {field}: {task.get(field, 1)}"


def _last_layer(model):
    layers = items(model.get("layers"))
    if layers:
        return layers[-1], ("model", "layers", len(layers) - 1)
    return None, ()


def _split(item) -> tuple[Optional[str], Any]:
    if isinstance(item, str):
        return item, {}
    if not isinstance(item, dict):
        return None, None
    keys = [k for k in item if k not in META_KEYS]
    return (keys[0], item[keys[0]]) if len(keys) == 1 else (None, None)


def check_task_outputs(doc: Document) -> list:
    """Each output of `task.outputs` is an output of the model (model.outputs of a graph)."""
    task, model = doc.data["task"], doc.data["model"]
    wanted = mapping(task.get("outputs"))
    if not wanted or not isinstance(model, dict) or ("layers" not in model and "nodes" not in model):
        return []
    if "nodes" in model:
        nodes = mapping(model.get("nodes"))
        made = list(mapping(model.get("outputs"))) or (["output"] if nodes else [])
    else:
        made = ["output"]
    spare = [name for name in made if name not in wanted]
    out = []
    for name in wanted:
        if name not in made:
            hint = did_you_mean(name, spare) or (f"add `{name}: NODE` to model.outputs" if "nodes" in model else
                                                  "several outputs need a graph: model.nodes and model.outputs")
            out.append(_p(doc, ("task", "outputs", name), f"task output '{name}' is not an output of the model "
                          f"(its outputs: {', '.join(made) or 'none'})", hint, code="unknown-output", key=True))
    return out


# --- names of losses, metrics, optimizers, schedules ----------------------------------------

def check_names(doc: Document) -> list:
    """Loss, metric, optimizer and schedule names are ones Keras knows; per-output settings
    name outputs the task has."""
    data = doc.data
    task = data["task"]
    outputs = list(task["outputs"]) if isinstance(task.get("outputs"), dict) else None
    out = _check_losses(doc, outputs) + _check_metrics(doc, outputs) + _check_loss_weights(doc, outputs)
    opt = data.get("optimizer")
    if isinstance(opt, dict) and is_pair(opt):
        for part, value in opt.items():
            out += check_call(doc, ("optimizer", part), value, "optimizers", "optimizer")
    elif isinstance(opt, dict) and len(opt) > 1:
        keys = ", ".join(f"'{k}'" for k in opt)
        out.append(_p(doc, ("optimizer",), f"give one optimizer, found {keys}",
                      "e.g. optimizer: {adam: {learning_rate: 1.0e-3}}; " + _pairs_note(), code="optimizer"))
    elif opt is not None:
        out += check_call(doc, ("optimizer",), opt, "optimizers", "optimizer")
    if data.get("schedule"):
        out += check_call(doc, ("schedule",), data["schedule"], "schedules", "schedule")
    return out


def is_pair(optimizer: dict) -> bool:
    """An optimizer per network of a task type that has several (a gan's)."""
    return is_optimizer_set(optimizer)


def _pairs_note() -> str:
    notes = [f"only a {n} task takes {{" + ", ".join(f"{p}: ..." for p in TASK_TYPES.get(n).optimizer_parts) + "}"
             for n in TASK_TYPES if TASK_TYPES.get(n).optimizer_parts]
    return "; ".join(notes)


def _check_losses(doc, outputs) -> list:
    loss = doc.data.get("loss", "auto")
    if not isinstance(loss, dict) or len(loss) == 1 and not set(loss) & set(outputs or []):
        return check_call(doc, ("loss",), loss, "losses", "loss")  # one loss (for every output)
    if not outputs:
        keys = ", ".join(f"'{k}'" for k in loss)
        return [_p(doc, ("loss",), f"a loss mapping names one loss, found {keys}",
                   "write one loss, e.g. loss: {huber: {delta: 1.0}}; a loss per output needs "
                   "task.outputs", code="loss")]
    out = []
    for name, value in loss.items():
        if name in outputs:
            out += check_call(doc, ("loss", name), value, "losses", "loss")
        else:
            out.append(_not_an_output(doc, ("loss", name), name, outputs))
    return out


def _check_metrics(doc, outputs) -> list:
    metrics = doc.data.get("metrics")
    if isinstance(metrics, list):
        return [p for i, item in enumerate(metrics)
                for p in check_call(doc, ("metrics", i), item, "metrics", "metric")]
    if not isinstance(metrics, dict):
        return []
    if not outputs:
        return [_p(doc, ("metrics",), "metrics per output need several outputs (task.outputs)",
                   "give a list, e.g. metrics: [accuracy]", code="metrics")]
    out = []
    for name, listed in metrics.items():
        if name not in outputs:
            out.append(_not_an_output(doc, ("metrics", name), name, outputs))
        elif not isinstance(listed, list):
            out.append(_p(doc, ("metrics", name), f"found {kind_of(listed)}, expected a list of metrics",
                          f"e.g. {name}: [accuracy]", code="type"))
        else:
            out += [p for i, item in enumerate(listed) for p in _check_metric_item(doc, ("metrics", name, i), item)]
    return out


def _check_metric_item(doc, path, item) -> list:
    """A metric in a per-output list (the schema does not look inside those lists)."""
    if isinstance(item, str) or isinstance(item, dict) and len(item) == 1:
        return check_call(doc, path, item, "metrics", "metric")
    return [_p(doc, path, f"found {kind_of(item)}, expected a metric name or {{name: {{args}}}}",
               "e.g. accuracy, or {auc: {curve: PR}}", code="type")]


def _check_loss_weights(doc, outputs) -> list:
    weights = doc.data.get("loss_weights")
    if not isinstance(weights, dict):
        return []
    if not outputs:
        return [_p(doc, ("loss_weights",), "loss_weights weighs the outputs of a task with several "
                    "outputs (task.outputs); with one output it changes nothing",
                    "remove loss_weights", code="loss", severity="warning", key=True)]
    return [_not_an_output(doc, ("loss_weights", name), name, outputs)
            for name in weights if name not in outputs]


def _not_an_output(doc, path, name, outputs) -> Any:
    return _p(doc, path, f"'{name}' is not an output of the task",
              did_you_mean(name, outputs) or f"the outputs (task.outputs): {one_of(outputs)}",
              code="unknown-output", key=True)


def kind_of(value: Any) -> str:
    """`a mapping`, `a list`, ...: what a value is, in a message."""
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def check_call(doc: Document, path: tuple, value: Any, kind: str, what: str) -> list:
    """A named object (`adam`, `{huber: {delta: 1.0}}`): a known name, arguments in a mapping."""
    if value == "auto" and kind == "losses":
        return []
    if isinstance(value, str):
        name, where, key = value, path, False
    elif isinstance(value, dict) and len(value) == 1:
        name = next(iter(value))
        where, key = path + (name,), True
        args = value[name]
        if args is not None and not isinstance(args, dict):
            return [_p(doc, where, f"the arguments of {what} '{name}' must be a mapping, found "
                       f"{kind_of(args)}", f"e.g. {name}: {{...}}, or just {name}", code="type")]
    else:
        return []
    known = catalog.names(kind) + (["accuracy"] if kind == "metrics" else [])
    if name in known and isinstance(value, str) and kind == "schedules":
        return schedule_required(doc, path, name, {})
    if name in known and kind != "schedules" and (isinstance(value, str) or value[name] is None):
        return required_arguments(doc, where, kind, what, name, {}, filled=())
    if name in known or (kind == "schedules" and name == "warmup") or _own_loss(doc, path, kind) == name:
        return []
    hint = did_you_mean(name, known) or f"known {kind}: {one_of(sorted(known))}"
    if kind == "losses" and _auto_loss_note(doc, path):
        hint += (" " if hint.endswith("?") else "; ") + _auto_loss_note(doc, path)
    return [_p(doc, where, f"unknown {what} '{name}'", hint, code=f"unknown-{what}", key=key)]


# What specc gives a schedule when the spec does not (specc/compile/training.py make_schedule).
FILLED_BY_SPECC = ("initial_learning_rate", "decay_steps", "first_decay_steps")


def schedule_required(doc: Document, path: tuple, name: str, args: dict,
                      filled: tuple = FILLED_BY_SPECC) -> list:
    """A schedule's required arguments that neither the spec nor specc gives."""
    return required_arguments(doc, path, "schedules", "schedule", name, args, filled)


def required_arguments(doc: Document, path: tuple, kind: str, what: str, name: str, args: dict,
                       filled: tuple) -> list:
    """The arguments a named object cannot be built without that neither the spec nor specc
    gives (`sensitivity_at_specificity` named bare has no `specificity`)."""
    entry = catalog.entry(kind, name) or {}
    missing = [a["name"] for a in entry.get("args", []) if a["required"] and a["name"] not in args
               and a["name"] not in filled]
    if not missing:
        return []
    shown = ", ".join(f"{arg}: ..." for arg in missing)
    needed = " and ".join(f"'{arg}'" for arg in missing)
    return [_p(doc, path, f"{what} '{name}' needs {needed}", f"write it with its arguments: "
               f"{{{name}: {{{shown}}}}}", code="required", missing=missing[0])]


def _own_loss(doc, path, kind: str) -> Optional[str]:
    """The loss the task's paradigm computes itself (no Keras loss has its name), if any."""
    if kind != "losses":
        return None
    declared = task_type(_path_task(doc, path))
    return declared.own_loss if declared else None


def _path_task(doc, path) -> Any:
    """The task a `loss:` at `path` belongs to (an output's, under `loss: {output: ...}`)."""
    task = doc.data.get("task")
    if isinstance(task, dict) and len(path) == 2 and isinstance(task.get("outputs"), dict):
        task = task["outputs"].get(path[1])
    return task


def _auto_loss_note(doc, path) -> str:
    """`; loss: auto gives sparse_categorical_crossentropy here` when the task decides it."""
    task = _path_task(doc, path)
    declared = task_type(task)
    auto = declared.auto_loss(task) if declared else None
    return f"`loss: auto` gives {auto} for this task" if auto else ""
