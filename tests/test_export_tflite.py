"""keras_lstm.export.to_tflite: TFLite's fused LSTM builtin, run in the LiteRT interpreter."""

import numpy as np
import keras
import pytest

import keras_lstm
from keras_lstm.export.tflite import to_tflite
from support import relative_error, to_numpy

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
    # Both stacks name their first layer "lstm_0".
    "two_stacks": (
        lambda: sequential(
            keras_lstm.StackedLSTM(UNITS, num_layers=1, return_sequences=True), keras_lstm.StackedLSTM(UNITS, num_layers=1)
        ),
        2,
    ),
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
        (lambda: sequential(keras_lstm.LSTM(UNITS)), {"quantize": "int4"}, r"`quantize` must be one of"),
        (lambda: sequential(keras_lstm.LSTM(UNITS)), {"quantize": "int8"}, r"needs `representative_data`"),
        (
            lambda: sequential(keras_lstm.LSTM(UNITS, peephole=True)),
            {"quantize": "dynamic"},
            r"quantized TFLite export takes the plain LSTM; this one has peephole",
        ),
        (lambda: sequential(keras_lstm.LSTM(UNITS, activation="softplus")), {}, r"Layer 'lstm.*': activation 'softplus' has no export here"),
        (lambda: sequential(keras.layers.Conv1D(2, 3)), {}, r"\(Conv1D\) has no TFLite export here"),
        (lambda: sequential(keras.layers.LayerNormalization(rms_scaling=True)), {}, r"LayerNormalization exports over the last axis"),
    ],
)
def test_what_cannot_export_says_why(build, kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        to_tflite(build(), tmp_path / "model.tflite", **kwargs)
    assert not (tmp_path / "model.tflite").exists()


def test_a_mismatch_is_refused(tmp_path, monkeypatch):
    from keras_lstm.export import common

    model = MODELS["last_output_dense"][0]()
    real = common._read_weights

    def wrong_bias(lstm):
        weights = dict(real(lstm))
        weights["bias"] = weights["bias"] + 1.0
        return weights

    monkeypatch.setattr(common, "_read_weights", wrong_bias)
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
    with pytest.raises(ValueError, match=r"reads its sequence backwards \(or is bidirectional\)"):
        to_tflite(model, tmp_path / "step.tflite", streaming=True)


def litert_outputs(path, inputs, states=None):
    """The file run by the test itself in LiteRT (in a child process): {name: array}."""
    from keras_lstm.export import litert

    return litert.run_in_subprocess(path.read_bytes(), inputs, states)["outputs"]


def free_time(*layers, seed=0):
    """A model on keras.Input((None, features)), the usual way to build one."""
    return sequential(*layers, steps=None, seed=seed)


# Variants TFLite's fused op takes: one op each (two for a Bidirectional).
FUSED_VARIANTS = {
    "peephole_backwards": ({"peephole": True, "go_backwards": True}, False),
    "projection_clip_bidirectional": ({"proj_units": 3, "proj_clip": 0.4}, True),
    "coupled_cell_clip_no_bias": ({"coupled_gates": True, "cell_clip": 0.5, "use_bias": False}, False),
    "all_the_op_takes": ({"peephole": True, "proj_units": 3, "proj_clip": 0.4, "coupled_gates": True, "cell_clip": 0.5}, False),
}
# Variants it does not take: the reference loop in plain builtins (WHILE).
LOOP_VARIANTS = {
    "layer_norm_bidirectional": ({"layer_norm": True}, True),
    "gate_clip_zoneout_forget_bias_backwards": (
        {"gate_clip": 0.4, "zoneout_cell": 0.2, "zoneout_hidden": 0.1, "forget_bias": 1.0, "go_backwards": True}, False
    ),
    "relu": ({"activation": "relu"}, False),
}


@pytest.mark.parametrize("case", sorted(FUSED_VARIANTS) + sorted(LOOP_VARIANTS))
def test_every_variant_exports_and_runs_at_other_batches_and_lengths(case, tmp_path):
    options, bidirectional = {**FUSED_VARIANTS, **LOOP_VARIANTS}[case]
    layer = keras_lstm.LSTM(UNITS, return_sequences=True, **options)
    model = free_time(keras.layers.Bidirectional(layer) if bidirectional else layer, keras.layers.Dense(2))
    path = tmp_path / "model.tflite"
    report = to_tflite(model, path, batch_size=2)
    assert report["max_error"] < 1e-5
    directions = 2 if bidirectional else 1
    if case in FUSED_VARIANTS:
        # The fused op needs a static batch (litert.Runner resizes it); time stays free.
        assert report["input_shapes"]["inputs"] == [2, None, FEATURES]
        assert report["fused_lstm_ops"] == directions and "WHILE" not in report["ops"] and not report["fallbacks"]
    else:
        assert report["input_shapes"]["inputs"] == [None, None, FEATURES]
        assert report["fused_lstm_ops"] == 0 and "WHILE" in report["ops"]
        assert len(report["fallbacks"]) == 1 and "WHILE loop of plain builtins" in report["fallbacks"][0]
    assert not any(op.startswith("FLEX") for op in report["ops"])
    rng = np.random.default_rng(3)
    for batch, length in ((1, 3), (4, 11)):
        x = rng.standard_normal((batch, length, FEATURES)).astype("float32")
        actual = litert_outputs(path, {"inputs": x})["outputs"]
        assert relative_error(actual, to_numpy(model(x))) < 1e-5, (batch, length)


def test_steps_fixes_the_time_axis_of_any_model(tmp_path):
    model = free_time(keras_lstm.LSTM(UNITS), keras.layers.Dense(2))
    report = to_tflite(model, tmp_path / "model.tflite", batch_size=3, steps=6)
    assert report["input_shapes"]["inputs"] == [3, 6, FEATURES]
    assert report["fused_lstm_ops"] == 1 and report["max_error"] < 1e-5


def test_a_free_time_model_streams(tmp_path):
    model = free_time(keras_lstm.LSTM(UNITS, return_sequences=True, peephole=True, layer_norm=True), keras.layers.Dense(2))
    path = tmp_path / "step.tflite"
    report = to_tflite(model, path, batch_size=2, streaming=True)
    assert report["states"] == [(f"{model.layers[0].name}_h", UNITS), (f"{model.layers[0].name}_c", UNITS)]
    assert report["max_error"] < 1e-5 and report["fused_lstm_ops"] == 0 and "WHILE" not in report["ops"]
    x = np.random.default_rng(4).standard_normal((2, 9, FEATURES)).astype("float32")
    actual = litert_outputs(path, {"inputs": x}, report["states"])["outputs"]
    assert relative_error(actual, to_numpy(model(x))) < 1e-5


def test_a_cell_state_beyond_ten_is_not_clipped(tmp_path):
    """TF's converter writes cell_clip=10 into every fused LSTM op; our LSTM has
    no clip, so the exporter removes it. This cell counts: c gains about 1 a step
    while x = +1 (to 15) and loses about 1 while x = -1, so it ends near 0, where
    a clip at 10 would end it near -5 (h = 0.5 tanh(c): 0 against -0.5)."""
    steps = 30
    model = sequential(keras_lstm.LSTM(2, return_sequences=True), steps=steps)
    cell = model.layers[0].cell
    kernel = np.zeros(cell.kernel.shape, "float32")
    kernel[0, 4:6] = 8.0  # candidate g = tanh(8 x) = +-1
    cell.kernel.assign(kernel)
    cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape, "float32"))
    cell.bias.assign(np.array([12, 12, 12, 12, 0, 0, 0, 0], "float32"))  # i = f = 1, o = 0.5
    x = np.zeros((1, steps, FEATURES), "float32")
    x[0, :, 0] = np.where(np.arange(steps) < steps // 2, 1.0, -1.0)
    path = tmp_path / "model.tflite"
    to_tflite(model, path, sample_inputs=x)
    expected = to_numpy(model(x))
    assert expected[0, steps // 2 - 1, 0] > 0.499 and abs(expected[0, -1, 0]) < 0.01  # up to 15, back to 0
    # c cancels from 15 back to 0 in float32 (two orders of summation): 1e-5 of
    # the output's peak; a clip at 10 is off by 2.
    assert relative_error(litert_outputs(path, {"inputs": x})["outputs"], expected) < 1e-4


def test_a_runner_called_twice_gives_the_same_outputs(tmp_path):
    """The fused op keeps its last state in variables; `litert.Runner` resets them per call."""
    import subprocess
    import sys

    model = free_time(keras_lstm.LSTM(UNITS), keras.layers.Dense(2))
    path = tmp_path / "model.tflite"
    to_tflite(model, path, batch_size=2)
    x = np.random.default_rng(5).standard_normal((2, 7, FEATURES)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np; from keras_lstm.export.litert import Runner; "
        "run = Runner(sys.argv[1]); x = np.load(sys.argv[2]); "
        "first, second = run({'inputs': x})['outputs'], run({'inputs': x})['outputs']; "
        "np.save(sys.argv[3], np.stack([first, second]))"
    )
    subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")], check=True)
    first, second = np.load(tmp_path / "y.npy")
    np.testing.assert_array_equal(first, second)
    assert relative_error(first, to_numpy(model(x))) < 1e-5


def test_a_masked_mean_over_the_real_steps_exports_with_fused_ops(tmp_path):
    from test_export_onnx import masked_mean_encoder, right_padded_ids

    model = masked_mean_encoder()
    report = to_tflite(model, tmp_path / "model.tflite", batch_size=1, steps=8, sample_inputs=right_padded_ids([3], 8))
    assert report["fused_lstm_ops"] == 2 and report["max_error"] < 1e-5
