"""keras_lstm.StackedLSTM: the same as chaining the layers by hand."""

import numpy as np
import keras
import pytest

import keras_lstm
from support import outputs_and_gradients, random_inputs, relative_error, to_numpy

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5


def manual_chain(stack, x, mask=None):
    """Runs the stack's own sub-layers one after the other."""
    for layer in stack.layers:
        x = layer(x, mask=mask)
    return x


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_equals_its_layers_chained(bidirectional, return_sequences):
    x = random_inputs(BATCH, STEPS, FEATURES)
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 4:] = False
    stack = keras_lstm.StackedLSTM(UNITS, num_layers=3, bidirectional=bidirectional, return_sequences=return_sequences, inter_layer_dropout=0.5)
    outputs = to_numpy(stack(x, mask=mask))
    width = 2 * UNITS if bidirectional else UNITS
    assert outputs.shape == ((BATCH, STEPS, width) if return_sequences else (BATCH, width))
    # Inter-layer dropout is off at inference.
    assert relative_error(outputs, to_numpy(manual_chain(stack, x, mask))) < 1e-6
    assert len(stack.trainable_weights) == 3 * 3 * (2 if bidirectional else 1)


def test_matches_separate_keras_lstm_layers_with_gradients():
    x = random_inputs(BATCH, STEPS, FEATURES)
    stack = keras_lstm.StackedLSTM(UNITS, num_layers=2)
    reference = keras.Sequential([keras.layers.LSTM(UNITS, return_sequences=True), keras.layers.LSTM(UNITS)])
    stack(x)
    reference(x)
    stack.set_weights(reference.get_weights())
    ours, our_gradients = outputs_and_gradients(stack, x)
    theirs, their_gradients = outputs_and_gradients(reference, x)
    assert relative_error(ours[0], theirs[0]) < 1e-5
    for mine, expected in zip(our_gradients, their_gradients):
        assert relative_error(mine, expected) < 1e-4


def test_inter_layer_dropout_applies_in_training():
    x = random_inputs(BATCH, STEPS, FEATURES)
    stack = keras_lstm.StackedLSTM(UNITS, num_layers=2, inter_layer_dropout=0.5, seed=1)
    inference = to_numpy(stack(x))
    training = to_numpy(stack(x, training=True))
    assert np.abs(training - inference).max() > 1e-4


def test_each_layer_draws_its_own_dropout_masks():
    stack = keras_lstm.StackedLSTM(UNITS, num_layers=3, inter_layer_dropout=0.5, dropout=0.5, seed=1)
    stack(random_inputs(BATCH, STEPS, FEATURES))
    ones = keras.ops.ones((BATCH, STEPS, UNITS))
    first, second = (to_numpy(layer(ones, training=True)) for layer in stack.dropout_layers)
    assert np.abs(first - second).max() > 0
    seeds = [layer.cell.seed for layer in stack.layers]
    assert len(set(seeds)) == 3


def test_variants_pass_through_and_serialize(tmp_path):
    stack = keras_lstm.StackedLSTM(UNITS, num_layers=2, bidirectional=True, proj_units=3, peephole=True, kernel_initializer="he_normal")
    x = random_inputs(BATCH, STEPS, FEATURES)
    assert tuple(stack(x).shape) == (BATCH, 6)
    config = stack.get_config()
    assert keras_lstm.StackedLSTM.from_config(config).get_config() == config
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), stack])
    path = str(tmp_path / "stack.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert relative_error(to_numpy(loaded(x)), to_numpy(model(x))) == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_layers": 0}, r"`num_layers` must be a positive integer"),
        ({"inter_layer_dropout": 1.0}, r"`inter_layer_dropout` must be a float in \[0, 1\)"),
        ({"return_state": True}, r"StackedLSTM does not support `return_state`"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_lstm.StackedLSTM(UNITS, **kwargs)
