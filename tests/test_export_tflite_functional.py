"""to_tflite on functional models that are not chains: fused LSTM ops around masks, one decoder step."""

import numpy as np
import keras
import pytest

import keras_lstm
from keras_lstm.export.tflite import to_tflite
from functional_models import (
    UNITS, VOCABULARY, WIDTH, additive_decoder_step, decoder_step, lexical_decoder_step, randomize, slices,
    variant_from_given_states, masked_decoder_step, masked_decoder_step_inputs, nested_head,
)

STEPS = 7


def encoder(cell_state=False):
    """ids -> (outputs, h): a masked bidirectional LSTM whose final outputs start a decoder."""
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(VOCABULARY, WIDTH, mask_zero=True)(ids)
    outputs, forward_h, forward_c, backward_h, _ = keras.layers.Bidirectional(
        keras_lstm.LSTM(UNITS, return_sequences=True, return_state=True)
    )(x)
    final = [forward_h, backward_h] + ([forward_c] if cell_state else [])
    h = keras.layers.Dense(UNITS, activation="tanh")(keras.layers.Concatenate()(final))
    return randomize(keras.Model(ids, [outputs, h], name="encoder"))


def masked_lstms():
    """A forward and a backward masked LSTM, each alone: Keras's own fill of the padding."""
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(VOCABULARY, WIDTH, mask_zero=True)(ids)
    forward = keras_lstm.LSTM(UNITS, return_sequences=True)(x)
    last = keras_lstm.LSTM(UNITS)(x)
    backward = keras_lstm.LSTM(UNITS, return_sequences=True, go_backwards=True)(x)
    return randomize(keras.Model(ids, [forward, last, backward], name="masked"))


MODELS = {
    "encoder": encoder,
    "decoder_step": decoder_step,
    "additive_decoder_step": additive_decoder_step,
    "lexical_decoder_step": lexical_decoder_step,
    "slices": slices,
    "nested_head": nested_head,
    "masked_lstms": masked_lstms,
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_exported_graph_matches_keras_in_litert(case, tmp_path):
    model = MODELS[case]()
    report = to_tflite(model, tmp_path / f"{case}.tflite", batch_size=2, steps=STEPS)
    assert report["max_error"] < 1e-5
    assert not [op for op in report["ops"] if op.startswith("Flex") or op == "WHILE"]
    sequences = {
        "encoder": 2, "decoder_step": 0, "additive_decoder_step": 0, "lexical_decoder_step": 0, "masked_lstms": 3, "slices": 1, "nested_head": 1,
    }[case]
    assert report["fused_lstm_ops"] == sequences


def test_an_lstm_whose_cell_state_is_used_runs_as_a_loop(tmp_path):
    # The fused op gives no final c: that LSTM becomes the reference loop (WHILE).
    report = to_tflite(encoder(cell_state=True), tmp_path / "x.tflite", batch_size=2, steps=STEPS)
    assert report["max_error"] < 1e-5
    assert report["fused_lstm_ops"] == 0 and "WHILE" in report["ops"]
    assert len(report["fallbacks"]) == 1 and "its final cell state is used" in report["fallbacks"][0]


def test_a_slice_with_a_step_is_refused(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    y = keras_lstm.LSTM(UNITS, return_sequences=True)(keras.layers.Embedding(VOCABULARY, WIDTH)(ids))
    with pytest.raises(ValueError, match=r"fixed bounds and step 1.*slice\(None, None, 2\)"):
        to_tflite(keras.Model(ids, [y, y[:, ::2]]), tmp_path / "x.tflite", steps=STEPS)
    assert not (tmp_path / "x.tflite").exists()


def test_a_variant_from_given_states_runs_as_a_loop(tmp_path):
    report = to_tflite(variant_from_given_states(), tmp_path / "model.tflite", batch_size=2, steps=STEPS)
    assert report["max_error"] < 1e-5 and report["fused_lstm_ops"] == 0 and "WHILE" in report["ops"]
    assert "an initial state over a sequence" in report["fallbacks"][0]


def test_a_masked_decoder_step_keeps_its_states(tmp_path):
    model, samples = masked_decoder_step(), masked_decoder_step_inputs()
    expected = [np.asarray(keras.ops.convert_to_numpy(v)) for v in model(samples)]
    np.testing.assert_array_equal(expected[1][1], samples[1][1])  # the padded row keeps its h
    np.testing.assert_array_equal(expected[0][1], 0.0)  # and outputs zeros
    report = to_tflite(model, tmp_path / "step.tflite", batch_size=2, sample_inputs=samples)
    assert report["max_error"] < 1e-5 and report["fused_lstm_ops"] == 0
