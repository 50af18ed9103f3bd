"""Shapes followed through the model before anything is built: what `specc compile` would
find only when Keras connects the layers.

Each network (the model, or the parts of a composite task) is walked from its inputs the way
specc/compile builds it: `data.preprocessing` after each float input, a stack or a graph,
blocks expanded with their parameters, `repeat`, the head `head: auto` appends; then the
outputs against the task (a head on a feature map that was never flattened), the decoder
against the input it reconstructs, the generator against the discriminator. Each layer's
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
from specc.tasks.supervised import auto_head, output_units

if TYPE_CHECKING:
    from specc.load.document import Document


def check_shapes(doc: Document) -> list[Problem]:
    """Every layer takes the shape it gets; outputs fit the task; the model within the size limits."""
    walk = networks.Walk(doc, mapping(mapping(doc.data.get("model")).get("blocks")), Tally(),
                         plugins=(plugin_layers(doc) or {}) if doc.data.get("plugins") else {})
    declared = task_type(mapping(doc.data.get("task")))
    name = declared.name if declared else None
    if name == "autoencoder":
        _autoencoder(walk)
    elif name == "gan":
        _gan(walk)
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

def _autoencoder(walk: networks.Walk) -> None:
    """encoder(preprocess(x)) -> decoder -> the preprocessed input again."""
    model = _model(walk)
    encoder, decoder = mapping(model.get("encoder")), mapping(model.get("decoder"))
    inputs = networks.input_shapes(encoder)
    if len(inputs) != 1:
        return
    clean = walk.preprocessed(inputs, _preprocessing(walk))
    code = _one_output(walk.network(encoder, ("model", "encoder"), inputs))
    given = networks.input_shapes(decoder)
    made = walk.network(decoder, ("model", "decoder"), given or {"code": code})
    shape, want = _one_output(made), next(iter(clean.values()))
    if shape is not None and want is not None and not networks.same_shape(shape, want):
        walk.problems.append(_p(walk.doc, ("model", "decoder"), f"the decoder makes {shape_text(shape)}, but it "
                                f"reconstructs the input, {shape_text(want)}",
                                "end the decoder with a layer of the input's shape (e.g. dense with as many "
                                "units as the input has values, then `reshape`)", code="shape"))


def _gan(walk: networks.Walk) -> None:
    """latent -> generator -> sample -> (preprocessing) -> discriminator -> one score."""
    model = _model(walk)
    generator, discriminator = mapping(model.get("generator")), mapping(model.get("discriminator"))
    latent = integer(mapping(walk.doc.data.get("task")).get("latent_dim"))
    z = {"latent": (latent,) if latent and latent > 0 else None}
    sample = _one_output(walk.network(generator, ("model", "generator"), networks.input_shapes(generator) or z))
    given = networks.input_shapes(discriminator) or networks.input_shapes(model)
    inputs = given or {"sample": sample}
    wanted = next(iter(inputs.values())) if len(inputs) == 1 else None
    if sample is not None and wanted is not None and not networks.same_shape(sample, wanted):
        walk.problems.append(_p(walk.doc, ("model", "generator"), f"the generator makes {shape_text(sample)} "
                                f"samples, but the discriminator takes {shape_text(wanted)}",
                                "end the generator with a layer of the data's shape (e.g. `reshape`)",
                                code="shape"))
    score = _one_output(walk.network(discriminator, ("model", "discriminator"),
                                     walk.preprocessed(inputs, _preprocessing(walk))))
    if score is not None and tuple(score) != (1,):
        walk.problems.append(_p(walk.doc, ("model", "discriminator"), f"the discriminator makes "
                                f"{shape_text(score)}; it must give one score per sample, (None, 1)",
                                "end it with `dense: 1` (a logit; or with activation: sigmoid)", code="shape"))


def _one_output(made: dict) -> Any:
    """The shape of a network's one output (None: unknown, or several outputs)."""
    return next(iter(made.values())).shape if len(made) == 1 else None

