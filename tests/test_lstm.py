"""keras_lstm.LSTM against keras.layers.LSTM and the float64 reference."""

import numpy as np
import keras
import pytest

import keras_lstm
from reference import numpy_lstm
from support import (
    as_list,
    outputs_and_gradients,
    random_inputs,
    relative_error,
    to_numpy,
)

BATCH, STEPS, FEATURES, UNITS = 3, 7, 4, 5
FORWARD_TOLERANCE = 1e-5  # relative, float32 (the project's standard)
GRADIENT_TOLERANCE = 1e-4


def end_padding_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 4:] = False
    mask[1, 6:] = False
    return mask


def middle_padding_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 2:4] = False
    mask[2, 1] = False
    mask[2, 5] = False
    return mask


def initial_state(seed=5):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((BATCH, UNITS)).astype("float32") for _ in "hc"]


# Each case: layer arguments, then call arguments (as factories, so that each
# test gets fresh arrays).
PARITY_CASES = {
    "last_output": ({}, {}),
    "sequences": ({"return_sequences": True}, {}),
    "state": ({"return_state": True}, {}),
    "sequences_and_state": ({"return_sequences": True, "return_state": True}, {}),
    "go_backwards": ({"return_sequences": True, "go_backwards": True}, {}),
    "no_unit_forget_bias": ({"unit_forget_bias": False, "bias_initializer": "random_normal"}, {}),
    "no_bias": ({"use_bias": False, "return_sequences": True}, {}),
    "relu_hard_sigmoid": ({"activation": "relu", "recurrent_activation": "hard_sigmoid"}, {}),
    "mask_end": ({"return_sequences": True}, {"mask": end_padding_mask}),
    "mask_end_last": ({}, {"mask": end_padding_mask}),
    "mask_middle": ({"return_sequences": True, "return_state": True}, {"mask": middle_padding_mask}),
    "mask_backwards": ({"return_sequences": True, "go_backwards": True}, {"mask": middle_padding_mask}),
    "initial_state": ({"return_sequences": True, "return_state": True}, {"initial_state": initial_state}),
    "initial_state_and_mask": ({"return_sequences": True}, {"initial_state": initial_state, "mask": middle_padding_mask}),
    "unroll": ({"return_sequences": True, "unroll": True}, {"mask": middle_padding_mask}),
}


def make_pair(layer_kwargs, x):
    """A keras.layers.LSTM and a keras_lstm.LSTM holding the same weights."""
    theirs = keras.layers.LSTM(UNITS, **layer_kwargs)
    ours = keras_lstm.LSTM(UNITS, **layer_kwargs)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize("case", sorted(PARITY_CASES))
def test_matches_keras_lstm_forward_and_gradients(case):
    layer_kwargs, call_factories = PARITY_CASES[case]
    call_kwargs = {name: make() for name, make in call_factories.items()}
    x = random_inputs(BATCH, STEPS, FEATURES)
    ours, theirs = make_pair(layer_kwargs, x)
    our_outputs, our_gradients = outputs_and_gradients(ours, x, **call_kwargs)
    their_outputs, their_gradients = outputs_and_gradients(theirs, x, **call_kwargs)
    assert len(our_outputs) == len(their_outputs)
    for mine, reference in zip(our_outputs, their_outputs):
        assert relative_error(mine, reference) < FORWARD_TOLERANCE
    # Inputs, kernel, recurrent kernel, bias.
    assert len(our_gradients) == len(their_gradients) == 1 + len(ours.trainable_weights)
    for mine, reference in zip(our_gradients, their_gradients):
        assert relative_error(mine, reference) < GRADIENT_TOLERANCE


