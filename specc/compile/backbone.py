"""Build a `backbone:` layer item: a trained network as one layer (a nested keras.Model).

The files were found before the build (`specc.backbones.pin` writes their absolute paths
into the spec the model is built from); this module only reads them. In a backbone with
trained weights (unless `inference: false`) every batch normalization layer is frozen: it
keeps its moving statistics (and scale and offset) also while the rest of the backbone is
fine-tuned, which is what the Keras transfer-learning guide's `base_model(x, training=False)`
is for. Keras 3's `fit` overrides that call argument with `training=True`
(keras-team/keras#20285); a frozen BatchNormalization runs in inference mode whatever it is
told, and its flag is saved with the model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import keras

from specc.backbones import PINNED, BackboneError, application, applications, check_until, check_weights_file
from specc.compile.objects import problem


@keras.saving.register_keras_serializable(package="specc")
class ApplicationPreprocess(keras.layers.Layer):
    """A keras.applications architecture's own `preprocess_input`, inside the model (so an
    exported model takes raw pixels, 0-255, as the architecture's weights expect)."""

    def __init__(self, architecture: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.architecture = architecture
        self._function = _preprocess_function(architecture)

    def call(self, inputs: Any) -> Any:
        if self._function is None:
            return inputs
        return self._function(keras.ops.cast(inputs, self.compute_dtype))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "architecture": self.architecture}


def _preprocess_function(architecture: str) -> Optional[Callable]:
    dotted = applications()[architecture]["preprocess"]
    if dotted is None:  # the architecture rescales inside itself (MobileNetV3)
        return None
    module_name, _, function = dotted.rpartition(".")
    module: Any = keras.applications
    for part in module_name.split(".")[2:]:
        module = getattr(module, part)
    return getattr(module, function)


def build_backbone(item: dict, key: str, path: tuple, name: str, input_shape: tuple,
                   where: Optional[Callable]) -> Any:
    """The nested model a backbone item describes, named `name`, for inputs of `input_shape`
    (without the batch axis)."""
    args = item[key]
    try:
        if "from" in args:
            return _from_file(args, name)
        if "preset" in args:
            return _preset(args, name)
        return _application(args, name, input_shape)
    except BackboneError as exc:
        raise problem(tuple(path) + (key, exc.arg), exc.message, exc.hint, where) from None


def _from_file(args: dict, name: str) -> Any:
    from specc.compile import load_plugins

    load_plugins([])
    path = Path(args[PINNED])
    check_until(args, path)
    saved = keras.saving.load_model(path, compile=False)
    output = saved.get_layer(args["until"]).output if args.get("until") else _one(saved.outputs)
    return keras.Model(_one(saved.inputs), output, name=name)


def _one(tensors: list) -> Any:
    """A single input or output as itself (a backbone is one layer: one tensor in, one out)."""
    return tensors[0] if len(tensors) == 1 else tensors


def _preset(args: dict, name: str) -> Any:
    """A KerasHub backbone from a preset folder, as a plain functional model of its layers.

    Only presets made of Keras's own layers (ResNet-like image backbones) are taken: a saved
    specc model must load without importing KerasHub, which specc does not do for every load."""
    import keras_hub

    loaded = keras_hub.models.Backbone.from_preset(args[PINNED])
    foreign = sorted({type(layer).__name__ for layer in loaded._flatten_layers(include_self=False, recursive=True)
                      if not type(layer).__module__.startswith("keras.")})
    if foreign:
        raise BackboneError(f"preset {args['preset']} uses KerasHub's own layers ({', '.join(foreign[:5])}), "
                            "which a saved specc model could not load without KerasHub",
                            "use a preset made of Keras layers (an image backbone such as ResNet), or a .keras "
                            "file with `from:`", "preset")
    return keras.Model(_one(loaded.inputs), _one(loaded.outputs), name=name)


def _application(args: dict, name: str, input_shape: tuple) -> Any:
    architecture = application(args["application"])
    if architecture is None:
        raise BackboneError(f"keras.applications has no architecture '{args['application']}'",
                            "see `specc validate`'s list", "application")
    build = getattr(keras.applications, architecture)
    base = build(include_top=False, weights=None, input_shape=tuple(input_shape), pooling=args.get("pooling"))
    weights = args.get(PINNED)
    if weights:
        check_weights_file(Path(weights), architecture)
        base.load_weights(weights)
    inputs = keras.Input(shape=tuple(input_shape))
    x = ApplicationPreprocess(architecture, name=f"{name}_preprocess")(inputs) if args.get("preprocess", True) \
        else inputs
    return keras.Model(inputs, base(x), name=name)


def freeze_batch_norm(model: Any) -> None:
    """Freeze every BatchNormalization layer of a nested model (inference mode)."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def inference(args: dict) -> bool:
    """Whether the backbone's batch normalization stays in inference mode (trained weights,
    and not `inference: false`)."""
    trained = "from" in args or "preset" in args or args.get("weights") not in (None, "none")
    return bool(args.get("inference", trained))
