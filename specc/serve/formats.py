"""What `specc serve --format` reads: one line per servable format (the CLI's choices and its
help, the check in open_predictor and the docs derive from it). No imports: `--help` reads it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServedFormat:
    """A format the server reads.

    Attributes:
        what: What is served, as --help says it.
        tensorflow: Whether serving it imports TensorFlow.
    """

    what: str
    tensorflow: bool


SERVED_FORMATS = {
    "keras": ServedFormat("the run's checkpoint (TensorFlow)", True),
    "saved_model": ServedFormat("its SavedModel export (TensorFlow)", True),
    "onnx": ServedFormat("its ONNX export (ONNX Runtime only)", False),
}


def formats_help() -> str:
    """`keras: the run's checkpoint (TensorFlow); onnx: ...`."""
    return "; ".join(f"{name}: {fmt.what}" for name, fmt in SERVED_FORMATS.items()) + "."