@pytest.mark.parametrize("case", ["sequences", "go_backwards", "mask_end", "mask_middle", "mask_backwards", "initial_state_and_mask", "unroll"])
def test_matches_float64_reference(case):
    layer_kwargs, call_factories = PARITY_CASES[case]
    call_kwargs = {name: make() for name, make in call_factories.items()}
    x = random_inputs(BATCH, STEPS, FEATURES, seed=1)
    layer = keras_lstm.LSTM(UNITS, bias_initializer="random_normal", **layer_kwargs)
    outputs = as_list(layer(x, **call_kwargs))
    kernel, recurrent_kernel, bias = layer.get_weights()
    expected_sequence, expected_last, h, c = numpy_lstm(
        x,
        kernel,
        recurrent_kernel,
        bias,
        initial_state=call_kwargs.get("initial_state"),
        mask=call_kwargs.get("mask"),
        go_backwards=layer_kwargs.get("go_backwards", False),
    )
    assert relative_error(to_numpy(outputs[0]), expected_sequence) < FORWARD_TOLERANCE
    if layer_kwargs.get("return_state"):
        assert relative_error(to_numpy(outputs[1]), h) < FORWARD_TOLERANCE
        assert relative_error(to_numpy(outputs[2]), c) < FORWARD_TOLERANCE


def test_zero_output_for_mask_zeroes_masked_steps():
    x = random_inputs(BATCH, STEPS, FEATURES)
    mask = middle_padding_mask()
    layer = keras_lstm.LSTM(UNITS, return_sequences=True, zero_output_for_mask=True)
    outputs = to_numpy(layer(x, mask=mask))
    expected, _, _, _ = numpy_lstm(x, *layer.get_weights(), mask=mask, zero_output_for_mask=True)
    assert relative_error(outputs, expected) < FORWARD_TOLERANCE
    assert np.all(outputs[~mask] == 0)


def test_stateful_matches_keras_over_two_calls_and_resets():
    x = random_inputs(BATCH, STEPS, FEATURES)
    x2 = random_inputs(BATCH, STEPS, FEATURES, seed=2)
    ours, theirs = make_pair({"stateful": True}, x)
    ours.reset_state()
    theirs.reset_state()
    for batch in (x, x2):
        assert relative_error(to_numpy(ours(batch)), to_numpy(theirs(batch))) < FORWARD_TOLERANCE
    # The second call started from the state the first one left.
    fresh = keras_lstm.LSTM(UNITS)
    fresh(x)
    fresh.set_weights(ours.get_weights()[:3])
    assert relative_error(to_numpy(ours(x2)), to_numpy(fresh(x2))) > 1e-3
    ours.reset_state()
    assert relative_error(to_numpy(ours(x2)), to_numpy(fresh(x2))) < FORWARD_TOLERANCE


def test_bidirectional_matches_keras():
    x = random_inputs(BATCH, STEPS, FEATURES)
    mask = end_padding_mask()
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True))
    ours = keras.layers.Bidirectional(keras_lstm.LSTM(UNITS, return_sequences=True))
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    our_outputs, our_gradients = outputs_and_gradients(ours, x, mask=mask)
    their_outputs, their_gradients = outputs_and_gradients(theirs, x, mask=mask)
    assert our_outputs[0].shape == (BATCH, STEPS, 2 * UNITS)
    assert relative_error(our_outputs[0], their_outputs[0]) < FORWARD_TOLERANCE
    for mine, reference in zip(our_gradients, their_gradients):
        assert relative_error(mine, reference) < GRADIENT_TOLERANCE


def test_masking_and_embedding_layers_feed_the_mask():
    tokens = np.array([[3, 1, 4, 1, 0, 0], [2, 7, 0, 0, 0, 0]])
    embedding = keras.layers.Embedding(10, FEATURES, mask_zero=True)
    ours = keras_lstm.LSTM(UNITS)
    theirs = keras.layers.LSTM(UNITS)
    vectors = embedding(tokens)
    theirs(vectors)
    ours(vectors)
    ours.set_weights(theirs.get_weights())
    ours_model = keras.Sequential([embedding, ours])
    theirs_model = keras.Sequential([embedding, theirs])
    assert relative_error(to_numpy(ours_model(tokens)), to_numpy(theirs_model(tokens))) < FORWARD_TOLERANCE
    # Padding made no difference: the result equals that of the unpadded prefix.
    short = to_numpy(ours_model(tokens[:1, :4]))
    assert relative_error(to_numpy(ours_model(tokens))[:1], short) < FORWARD_TOLERANCE

    x = random_inputs(BATCH, STEPS, FEATURES)
    x[0, 4:] = 0.0
    masked = keras.Sequential([keras.layers.Masking(0.0), ours])
    expected = to_numpy(ours(x[:1, :4]))
    assert relative_error(to_numpy(masked(x))[:1], expected) < FORWARD_TOLERANCE


