"""keras_lstm.LSTMCell: one step, inside keras.layers.RNN, and alone in a Sequential."""

import numpy as np
import keras

import keras_lstm
from reference import numpy_lstm
from support import outputs_and_gradients, random_inputs, relative_error, to_numpy

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5
FORWARD_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4


def test_one_step_follows_the_equations():
    cell = keras_lstm.LSTMCell(UNITS, bias_initializer="random_normal", unit_forget_bias=False)
    x_t = random_inputs(BATCH, FEATURES)
    h_prev, c_prev = random_inputs(BATCH, UNITS, seed=1), random_inputs(BATCH, UNITS, seed=2)
    output, (h, c) = cell(x_t, [h_prev, c_prev])
    _, _, h_expected, c_expected = numpy_lstm(
        x_t[:, None], *cell.get_weights(), initial_state=[h_prev, c_prev]
    )
    assert relative_error(to_numpy(h), h_expected) < FORWARD_TOLERANCE
    assert relative_error(to_numpy(c), c_expected) < FORWARD_TOLERANCE
    assert relative_error(to_numpy(output), h_expected) < FORWARD_TOLERANCE


def test_weight_layout_matches_keras():
    cell = keras_lstm.LSTMCell(UNITS)
    cell.build((None, FEATURES))
    assert [w.path.split("/")[-1] for w in cell.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [tuple(w.shape) for w in cell.weights] == [
        (FEATURES, 4 * UNITS),
        (UNITS, 4 * UNITS),
        (4 * UNITS,),
    ]
    bias = to_numpy(cell.bias)
    np.testing.assert_array_equal(bias[UNITS : 2 * UNITS], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[UNITS : 2 * UNITS]), 0.0)


def test_inside_keras_rnn_matches_keras_cell():
    x = random_inputs(BATCH, STEPS, FEATURES)
    ours = keras.layers.RNN(keras_lstm.LSTMCell(UNITS), return_sequences=True)
    theirs = keras.layers.RNN(keras.layers.LSTMCell(UNITS), return_sequences=True)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    our_outputs, our_gradients = outputs_and_gradients(ours, x)
    their_outputs, their_gradients = outputs_and_gradients(theirs, x)
    assert relative_error(our_outputs[0], their_outputs[0]) < FORWARD_TOLERANCE
    for mine, reference in zip(our_gradients, their_gradients):
        assert relative_error(mine, reference) < GRADIENT_TOLERANCE


def test_alone_in_sequential_runs_over_the_sequence():
    x = random_inputs(BATCH, STEPS, FEATURES)
    cell = keras_lstm.LSTMCell(UNITS)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), cell])
    assert tuple(model.output_shape) == (None, UNITS)
    _, expected, _, _ = numpy_lstm(x, *cell.get_weights())
    assert relative_error(to_numpy(model(x)), expected) < FORWARD_TOLERANCE
    # Without an Input layer too.
    bare = keras.Sequential([keras_lstm.LSTMCell(UNITS)])
    assert tuple(bare(x).shape) == (BATCH, UNITS)


def test_alone_in_sequential_trains():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 2)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [keras.Input((8, 2)), keras_lstm.LSTMCell(16, dropout=0.1), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
