"""Pieces the composite paradigms share: one-input checks, the preprocessing model, samples
without labels, and how a part's regularization losses are summed."""
from __future__ import annotations

from typing import Any, Callable, Optional

import keras
import numpy as np
from keras import ops

from specc.compile.graph import Builder, make_inputs, remember
from specc.compile.objects import problem
from specc.compile.preprocessing import add_preprocessing
from specc.data.feed import Feed, seeded_batches
from specc.data.pipeline import to_arrays
from specc.data.table import Table

PREPROCESS = "preprocess"


def one_input(inputs: dict, path: tuple, what: str, where: Optional[Callable]) -> tuple:
    """(name, value) of the one input a network takes; a problem when it has several."""
    if len(inputs) != 1:
        raise problem(tuple(path) + ("inputs",), f"{what} takes one input, found {len(inputs)}: "
                      f"{', '.join(inputs)}", "give it a single input, e.g. `inputs: {image: [8, 8, 1]}`",
                      where)
    return next(iter(inputs.items()))


def build_preprocess(resolved: dict, inputs_spec: dict, where: Optional[Callable] = None) -> Any:
    """`data.preprocessing` as its own small model named `preprocess` (None without any)."""
    items = (resolved.get("data") or {}).get("preprocessing") or []
    if not items:
        return None
    builder = Builder(blocks={}, where=where)
    inputs = make_inputs(inputs_spec, ("model",), where)
    tensors = add_preprocessing(builder, inputs, items)
    name = next(iter(inputs))
    model = keras.Model(inputs[name], tensors[name], name=PREPROCESS)
    remember(model, builder.paths, builder.preprocessing)
    return model


def same_shape(a: Any, b: Any) -> bool:
    """Whether two shapes agree, ignoring the batch axis (None matches any size)."""
    a, b = tuple(a)[1:], tuple(b)[1:]
    return len(a) == len(b) and all(x is None or y is None or int(x) == int(y) for x, y in zip(a, b))


def input_array(table: Table, tensor: Any) -> np.ndarray:
    """The table's samples shaped for a network input (a KerasTensor)."""
    name = tensor.name.split(":")[0]
    shape = list(tuple(tensor.shape)[1:])
    x, _ = to_arrays(table, [name], {name: {"shape": shape, "dtype": str(tensor.dtype)}}, None)
    return x


def sample_feed(x: np.ndarray, batch: dict, seed: int, first_epoch: int, epochs: int, origin: str) -> Feed:
    """Batches of samples alone (no labels), each epoch in its own seeded order."""
    return seeded_batches(x, len(x), batch, seed, first_epoch, epochs, origin)


def sample_dataset(table: Table, tensor: Any, batch_size: int = 256) -> Any:
    """The samples of a split, unshuffled, for evaluation (labels are not needed)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(input_array(table, tensor)).batch(batch_size)


def regularization(network: Any) -> Any:
    """The regularization losses of a network (0 without any)."""
    losses = network.losses
    return ops.sum(ops.stack(losses)) if losses else 0.0


def unpack(data: Any) -> tuple:
    return keras.utils.unpack_x_y_sample_weight(data)


def sigmoid_output(network: Any) -> bool:
    """Whether the network's last layer ends in a sigmoid (else its output is a logit)."""
    layer = network.layers[-1]
    activation = getattr(layer, "activation", None)
    return activation is keras.activations.sigmoid or getattr(activation, "__name__", "") == "sigmoid"


def call_text(value: Any) -> str:
    """`adam(learning_rate=0.001)` for a spec call (as the compile summary shows it)."""
    from specc.compile.summary import call_text as text

    return text(value)


def training_lines_replaced(text: str, lines: list) -> str:
    """A compile summary with its training lines (after the layer table) replaced."""
    head = text.split("\n\nLoss", 1)[0]
    return head + "\n\n" + "\n".join(lines)


def schedule_lines(resolved: dict) -> list:
    schedule = resolved.get("schedule")
    return [f"Schedule: {call_text(schedule)}"] if schedule else []


def nested_summary(model: Any, resolved: dict, where: Optional[Callable], total_steps: Optional[int], nested: tuple,
                   lines: list) -> str:
    """The whole model, then each named part, then how it trains."""
    from specc.compile.summary import summarize

    blocks = [training_lines_replaced(summarize(model, resolved, where, total_steps), lines)]
    for name in nested:
        part = model.get_layer(name)
        object.__setattr__(part, "specc_paths", getattr(model, "specc_paths", {}))
        blocks.append(summarize(part, resolved, where, total_steps).split("\n\n")[0])
    return "\n\n".join(blocks)
