"""The end-to-end job of bench/end_to_end.py written by hand in Keras, as a careful user would:
read the CSV, split 65/15/20, z-score with the training rows' statistics, two dense 64 layers,
sigmoid output, Adam 1e-3, batch 32, up to 30 epochs with early stopping on val_loss
(patience 5, best weights restored), test metrics at the end.

    python bench/hand_csv.py breast_cancer.csv
"""
import sys

import numpy as np
import keras


def main(path: str) -> None:
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float32)
    x, y = table[:, :-1], table[:, -1]
    order = np.random.default_rng(1).permutation(len(x))
    test, validation = int(0.2 * len(x)), int(0.15 * len(x))
    test_rows, val_rows, train_rows = order[:test], order[test:test + validation], order[test + validation:]
    keras.utils.set_random_seed(1)
    normalize = keras.layers.Normalization()
    normalize.adapt(x[train_rows])
    inputs = keras.Input((x.shape[1],))
    hidden = keras.layers.Dense(64, activation="relu")(normalize(inputs))
    hidden = keras.layers.Dense(64, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    model.fit(x[train_rows], y[train_rows], batch_size=32, epochs=30, verbose=0, callbacks=[stop],
              validation_data=(x[val_rows], y[val_rows]))
    print(model.evaluate(x[test_rows], y[test_rows], verbose=0, return_dict=True))


if __name__ == "__main__":
    main(sys.argv[1])
