"""A plugin module for specc: custom Keras layers a spec can name.

List the module under `plugins:` in a spec (`plugins: [my_layers]`); specc imports it from
the spec's directory before building the model. Each layer is registered with
`keras.saving.register_keras_serializable`, so a saved `.keras` model reloads anywhere this
module is importable (import it before `keras.saving.load_model`). In the spec a layer is
called by its registered snake_case name (`scale`); a short value (`scale: 0.5`) goes to the
first constructor argument.
"""
import keras


@keras.saving.register_keras_serializable(package="my_layers", name="scale")
class Scale(keras.layers.Layer):
    """Multiply each feature (last axis) by its own learned factor.

    Args:
        initial: The factors' starting value.
        **kwargs: Base layer arguments (name, dtype, trainable).
    """

    def __init__(self, initial: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, input_shape):
        self.factor = self.add_weight(
            name="factor", shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.initial), trainable=True)

    def call(self, inputs):
        return inputs * self.factor

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}
