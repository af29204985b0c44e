"""Which implementation runs, and that every one computes the reference function."""

import numpy as np
import keras
import pytest

import keras_lstm
import keras_lstm.lstm
from support import BACKEND, outputs_and_gradients, random_inputs, relative_error

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5
FORWARD_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4

# The path when the torch kernel cannot take the configuration.
LOOP_PATH = {"torch": "scan", "jax": "scan_step_projection", "tensorflow": "tf_while"}[BACKEND]
FAST_PATH = {"torch": "torch_fused", "jax": "scan_step_projection", "tensorflow": "tf_while"}[BACKEND]


def middle_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[1, 2:4] = False
    return mask


def right_padded_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    return mask


# (layer arguments, call arguments, training, expected path on each backend)
PATH_CASES = {
    "default": ({}, {}, False, FAST_PATH),
    "go_backwards_sequences": ({"go_backwards": True, "return_sequences": True}, {}, False, FAST_PATH),
    "input_dropout_training": ({"dropout": 0.3}, {}, True, FAST_PATH),
    "mask": ({}, {"mask": middle_mask()}, False, LOOP_PATH),
    "mask_right_padded": ({}, {"mask": right_padded_mask()}, False, FAST_PATH),
    "mask_right_padded_backwards": ({"go_backwards": True}, {"mask": right_padded_mask()}, False, LOOP_PATH),
    "recurrent_dropout_training": (
        {"recurrent_dropout": 0.3},
        {},
        True,
        LOOP_PATH,
    ),
    "recurrent_dropout_inference": ({"recurrent_dropout": 0.3}, {}, False, FAST_PATH),
    "relu": ({"activation": "relu"}, {}, False, LOOP_PATH),
    "unroll": ({"unroll": True}, {}, False, "unrolled"),
    "peephole_variant": ({"peephole": True}, {}, False, LOOP_PATH),
    "projection_variant": ({"proj_units": 3}, {}, False, FAST_PATH),
    "projection_clip_variant": ({"proj_units": 3, "proj_clip": 1.0}, {}, False, LOOP_PATH),
}


@pytest.mark.parametrize("case", sorted(PATH_CASES))
def test_the_expected_path_runs(case):
    layer_kwargs, call_kwargs, training, expected = PATH_CASES[case]
    layer = keras_lstm.LSTM(UNITS, **layer_kwargs)
    layer(random_inputs(BATCH, STEPS, FEATURES), training=training, **call_kwargs)
    assert layer.last_path == expected


