"""A model with every keras_lstm layer, for the cross-backend test.

Run as a script under another backend: `python portable_model.py DIR` loads
DIR/model.keras and DIR/model.weights.h5 and writes its outputs on DIR's
inputs to DIR/outputs-<backend>.npz.
"""

import os
import sys

import numpy as np

STEPS, FEATURES = 6, 3


def build_model():
    import keras

    import keras_lstm

    inputs = keras.Input((STEPS, FEATURES))
    sequences = keras.layers.Bidirectional(keras_lstm.LSTM(4, return_sequences=True))(inputs)
    sequences = keras_lstm.LSTM(5, return_sequences=True, go_backwards=True)(sequences)
    last = keras.layers.RNN(keras_lstm.LSTMCell(3))(sequences)
    alone = keras_lstm.LSTMCell(2)(inputs)
    variants = keras_lstm.LSTM(
        4, peephole=True, proj_units=2, coupled_gates=True, layer_norm=True, cell_clip=3.0, zoneout_cell=0.1
    )(inputs)
    stacked = keras_lstm.StackedLSTM(3, num_layers=2, bidirectional=True)(inputs)
    return keras.Model(inputs, [last, alone, variants, stacked])


def outputs(model, x):
    import keras

    return [np.asarray(keras.ops.convert_to_numpy(y)) for y in model(x)]


def main(folder):
    import keras

    import keras_lstm  # noqa: F401  (registers the classes the file names)

    x = np.load(os.path.join(folder, "inputs.npy"))
    loaded = keras.saving.load_model(os.path.join(folder, "model.keras"))
    rebuilt = build_model()
    rebuilt.load_weights(os.path.join(folder, "model.weights.h5"))
    results = {}
    for name, model in (("loaded", loaded), ("rebuilt", rebuilt)):
        for index, y in enumerate(outputs(model, x)):
            results[f"{name}_{index}"] = y
    np.savez(os.path.join(folder, f"outputs-{keras.backend.backend()}.npz"), **results)


if __name__ == "__main__":
    main(sys.argv[1])
