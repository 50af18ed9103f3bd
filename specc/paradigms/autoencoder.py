"""The autoencoder paradigm (task `autoencoder`, declared in specc/tasks/autoencoder.py).

The model is a functional `x -> preprocess -> noise -> encoder -> decoder`, trained to
reconstruct `preprocess(x)` (the input as the model sees it after `data.preprocessing`; the
data's labels are ignored). `task.noise` puts GaussianNoise / Dropout layers in front of the
encoder, which Keras applies in training only (a denoising autoencoder).
"""
from __future__ import annotations

from typing import Any, Optional

import keras
from keras import ops

from specc.compile.graph import build_network, make_inputs, remember
from specc.compile.objects import problem
from specc.compile.shapes import shape_text
from specc.data.feed import Feed
from specc.data.table import Table
from specc.paradigms._common import (PREPROCESS, build_preprocess, call_text, input_array, nested_summary,
                                     one_input, same_shape, sample_dataset, sample_feed, schedule_lines,
                                     unpack)
from specc.paradigms.base import Context, Paradigm, Where


class AutoencoderParadigm(Paradigm):
    """Reconstruct the input through a code; keeps encoder.keras and decoder.keras."""

    keras_train_step = False  # its own train step (not tried with XLA)
    keeps_parts = True

    def build(self, resolved: dict, where: Where = None) -> "Autoencoder":
        model_spec, task = resolved["model"], resolved["task"]
        enc_spec = dict(model_spec["encoder"])
        if not enc_spec.get("inputs"):
            raise problem(("model", "encoder"), "the encoder needs `inputs:` (the shape of one sample)",
                          "e.g. `inputs: {image: [64]}`", where)
        name, _ = one_input(enc_spec["inputs"], ("model", "encoder"), "an autoencoder", where)
        x = make_inputs(enc_spec["inputs"], ("model", "encoder"), where)[name]
        preprocess = build_preprocess(resolved, enc_spec["inputs"], where)
        clean = preprocess(x) if preprocess is not None else x
        noisy = _with_noise(clean, task.get("noise") or {}, resolved.get("seed"))
        encoder = build_network(enc_spec, resolved, where, ("model", "encoder"), "encoder", top=False)
        if len(encoder.outputs) != 1:
            raise problem(("model", "encoder"), f"the encoder has {len(encoder.outputs)} outputs; the code "
                          "is one tensor", "give the encoder one output", where)
        decoder = _decoder(model_spec, encoder, resolved, where)
        if len(decoder.outputs) != 1 or not same_shape(decoder.outputs[0].shape, clean.shape):
            raise problem(("model", "decoder"), f"the decoder makes {shape_text(decoder.outputs[0])}, but it "
                          f"reconstructs the input, {shape_text(clean)}",
                          "end the decoder with a layer of the input's shape (e.g. dense with as many units "
                          "as the input has values, then `reshape`)", where)
        try:
            code = encoder(noisy)
        except Exception as err:  # noqa: BLE001
            raise problem(("model", "encoder"), f"the encoder does not take the input {shape_text(noisy)}: "
                          f"{err}", None, where) from None
        model = Autoencoder(x, decoder(code), name=resolved.get("name", "autoencoder"))
        remember(model, {**encoder.specc_paths, **decoder.specc_paths},
                 preprocess.specc_preprocessing if preprocess is not None else {})
        return model

    def adapt(self, model: Any, table: Table) -> list[str]:
        from specc.compile.preprocessing import adapt_preprocessing

        try:
            target = model.get_layer(PREPROCESS)
        except ValueError:
            return []
        return adapt_preprocessing(target, input_array(table, model.inputs[0]))

    def training_feed(self, model: Any, table: Table, batch: dict, seed: int, first_epoch: int,
                      epochs: int) -> Feed:
        x = input_array(table, model.inputs[0])
        return sample_feed(x, batch, seed, first_epoch, epochs, table.origin)

    def evaluation_data(self, model: Any, table: Table, batch_size: int = 256) -> Any:
        return sample_dataset(table, model.inputs[0], batch_size)

    def after_training(self, model: Any, context: Context) -> dict:
        """The anomaly threshold, chosen on the validation split (specc/paradigms/anomaly.py)."""
        from specc.paradigms.anomaly import state_after_training

        return state_after_training(model, context.validation, context.resolved.get("task") or {})

    def evaluate(self, model: Any, table: Table, context: Context) -> dict:
        """The reconstruction loss; with labels and normal classes known, the ROC AUC of the
        reconstruction error as an anomaly score, and precision/recall at the run's threshold."""
        from specc.paradigms.anomaly import errors, figures, normal_classes

        values = super().evaluate(model, table, context)
        scores, _ = errors(model, table)
        kept = (context.state or {}).get("anomaly") or {}
        limit = context.options.get("threshold", kept.get("threshold"))
        return {**values, **figures(scores, table, limit, normal_classes(table, context))}

    def predict(self, model: Any, table: Table, context: Context) -> Optional[dict]:
        """Per sample: the reconstruction error (in the data's units when data.preprocessing
        can be undone) and whether it is above the run's threshold."""
        from specc.paradigms.anomaly import errors

        scores, _ = errors(model, table)
        kept = (context.state or {}).get("anomaly") or {}
        limit = context.options.get("threshold", kept.get("threshold"))
        columns: dict = {"reconstruction_error": scores}
        if limit is not None:
            columns["anomaly"] = (scores > float(limit)).astype(int)
        return columns

    def parts(self, model: Any) -> dict:
        """The encoder with data.preprocessing in front (it embeds raw data), and the decoder."""
        first = model.inputs[0]
        x = keras.Input(tuple(first.shape)[1:], dtype=first.dtype, name=first.name.split(":")[0])
        h = x
        try:
            h = model.get_layer(PREPROCESS)(h)
        except ValueError:
            pass
        encoder = keras.Model(x, model.get_layer("encoder")(h), name="encoder")
        return {"encoder": encoder, "decoder": model.get_layer("decoder")}

    def summary(self, model: Any, resolved: dict, where: Where = None,
                total_steps: Optional[int] = None) -> str:
        return nested_summary(model, resolved, where, total_steps, ("encoder", "decoder"),
                              _training_lines(resolved))


