"""keras_lstm.export.to_onnx: native LSTM nodes that onnxruntime runs as the model does."""

import numpy as np
import keras
import onnx
import onnxruntime
import pytest

import keras_lstm
from keras_lstm.export.onnx import to_onnx
from support import relative_error, to_numpy

FEATURES, UNITS = 4, 5


def randomize(model, seed=0):
    """Random biases and peepholes too, so that a misplaced block shows."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign((0.5 * rng.standard_normal(weight.shape)).astype("float32"))
    return model


def sequential(*layers, steps=None, dtype="float32"):
    shape = (steps,) if dtype.startswith("int") else (steps, FEATURES)
    return randomize(keras.Sequential([keras.Input(shape, dtype=dtype), *layers]))


MODELS = {
    "last_output_dense": lambda: sequential(keras_lstm.LSTM(UNITS), keras.layers.Dense(3, activation="softmax")),
    "sequences": lambda: sequential(keras_lstm.LSTM(UNITS, return_sequences=True), keras.layers.Dense(1)),
    "go_backwards": lambda: sequential(keras_lstm.LSTM(UNITS, return_sequences=True, go_backwards=True)),
    "go_backwards_last": lambda: sequential(keras_lstm.LSTM(UNITS, go_backwards=True)),
    "bidirectional_sequences": lambda: sequential(keras.layers.Bidirectional(keras_lstm.LSTM(UNITS, return_sequences=True))),
    "bidirectional_last_fixed_time": lambda: sequential(keras.layers.Bidirectional(keras_lstm.LSTM(UNITS)), steps=6),
    "stacked_bidirectional": lambda: sequential(
        keras_lstm.StackedLSTM(UNITS, num_layers=2, bidirectional=True, inter_layer_dropout=0.3), keras.layers.Dropout(0.2)
    ),
    "peephole": lambda: sequential(keras_lstm.LSTM(UNITS, peephole=True, return_sequences=True)),
    "no_bias": lambda: sequential(keras_lstm.LSTM(UNITS, use_bias=False)),
    "coupled_gates": lambda: sequential(keras_lstm.LSTM(UNITS, coupled_gates=True, return_sequences=True)),
    "coupled_peephole_gate_clip_backwards": lambda: sequential(
        keras_lstm.LSTM(UNITS, coupled_gates=True, peephole=True, gate_clip=0.7, go_backwards=True, return_sequences=True)
    ),
    "gate_clip_bidirectional": lambda: sequential(keras.layers.Bidirectional(keras_lstm.LSTM(UNITS, gate_clip=0.5))),
    "embedding": lambda: sequential(keras.layers.Embedding(20, FEATURES), keras_lstm.LSTM(UNITS), dtype="int32"),
    "mean_unit_length": lambda: sequential(
        keras_lstm.LSTM(UNITS, return_sequences=True), keras.layers.GlobalAveragePooling1D(), keras.layers.UnitNormalization()
    ),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_exported_model_matches_keras_at_any_batch_and_length(case, tmp_path):
    model = MODELS[case]()
    path = tmp_path / "model.onnx"
    report = to_onnx(model, path)
    assert report["max_error"] < 1e-5
    exported = onnx.load(str(path))
    lstm_nodes = [node for node in exported.graph.node if node.op_type == "LSTM"]
    assert len(lstm_nodes) == report["lstm_nodes"] >= 1
    assert not [node for node in exported.graph.node if node.op_type in ("Loop", "Scan")]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    steps = model.inputs[0].shape[1]
    for batch, length in ((1, steps or 3), (5, steps or 11)):
        if case == "embedding":
            x = rng.integers(0, 20, (batch, length)).astype("int32")
        else:
            x = rng.standard_normal((batch, length, FEATURES)).astype("float32")
        actual = session.run(None, {"inputs": x})[0]
        assert relative_error(actual, to_numpy(model(x))) < 1e-5


@pytest.mark.parametrize(
    "layer, message",
    [
        (lambda: keras_lstm.LSTM(UNITS, activation="softplus"), r"Layer 'lstm.*': activation 'softplus' has no export here"),
        (lambda: keras.layers.LSTM(UNITS), r"\(LSTM\) has no ONNX export here"),
        (lambda: keras.layers.Conv1D(2, 3), r"\(Conv1D\) has no ONNX export here"),
        (lambda: keras.layers.GlobalAveragePooling1D(keepdims=True), r"exports with data_format='channels_last' and keepdims=False"),
        (lambda: keras.layers.UnitNormalization(axis=1), r"UnitNormalization exports over the last axis"),
        (lambda: keras.layers.LayerNormalization(rms_scaling=True), r"LayerNormalization exports over the last axis"),
    ],
)
def test_what_cannot_export_says_why(layer, message, tmp_path):
    model = sequential(layer())
    with pytest.raises(ValueError, match=message):
        to_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def masked_mean_encoder():
    """Lowe et al.'s encoder, as the zoo's reply ranker builds it: ids, a masked BiLSTM, the mean
    over the real steps, unit length."""
    return sequential(
        keras.layers.Embedding(20, FEATURES, mask_zero=True),
        keras.layers.Bidirectional(keras_lstm.LSTM(UNITS, return_sequences=True)),
        keras.layers.GlobalAveragePooling1D(), keras.layers.UnitNormalization(), dtype="int32",
    )


def right_padded_ids(lengths, steps, seed=2):
    ids = np.zeros((len(lengths), steps), "int32")
    rng = np.random.default_rng(seed)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, 20, length)
    return ids


def test_a_masked_mean_over_the_real_steps_exports(tmp_path):
    model = masked_mean_encoder()
    path = tmp_path / "model.onnx"
    ids = right_padded_ids([3, 7, 1], 8)
    assert to_onnx(model, path, sample_inputs=ids)["max_error"] < 1e-5
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {"inputs": right_padded_ids([5, 2], 9, seed=3)})[0]
    expected = to_numpy(model(right_padded_ids([5, 2], 9, seed=3)))
    assert relative_error(actual, expected) < 1e-5
    np.testing.assert_allclose(np.linalg.norm(actual, axis=1), 1.0, rtol=1e-5)


def test_a_mismatch_is_refused_and_nothing_written(tmp_path, monkeypatch):
    from keras_lstm.export import onnx_lstm

    model = MODELS["sequences"]()
    real = onnx_lstm.onnx_lstm_weights

    def swapped_gates(recurrent):
        W, R, B, P = real(recurrent)
        return W[:, ::-1].copy(), R, B, P

    monkeypatch.setattr(onnx_lstm, "onnx_lstm_weights", swapped_gates)
    with pytest.raises(RuntimeError, match=r"disagrees with the Keras model.*Nothing was written"):
        to_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("return_sequences", [False, True])
def test_streaming_steps_equal_the_full_model(return_sequences, tmp_path):
    from keras_lstm.export.onnx import run_streaming

    model = sequential(
        keras_lstm.StackedLSTM(UNITS, num_layers=2, return_sequences=True, peephole=True),
        keras_lstm.LSTM(UNITS, coupled_gates=True, gate_clip=1.0, return_sequences=return_sequences),
        keras.layers.Dense(2),
    )
    path = tmp_path / "step.onnx"
    report = to_onnx(model, path, streaming=True)
    assert [name for name, _ in report["states"]] == ["lstm_0_h", "lstm_0_c", "lstm_1_h", "lstm_1_c", f"{model.layers[1].name}_h", f"{model.layers[1].name}_c"]
    assert report["max_error"] < 1e-5
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(3).standard_normal((4, 9, FEATURES)).astype("float32")
    steps = run_streaming(session, x, report["states"])
    expected = to_numpy(model(x))
    actual = steps if return_sequences else steps[:, -1]
    assert relative_error(actual, expected) < 1e-5


def test_backward_layers_cannot_stream(tmp_path):
    with pytest.raises(ValueError, match=r"reads its sequence backwards \(or is bidirectional\)"):
        to_onnx(MODELS["go_backwards"](), tmp_path / "step.onnx", streaming=True)


def test_functional_chains_and_branches_export(tmp_path):
    inputs = keras.Input((None, FEATURES))
    hidden = keras_lstm.LSTM(UNITS, return_sequences=True)(inputs)
    chain = keras.Model(inputs, keras.layers.Dense(1)(keras_lstm.LSTM(UNITS)(hidden)))
    assert to_onnx(chain, tmp_path / "chain.onnx")["lstm_nodes"] == 2
    # Two branches from one input: the functional-graph exporter, one output each.
    skip = keras.Model(inputs, keras.layers.Dense(1)(keras_lstm.LSTM(UNITS)(inputs)))
    branches = randomize(keras.Model(inputs, [skip.output, hidden]))
    report = to_onnx(branches, tmp_path / "branch.onnx")
    assert report["lstm_nodes"] == 2 and len(report["outputs"]) == 2 and report["max_error"] < 1e-5


@pytest.mark.parametrize("opset", [18, 21])
def test_later_opsets_take_their_own_forms(opset, tmp_path):
    """From opset 18 a reduction's axes are an input, not an attribute (ReduceMean here,
    the speech front end's ReduceMax in its own test)."""
    model = sequential(
        keras_lstm.LSTM(UNITS, return_sequences=True), keras.layers.LayerNormalization(),
        keras.layers.GlobalAveragePooling1D(), keras.layers.UnitNormalization(),
    )
    report = to_onnx(model, tmp_path / "model.onnx", opset=opset)
    assert report["lstm_nodes"] == 1 and report["max_error"] < 1e-5
    written = onnx.load(str(tmp_path / "model.onnx"))
    assert [o.version for o in written.opset_import if o.domain == ""] == [opset]
    [mean] = [n for n in written.graph.node if n.op_type == "ReduceMean"]
    assert len(mean.input) == 2 and not [a for a in mean.attribute if a.name == "axes"]