def test_dropout_uses_one_mask_per_sequence():
    x = random_inputs(BATCH, STEPS, FEATURES)
    layer = keras_lstm.LSTM(UNITS, dropout=0.4, recurrent_dropout=0.3, return_sequences=True, seed=3)
    layer(x)
    rng = np.random.default_rng(7)
    input_mask = (rng.random((BATCH, FEATURES)) > 0.4) / 0.6
    recurrent_mask = (rng.random((BATCH, UNITS)) > 0.3) / 0.7
    # keras.layers.RNN fills the cell's per-sequence mask cache (Keras's
    # DropoutRNNCell) only when empty: seed it with known masks.
    layer.cell._dropout_mask = keras.ops.convert_to_tensor(input_mask.astype("float32"))
    layer.cell._recurrent_dropout_mask = keras.ops.convert_to_tensor(recurrent_mask.astype("float32"))
    outputs = to_numpy(layer(x, training=True))
    expected, _, _, _ = numpy_lstm(
        x, *layer.get_weights(), input_dropout_mask=input_mask, recurrent_dropout_mask=recurrent_mask
    )
    assert relative_error(outputs, expected) < FORWARD_TOLERANCE
    # The cache is cleared after each call: the next batch draws new masks.
    assert layer.cell._dropout_mask is None
    first = to_numpy(layer(x, training=True))
    second = to_numpy(layer(x, training=True))
    assert np.abs(first - second).max() > 1e-3
    # At inference dropout is off.
    plain, _, _, _ = numpy_lstm(x, *layer.get_weights())
    assert relative_error(to_numpy(layer(x, training=False)), plain) < FORWARD_TOLERANCE


def test_dropout_drops_the_expected_fraction():
    x = np.ones((64, 3, 50), "float32")
    layer = keras_lstm.LSTM(4, dropout=0.25, seed=1)
    layer(x)
    mask = to_numpy(layer.cell.get_dropout_mask(keras.ops.convert_to_tensor(x[:, 0])))
    layer.cell.reset_dropout_mask()
    kept = mask != 0
    np.testing.assert_allclose(mask[kept], 1 / 0.75, rtol=1e-6)  # inverted dropout
    assert abs((mask == 0).mean() - 0.25) < 0.03


def test_works_in_sequential_and_functional_models():
    x = random_inputs(BATCH, STEPS, FEATURES)
    sequential = keras.Sequential([keras.Input((STEPS, FEATURES)), keras_lstm.LSTM(UNITS), keras.layers.Dense(1)])
    assert tuple(sequential(x).shape) == (BATCH, 1)
    inputs = keras.Input((None, FEATURES))
    sequences, h, c = keras_lstm.LSTM(UNITS, return_sequences=True, return_state=True)(inputs)
    second = keras_lstm.LSTM(UNITS)(sequences, initial_state=[h, c])
    functional = keras.Model(inputs, second)
    assert tuple(functional(x).shape) == (BATCH, UNITS)


def test_training_lowers_the_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10, 2)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True)  # needs the whole sequence
    model = keras.Sequential([keras.Input((10, 2)), keras_lstm.LSTM(16), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < 0.5 * before


def test_mixed_precision_runs_in_bfloat16():
    x = random_inputs(BATCH, STEPS, FEATURES)
    full = keras_lstm.LSTM(UNITS, return_sequences=True)
    mixed = keras_lstm.LSTM(UNITS, return_sequences=True, dtype="mixed_bfloat16")
    full(x)
    mixed(x)
    mixed.set_weights(full.get_weights())
    outputs = mixed(x)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    assert mixed.cell.kernel.dtype == "float32"
    assert relative_error(to_numpy(keras.ops.cast(outputs, "float32")), to_numpy(full(x))) < 5e-2
