"""The composite paradigms: autoencoders, GANs and prototypical few-shot networks.

Each is a keras.Model with its own `train_step` / `test_step`, so the one generic training
loop (`model.fit` with specc's record, checkpoints and NaN watch) trains all of them:

- `Autoencoder` (task `autoencoder`): a functional model
  `x -> preprocess -> noise -> encoder -> decoder`, trained to reconstruct `preprocess(x)`
  (the input as the model sees it after `data.preprocessing`; the data's labels are
  ignored). `task.noise` puts GaussianNoise / Dropout layers in front of the encoder, which
  Keras applies in training only (a denoising autoencoder).
- `GAN` (task `gan`): a functional model `latent -> generator -> discriminator` whose
  outputs are the generated sample and the discriminator's score. `train_step` alternates a
  discriminator and a generator update (binary cross-entropy, each network with its own
  optimizer) and logs `d_loss`, `g_loss` and `loss = d_loss + g_loss`. `data.preprocessing`
  goes in front of the discriminator, so real and generated samples alike pass through it:
  the generator makes samples in the data's own units.
- `ProtoNet` (task `few_shot`, method `prototypical`; Snell et al. 2017): wraps the spec's
  embedding network. A training step is one episode (`ways` classes, `shots` support and
  `queries` query samples each): the prototypes are the mean support embeddings, the logits
  the negative squared euclidean distances of the queries to them, the loss softmax
  cross-entropy; `accuracy` is the episode accuracy. `specc compile` of a few-shot spec
  builds the embedding network itself (its summary says how it is trained).

The functional ones (`Autoencoder`, `GAN`) keep the functional config, so `.keras` files
reload with `keras.saving.load_model` once this module is imported (`load_plugins` does);
`ProtoNet` serializes its embedding network and episode settings in its config.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import keras
from keras import ops

from specc.compile.graph import Builder, _remember, build_network, make_inputs
from specc.compile.objects import problem
from specc.compile.preprocessing import add_preprocessing
from specc.compile.shapes import shape_text

COMPOSITE_TASKS = ("autoencoder", "gan", "few_shot")
PREPROCESS = "preprocess"
EVAL_SEED = 1234  # the latent noise of GAN evaluation: the same for every evaluation


def task_kind(resolved: dict) -> Optional[str]:
    task = resolved.get("task") or {}
    return task.get("type") if "outputs" not in task else None


def is_composite(resolved: dict) -> bool:
    return task_kind(resolved) in COMPOSITE_TASKS


# --- building -----------------------------------------------------------------------------------

def build(resolved: dict, where: Optional[Callable] = None) -> Any:
    """The uncompiled model of a composite spec: an `Autoencoder`, a `GAN`, or (few_shot)
    the embedding network that `ProtoNet` trains."""
    kind = task_kind(resolved)
    if kind == "autoencoder":
        return build_autoencoder(resolved, where)
    if kind == "gan":
        return build_gan(resolved, where)
    from specc.compile.graph import build as build_plain

    return build_plain(resolved, where)


def _one_input(inputs: dict, path: tuple, what: str, where) -> tuple:
    if len(inputs) != 1:
        raise problem(tuple(path) + ("inputs",), f"{what} takes one input, found {len(inputs)}: "
                      f"{', '.join(inputs)}", "give it a single input, e.g. `inputs: {image: [8, 8, 1]}`",
                      where)
    return next(iter(inputs.items()))


def build_preprocess(resolved: dict, inputs_spec: dict, where: Optional[Callable] = None):
    """`data.preprocessing` as its own small model named `preprocess` (None without any)."""
    items = (resolved.get("data") or {}).get("preprocessing") or []
    if not items:
        return None
    builder = Builder(blocks={}, where=where)
    inputs = make_inputs(inputs_spec, ("model",), where)
    tensors = add_preprocessing(builder, inputs, items)
    name = next(iter(inputs))
    model = keras.Model(inputs[name], tensors[name], name=PREPROCESS)
    _remember(model, builder.paths, builder.preprocessing)
    return model


def _same_shape(a, b) -> bool:
    a, b = tuple(a)[1:], tuple(b)[1:]
    return len(a) == len(b) and all(x is None or y is None or int(x) == int(y) for x, y in zip(a, b))


def build_autoencoder(resolved: dict, where: Optional[Callable] = None) -> "Autoencoder":
    model_spec, task = resolved["model"], resolved["task"]
    enc_spec = dict(model_spec["encoder"])
    if not enc_spec.get("inputs"):
        raise problem(("model", "encoder"), "the encoder needs `inputs:` (the shape of one sample)",
                      "e.g. `inputs: {image: [64]}`", where)
    name, _ = _one_input(enc_spec["inputs"], ("model", "encoder"), "an autoencoder", where)
    x = make_inputs(enc_spec["inputs"], ("model", "encoder"), where)[name]
    preprocess = build_preprocess(resolved, enc_spec["inputs"], where)
    clean = preprocess(x) if preprocess is not None else x
    h = clean
    noise = task.get("noise") or {}
    if noise.get("gaussian"):
        h = keras.layers.GaussianNoise(float(noise["gaussian"]), seed=resolved.get("seed"),
                                       name="gaussian_noise")(h)
    if noise.get("dropout"):
        h = keras.layers.Dropout(float(noise["dropout"]), seed=resolved.get("seed"), name="dropout_noise")(h)
    encoder = build_network(enc_spec, resolved, where, ("model", "encoder"), "encoder", top=False)
    if len(encoder.outputs) != 1:
        raise problem(("model", "encoder"), f"the encoder has {len(encoder.outputs)} outputs; the code "
                      "is one tensor", "give the encoder one output", where)
    dec_spec = dict(model_spec["decoder"])
    if not dec_spec.get("inputs"):
        shape = list(tuple(encoder.outputs[0].shape)[1:])
        dec_spec["inputs"] = {"code": {"shape": shape, "dtype": "float32"}}
    decoder = build_network(dec_spec, resolved, where, ("model", "decoder"), "decoder", top=False)
    if len(decoder.outputs) != 1 or not _same_shape(decoder.outputs[0].shape, clean.shape):
        raise problem(("model", "decoder"), f"the decoder makes {shape_text(decoder.outputs[0])}, but it "
                      f"reconstructs the input, {shape_text(clean)}",
                      "end the decoder with a layer of the input's shape (e.g. dense with as many units "
                      "as the input has values, then `reshape`)", where)
    try:
        code = encoder(h)
    except Exception as err:  # noqa: BLE001
        raise problem(("model", "encoder"), f"the encoder does not take the input {shape_text(h)}: {err}",
                      None, where) from None
    out = decoder(code)
    model = Autoencoder(x, out, name=resolved.get("name", "autoencoder"))
    _remember(model, {**encoder.specc_paths, **decoder.specc_paths},
              preprocess.specc_preprocessing if preprocess is not None else {})
    return model


def build_gan(resolved: dict, where: Optional[Callable] = None) -> "GAN":
    model_spec, task = resolved["model"], resolved["task"]
    latent = task.get("latent_dim")
    if not latent:
        raise problem(("task",), "a gan task needs `latent_dim:` (the size of the generator's noise input)",
                      "e.g. task: {type: gan, latent_dim: 16}", where)
    gen_spec = dict(model_spec["generator"])
    if gen_spec.get("inputs"):
        gname, value = _one_input(gen_spec["inputs"], ("model", "generator"), "the generator", where)
        shape = list(value["shape"] if isinstance(value, dict) else value)
        if shape != [latent]:
            raise problem(("model", "generator", "inputs", gname), f"the generator's input is {shape}, but "
                          f"task.latent_dim is {latent}", f"use inputs: {{{gname}: [{latent}]}}, or leave "
                          "inputs out", where)
    else:
        gen_spec["inputs"] = {"latent": {"shape": [int(latent)], "dtype": "float32"}}
    generator = build_network(gen_spec, resolved, where, ("model", "generator"), "generator", top=False)
    if len(generator.outputs) != 1:
        raise problem(("model", "generator"), "the generator must make one tensor (a sample)", None, where)
    made = generator.outputs[0]
    dis_spec = dict(model_spec["discriminator"])
    given = dis_spec.get("inputs") or model_spec.get("inputs")
    if given:
        _one_input(given, ("model", "discriminator"), "the discriminator", where)
        dis_spec["inputs"] = given
    else:
        dis_spec["inputs"] = {"sample": {"shape": list(tuple(made.shape)[1:]), "dtype": "float32"}}
    discriminator = build_network(dis_spec, resolved, where, ("model", "discriminator"), "discriminator",
                                  top=True)
    wanted = discriminator.inputs[0]
    if not _same_shape(made.shape, wanted.shape):
        raise problem(("model", "generator"), f"the generator makes {shape_text(made)} samples, but the "
                      f"discriminator takes {shape_text(wanted)}",
                      "end the generator with a layer of the data's shape (e.g. `reshape`)", where)
    score = discriminator.outputs[0]
    if len(discriminator.outputs) != 1 or tuple(score.shape)[1:] != (1,):
        raise problem(("model", "discriminator"), f"the discriminator makes {shape_text(score)}; it must "
                      "give one score per sample, (None, 1)", "end it with `dense: 1` (a logit; "
                      "or with activation: sigmoid)", where)
    z = generator.inputs[0]
    sample = generator(z)
    model = GAN(z, [sample, discriminator(sample)], name=resolved.get("name", "gan"))
    _remember(model, {**generator.specc_paths, **discriminator.specc_paths},
              getattr(discriminator, "specc_preprocessing", {}))
    return model


def _sigmoid_output(network) -> bool:
    """Whether the network's last layer ends in a sigmoid (else its output is a logit)."""
    layer = network.layers[-1]
    activation = getattr(layer, "activation", None)
    return activation is keras.activations.sigmoid or getattr(activation, "__name__", "") == "sigmoid"


