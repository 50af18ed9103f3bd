"""How a runtime's view of an artifact is reported back (in the checking process)."""
from __future__ import annotations

from typing import Any

ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16"}


def feed(names: list, inputs: dict) -> dict:
    """The inputs keyed by the artifact's input names; a single input is passed whatever its
    name (the parent process then reports a name that is not the spec's)."""
    if len(names) == 1 and len(inputs) == 1:
        return {names[0]: next(iter(inputs.values()))}
    missing = [name for name in names if name not in inputs]
    if missing:
        raise KeyError(f"the artifact's inputs {names} are not the model's {list(inputs)}")
    return {name: inputs[name] for name in names}


def spec(name: str, shape: Any, dtype: Any) -> dict:
    dims = [None if d is None else int(d) for d in (shape if shape is not None else [])]
    return {"name": str(name), "shape": dims, "dtype": dtype_name(dtype)}


def dtype_name(dtype: Any) -> str:
    """float32 for Keras's 'float32', tf.float32, numpy.float32 and ONNX's 'tensor(float)'."""
    text = getattr(dtype, "__name__", None) or str(dtype)
    return ONNX_TYPES.get(text, text.removeprefix("tensor(").removesuffix(")"))


def single(inputs: dict) -> Any:
    return next(iter(inputs.values())) if len(inputs) == 1 else inputs
