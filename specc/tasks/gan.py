"""The gan task type: a generator and a discriminator trained against each other.

Its Keras side is specc/paradigms/gan.py. No TensorFlow here.
"""
from __future__ import annotations

from dataclasses import dataclass

from specc.tasks.base import TASK, Link, PartOutput, TaskType

# Sample grids drawn during training: every 10 epochs and at the end, 64 samples (an 8x8
# grid) from latent vectors drawn once with seed 0, so grids of one run (and of runs with
# the same latent_dim) show the same latent points over the epochs.
SAMPLE_DEFAULTS = {"every": 10, "count": 64, "seed": 0}

SAMPLES = {
    "description": "gan: grids of generated samples drawn into the run folder (samples/epoch-NNNN.png) during "
                   "training, from the same fixed latent vectors every time; false draws none. Image-shaped "
                   "samples and flat ones of a square size (64 -> 8x8) are drawn as images.",
    "type": ["object", "boolean"],
    "additionalProperties": False,
    "properties": {
        "every": {"description": "Draw a grid every N epochs (and always after the last epoch; default 10).",
                  "type": "integer", "minimum": 1},
        "count": {"description": "Samples per grid (default 64).", "type": "integer", "minimum": 1,
                  "maximum": 1024},
        "seed": {"description": "Seed of the grid's latent vectors (default 0).", "type": "integer",
                 "minimum": 0},
    },
}


def _bce(task: dict) -> str:  # of the discriminator's real/fake scores; the paradigm fixes it
    return "binary_crossentropy"


@dataclass(frozen=True)
class GanTaskType(TaskType):
    """The gan declaration; `samples: {every: 5}` keeps the other sample defaults."""

    def resolve(self, task: dict) -> dict:
        resolved = super().resolve(task)
        samples = resolved.get("samples", True)
        if samples is True:
            resolved["samples"] = dict(SAMPLE_DEFAULTS)
        elif isinstance(samples, dict):
            resolved["samples"] = {**SAMPLE_DEFAULTS, **samples}
        return resolved


GAN = GanTaskType(
    name="gan",
    description="generate samples like the data's (generator, discriminator); labels are ignored",
    implementation="specc.paradigms.gan:GanParadigm",
    fields={"latent_dim": {"description": "gan: size of the generator's noise input (required for a gan).",
                           "type": "integer", "minimum": 1},
            "samples": SAMPLES},
    required=("latent_dim",),
    parts=("generator", "discriminator"),
    feeds="discriminator",
    links=(Link(TASK + "latent_dim", "generator", input="latent"),
           Link("generator", "discriminator", input="sample",
                mismatch="the generator makes {made} samples, but the discriminator takes {wanted}",
                hint="end the generator with a layer of the data's shape (e.g. `reshape`)")),
    part_outputs={"discriminator": PartOutput(
        (1,), "the discriminator makes {made}; it must give one score per sample, (None, 1)",
        "end it with `dense: 1` (a logit; or with activation: sigmoid)")},
    labels=None,
    auto_loss=_bce,
    fixed_loss="binary cross-entropy of the discriminator's real/fake scores",
    own_metrics="d_loss and g_loss",
    optimizer_parts=("generator", "discriminator"),
    # Its losses do not say which epoch draws best (a low loss is often an early, noisy
    # generator): best.keras is the last epoch.
    best="last",
    exports=False,
    distributed="its two-optimizer step does not scale its losses by the replicas, so each worker's "
                "gradients would be summed, not averaged",
    kept=("generator", "discriminator"),
    options={"classifier": "a classifier run of the same data (any run reference), e.g. classifier=lenet-digits/"
                           "latest: adds the quality figures inception_score, classes_covered and frechet_distance "
                           "(docs/guides/gans.md)",
             "samples": "how many samples the quality figures generate (default 2000; needs classifier=)",
             "seed": "the seed of their latent vectors (default 1234; needs classifier=)"},
)