def adapt(model: Any, features: Any) -> list:
    """Adapt the data.preprocessing layers of a composite model on the training features."""
    from specc.compile.preprocessing import adapt_preprocessing

    target = model
    if isinstance(model, Autoencoder):
        try:
            target = model.get_layer(PREPROCESS)
        except ValueError:
            return []
    elif isinstance(model, GAN):
        target = model.discriminator
    elif isinstance(model, ProtoNet):
        target = model.embedding
    return adapt_preprocessing(target, features)


# --- compiling ------------------------------------------------------------------------------------

def compile(model: Any, resolved: dict, total_steps: int = 1000, steps_per_execution: int = 1,
            jit_compile: bool = False, where: Optional[Callable] = None) -> Any:
    """Compile a composite model: the spec's loss for an autoencoder; a generator and a
    discriminator optimizer for a GAN (`optimizer: {generator: ..., discriminator: ...}`, or
    one optimizer that each network gets a copy of); the optimizer alone for a ProtoNet (or the
    embedding network of a few_shot spec: its loss is the episodes')."""
    from specc.compile.training import compile_model, make_optimizer

    if isinstance(model, GAN):
        opt, schedule = resolved["optimizer"], resolved.get("schedule")
        pair = isinstance(opt, dict) and set(opt) == {"generator", "discriminator"}

        def one(part):
            spec = opt[part] if pair else opt
            at = (lambda p: where(("optimizer", part) + tuple(p)[1:])) if (pair and where) else where
            return make_optimizer(spec, schedule, total_steps, at)

        model.compile(optimizer=one("generator"), d_optimizer=one("discriminator"),
                      steps_per_execution=int(steps_per_execution), jit_compile=bool(jit_compile))
        return model
    if isinstance(model, ProtoNet) or task_kind(resolved) == "few_shot":  # or its embedding network
        optimizer = make_optimizer(resolved["optimizer"], resolved.get("schedule"), total_steps, where)
        model.compile(optimizer=optimizer, steps_per_execution=int(steps_per_execution),
                      jit_compile=bool(jit_compile))
        return model
    return compile_model(model, resolved, total_steps, steps_per_execution, jit_compile, where)