def reference_outputs_and_gradients(monkeypatch, layer, x, **call_kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(keras_lstm.lstm, "choose_path", lambda *args: "scan")
        result = outputs_and_gradients(layer, x, **call_kwargs)
        assert layer.last_path == "scan"
    return result


# (layer arguments, whether to pass a right-padded mask)
FAST_CASES = {
    "last": ({}, False),
    "sequences_and_state": ({"return_sequences": True, "return_state": True}, False),
    "backwards": ({"return_sequences": True, "go_backwards": True}, False),
    "no_bias": ({"use_bias": False, "return_state": True}, False),
    "forget_bias_random": ({"unit_forget_bias": False, "bias_initializer": "random_normal"}, False),
    "padded_last": ({}, True),
    "padded_sequences_and_state": ({"return_sequences": True, "return_state": True}, True),
    "padded_zero_output": ({"return_sequences": True, "zero_output_for_mask": True}, True),
    "projection": ({"proj_units": 3, "return_sequences": True, "return_state": True}, False),
    "padded_projection_no_bias": ({"proj_units": 3, "use_bias": False, "return_state": True}, True),
}


@pytest.mark.parametrize("case", sorted(FAST_CASES))
@pytest.mark.parametrize("with_initial_state", [False, True])
def test_fast_path_matches_the_reference(monkeypatch, case, with_initial_state):
    x = random_inputs(BATCH, STEPS, FEATURES, seed=3)
    layer_kwargs, padded = FAST_CASES[case]
    layer = keras_lstm.LSTM(UNITS, **layer_kwargs)
    call_kwargs = {"mask": right_padded_mask()} if padded else {}
    if with_initial_state:
        hidden = layer_kwargs.get("proj_units", UNITS)
        call_kwargs["initial_state"] = [random_inputs(BATCH, size, seed=s) for size, s in ((hidden, 4), (UNITS, 5))]
    layer(x)
    fast_outputs, fast_gradients = outputs_and_gradients(layer, x, **call_kwargs)
    assert layer.last_path == FAST_PATH
    reference_outputs, reference_gradients = reference_outputs_and_gradients(monkeypatch, layer, x, **call_kwargs)
    for fast, reference in zip(fast_outputs, reference_outputs):
        assert relative_error(fast, reference) < FORWARD_TOLERANCE
    for fast, reference in zip(fast_gradients, reference_gradients):
        assert relative_error(fast, reference) < GRADIENT_TOLERANCE


def test_fast_path_applies_the_input_dropout_mask(monkeypatch):
    x = random_inputs(BATCH, STEPS, FEATURES)
    layer = keras_lstm.LSTM(UNITS, dropout=0.5, return_sequences=True)
    layer(x)
    mask = (np.random.default_rng(1).random((BATCH, FEATURES)) > 0.5) * 2.0

    def run():
        layer.cell._dropout_mask = keras.ops.convert_to_tensor(mask.astype("float32"))
        return outputs_and_gradients(layer, x, training=True)

    fast_outputs, fast_gradients = run()
    assert layer.last_path == FAST_PATH
    with monkeypatch.context() as patch:
        patch.setattr(keras_lstm.lstm, "choose_path", lambda *args: "scan")
        reference_outputs, reference_gradients = run()
    assert relative_error(fast_outputs[0], reference_outputs[0]) < FORWARD_TOLERANCE
    for fast, reference in zip(fast_gradients, reference_gradients):
        assert relative_error(fast, reference) < GRADIENT_TOLERANCE


SCANS = ["keras.ops.scan"] + (["tf_scan"] if BACKEND == "tensorflow" else [])


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("project_inputs_first", [True, False])
def test_scan_variants_match_with_mask_and_dropout(project_inputs_first, scan):
    from keras_lstm.recurrence import lstm_sequence
    from reference import numpy_lstm
    from support import to_numpy

    if scan == "tf_scan":
        from keras_lstm.tf_scan import scan
    else:
        scan = keras.ops.scan

    x = random_inputs(BATCH, STEPS, FEATURES)
    cell = keras_lstm.LSTMCell(UNITS, bias_initializer="random_normal", unit_forget_bias=False)
    cell.build((None, FEATURES))
    rng = np.random.default_rng(2)
    state = [rng.standard_normal((BATCH, UNITS)).astype("float32") for _ in "hc"]
    input_mask = ((rng.random((BATCH, FEATURES)) > 0.2) / 0.8).astype("float32")
    recurrent_mask = ((rng.random((BATCH, UNITS)) > 0.2) / 0.8).astype("float32")
    last, outputs, (h, c) = lstm_sequence(
        cell,
        keras.ops.convert_to_tensor(x),
        [keras.ops.convert_to_tensor(s) for s in state],
        mask=keras.ops.convert_to_tensor(middle_mask()),
        go_backwards=True,
        input_dropout_mask=keras.ops.convert_to_tensor(input_mask),
        recurrent_dropout_mask=keras.ops.convert_to_tensor(recurrent_mask),
        project_inputs_first=project_inputs_first,
        scan=scan,
    )
    expected_outputs, expected_last, expected_h, expected_c = numpy_lstm(
        x,
        *cell.get_weights(),
        initial_state=state,
        mask=middle_mask(),
        go_backwards=True,
        input_dropout_mask=input_mask,
        recurrent_dropout_mask=recurrent_mask,
    )
    for actual, expected in ((outputs, expected_outputs), (last, expected_last), (h, expected_h), (c, expected_c)):
        assert relative_error(to_numpy(actual), expected) < FORWARD_TOLERANCE
