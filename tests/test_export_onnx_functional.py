"""to_onnx on functional models that are not chains: an encoder and a decoder step."""

import numpy as np
import keras
import onnx
import onnxruntime
import pytest

import keras_lstm
from keras_lstm.export.onnx import to_onnx
from keras_lstm.export.common import sample_inputs
from functional_models import (
    UNITS, VOCABULARY, WIDTH, additive_decoder_step, decoder_step, lexical_decoder_step, randomize, slices,
    variant_from_given_states, masked_decoder_step, masked_decoder_step_inputs, nested_head,
)
from support import relative_error


def encoder():
    """ids -> (outputs, keys, h, c): a masked bidirectional LSTM with its final states."""
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(VOCABULARY, WIDTH, mask_zero=True)(ids)
    outputs, forward_h, forward_c, backward_h, backward_c = keras.layers.Bidirectional(
        keras_lstm.LSTM(UNITS, return_sequences=True, return_state=True)
    )(x)
    h = keras.layers.Dense(UNITS, activation="tanh")(keras.layers.Concatenate()([forward_h, backward_h]))
    c = keras.layers.Dense(UNITS)(keras.layers.Concatenate()([forward_c, backward_c]))
    keys = keras.layers.Dense(UNITS, use_bias=False)(outputs)
    return randomize(keras.Model(ids, [outputs, keys, h, c], name="encoder"))


def forward_lstm_with_mask():
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCABULARY, WIDTH, mask_zero=True)(ids)
    sequences, h, c = keras_lstm.LSTM(UNITS, return_sequences=True, return_state=True)(x)
    return randomize(keras.Model(ids, [sequences, h, c], name="masked_forward"))


MODELS = {
    "encoder": encoder,
    "decoder_step": decoder_step,
    "additive_decoder_step": additive_decoder_step,
    "lexical_decoder_step": lexical_decoder_step,
    "slices": slices,
    "nested_head": nested_head,
    "masked_forward": forward_lstm_with_mask,
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_exported_graph_matches_keras(case, tmp_path):
    model = MODELS[case]()
    path = tmp_path / f"{case}.onnx"
    report = to_onnx(model, path)
    assert report["max_error"] < 1e-5
    assert report["lstm_nodes"] == 1
    exported = onnx.load(str(path))
    assert [i.name for i in exported.graph.input] == [t.name for t in model.inputs]
    assert not [node for node in exported.graph.node if node.op_type in ("Loop", "Scan")]
    # Other batch sizes, lengths and paddings than the check used.
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for seed, batch, steps in ((1, 3, 9), (2, 1, 4)):
        inputs = sample_inputs(model, seed=seed, batch=batch, steps=steps)
        expected = model(inputs if len(inputs) > 1 else inputs[0], training=False)
        actual = session.run(report["outputs"], dict(zip(report["inputs"], inputs)))
        for a, e in zip(actual, keras.tree.flatten(expected)):
            assert relative_error(a, keras.ops.convert_to_numpy(e)) < 1e-5


def test_padding_follows_keras_masks(tmp_path):
    # Two sequences, the second padded: the exported encoder must ignore the
    # padding exactly as Keras does (the state stops at the last real step).
    model = encoder()
    path = tmp_path / "encoder.onnx"
    report = to_onnx(model, path)
    ids = np.array([[3, 4, 5, 6, 7], [3, 4, 5, 0, 0]], "int32")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _, _, h, c = session.run(report["outputs"], {"ids": ids})
    _, _, h_alone, c_alone = session.run(report["outputs"], {"ids": ids[1:, :3]})
    np.testing.assert_allclose(h[1], h_alone[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c[1], c_alone[0], rtol=1e-5, atol=1e-6)


def test_unsupported_layer_is_named(tmp_path):
    a, b = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([a, b], keras.layers.Multiply(name="product")([a, b]))
    with pytest.raises(ValueError, match="'product'.*Multiply"):
        to_onnx(model, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_a_slice_with_a_step_is_refused(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    y = keras_lstm.LSTM(UNITS, return_sequences=True)(keras.layers.Embedding(VOCABULARY, WIDTH)(ids))
    with pytest.raises(ValueError, match=r"fixed bounds and step 1.*slice\(None, None, 2\)"):
        to_onnx(keras.Model(ids, [y, y[:, ::2]]), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_streaming_needs_one_input(tmp_path):
    with pytest.raises(ValueError, match=r"streaming=True takes a model with one input \(the frame\)"):
        to_onnx(decoder_step(), tmp_path / "x.onnx", streaming=True)


def test_a_variant_scan_takes_initial_states_and_returns_its_own(tmp_path):
    model = variant_from_given_states()
    report = to_onnx(model, tmp_path / "model.onnx")
    assert report["max_error"] < 1e-5 and report["lstm_nodes"] == 0
    assert len(report["fallbacks"]) == 1 and "ONNX Scan" in report["fallbacks"][0]
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = sample_inputs(model, seed=2, batch=3, steps=9)
    actual = session.run(report["outputs"], dict(zip(report["inputs"], inputs)))
    for value, expected in zip(actual, model(inputs)):
        assert relative_error(value, np.asarray(keras.ops.convert_to_numpy(expected))) < 1e-5


def test_a_masked_decoder_step_keeps_its_states(tmp_path):
    """A row whose one step is masked: ONNX's LSTM gives zeros for its final
    states, Keras keeps the initial ones."""
    report = to_onnx(masked_decoder_step(), tmp_path / "step.onnx", sample_inputs=masked_decoder_step_inputs())
    assert report["max_error"] < 1e-5 and report["lstm_nodes"] == 1