def protonet(embedding: Any, resolved: dict) -> "ProtoNet":
    """The few-shot trainer around a built embedding network (the task's episode settings)."""
    task = resolved["task"]
    return ProtoNet(embedding, ways=task.get("ways", 5), shots=task.get("shots", 1),
                    queries=task.get("queries", 5), episodes=task.get("episodes", 100),
                    seed=resolved.get("seed", 0), name=resolved.get("name", "protonet"))


# --- the parts users keep --------------------------------------------------------------------------

def parts(model: Any) -> dict:
    """Name -> standalone functional model worth keeping beside a checkpoint: the encoder
    (with data.preprocessing in front, for embedding raw data) and decoder of an autoencoder,
    the generator and discriminator of a GAN, the embedding network of a ProtoNet."""
    if isinstance(model, Autoencoder):
        x = keras.Input(tuple(model.inputs[0].shape)[1:], dtype=model.inputs[0].dtype,
                        name=model.inputs[0].name.split(":")[0])
        h = x
        try:
            h = model.get_layer(PREPROCESS)(h)
        except ValueError:
            pass
        encoder = keras.Model(x, model.get_layer("encoder")(h), name="encoder")
        return {"encoder": encoder, "decoder": model.get_layer("decoder")}
    if isinstance(model, GAN):
        return {"generator": model.generator, "discriminator": model.discriminator}
    if isinstance(model, ProtoNet):
        return {"embedding": model.embedding}
    return {}


