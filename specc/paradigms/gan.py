"""The GAN paradigm (task `gan`, declared in specc/tasks/gan.py).

The model is a functional `latent -> generator -> discriminator` whose outputs are the
generated sample and the discriminator's score. `train_step` alternates a discriminator and
a generator update (binary cross-entropy, each network with its own optimizer) and logs
`d_loss`, `g_loss` and `loss = d_loss + g_loss`. `data.preprocessing` goes in front of the
discriminator, so real and generated samples alike pass through it: the generator makes
samples in the data's own units. Both optimizers honour `batch.accumulate` (Keras's
optimizers accumulate in `apply`).
"""
from __future__ import annotations

import random
from typing import Any, Optional

import keras
import numpy as np
from keras import ops

from specc.compile.graph import build_network, remember
from specc.compile.objects import problem
from specc.compile.shapes import shape_text
from specc.data.feed import Feed
from specc.data.table import Table
from specc.paradigms._common import (call_text, input_array, nested_summary, one_input, regularization,
                                     same_shape, sample_dataset, sample_feed, schedule_lines,
                                     sigmoid_output, unpack)
from specc.paradigms.base import Context, Paradigm, Where

EVAL_SEED = 1234  # the latent noise of GAN evaluation: the same for every evaluation
QUALITY_SAMPLES = 2000  # generated samples the quality figures measure (--with samples=N)


class GanParadigm(Paradigm):
    """A generator and a discriminator; keeps generator.keras and discriminator.keras."""

    keras_train_step = False  # its own train step (not tried with XLA)
    keeps_parts = True

    def __init__(self, task_type: Any):
        super().__init__(task_type)
        self.value_range: Optional[tuple] = None  # of the training data, once a feed is made
        self.classifiers: dict = {}  # run reference -> quality.Classifier, opened once per command

    def build(self, resolved: dict, where: Where = None) -> "GAN":
        model_spec, latent = resolved["model"], resolved["task"].get("latent_dim")
        if not latent:
            raise problem(("task",), "a gan task needs `latent_dim:` (the size of the generator's noise input)",
                          "e.g. task: {type: gan, latent_dim: 16}", where)
        generator = _generator(model_spec, int(latent), resolved, where)
        made = generator.outputs[0]
        discriminator = _discriminator(model_spec, made, resolved, where)
        z = generator.inputs[0]
        sample = generator(z)
        model = GAN(z, [sample, discriminator(sample)], name=resolved.get("name", "gan"))
        remember(model, {**generator.specc_paths, **discriminator.specc_paths},
                 getattr(discriminator, "specc_preprocessing", {}))
        return model

    def network(self, model: Any) -> Any:
        return model.discriminator  # where data.preprocessing lives

    def adapt(self, model: Any, table: Table) -> list[str]:
        from specc.compile.preprocessing import adapt_preprocessing

        return adapt_preprocessing(model.discriminator, input_array(table, model.discriminator.inputs[0]))

    def training_feed(self, model: Any, table: Table, batch: dict, seed: int, first_epoch: int,
                      epochs: int) -> Feed:
        x = input_array(table, model.discriminator.inputs[0])
        # the sample grids are drawn on the data's scale, so grids of a run compare over epochs
        self.value_range = (float(x.min()), float(x.max())) if x.size else None
        return sample_feed(x, batch, seed, first_epoch, epochs, table.origin)

    def compile(self, model: Any, resolved: dict, total_steps: int, steps_per_execution: int = 1,
                jit_compile: bool = False, where: Where = None) -> Any:
        """A generator and a discriminator optimizer (`optimizer: {generator: ..., discriminator:
        ...}`, or one optimizer that each network gets a copy of)."""
        from specc.compile.training import make_optimizer

        opt, schedule = resolved["optimizer"], resolved.get("schedule")
        accumulate = int(resolved["batch"].get("accumulate", 1))
        pair = isinstance(opt, dict) and set(opt) == {"generator", "discriminator"}

        def one(part: str) -> Any:
            spec = opt[part] if pair else opt
            at = (lambda p: where(("optimizer", part) + tuple(p)[1:])) if (pair and where) else where
            return make_optimizer(spec, schedule, total_steps, at, accumulate=accumulate)

        model.compile(optimizer=one("generator"), d_optimizer=one("discriminator"),
                      steps_per_execution=int(steps_per_execution), jit_compile=bool(jit_compile))
        return model

    def optimizers(self, model: Any) -> list:
        return [model.optimizer, model.d_optimizer]

    def callbacks(self, record: Any, resolved: dict) -> list:
        """A grid of samples every task.samples.every epochs and after the last one."""
        from specc.paradigms.gan_samples import SampleGrids

        settings = resolved["task"].get("samples")
        if not settings:
            return []
        return [SampleGrids(record, settings, int(resolved["train"]["epochs"]), resolved.get("name", "gan"),
                            self.value_range)]

    def evaluation_data(self, model: Any, table: Table, batch_size: int = 256) -> Any:
        return sample_dataset(table, model.discriminator.inputs[0], batch_size)

    def evaluate(self, model: Any, table: Table, context: Context) -> dict:
        """The losses of a split; with `--with classifier=RUN`, the quality figures of
        generated samples against the split's (specc/paradigms/quality.py)."""
        figures = super().evaluate(model, table, context)
        if "classifier" in context.options:
            figures.update(self._quality(model, table, context))
        return figures

    def check_options(self, context: Context) -> None:
        super().check_options(context)
        quality_options(context.options)

    def predict(self, model: Any, table: Table, context: Context) -> Optional[dict]:
        """The generator's samples of the latent vectors (the model's outputs as they are).

        Raises:
            UsageError: A quality setting (`--with classifier=`): it belongs to `specc evaluate`.
        """
        if context.options:
            from specc.errors import UsageError

            raise UsageError(f"--with {', '.join(context.options)}: a setting of `specc evaluate` (the quality "
                             "figures); `specc predict` of a GAN takes none", "leave --with out")
        return None

    def _quality(self, model: Any, table: Table, context: Context) -> dict:
        from specc.paradigms.quality import open_classifier, quality_figures

        count, seed = quality_options(context.options)
        ref = str(context.options["classifier"])
        if ref not in self.classifiers:  # `--split all` measures three splits with one classifier
            self.classifiers[ref] = open_classifier(ref, context)
        z = np.random.default_rng(seed).normal(size=(count, model.latent_dim)).astype("float32")
        generated = model.generator.predict(z, batch_size=256, verbose=0)
        sample = model.discriminator.inputs[0]
        real = input_array(table, sample)
        train = context.train
        train_x = input_array(train, sample) if train is not None and train is not table else None
        return quality_figures(generated, real, train_x, self.classifiers[ref])

    def parts(self, model: Any) -> dict:
        return {"generator": model.generator, "discriminator": model.discriminator}

    def summary(self, model: Any, resolved: dict, where: Where = None,
                total_steps: Optional[int] = None) -> str:
        return nested_summary(model, resolved, where, total_steps, ("generator", "discriminator"),
                              _training_lines(model, resolved))


