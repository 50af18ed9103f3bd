"""The Keras side of `toy_vae`: the autoencoder's paradigm, compiled with its own loss."""
from __future__ import annotations

from typing import Any

from specc.paradigms.autoencoder import AutoencoderParadigm
from specc.paradigms.base import Where

from toy_task.declaration import OWN_LOSS


class ToyParadigm(AutoencoderParadigm):
    """Reconstructs like the autoencoder; `loss: toy_reconstruction` is its own (mean squared error)."""

    def compile(self, model: Any, resolved: dict, total_steps: int, steps_per_execution: int = 1,
                jit_compile: bool = False, where: Where = None) -> Any:
        loss = "mean_squared_error" if resolved.get("loss") == OWN_LOSS else resolved.get("loss")
        return super().compile(model, {**resolved, "loss": loss}, total_steps, steps_per_execution,
                               jit_compile, where)