# --- summary ---------------------------------------------------------------------------------------

def summarize(model: Any, resolved: dict, where: Optional[Callable] = None,
              total_steps: Optional[int] = None) -> str:
    """`specc compile` of a composite spec: the whole model, then each part, then how it trains."""
    from specc.compile.summary import summarize as plain

    kind = task_kind(resolved)
    if kind == "few_shot":
        text = plain(model, resolved, where, total_steps)
        return _replace_training(text, _training_lines(model, resolved, kind))
    text = plain(model, resolved, where, total_steps)
    blocks = [_replace_training(text, _training_lines(model, resolved, kind))]
    nested = {"autoencoder": ("encoder", "decoder"), "gan": ("generator", "discriminator")}[kind]
    for name in nested:
        part = model.get_layer(name)
        object.__setattr__(part, "specc_paths", getattr(model, "specc_paths", {}))
        blocks.append(plain(part, resolved, where, total_steps).split("\n\n")[0])
    return "\n\n".join(blocks)


def _replace_training(text: str, lines: list) -> str:
    head = text.split("\n\nLoss", 1)[0]
    return head + "\n\n" + "\n".join(lines)


def _call_text(value: Any) -> str:
    from specc.compile.summary import _call_text as call_text

    return call_text(value)


def _training_lines(model, resolved: dict, kind: str) -> list:
    task = resolved["task"]
    opt, schedule = resolved.get("optimizer"), resolved.get("schedule")
    lines = []
    if kind == "autoencoder":
        noise = task.get("noise") or {}
        shown = ", ".join(f"{k} {v:g}" for k, v in noise.items()) or "none"
        lines.append("Training: reconstruct the input (after data.preprocessing); labels are ignored")
        lines.append(f"Noise (training only): {shown}")
        lines.append(f"Loss: {_call_text(resolved.get('loss'))}")
        lines.append(f"Optimizer: {_call_text(opt)}")
    elif kind == "gan":
        lines.append(f"Training: alternate discriminator and generator updates; latent_dim "
                     f"{task.get('latent_dim')}; the discriminator's output is "
                     f"{'a probability (sigmoid)' if _sigmoid_output(model.discriminator) else 'a logit'}")
        lines.append("Loss: binary cross-entropy (logged: d_loss, g_loss, loss = d_loss + g_loss)")
        if isinstance(opt, dict) and set(opt) == {"generator", "discriminator"}:
            lines.append(f"Optimizer[generator]: {_call_text(opt['generator'])}")
            lines.append(f"Optimizer[discriminator]: {_call_text(opt['discriminator'])}")
        else:
            lines.append(f"Optimizer: {_call_text(opt)} (a copy for each network)")
    else:
        lines.append(f"Training: prototypical networks, {task.get('ways', 5)}-way {task.get('shots', 1)}-shot "
                     f"episodes with {task.get('queries', 5)} queries per class, {task.get('episodes', 100)} "
                     "per epoch (the model above is the embedding network)")
        lines.append("Loss: softmax cross-entropy over negative squared distances to the class prototypes")
        lines.append("Metrics: accuracy (per episode)")
        lines.append(f"Optimizer: {_call_text(opt)}")
    if schedule:
        lines.append(f"Schedule: {_call_text(schedule)}")
    return lines


