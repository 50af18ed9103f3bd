"""Layers for sequences of tokens that Keras itself lacks, shipped as a plugin module.

A spec lists `plugins: [specc.compile.text_layers]` and then uses `position_embedding`
like any layer. Keras 3 has no position embedding (keras_hub has one, a large dependency
for one layer); a Transformer encoder needs one, since self-attention and pooling alone do
not see word order. The class is registered as `specc>PositionEmbedding`, so a saved
model reloads wherever specc is installed (`specc predict`, the `.keras` export).
"""
from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="specc")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learnt vector per position to a sequence (batch, steps, features).

    Args:
        sequence_length: The most steps a sequence may have (one vector each).
    """

    def __init__(self, sequence_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)
        self.supports_masking = True   # padding stays padding for the layers after it

    def build(self, input_shape: Any) -> None:
        self.positions = self.add_weight(name="positions", shape=(self.sequence_length, int(input_shape[-1])),
                                         initializer="glorot_uniform")
        super().build(input_shape)

    def call(self, inputs: Any, mask: Any = None) -> Any:
        steps = keras.ops.shape(inputs)[1]
        return inputs + keras.ops.cast(self.positions[:steps], inputs.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "sequence_length": self.sequence_length}
