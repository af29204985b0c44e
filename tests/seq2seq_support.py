"""Checks shared by the translator's and the chat model's tests."""

from keras_lstm.zoo import seq2seq


def check_exported_decoding(zoo_model, texts, tmp_path):
    """Exports the encoder and decoder step to ONNX and decodes `texts` in
    onnxruntime: every output text must be the Keras model's, greedy and beam."""
    reports = seq2seq.export(zoo_model, tmp_path, formats=("onnx",))
    assert all(report["max_error"] < 1e-4 for report in reports.values())
    assert [reports[f]["lstm_nodes"] for f in seq2seq.EXPORTED_FILES["onnx"]] == [1, 1]
    exported = seq2seq.OnnxNetwork(tmp_path)
    for beam_size in (1, 3):
        in_keras = zoo_model.generate(texts, beam_size=beam_size)
        in_onnx = [exported.generate(text, beam_size=beam_size) for text in texts]
        assert in_onnx == in_keras


def check_tflite_export(zoo_model, tmp_path):
    """Both parts convert with the fused LSTM op and agree with Keras in LiteRT (the exporter checks)."""
    reports = seq2seq.export(zoo_model, tmp_path, formats=("tflite",), max_source_length=16)
    encoder, step = (reports[f] for f in seq2seq.EXPORTED_FILES["tflite"])
    assert encoder["fused_lstm_ops"] == 2 and encoder["max_error"] < 1e-4
    assert step["max_error"] < 1e-4
    assert not [op for r in reports.values() for op in r["ops"] if op.startswith("Flex") or op == "WHILE"]


def check_bad_input(zoo_model, method, argument):
    """`method` (reply, translate) names `argument` for each kind of bad input."""
    import pytest

    with pytest.raises(TypeError, match=rf"{argument}\[1\] is int; expected a str"):
        method(["fine", 3])
    with pytest.raises(TypeError, match=rf"{argument} is NoneType; expected a str or a list of str"):
        method(None)
    with pytest.raises(TypeError, match=rf"{argument} is set; expected a str or a list of str"):
        method({"fine"})
    with pytest.raises(ValueError, match=rf"^{argument} is empty; expected some text"):
        method("   ")
    with pytest.raises(ValueError, match=rf"{argument}\[1\] is empty"):
        method(["fine", ""])
    with pytest.raises(ValueError, match="beam_size=0"):
        method("fine", beam_size=0)
    assert method([]) == []  # no texts, no outputs


def assert_close_scores(actual, expected, tolerance=0.05):
    """Metrics recomputed on another backend: float rounding can flip a near-tie in decoding."""
    for name, values in expected.items():
        for metric, value in values.items():
            assert abs(actual[name][metric] - value) <= tolerance * max(1.0, abs(value)), (name, metric, actual[name][metric], value)
