"""How big a model will be, estimated from the spec before anything is built: the number of
layers after `repeat` and blocks are expanded, the parameters, and the activations of one
batch. A spec past the limits is refused at validate time with the figure and the limit
(a `repeat: 1000000000` used to hang `specc compile`; `units: 1000000000` reached
TensorFlow's allocator). No TensorFlow here.

specc/checks/shapes.py walks the model (heads, blocks and composite parts included) and
counts here; after a layer whose shape it cannot follow, only the layers already counted
count, so the estimate is a floor, never a guess.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from specc.errors import Problem
from specc.spec_data import integer, mapping
from specc.spec_data import problem as _p

if TYPE_CHECKING:
    from specc.load import Document

MAX_LAYERS = 5_000
MAX_PARAMETERS = 1_000_000_000      # 4 GB of float32 weights, before the optimizer's copies
MAX_ACTIVATION_BYTES = 16 * 10**9   # one batch's layer outputs, kept for the backward pass
DEFAULT_BATCH = 32
HUGE = 10**18                       # a count shown as a power of ten


@dataclass
class Tally:
    """What is counted so far, and the largest contributor (where a problem is placed)."""

    layers: int = 0
    parameters: int = 0
    activations: int = 0                  # values per sample, summed over layer outputs
    largest: tuple = ("model",)
    largest_parameters: int = 0
    widest: tuple = ("model",)
    widest_output: int = 0

    def add(self, path: tuple, parameters: int, output: Optional[tuple]) -> None:
        self.layers += 1
        self.parameters += parameters
        if output is not None:
            self.activations += _size(output)
            if _size(output) > self.widest_output:
                self.widest, self.widest_output = path, _size(output)
        if parameters > self.largest_parameters:
            self.largest, self.largest_parameters = path, parameters


def limits(doc: Document, tally: Tally) -> list[Problem]:
    """The counted model against the limits (the count is made by specc/checks/shapes.py)."""
    out = []
    if tally.layers > MAX_LAYERS:
        out.append(_p(doc, ("model",), f"the model has {tally.layers:,} layers once `repeat` and blocks are "
                      f"expanded; specc builds at most {MAX_LAYERS:,}", "lower `repeat`, or use fewer layers",
                      code="size"))
    if tally.parameters > MAX_PARAMETERS:
        out.append(_p(doc, tally.largest, f"the model has at least {_count(tally.parameters)} parameters "
                      f"({_bytes(4 * tally.parameters)} as float32, this layer {_count(tally.largest_parameters)}); "
                      f"specc refuses more than {MAX_PARAMETERS:,}",
                      _parameters_hint(tally.largest), code="size"))
    batch = _batch_size(doc)
    total = 4 * tally.activations * batch
    if total > MAX_ACTIVATION_BYTES:
        out.append(_p(doc, tally.widest, f"one batch of {batch} needs about {_bytes(total)} for the layers' "
                      f"outputs (this layer's: {_count(tally.widest_output)} values per sample); the limit is "
                      f"{_bytes(MAX_ACTIVATION_BYTES)}", "use a smaller batch.size, or smaller layers",
                      code="size"))
    return out


def _parameters_hint(path: tuple) -> str:
    if path == ("model", "head"):  # the head has one unit per class (label, target) of the task
        return "the head has one unit per class (label, target): check task.classes (labels, targets)"
    return "make this layer smaller (units, filters, input_dim ...), or flatten less"


def _batch_size(doc: Document) -> int:
    batch = mapping(doc.data.get("batch"))
    if batch.get("strategy") == "stochastic":
        return 1
    return integer(batch.get("size")) or DEFAULT_BATCH


def _count(count: int) -> str:
    """A count as a message shows it: a shape doubled 600 times has 180 digits."""
    return f"{count:,}" if count < HUGE else f"10^{len(str(count)) - 1}"


def _bytes(count: int) -> str:
    if count >= HUGE:  # past what a float holds, and past any machine anyway
        return f"{_count(count)} bytes"
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} TB"


def _size(shape: tuple) -> int:
    return int(math.prod(d for d in shape if d is not None)) if shape else 1
