"""Shape errors, in the spec's words.

Connecting a layer to its inputs is where Keras finds shape mistakes (a conv2d on a flat
vector, `add` of tensors with different depths, a pooling window larger than the feature
map). `connect` runs that call and turns any Keras/TensorFlow error into a `SpecInvalid`
naming the layer's spec path, its position in the file and the input shapes involved.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Optional, Sequence

from specc.errors import Problem, SpecInvalid, resource_error
from specc.suggest import a_or_an

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BOLD = re.compile(r"\x1b\[1m(.*?)\x1b\[0m", re.S)
_NDIM = re.compile(r"expected (min_|max_)?ndim=(\d+), found ndim=(\d+)")
_AXIS = re.compile(r"expected axis (-?\d+) of input shape to have value (\d+)")
_TENSOR_REPR = re.compile(r"<KerasTensor shape=(\([^)]*\))[^>]*>")

MERGE_HINT = ("make the last dimension (filters or units) the same on both branches, or project "
              "one branch with a 1x1 `conv2d` / a `dense`; `concatenate` joins tensors of "
              "different depth")


def clean_message(err: BaseException) -> str:
    """The informative sentence(s) of a Keras or TensorFlow error, without ANSI codes,
    argument dumps or tracebacks."""
    text = str(err)
    bold = _BOLD.search(text)
    if bold:
        text = bold.group(1)
    text = _ANSI.sub("", text)
    text = text.split("\n\nArguments received", 1)[0]
    text = _TENSOR_REPR.sub(r"tensor \1", text)
    paragraphs = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
    text = paragraphs[0] if paragraphs else type(err).__name__
    text = " ".join(line.strip() for line in text.splitlines())
    return text if len(text) <= 400 else text[:397] + "..."


def shape_text(tensor: Any) -> str:
    """`(None, 8, 8, 16)` for a tensor (or anything with a shape)."""
    shape = getattr(tensor, "shape", tensor)
    try:
        dims = tuple(None if d is None else int(d) for d in shape)
    except TypeError:
        return str(shape)
    return str(dims) if len(dims) != 1 else f"({dims[0]},)"


def tensor_text(tensor: Any) -> str:
    """`a 4-D tensor (None, 8, 8, 16)`."""
    rank = len(getattr(tensor, "shape", ()))
    return f"a {rank}-D tensor {shape_text(tensor)}"


def connect(layer: Any, inputs: Any, key: str, path: tuple, where: Optional[Callable] = None,
            note: str = "", positional: bool = False) -> Any:
    """Call `layer` on `inputs` (a tensor, or a list for merge layers); return its output.

    Args:
        layer: A Keras layer.
        inputs: One KerasTensor, or a list of them.
        key: The spec's layer name (`conv2d`), used in messages.
        path: Spec path of the layer item.
        where: Maps a spec path to a Position (or None).
        note: Extra context appended to the message (e.g. which block call).
        positional: Pass a list of inputs as separate positional arguments.

    Raises:
        SpecInvalid: The layer cannot take these inputs (one problem, with the shapes).
    """
    try:
        if positional:
            return layer(*inputs)
        return layer(inputs)
    except SpecInvalid:
        raise
    except Exception as err:  # noqa: BLE001 - every Keras/TF error becomes a spec problem
        exhausted = resource_error(err)
        if exhausted is not None:  # the machine's memory, not the spec (the weights are made here)
            raise exhausted from None
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        message, hint = explain(layer, key, tensors, err)
        position = where(tuple(path)) if where else None
        raise SpecInvalid([Problem(tuple(path), message + note, hint, position, code="shape")]) from None


def explain(layer: Any, key: str, tensors: Sequence, err: BaseException) -> tuple[str, Optional[str]]:
    """(message, hint) for a layer that failed on `tensors`."""
    raw = clean_message(err)
    shapes = " and ".join(shape_text(t) for t in tensors)
    first = tensors[0] if tensors else None
    ndim = _NDIM.search(raw)
    if ndim and first is not None:
        return _rank_problem(key, first, int(ndim.group(2)), int(ndim.group(3)), bool(ndim.group(1)))
    if "would be zero or negative" in raw or "negative dimension" in raw.lower():
        return _window_problem(layer, key, first)
    if "incompatible shapes" in raw.lower() or "must have the same shape" in raw.lower():
        return f"{key} needs inputs of the same shape, got {shapes}", MERGE_HINT
    if "Concatenate" in raw and "matching shapes" in raw:
        axis = getattr(layer, "axis", -1)
        return (f"concatenate needs inputs that match on every axis except axis {axis}, got {shapes}",
                "flatten or pool the input with more axes first (e.g. `flatten`, "
                "`global_average_pooling2d`), or concatenate on another `axis`")
    if "total size of the tensor must be unchanged" in raw and first is not None:
        return _reshape_problem(layer, first)
    axis = _AXIS.search(raw)
    if axis and first is not None:
        return (f"{key} was built for inputs with {axis.group(2)} values on axis {axis.group(1)} "
                f"but gets {tensor_text(first)}",
                "a layer used twice must see the same shape each time")
    return f"{key} cannot take input {shapes}: {raw}", None


def _rank_problem(key: str, tensor, expected: int, found: int, at_least: bool) -> tuple[str, str]:
    more = " or more" if at_least else ""
    message = (f"{key} expects a {expected}-D input{more} (batch axis included) "
               f"but gets {tensor_text(tensor)}")
    if found > expected:
        if expected == 2:
            hint = "add `flatten` (or a global pooling layer such as `global_average_pooling2d`) before it"
        elif expected == 3:
            hint = ("add a `reshape` to (time, features) before it, e.g. "
                    "`reshape: {target_shape: [-1, " + str(_last(tensor)) + "]}`, or pool/flatten first")
        else:
            hint = "add `flatten`, a global pooling layer or a `reshape` before it"
    else:
        dims = [d for d in tuple(tensor.shape)[1:]]
        target = dims + [1] * (expected - found)
        hint = (f"add a `reshape` before it, e.g. `reshape: {{target_shape: {_yaml_list(target)}}}`, "
                f"or use a layer made for {found}-D input")
    return message, hint


def _window_problem(layer, key: str, tensor) -> tuple[str, str]:
    window = None
    for attr, word in (("pool_size", "pool_size"), ("kernel_size", "kernel_size")):
        value = getattr(layer, attr, None)
        if value is not None:
            window = f"{word} {_plain(value)}"
            break
    strides = getattr(layer, "strides", None)
    what = f" ({window}, strides {_plain(strides)})" if window and strides is not None else \
        (f" ({window})" if window else "")
    spatial = shape_text(tensor)
    message = (f"{key}{what} would produce an empty output: its window is larger than the "
               f"input {spatial}")
    hint = ("use `padding: same`, a smaller window or stride, or remove a pooling layer "
            "earlier in the model")
    return message, hint


def _reshape_problem(layer, tensor) -> tuple[str, str]:
    dims = [d for d in tuple(tensor.shape)[1:]]
    have = math.prod(d for d in dims if d is not None)
    target = list(getattr(layer, "target_shape", ()) or ())
    message = (f"reshape cannot turn {tensor_text(tensor)} ({have} values per sample) into "
               f"target_shape {_yaml_list(target)}")
    return message, f"the product of target_shape must be {have}; use -1 for one dimension"


def check_outputs(outputs: dict, tasks: dict, paths: dict, where: Optional[Callable] = None) -> None:
    """Raise SpecInvalid when a supervised output is not (batch, units) with the units the
    task needs: e.g. a head on a feature map (`dense` keeps the spatial axes, so a missing
    `flatten` shows up here) or a graph whose output has no head.

    Args:
        outputs: Output name -> KerasTensor.
        tasks: Output name -> task dict (a single task applies to a single output whatever
            its name).
        paths: Output name -> spec path of the layer that makes it.
        where: Maps a spec path to a Position.
    """
    from specc.registries import task_type
    from specc.tasks.supervised import output_units

    if len(outputs) == 1 and len(tasks) == 1 and next(iter(tasks)) not in outputs:
        tasks = {next(iter(outputs)): next(iter(tasks.values()))}
    problems = []
    for name, tensor in outputs.items():
        task = tasks.get(name) or {}
        declared = task_type(task)
        if declared is None or not declared.supervised:
            continue
        kind = declared.name
        path = tuple(paths.get(name, ("model",)))
        rank = len(tensor.shape)
        units = output_units(task)
        if rank != 2:
            problems.append(Problem(
                path, f"output '{name}' is {tensor_text(tensor)}, but {a_or_an(kind)} task needs "
                      f"(batch, units), e.g. (None, {units or tensor.shape[-1]})",
                "add `flatten` or a global pooling layer (e.g. `global_average_pooling2d`) before the "
                "head" if rank > 2 else "add a `dense` layer with the output units",
                where(path) if where else None, code="shape"))
        elif units and tensor.shape[-1] != units:
            problems.append(Problem(
                path, f"output '{name}' has {tensor.shape[-1]} units but the {kind} task needs {units} "
                      f"({_task_words(task)})",
                f"end the model with a `dense: {{units: {units}}}` layer, or use `head: auto`",
                where(path) if where else None, code="shape"))
    if problems:
        raise SpecInvalid(problems)


def _task_words(task: dict) -> str:
    kind = task.get("type")
    if kind == "multiclass":
        return f"{task.get('classes')} classes"
    if kind == "multilabel":
        return f"{task.get('labels')} labels"
    if kind == "regression":
        return f"{task.get('targets', 1)} target(s)"
    return "one probability"


def _last(tensor) -> Any:
    return tuple(tensor.shape)[-1]


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value)


def _yaml_list(values: Sequence) -> str:
    return "[" + ", ".join("null" if v is None else str(v) for v in values) + "]"
