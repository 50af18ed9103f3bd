"""The autoencoder task type: reconstruct the input through a code (no labels).

Its Keras side is specc/paradigms/autoencoder.py. No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from specc.spec_data import mapping
from specc.spec_data import problem as _p
from specc.tasks.base import DATA, Link, TaskType

if TYPE_CHECKING:
    from specc.load.document import Document

NOISE = {
    "description": "autoencoder: corrupt the inputs during training only, e.g. {gaussian: 0.1} (a denoising "
                   "autoencoder); gaussian is the noise's standard deviation, dropout the fraction of inputs "
                   "zeroed.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "gaussian": {"type": "number", "minimum": 0, "maximum": 1,  # Keras refuses a stddev above 1
                     "description": "Standard deviation of Gaussian noise added to the inputs in training."},
        "dropout": {"type": "number", "minimum": 0, "exclusiveMaximum": 1,
                    "description": "Fraction of input values set to zero in training."},
    },
}


ANOMALY = {
    "description": "autoencoder: anomaly detection with the reconstruction error as the score. The threshold is "
                   "chosen on the validation split after training and kept in the run; normal names the classes "
                   "that are not anomalies when evaluating (default: the classes trained on).",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "threshold": {
            "description": "{percentile: P}: the P-th percentile of the validation split's errors (default 95); or "
                           "{false_positive_rate: R}: the error that flags the share R of the validation split.",
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
            "properties": {
                "percentile": {"type": "number", "minimum": 0, "maximum": 100,
                               "description": "Percentile of the validation split's reconstruction errors."},
                "false_positive_rate": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                                        "description": "Share of the (normal) validation split to flag."},
            },
        },
        "normal": {"description": "The normal classes (ids or names); the others are anomalies.",
                   "type": "array", "items": {"type": ["integer", "string"]}, "minItems": 1},
    },
}


def check_encoder_inputs(doc: Document) -> list:
    """The encoder names the input shape (the decoder takes the code's)."""
    encoder = mapping(doc.data.get("model")).get("encoder")
    if isinstance(encoder, dict) and not encoder.get("inputs"):
        return [_p(doc, ("model", "encoder"), "the encoder needs `inputs:` (the shape of one sample)",
                   "e.g. encoder: {inputs: {image: [64]}, layers: [...]}", missing="inputs")]
    return []


def _mse(task: dict) -> str:
    return "mean_squared_error"


AUTOENCODER = TaskType(
    name="autoencoder",
    description="reconstruct the input through a code (encoder, decoder); labels are ignored",
    implementation="specc.paradigms.autoencoder:AutoencoderParadigm",
    fields={"noise": NOISE, "anomaly": ANOMALY},
    parts=("encoder", "decoder"),
    feeds="encoder",
    links=(Link("encoder", "decoder", input="code"),
           Link("decoder", DATA, mismatch="the decoder makes {made}, but it reconstructs the input, {wanted}",
                hint="end the decoder with a layer of the input's shape (e.g. dense with as many units as the "
                     "input has values, then `reshape`)")),
    labels=None,
    auto_loss=_mse,
    kept=("encoder", "decoder"),
    checks=(check_encoder_inputs,),
    options={"normal": "the normal classes, e.g. normal=[0,1,2] (default: the spec's anomaly.normal, else the "
                       "classes trained on)",
             "threshold": "the reconstruction error above which a sample is an anomaly (default: the run's)"},
)
