"""Shapes followed through the model before anything is built: what `specc compile` would
find only when Keras connects the layers.

Each network (the model, or the parts of a composite task) is walked from its inputs the way
specc/compile builds it: `data.preprocessing` after each float input, a stack or a graph,
blocks expanded with their parameters, `repeat`, the head `head: auto` appends; then the
outputs against the task (a head on a feature map that was never flattened); the parts of a
composite model in the order the task type's links give, each link's two ends compared (the
decoder against the input it reconstructs, the generator against the discriminator). Each layer's
rule is in specc/checks/layer_shapes.py; after a layer it does not know, shapes are unknown
and nothing downstream is judged, so a problem is reported only when Keras would raise.
The same walk counts layers and parameters for the size limits (specc/checks/size.py).
No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from specc.checks import networks
from specc.checks.shape_basics import shape_text, tensor_text
from specc.checks.plugins import plugin_layers
from specc.checks.size import Tally, limits
from specc.errors import Problem
from specc.registries import task_type
from specc.spec_data import integer, items, mapping
from specc.spec_data import problem as _p
from specc.suggest import a_or_an
from specc.tasks.base import DATA, TASK, Link, TaskType
from specc.tasks.supervised import auto_head, output_units

if TYPE_CHECKING:
    from specc.load.document import Document


def check_shapes(doc: Document) -> list[Problem]:
    """Every layer takes the shape it gets; outputs fit the task; the model within the size limits."""
    walk = networks.Walk(doc, mapping(mapping(doc.data.get("model")).get("blocks")), Tally(),
                         plugins=(plugin_layers(doc) or {}) if doc.data.get("plugins") else {})
    declared = task_type(mapping(doc.data.get("task")))
    if declared is not None and declared.parts:
        _composite(walk, declared)
    else:
        _supervised(walk)
    return walk.problems + limits(doc, walk.tally)


def _model(walk: networks.Walk) -> dict:
    return mapping(walk.doc.data.get("model"))


def _preprocessing(walk: networks.Walk) -> list:
    return items(mapping(walk.doc.data.get("data")).get("preprocessing"))


# --- supervised and few-shot models ----------------------------------------------------------

def _supervised(walk: networks.Walk) -> None:
    model = _model(walk)
    if "layers" not in model and "nodes" not in model:
        return
    inputs = walk.preprocessed(networks.input_shapes(model), _preprocessing(walk))
    made = walk.network(model, ("model",), inputs)
    head = model.get("head", "auto")
    tasks = _output_tasks(walk.doc.data.get("task"), list(made))
    for output, last in made.items():
        task = tasks.get(output)
        item = _head_item(head, task)
        if item is not None:
            taken = walk.takes_states(_head_path(walk, last.path), [last.path], "the model's head")
            shape = None if taken else walk.item(item, ("model", "head"), [last.shape])
            last = networks.Made(shape, _head_path(walk, last.path), networks.item_key(item))
        if task is not None:
            walk.problems += _output_problems(walk.doc, output, task, last)


def _output_tasks(task: Any, outputs: list) -> dict:
    """Output name -> its supervised task (one task fits one output whatever its name)."""
    task = mapping(task)
    several = mapping(task.get("outputs"))
    tasks = several if several else {outputs[0]: task} if len(outputs) == 1 else {}
    out = {}
    for name, sub in tasks.items():
        declared = task_type(mapping(sub))
        if declared is not None and declared.supervised and name in outputs:
            out[name] = sub
    return out


def _head_item(head: Any, task: Optional[dict]) -> Any:
    if head == "none" or head is None:
        return None
    if head == "auto":
        return auto_head(task) if task is not None else None
    return head


def _head_path(walk: networks.Walk, last: tuple) -> tuple:
    """Where a problem of the model's output goes: an explicit `head:`, else the layer the
    head `auto` makes follows (the spec has no `head:` to point at)."""
    return ("model", "head") if ("model", "head") in walk.doc.positions else last


def _output_problems(doc: Document, output: str, task: dict, made: networks.Made) -> list[Problem]:
    """An output is (batch, units) with the units the task's row needs."""
    shape, path = made.shape, made.path
    if shape is None:
        return []
    kind, units = task.get("type"), output_units(task)
    if len(shape) != 1:
        hint = ("add `flatten` or a global pooling layer (e.g. `global_average_pooling2d`) before the head"
                if len(shape) > 1 else "add a `dense` layer with the output units")
        return [_p(doc, path, f"output '{output}' is {tensor_text(shape)}, but {a_or_an(kind)} task needs (batch, "
                   f"units), e.g. (None, {units or shape[-1]})", hint, code="shape")]
    checked = made.key == "dense"  # specc/checks/task.py compares a dense head's units with the table
    if integer(units) is not None and shape[0] is not None and shape[0] != units and not checked:
        return [_p(doc, path, f"output '{output}' has {shape[0]} units but the {kind} task needs {units}",
                   f"end the model with a `dense: {{units: {units}}}` layer, or use `head: auto`", code="shape")]
    return []


