"""A plugin module for the golden cases (plugin_unknown_layer, plugin_unknown_argument,
plugin_layer_shape_followed)."""
import keras


@keras.saving.register_keras_serializable(package="cases", name="scale")
class Scale(keras.layers.Layer):
    """Multiply each feature by a learned factor."""

    def __init__(self, initial: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, input_shape):
        self.factor = self.add_weight(name="factor", shape=(input_shape[-1],),
                                      initializer=keras.initializers.Constant(self.initial))

    def call(self, inputs):
        return inputs * self.factor

    def compute_output_shape(self, input_shape):
        return input_shape
