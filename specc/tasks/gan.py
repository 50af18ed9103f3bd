"""The gan task type: a generator and a discriminator trained against each other.

Its Keras side is specc/paradigms/gan.py. No TensorFlow here.
"""
from __future__ import annotations

from specc.tasks.base import TaskType


def _bce(task: dict) -> str:  # of the discriminator's real/fake scores; the paradigm fixes it
    return "binary_crossentropy"


GAN = TaskType(
    name="gan",
    description="generate samples like the data's (generator, discriminator); labels are ignored",
    implementation="specc.paradigms.gan:GanParadigm",
    fields={"latent_dim": {"description": "gan: size of the generator's noise input (required for a gan).",
                           "type": "integer", "minimum": 1}},
    required=("latent_dim",),
    parts=("generator", "discriminator"),
    labels=None,
    auto_loss=_bce,
    fixed_loss="binary cross-entropy of the discriminator's real/fake scores",
    own_metrics="d_loss and g_loss",
    optimizer_parts=("generator", "discriminator"),
    # Its losses do not say which epoch draws best (a low loss is often an early, noisy
    # generator): best.keras is the last epoch.
    best="last",
    exports=False,
    kept=("generator", "discriminator"),
)