@pytest.mark.parametrize("opset", [16, 17.0, True])
def test_opsets_before_17_are_refused(opset, tmp_path):
    with pytest.raises(ValueError, match=r"`opset` must be an int, 17 or later"):
        to_onnx(sequential(keras_lstm.LSTM(UNITS)), tmp_path / "model.onnx", opset=opset)


def test_dynamic_quantization_is_smaller_and_close(tmp_path):
    model = sequential(keras_lstm.LSTM(64, return_sequences=True), keras.layers.Dense(1))
    for weight in model.weights:  # weights of a usual scale
        weight.assign(keras.ops.convert_to_numpy(weight) * 0.3)
    full = to_onnx(model, tmp_path / "float.onnx")
    quantized = to_onnx(model, tmp_path / "int8.onnx", quantize="dynamic")
    assert quantized["size_bytes"] < 0.5 * full["size_bytes"]
    assert 0 < quantized["max_error"] < 0.1
    ops = {node.op_type for node in onnx.load(str(tmp_path / "int8.onnx")).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops


SCAN_VARIANTS = {
    "projection": {"proj_units": 3, "proj_clip": 0.8},
    "layer_norm_backwards": {"layer_norm": True, "go_backwards": True},
    "cell_clip_peephole": {"cell_clip": 0.5, "peephole": True},
    "zoneout_forget_bias": {"zoneout_cell": 0.2, "zoneout_hidden": 0.1, "forget_bias": 1.0},
    "relu": {"activation": "relu"},  # the ONNX LSTM op has Relu too, but our exporter writes tanh/sigmoid nodes
    "everything": {
        "peephole": True, "proj_units": 3, "proj_clip": 0.8, "coupled_gates": True, "layer_norm": True,
        "cell_clip": 1.5, "gate_clip": 2.0, "zoneout_cell": 0.2, "zoneout_hidden": 0.1,
    },
}


@pytest.mark.parametrize("variant", sorted(SCAN_VARIANTS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_variants_without_an_onnx_op_export_as_a_scan(variant, bidirectional, tmp_path):
    options = dict(SCAN_VARIANTS[variant])
    if bidirectional:
        options.pop("go_backwards", None)  # Bidirectional makes its own backward layer
    layer = keras_lstm.LSTM(UNITS, return_sequences=True, **options)
    model = sequential(keras.layers.Bidirectional(layer) if bidirectional else layer, keras.layers.Dense(2))
    path = tmp_path / "model.onnx"
    report = to_onnx(model, path)
    assert len(report["fallbacks"]) == 1 and "ONNX Scan" in report["fallbacks"][0]
    assert report["max_error"] < 1e-5
    assert "Scan" in {node.op_type for node in onnx.load(str(path)).graph.node}
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(5).standard_normal((3, 9, FEATURES)).astype("float32")
    assert relative_error(session.run(None, {"inputs": x})[0], to_numpy(model(x))) < 1e-5


def test_variant_streaming_step(tmp_path):
    from keras_lstm.export.onnx import run_streaming

    model = sequential(keras_lstm.LSTM(UNITS, **SCAN_VARIANTS["everything"]), keras.layers.Dense(2))
    path = tmp_path / "step.onnx"
    report = to_onnx(model, path, streaming=True)
    assert [size for _, size in report["states"]] == [3, UNITS]  # h is projected, c is not
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(6).standard_normal((2, 7, FEATURES)).astype("float32")
    steps = run_streaming(session, x, report["states"])
    assert relative_error(steps[:, -1], to_numpy(model(x))) < 1e-5
