"""`toy_vae`: the autoencoder's declaration registered under another name (a VAE-like type),
with a loss of its own and an `evaluation:` field whose schema is not few_shot's."""
from __future__ import annotations

from dataclasses import replace

from specc.tasks.autoencoder import AUTOENCODER

OWN_LOSS = "toy_reconstruction"  # no Keras loss has this name: the paradigm computes it

EVALUATION = {
    "description": "toy_vae: how many samples each evaluation draws from the code.",
    "type": "object",
    "additionalProperties": False,
    "properties": {"draws": {"description": "Samples per code (default 1).", "type": "integer", "minimum": 1}},
}


def _own_loss(task: dict) -> str:
    return OWN_LOSS


TOY = replace(
    AUTOENCODER,
    name="toy_vae",
    description="a VAE-like autoencoder of the tests",
    implementation="toy_task.paradigm:ToyParadigm",
    fields={**AUTOENCODER.fields, "evaluation": EVALUATION},
    auto_loss=_own_loss,
    own_loss=OWN_LOSS,
)
