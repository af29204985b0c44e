"""The keras-lstm command: export of a saved model."""

import json

import keras
import numpy as np
import onnxruntime
import pytest

import keras_lstm
from keras_lstm.cli import main
from support import relative_error, to_numpy


@pytest.fixture
def saved_model(tmp_path):
    model = keras.Sequential([keras.Input((6, 3)), keras_lstm.LSTM(4), keras.layers.Dense(2)])
    path = tmp_path / "model.keras"
    model.save(path)
    return model, path


def test_export_onnx_prints_the_report_and_the_file_runs(saved_model, tmp_path, capsys):
    model, path = saved_model
    out = tmp_path / "model.onnx"
    assert main(["export", str(path), "--format", "onnx", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lstm_nodes"] == 1 and report["max_error"] < 1e-5
    x = np.random.default_rng(0).standard_normal((3, 6, 3)).astype("float32")
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert relative_error(session.run(None, {"inputs": x})[0], to_numpy(model(x))) < 1e-5


def test_export_tflite_streaming(saved_model, tmp_path, capsys):
    _, path = saved_model
    out = tmp_path / "step.tflite"
    assert main(["export", str(path), "--format", "tflite", "--streaming", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["state_sizes"] == [4, 4] and out.exists()


def test_a_refused_export_exits_2_with_the_reason(tmp_path, capsys):
    model = keras.Sequential([keras.Input((6, 3)), keras_lstm.LSTM(4, activation="relu")])
    path = tmp_path / "relu.keras"
    model.save(path)
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "only the tanh/sigmoid activations export" in capsys.readouterr().err
