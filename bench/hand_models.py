"""Models the benchmarks build by hand in Keras, to compare with what specc builds."""
from __future__ import annotations

import keras


def lenet_by_hand(total_steps: int, steps_per_execution: int = 1, jit_compile=False):
    """specs/lenet-digits.yaml written directly in Keras."""
    layers = keras.layers
    image = keras.Input((8, 8, 1), name="image")
    x = layers.Rescaling(0.0625)(image)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.25)(x)
    out = layers.Dense(10, activation="softmax", name="output")(x)
    model = keras.Model(image, out, name="lenet-digits")
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=total_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    return model
