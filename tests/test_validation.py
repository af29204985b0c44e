"""Bad arguments and inputs raise a clear error before any computation."""

import numpy as np
import keras
import pytest

import keras_lstm

BATCH, STEPS, FEATURES, UNITS = 2, 5, 3, 4


def sequences(*shape):
    return np.zeros(shape or (BATCH, STEPS, FEATURES), "float32")


@pytest.mark.parametrize("units, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("8", TypeError), (True, TypeError)])
@pytest.mark.parametrize("layer_class", [keras_lstm.LSTM, keras_lstm.LSTMCell])
def test_units_must_be_a_positive_int(layer_class, units, error):
    with pytest.raises(error, match=r"`units` must be a positive integer.*units="):
        layer_class(units)


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_dropout_must_be_in_unit_interval(argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}` must be a float in \[0, 1\).*{argument}={value}"):
        keras_lstm.LSTM(UNITS, **{argument: value})


@pytest.mark.parametrize("argument", ["activation", "recurrent_activation"])
def test_unknown_activation_names_the_argument(argument):
    with pytest.raises(ValueError, match=rf"`{argument}` must be the name of a Keras activation.*'tahn'"):
        keras_lstm.LSTM(UNITS, **{argument: "tahn"})


@pytest.mark.parametrize("shape", [(BATCH, FEATURES), (BATCH, STEPS, FEATURES, 1)])
def test_layer_input_must_have_rank_3(shape):
    with pytest.raises(ValueError, match=r"`sequences` must have rank 3.*Received: sequences.shape="):
        keras_lstm.LSTM(UNITS)(np.zeros(shape, "float32"))


def test_feature_size_must_match_the_built_kernel():
    layer = keras_lstm.LSTM(UNITS)
    layer(sequences())
    with pytest.raises(ValueError, match=rf"has {FEATURES + 2} features but the layer was built for {FEATURES}"):
        layer(sequences(BATCH, STEPS, FEATURES + 2))


def test_cell_step_input_must_have_rank_2_and_known_size():
    cell = keras_lstm.LSTMCell(UNITS)
    states = [np.zeros((BATCH, UNITS), "float32")] * 2
    cell(np.zeros((BATCH, FEATURES), "float32"), states)
    with pytest.raises(ValueError, match=r"`inputs` must have rank 2"):
        cell(np.zeros((BATCH, 1, 1, FEATURES), "float32"), states)
    with pytest.raises(ValueError, match=rf"has {FEATURES + 1} features but the layer was built for {FEATURES}"):
        cell(np.zeros((BATCH, FEATURES + 1), "float32"), states)
    with pytest.raises(ValueError, match=r"`states` is required for one step"):
        cell(np.zeros((BATCH, FEATURES), "float32"))


def test_initial_state_count_and_shape():
    layer = keras_lstm.LSTM(UNITS)
    h = np.zeros((BATCH, UNITS), "float32")
    with pytest.raises(ValueError, match=r"`initial_state` must be a list of 2 tensors \[h, c\].*Received 1 tensor"):
        layer(sequences(), initial_state=[h])
    with pytest.raises(ValueError, match=r"`initial_state` must be a list of 2 tensors.*Received 3 tensors"):
        layer(sequences(), initial_state=[h, h, h])
    with pytest.raises(ValueError, match=r"`initial_state` \[c\] must have shape \(batch, 4\) = \(2, 4\).*\(2, 5\)"):
        layer(sequences(), initial_state=[h, np.zeros((BATCH, UNITS + 1), "float32")])
    with pytest.raises(ValueError, match=r"`initial_state` \[h\] must have shape .*\(3, 4\)"):
        layer(sequences(), initial_state=[np.zeros((BATCH + 1, UNITS), "float32"), h])


def test_cell_states_count_and_shape():
    cell = keras_lstm.LSTMCell(UNITS)
    x_t = np.zeros((BATCH, FEATURES), "float32")
    with pytest.raises(ValueError, match=r"`states` must be a list of 2 tensors"):
        cell(x_t, [np.zeros((BATCH, UNITS), "float32")])
    with pytest.raises(ValueError, match=r"`states` \[h\] must have shape"):
        cell(x_t, [np.zeros((BATCH, UNITS + 1), "float32")] * 2)


@pytest.mark.parametrize("mask_shape", [(BATCH, STEPS + 1), (BATCH + 1, STEPS), (BATCH, STEPS, 1)])
def test_mask_must_match_batch_and_time(mask_shape):
    with pytest.raises(ValueError, match=r"`mask` must have shape \(batch, time\) = \(2, 5\).*mask.shape="):
        keras_lstm.LSTM(UNITS)(sequences(), mask=np.ones(mask_shape, bool))


def test_stateful_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match=r"stateful=True.*batch size must be static"):
        keras.Sequential([keras.Input((STEPS, FEATURES)), keras_lstm.LSTM(UNITS, stateful=True)])


def test_unroll_needs_a_fixed_time_length():
    with pytest.raises(ValueError, match=r"`unroll=True` needs a fixed number of time steps.*shape=\(None, None, 3\)"):
        keras.Sequential([keras.Input((None, FEATURES)), keras_lstm.LSTM(UNITS, unroll=True)])