def quality_options(options: dict) -> tuple:
    """(samples, seed) of the quality figures from `--with`.

    Raises:
        UsageError: Not whole numbers, too few samples, or set without `classifier=`.
    """
    from specc.errors import UsageError

    given = {k: options[k] for k in ("samples", "seed") if k in options}
    if given and "classifier" not in options:
        raise UsageError(f"--with {', '.join(given)}: a setting of the quality figures, which need a classifier",
                         "add --with classifier=RUN (a classifier run of the same data)")
    if "classifier" in options and options["classifier"] in (None, ""):
        raise UsageError("--with classifier= names no run", "e.g. --with classifier=lenet-digits/latest")
    count, seed = given.get("samples", QUALITY_SAMPLES), given.get("seed", EVAL_SEED)
    if not isinstance(count, int) or isinstance(count, bool) or count < 2:
        raise UsageError(f"--with samples={count}: give a whole number of at least 2", "e.g. --with samples=2000")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise UsageError(f"--with seed={seed}: give a whole number of at least 0", "e.g. --with seed=1234")
    return count, seed


def _generator(model_spec: dict, latent: int, resolved: dict, where: Where) -> Any:
    gen_spec = dict(model_spec["generator"])
    if gen_spec.get("inputs"):
        name, value = one_input(gen_spec["inputs"], ("model", "generator"), "the generator", where)
        shape = list(value["shape"] if isinstance(value, dict) else value)
        if shape != [latent]:
            raise problem(("model", "generator", "inputs", name), f"the generator's input is {shape}, but "
                          f"task.latent_dim is {latent}", f"use inputs: {{{name}: [{latent}]}}, or leave "
                          "inputs out", where)
    else:
        gen_spec["inputs"] = {"latent": {"shape": [latent], "dtype": "float32"}}
    generator = build_network(gen_spec, resolved, where, ("model", "generator"), "generator", top=False)
    if len(generator.outputs) != 1:
        raise problem(("model", "generator"), "the generator must make one tensor (a sample)", None, where)
    return generator


def _discriminator(model_spec: dict, made: Any, resolved: dict, where: Where) -> Any:
    dis_spec = dict(model_spec["discriminator"])
    given = dis_spec.get("inputs") or model_spec.get("inputs")
    if given:
        one_input(given, ("model", "discriminator"), "the discriminator", where)
        dis_spec["inputs"] = given
    else:
        dis_spec["inputs"] = {"sample": {"shape": list(tuple(made.shape)[1:]), "dtype": "float32"}}
    discriminator = build_network(dis_spec, resolved, where, ("model", "discriminator"), "discriminator",
                                  top=True)
    wanted = discriminator.inputs[0]
    if not same_shape(made.shape, wanted.shape):
        raise problem(("model", "generator"), f"the generator makes {shape_text(made)} samples, but the "
                      f"discriminator takes {shape_text(wanted)}",
                      "end the generator with a layer of the data's shape (e.g. `reshape`)", where)
    score = discriminator.outputs[0]
    if len(discriminator.outputs) != 1 or tuple(score.shape)[1:] != (1,):
        raise problem(("model", "discriminator"), f"the discriminator makes {shape_text(score)}; it must "
                      "give one score per sample, (None, 1)", "end it with `dense: 1` (a logit; "
                      "or with activation: sigmoid)", where)
    return discriminator