# --- the models --------------------------------------------------------------------------------------

def _unpack(data):
    return keras.utils.unpack_x_y_sample_weight(data)


@keras.saving.register_keras_serializable(package="specc")
class Autoencoder(keras.Model):
    """A functional autoencoder trained to reconstruct its (preprocessed) input."""

    specc_kind = "autoencoder"

    def reconstruction_target(self, x):
        """What the model reconstructs: the input after data.preprocessing."""
        try:
            preprocess = self.get_layer(PREPROCESS)
        except ValueError:
            return x
        return ops.stop_gradient(preprocess(x, training=False))

    def train_step(self, data):
        x, _, sample_weight = _unpack(data)
        return super().train_step((x, self.reconstruction_target(x), sample_weight))

    def test_step(self, data):
        x, _, sample_weight = _unpack(data)
        return super().test_step((x, self.reconstruction_target(x), sample_weight))

    def specc_eval_dataset(self, table, batch_size: int = 256):
        from specc.run.composite import sample_dataset

        return sample_dataset(table, self.inputs[0], batch_size)


@keras.saving.register_keras_serializable(package="specc")
class GAN(keras.Model):
    """A functional `latent -> generator -> discriminator` model trained adversarially."""

    specc_kind = "gan"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed_generator = keras.random.SeedGenerator(self._seed())
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    @staticmethod
    def _seed() -> int:
        import random

        return random.randint(1, 2**31 - 1)

    @property
    def generator(self):
        return self.get_layer("generator")

    @property
    def discriminator(self):
        return self.get_layer("discriminator")

    @property
    def latent_dim(self) -> int:
        return int(self.inputs[0].shape[-1])

    @property
    def metrics(self):
        return [self.loss_tracker, self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, optimizer="adam", d_optimizer=None, **kwargs):
        """`optimizer` updates the generator, `d_optimizer` the discriminator."""
        super().compile(optimizer=optimizer, **kwargs)
        if d_optimizer is None:
            d_optimizer = self.optimizer.__class__.from_config(self.optimizer.get_config())
        self.d_optimizer = keras.optimizers.get(d_optimizer)

    def get_compile_config(self):
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer),
                "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "steps_per_execution": self.steps_per_execution, "jit_compile": self.jit_compile}

    def compile_from_config(self, config):
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(config.pop("optimizer"))
        d_optimizer = keras.saving.deserialize_keras_object(config.pop("d_optimizer"))
        self.compile(optimizer=optimizer, d_optimizer=d_optimizer, **config)
        if self.built:
            self.optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)

    def _bce(self, target: float, scores):
        labels = ops.full_like(scores, target)
        return ops.mean(keras.losses.binary_crossentropy(
            labels, scores, from_logits=not _sigmoid_output(self.discriminator)))

    def _noise(self, count, seed):
        return keras.random.normal((count, self.latent_dim), seed=seed)

    def _adversarial_losses(self, real, z, training: bool):
        fake = self.generator(z, training=training)
        real_scores = self.discriminator(real, training=training)
        fake_scores = self.discriminator(fake, training=training)
        d_loss = (self._bce(1.0, real_scores) + self._bce(0.0, fake_scores)) / 2.0
        return d_loss, self._bce(1.0, fake_scores)

    def train_step(self, data):
        import tensorflow as tf

        real, _, _ = _unpack(data)
        count = ops.shape(real)[0]
        generator, discriminator = self.generator, self.discriminator
        fake = ops.stop_gradient(generator(self._noise(count, self.seed_generator), training=True))
        with tf.GradientTape() as tape:
            real_scores = discriminator(real, training=True)
            fake_scores = discriminator(fake, training=True)
            d_loss = (self._bce(1.0, real_scores) + self._bce(0.0, fake_scores)) / 2.0
            d_total = d_loss + _extra(discriminator)
        grads = tape.gradient(d_total, discriminator.trainable_variables)
        self.d_optimizer.apply(grads, discriminator.trainable_variables)
        z = self._noise(count, self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self._bce(1.0, discriminator(generator(z, training=True), training=True))
            g_total = g_loss + _extra(generator)
        grads = tape.gradient(g_total, generator.trainable_variables)
        self.optimizer.apply(grads, generator.trainable_variables)
        return self._track(d_loss, g_loss)

    def test_step(self, data):
        real, _, _ = _unpack(data)
        z = self._noise(ops.shape(real)[0], EVAL_SEED)
        d_loss, g_loss = self._adversarial_losses(real, z, training=False)
        return self._track(d_loss, g_loss)

    def _track(self, d_loss, g_loss) -> dict:
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.loss_tracker.update_state(d_loss + g_loss)
        return {m.name: m.result() for m in self.metrics}

    def specc_eval_dataset(self, table, batch_size: int = 256):
        from specc.run.composite import sample_dataset

        return sample_dataset(table, self.discriminator.inputs[0], batch_size)


def _extra(network):
    """The regularization losses of a network (0 without any)."""
    losses = network.losses
    return ops.sum(ops.stack(losses)) if losses else 0.0


@keras.saving.register_keras_serializable(package="specc")
class ProtoNet(keras.Model):
    """Prototypical networks around an embedding network; one batch is one episode:
    x = {"support": ways*shots samples (class by class), "query": ways*queries samples},
    y = the episode's class index (0..ways-1) of each query."""

    specc_kind = "few_shot"

    def __init__(self, embedding, ways: int = 5, shots: int = 1, queries: int = 5, episodes: int = 100,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(embedding, dict):
            embedding = keras.saving.deserialize_keras_object(embedding)
        self.embedding = embedding
        self.ways, self.shots, self.queries = int(ways), int(shots), int(queries)
        self.episodes, self.seed = int(episodes), int(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.built = True

    def get_config(self):
        return {"name": self.name, "embedding": keras.saving.serialize_keras_object(self.embedding),
                "ways": self.ways, "shots": self.shots, "queries": self.queries,
                "episodes": self.episodes, "seed": self.seed}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    @property
    def inputs(self):
        return self.embedding.inputs

    @property
    def output_names(self):
        return ["embedding"]

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, inputs, training=False):
        return self.embedding(inputs, training=training)

    def episode_logits(self, support, query, training=False):
        """-(squared euclidean distance) of each query to each class prototype."""
        count = ops.shape(support)[0]
        embedded = self.embedding(ops.concatenate([support, query], axis=0), training=training)
        width = 1
        for dim in tuple(embedded.shape)[1:]:
            width *= int(dim)
        embedded = ops.reshape(embedded, (-1, width))
        prototypes = ops.mean(ops.reshape(embedded[:count], (-1, self.shots, width)), axis=1)
        queries = embedded[count:]
        distances = ops.sum(ops.square(ops.expand_dims(queries, 1) - ops.expand_dims(prototypes, 0)), axis=-1)
        return -distances

    def _episode(self, data, training: bool):
        x, y, _ = _unpack(data)
        logits = self.episode_logits(x["support"], x["query"], training=training)
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        right = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(y, "int64")), "float32")
        return loss, ops.mean(right)

    def train_step(self, data):
        import tensorflow as tf

        variables = self.embedding.trainable_variables
        with tf.GradientTape() as tape:
            loss, accuracy = self._episode(data, training=True)
            total = loss + _extra(self.embedding)
        self.optimizer.apply(tape.gradient(total, variables), variables)
        return self._track(loss, accuracy)

    def test_step(self, data):
        loss, accuracy = self._episode(data, training=False)
        return self._track(loss, accuracy)

    def _track(self, loss, accuracy) -> dict:
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}

    def specc_eval_dataset(self, table, batch_size: int = 256):
        """Seeded evaluation episodes of the table's classes (the same ones every time)."""
        from specc.run.composite import evaluation_episodes

        return evaluation_episodes(table, self)