def _decoder(model_spec: dict, encoder: Any, resolved: dict, where: Where) -> Any:
    """The decoder network; without `inputs:` it takes the encoder's output."""
    dec_spec = dict(model_spec["decoder"])
    if not dec_spec.get("inputs"):
        shape = list(tuple(encoder.outputs[0].shape)[1:])
        dec_spec["inputs"] = {"code": {"shape": shape, "dtype": "float32"}}
    return build_network(dec_spec, resolved, where, ("model", "decoder"), "decoder", top=False)


def _with_noise(h: Any, noise: dict, seed: Optional[int]) -> Any:
    if noise.get("gaussian"):
        h = keras.layers.GaussianNoise(float(noise["gaussian"]), seed=seed, name="gaussian_noise")(h)
    if noise.get("dropout"):
        h = keras.layers.Dropout(float(noise["dropout"]), seed=seed, name="dropout_noise")(h)
    return h


def _training_lines(resolved: dict) -> list:
    noise = resolved["task"].get("noise") or {}
    shown = ", ".join(f"{k} {v:g}" for k, v in noise.items()) or "none"
    return ["Training: reconstruct the input (after data.preprocessing); labels are ignored",
            f"Noise (training only): {shown}",
            f"Loss: {call_text(resolved.get('loss'))}",
            f"Optimizer: {call_text(resolved.get('optimizer'))}"] + schedule_lines(resolved)


@keras.saving.register_keras_serializable(package="specc")
class Autoencoder(keras.Model):
    """A functional autoencoder trained to reconstruct its (preprocessed) input."""

    def reconstruction_target(self, x: Any) -> Any:
        """What the model reconstructs: the input after data.preprocessing."""
        try:
            preprocess = self.get_layer(PREPROCESS)
        except ValueError:
            return x
        return ops.stop_gradient(preprocess(x, training=False))

    def train_step(self, data: Any) -> Any:
        x, _, sample_weight = unpack(data)
        return super().train_step((x, self.reconstruction_target(x), sample_weight))

    def test_step(self, data: Any) -> Any:
        x, _, sample_weight = unpack(data)
        return super().test_step((x, self.reconstruction_target(x), sample_weight))
