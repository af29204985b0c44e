"""keras_lstm.export.to_tflite: TFLite's fused LSTM builtin, run in the LiteRT interpreter."""

import numpy as np
import keras
import pytest

import keras_lstm
from keras_lstm.export.tflite import to_tflite

STEPS, FEATURES, UNITS = 8, 4, 5


def sequential(*layers, dtype="float32", steps=STEPS, seed=0):
    shape = (steps,) if dtype.startswith("int") else (steps, FEATURES)
    model = keras.Sequential([keras.Input(shape, dtype=dtype), *layers])
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign((0.5 * rng.standard_normal(weight.shape)).astype("float32"))
    return model


MODELS = {
    "last_output_dense": (lambda: sequential(keras_lstm.LSTM(UNITS), keras.layers.Dense(2, activation="tanh")), 1),
    "go_backwards_sequences": (lambda: sequential(keras_lstm.LSTM(UNITS, return_sequences=True, go_backwards=True)), 1),
    "stacked_bidirectional": (lambda: sequential(keras_lstm.StackedLSTM(UNITS, num_layers=2, bidirectional=True)), 4),
    "embedding": (lambda: sequential(keras.layers.Embedding(20, FEATURES), keras_lstm.LSTM(UNITS), dtype="int32"), 1),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_fused_lstm_op_and_parity(case, tmp_path):
    build, lstm_ops = MODELS[case]
    path = tmp_path / "model.tflite"
    report = to_tflite(build(), path, batch_size=2)
    assert report["fused_lstm_ops"] == lstm_ops
    assert "WHILE" not in report["ops"] and not any(op.startswith("FLEX") for op in report["ops"])
    assert report["max_error"] < 1e-5
    assert path.stat().st_size == report["size_bytes"]


def test_quantized_models_are_smaller_and_close(tmp_path):
    model = sequential(keras_lstm.LSTM(32), keras.layers.Dense(1), seed=1)
    for weight in model.weights:  # weights of a usual scale, for quantization
        weight.assign(keras.ops.convert_to_numpy(weight) * 0.3)
    rng = np.random.default_rng(2)
    calibration = [rng.standard_normal((1, STEPS, FEATURES)).astype("float32") for _ in range(20)]
    full = to_tflite(model, tmp_path / "float.tflite")
    dynamic = to_tflite(model, tmp_path / "dynamic.tflite", quantize="dynamic")
    integer = to_tflite(model, tmp_path / "int8.tflite", quantize="int8", representative_data=calibration)
    for report in (dynamic, integer):
        assert report["fused_lstm_ops"] == 1
        assert report["size_bytes"] < 0.5 * full["size_bytes"]
        assert report["max_error"] < 0.1  # verified inside to_tflite as well
    assert "QUANTIZE" in integer["ops"]


@pytest.mark.parametrize(
    "build, kwargs, message",
    [
        (lambda: sequential(keras_lstm.LSTM(UNITS, peephole=True)), {}, r"uses an LSTM variant"),
        (lambda: sequential(keras_lstm.LSTM(UNITS), steps=None), {}, r"needs a fixed time length"),
        (lambda: sequential(keras_lstm.LSTM(UNITS)), {"quantize": "int4"}, r"`quantize` must be one of"),
        (lambda: sequential(keras_lstm.LSTM(UNITS)), {"quantize": "int8"}, r"needs `representative_data`"),
    ],
)
def test_what_cannot_export_says_why(build, kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        to_tflite(build(), tmp_path / "model.tflite", **kwargs)
    assert not (tmp_path / "model.tflite").exists()


def test_a_mismatch_is_refused(tmp_path, monkeypatch):
    import keras_lstm.export.tflite as exporter

    model = MODELS["last_output_dense"][0]()
    real = exporter._read_weights

    def wrong_bias(lstm):
        weights = dict(real(lstm))
        weights["bias"] = weights["bias"] + 1.0
        return weights

    monkeypatch.setattr(exporter, "_read_weights", wrong_bias)
    with pytest.raises(RuntimeError, match=r"disagrees with the Keras model"):
        to_tflite(model, tmp_path / "model.tflite")
    assert not (tmp_path / "model.tflite").exists()


@pytest.mark.parametrize("return_sequences", [False, True])
def test_streaming_steps_equal_the_full_model(return_sequences, tmp_path):
    # Five LSTM layers: eleven state inputs and outputs, more than nine, so
    # that their order is checked.
    model = sequential(
        keras_lstm.StackedLSTM(UNITS, num_layers=5, return_sequences=return_sequences), keras.layers.Dense(2)
    )
    report = to_tflite(model, tmp_path / "step.tflite", batch_size=3, streaming=True)
    assert report["state_sizes"] == [UNITS] * 10
    assert report["fused_lstm_ops"] == 0 and "WHILE" not in report["ops"]
    assert report["max_error"] < 1e-5  # T steps fed one by one against model(x)


def test_bidirectional_cannot_stream(tmp_path):
    model = sequential(keras.layers.Bidirectional(keras_lstm.LSTM(UNITS)))
    with pytest.raises(ValueError, match=r"bidirectional: it needs the whole sequence"):
        to_tflite(model, tmp_path / "step.tflite", streaming=True)
