"""The pieces the shape rules share: shapes, the outcome of a rule, the refusal, and reading
size-like arguments. No TensorFlow here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from specc.spec_data import integer

Shape = tuple  # without the batch axis: an int or None (any size) per axis


class ShapeError(Exception):
    """Keras would refuse this input; `arg` names the argument at fault, if one is."""

    def __init__(self, message: str, hint: str, arg: Optional[str] = None):
        super().__init__(message)
        self.message, self.hint, self.arg = message, hint, arg


@dataclass(frozen=True)
class Out:
    """A layer's output shape (None: unknown from here on) and its parameter count (a floor)."""

    shape: Optional[Shape]
    parameters: int = 0


UNKNOWN = Out(None)


# --- text ------------------------------------------------------------------------------------

def shape_text(shape: Shape) -> str:
    """`(None, 8, 8, 16)`: the shape as Keras prints it, batch axis first."""
    dims = ("None",) + tuple("None" if d is None else str(d) for d in shape)
    return "(" + ", ".join(dims) + ")"


def tensor_text(shape: Shape) -> str:
    return f"a {len(shape) + 1}-D tensor {shape_text(shape)}"


def yaml_list(values: Any) -> str:
    return "[" + ", ".join("null" if v is None else str(v) for v in values) + "]"


def rank_error(key: str, shape: Shape, want: int, at_least: bool = False) -> ShapeError:
    """`want` counts the batch axis, as Keras's messages do."""
    more = " or more" if at_least else ""
    message = f"{key} expects a {want}-D input{more} (batch axis included) but gets {tensor_text(shape)}"
    found = len(shape) + 1
    if found > want and want == 2:
        hint = "add `flatten` (or a global pooling layer such as `global_average_pooling2d`) before it"
    elif found > want and want == 3:
        hint = ("add a `reshape` to (time, features) before it, e.g. `reshape: {target_shape: [-1, "
                f"{shape[-1]}]}}`, or pool/flatten first")
    elif found > want:
        hint = "add `flatten`, a global pooling layer or a `reshape` before it"
    else:
        target = list(shape) + [1] * (want - found)
        hint = (f"add a `reshape` before it, e.g. `reshape: {{target_shape: {yaml_list(target)}}}`, or use "
                f"a layer made for {found}-D input")
    return ShapeError(message, hint)


def need_rank(key: str, shape: Shape, rank: int, at_least: bool = False) -> None:
    """`rank` without the batch axis."""
    if len(shape) < rank or (len(shape) > rank and not at_least):
        raise rank_error(key, shape, rank + 1, at_least)


def need_known(key: str, shape: Shape, axis: int, what: str) -> None:
    if shape[axis] is None:
        raise ShapeError(f"{key} needs the size of axis {what} to make its weights, but gets "
                         f"{tensor_text(shape)}", "give that dimension a size in model.inputs (null means "
                         "any size), or put a layer that fixes it first")


# --- argument values -------------------------------------------------------------------------

class Unknown(Exception):
    """An argument this module does not model: the output is unknown."""


def int_arg(args: dict, name: str, default: Any = None) -> int:
    value = args.get(name, default)
    if integer(value) is None or value < 1:
        raise Unknown(name)
    return value


def sizes_arg(args: dict, name: str, rank: int, key: str, default: Any = None) -> tuple:
    """An int or a list of `rank` ints (kernel_size, strides, ...), each at least 1."""
    value = args.get(name, default)
    if value is None:
        value = default
    if integer(value) is not None and value >= 1:
        return (value,) * rank
    if isinstance(value, list) and all(integer(v) is not None and v >= 1 for v in value):
        if len(value) != rank:
            raise ShapeError(f"{key} takes {name} as one number or a list of {rank} (one per spatial axis), "
                             f"found {len(value)}: {yaml_list(value)}",
                             f"write {name}: {value[0] if value else 1}, or a list of {rank} numbers", arg=name)
        return tuple(value)
    raise Unknown(name)


def channels_first(args: dict) -> bool:
    fmt = args.get("data_format")
    if fmt not in (None, "channels_last", "channels_first"):
        raise Unknown("data_format")
    return fmt == "channels_first"


def split_channels(shape: Shape, first: bool) -> tuple[tuple, Optional[int]]:
    """(spatial axes, channels) of a channels_last / channels_first shape."""
    return (shape[1:], shape[0]) if first else (shape[:-1], shape[-1])


def join_channels(spatial: tuple, channels: Optional[int], first: bool) -> Shape:
    return (channels,) + tuple(spatial) if first else tuple(spatial) + (channels,)


def window(key: str, shape: Shape, size: Optional[int], window: int, step: int, what: str) -> Optional[int]:
    """The output size of a `valid` window (None: unknown); empty output is an error."""
    if size is None:
        return None
    out = (size - window) // step + 1
    if out <= 0:
        raise ShapeError(f"{key} ({what}) would produce an empty output: its window is larger than the "
                         f"input {shape_text(shape)}", "use `padding: same`, a smaller window or stride, or "
                         "remove a pooling layer earlier in the model")
    return out


def same(size: Optional[int], step: int) -> Optional[int]:
    return None if size is None else (size - 1) // step + 1


def shown(sizes: tuple) -> str:
    return "x".join(str(s) for s in sizes)