# --- composite models ------------------------------------------------------------------------

def _composite(walk: networks.Walk, declared: TaskType) -> None:
    """Each part of a composite model walked in the order its links give (the task type's
    declaration: which part the data feeds, which part's output another takes)."""
    made: dict[str, Any] = {}
    data: Optional[tuple] = None  # one sample of the data after data.preprocessing
    for part in _walk_order(declared):
        spec = mapping(_model(walk).get(part))
        path = ("model", part)
        linked = {link.input: (link, _link_value(walk, link, made)) for link in declared.links if link.target == part}
        declared_inputs = networks.input_shapes(spec)
        if part == declared.feeds:
            declared_inputs = declared_inputs or networks.input_shapes(_model(walk))
        _compare_links(walk, declared_inputs, linked)
        inputs = declared_inputs or {name: value for name, (_, value) in linked.items()}
        if part == declared.feeds:
            if len(inputs) != 1:
                return  # a composite paradigm takes one input (its own check reports more)
            inputs = walk.preprocessed(inputs, _preprocessing(walk))
            data = next(iter(inputs.values()))
        made[part] = _one_output(walk.network(spec, path, inputs))
        _part_output(walk, declared, part, made[part])
    for link in declared.links:
        if link.target == DATA:
            _compare(walk, link, made.get(link.source), data)


def _walk_order(declared: TaskType) -> list:
    """The parts, each after the parts whose output it takes."""
    order: list = []
    pending = list(declared.parts)
    while pending:
        ready = [p for p in pending if all(link.source in order or link.source not in pending
                                           for link in declared.links if link.target == p)]
        ready = ready or pending[:1]  # a cycle: walk in the declared order
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def _link_value(walk: networks.Walk, link: Link, made: dict) -> Any:
    """What a link passes on: a part's output, or a vector of a task field's size."""
    if link.source.startswith(TASK):
        size = integer(mapping(walk.doc.data.get("task")).get(link.source[len(TASK):]))
        return (size,) if size and size > 0 else None
    return made.get(link.source)


def _compare_links(walk: networks.Walk, inputs: dict, linked: dict) -> None:
    """A part that declares its one input takes what a linked part makes."""
    if len(inputs) != 1:
        return
    wanted = next(iter(inputs.values()))
    for link, value in linked.values():
        if not link.source.startswith(TASK):  # a task field's size is checked when the part is built
            _compare(walk, link, value, wanted)


def _compare(walk: networks.Walk, link: Link, shape: Any, wanted: Any) -> None:
    if shape is None or wanted is None or networks.same_shape(shape, wanted):
        return
    message = link.mismatch.format(source=link.source, target=link.target, made=shape_text(shape),
                                   wanted=shape_text(wanted))
    walk.problems.append(_p(walk.doc, ("model", link.source), message, link.hint, code="shape"))


def _part_output(walk: networks.Walk, declared: TaskType, part: str, shape: Any) -> None:
    want = declared.part_outputs.get(part)
    if want is None or shape is None or tuple(shape) == tuple(want.shape):
        return
    message = want.message.format(part=part, made=shape_text(shape), wanted=shape_text(want.shape))
    walk.problems.append(_p(walk.doc, ("model", part), message, want.hint, code="shape"))


def _one_output(made: dict) -> Any:
    """The shape of a network's one output (None: unknown, or several outputs)."""
    return next(iter(made.values())).shape if len(made) == 1 else None