def _training_lines(model: Any, resolved: dict) -> list:
    opt = resolved.get("optimizer")
    lines = [f"Training: alternate discriminator and generator updates; latent_dim "
             f"{resolved['task'].get('latent_dim')}; the discriminator's output is "
             f"{'a probability (sigmoid)' if sigmoid_output(model.discriminator) else 'a logit'}",
             "Loss: binary cross-entropy (logged: d_loss, g_loss, loss = d_loss + g_loss)"]
    if isinstance(opt, dict) and set(opt) == {"generator", "discriminator"}:
        lines.append(f"Optimizer[generator]: {call_text(opt['generator'])}")
        lines.append(f"Optimizer[discriminator]: {call_text(opt['discriminator'])}")
    else:
        lines.append(f"Optimizer: {call_text(opt)} (a copy for each network)")
    return lines + schedule_lines(resolved)


@keras.saving.register_keras_serializable(package="specc")
class GAN(keras.Model):
    """A functional `latent -> generator -> discriminator` model trained adversarially."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seed_generator = keras.random.SeedGenerator(random.randint(1, 2**31 - 1))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    @property
    def generator(self) -> Any:
        return self.get_layer("generator")

    @property
    def discriminator(self) -> Any:
        return self.get_layer("discriminator")

    @property
    def latent_dim(self) -> int:
        return int(self.inputs[0].shape[-1])

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, optimizer: Any = "adam", d_optimizer: Any = None, **kwargs: Any) -> None:
        """`optimizer` updates the generator, `d_optimizer` the discriminator."""
        super().compile(optimizer=optimizer, **kwargs)
        if d_optimizer is None:
            d_optimizer = self.optimizer.__class__.from_config(self.optimizer.get_config())
        self.d_optimizer = keras.optimizers.get(d_optimizer)

    def get_compile_config(self) -> dict:
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer),
                "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "steps_per_execution": self.steps_per_execution, "jit_compile": self.jit_compile}

    def compile_from_config(self, config: dict) -> None:
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(config.pop("optimizer"))
        d_optimizer = keras.saving.deserialize_keras_object(config.pop("d_optimizer"))
        self.compile(optimizer=optimizer, d_optimizer=d_optimizer, **config)
        if self.built:
            self.optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)

    def _bce(self, target: float, scores: Any) -> Any:
        labels = ops.full_like(scores, target)
        return ops.mean(keras.losses.binary_crossentropy(
            labels, scores, from_logits=not sigmoid_output(self.discriminator)))

    def _noise(self, count: Any, seed: Any) -> Any:
        return keras.random.normal((count, self.latent_dim), seed=seed)

    def train_step(self, data: Any) -> dict:
        import tensorflow as tf

        real, _, _ = unpack(data)
        count = ops.shape(real)[0]
        generator, discriminator = self.generator, self.discriminator
        fake = ops.stop_gradient(generator(self._noise(count, self.seed_generator), training=True))
        with tf.GradientTape() as tape:
            real_scores = discriminator(real, training=True)
            fake_scores = discriminator(fake, training=True)
            d_loss = (self._bce(1.0, real_scores) + self._bce(0.0, fake_scores)) / 2.0
            d_total = d_loss + regularization(discriminator)
        grads = tape.gradient(d_total, discriminator.trainable_variables)
        self.d_optimizer.apply(grads, discriminator.trainable_variables)
        z = self._noise(count, self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self._bce(1.0, discriminator(generator(z, training=True), training=True))
            g_total = g_loss + regularization(generator)
        grads = tape.gradient(g_total, generator.trainable_variables)
        self.optimizer.apply(grads, generator.trainable_variables)
        return self._track(d_loss, g_loss)

    def test_step(self, data: Any) -> dict:
        real, _, _ = unpack(data)
        z = self._noise(ops.shape(real)[0], EVAL_SEED)
        fake = self.generator(z, training=False)
        real_scores = self.discriminator(real, training=False)
        fake_scores = self.discriminator(fake, training=False)
        d_loss = (self._bce(1.0, real_scores) + self._bce(0.0, fake_scores)) / 2.0
        return self._track(d_loss, self._bce(1.0, fake_scores))

    def _track(self, d_loss: Any, g_loss: Any) -> dict:
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.loss_tracker.update_state(d_loss + g_loss)
        return {m.name: m.result() for m in self.metrics}
