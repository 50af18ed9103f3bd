"""Checks of the composite paradigms (autoencoder, gan, few_shot) that the schema cannot say.

No TensorFlow here.
"""
from __future__ import annotations

from specc.checks._common import mapping, text
from specc.checks._common import problem as _p
from specc.tasks import auto_loss

FIXED_LOSS = {
    "gan": "binary cross-entropy of the discriminator's real/fake scores",
    "few_shot": "softmax cross-entropy over the negative squared distances to the class prototypes",
}


def check_composite(doc) -> list:
    """latent_dim for a gan, the encoder's inputs, fixed losses, where optimizer pairs and
    `data.split.by: class` belong, no export of a gan or few_shot model (their parts are kept)."""
    data = doc.data
    task = mapping(data.get("task"))
    kind = text(task.get("type"))
    model = mapping(data.get("model"))
    out = []
    if kind == "gan" and "latent_dim" not in task:
        out.append(_p(doc, ("task",), "a gan task needs `latent_dim:` (the size of the generator's noise input)",
                      "e.g. task: {type: gan, latent_dim: 16}", code="task", missing="latent_dim"))
    encoder = model.get("encoder")
    if kind == "autoencoder" and isinstance(encoder, dict) and not encoder.get("inputs"):
        out.append(_p(doc, ("model", "encoder"), "the encoder needs `inputs:` (the shape of one sample)",
                      "e.g. encoder: {inputs: {image: [64]}, layers: [...]}", missing="inputs"))
    loss = data.get("loss", "auto")
    if kind in FIXED_LOSS and loss not in ("auto", None, auto_loss({"type": kind})):
        out.append(_p(doc, ("loss",), f"the loss of a {kind} task is fixed: {FIXED_LOSS[kind]}",
                      "remove `loss:` (or write loss: auto)", code="task"))
    if kind in FIXED_LOSS and data.get("metrics"):
        said = "d_loss and g_loss" if kind == "gan" else "the episode accuracy"
        out.append(_p(doc, ("metrics",), f"a {kind} task reports {said} itself; `metrics:` is ignored",
                      "remove `metrics:`", code="task", severity="warning"))
    optimizer = data.get("optimizer")
    if kind != "gan" and isinstance(optimizer, dict) and set(optimizer) == {"generator", "discriminator"}:
        out.append(_p(doc, ("optimizer",), "an optimizer per network ({generator: ..., discriminator: ...}) "
                      "belongs to a gan task", "give one optimizer, e.g. optimizer: {adam: {}}",
                      code="optimizer"))
    formats = mapping(data.get("export")).get("formats")
    if kind in ("gan", "few_shot") and isinstance(formats, list) and formats:
        kept = "generator.keras and discriminator.keras" if kind == "gan" else "embedding.keras"
        out.append(_p(doc, ("export", "formats"), f"exporting a {kind} model is not supported yet",
                      f"remove export.formats; training keeps its networks as checkpoints/{kept}",
                      code="export"))
    split = mapping(mapping(data.get("data")).get("split"))
    if split.get("by") == "class" and kind != "few_shot":
        out.append(_p(doc, ("data", "split", "by"), "splitting by class leaves the test classes unseen in "
                      "training; only a few_shot task can be evaluated on them",
                      "remove `by: class` (or use task.type: few_shot)", code="data"))
    return out
