"""The keras-lstm command: export of a saved model, and bad input refused in one line."""

import json
import wave

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
    model = keras.Sequential([keras.Input((6, 3)), keras_lstm.LSTM(4, activation="softplus")])
    path = tmp_path / "softplus.keras"
    model.save(path)
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "activation 'softplus' has no export here" in capsys.readouterr().err


def test_a_saved_zoo_model_exports_checked_on_the_given_sample(tmp_path, capsys):
    """The speech recognizer saved as .keras: its front end's layers live in the zoo's
    module (imported from the file's own names), and 7 random samples are too short for
    its frames, so the check runs on a real string (--sample)."""
    from keras_lstm.zoo import digit_speech_recognizer

    recognizer = digit_speech_recognizer.Model.load()
    path, sample, out = tmp_path / "recognizer.keras", tmp_path / "audio.npy", tmp_path / "recognizer.onnx"
    recognizer.model.save(path)
    audio = digit_speech_recognizer.export_sample(recognizer)
    np.save(sample, audio)
    assert main(["export", str(path), "--format", "onnx", "--out", str(out), "--sample", str(sample)]) == 0
    assert json.loads(capsys.readouterr().out)["max_error"] < 1e-5
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    scores = session.run(None, {session.get_inputs()[0].name: audio})[0]
    assert relative_error(scores, to_numpy(recognizer.model(audio))) < 1e-5


def test_a_sample_per_input_comes_as_an_npz(tmp_path, capsys):
    # Two inputs of their own lengths: the check runs on exactly these arrays.
    first, second = keras.Input((None, 3), name="first"), keras.Input((None, 2), name="second")
    joined = keras.layers.Concatenate()([keras_lstm.LSTM(4)(first), keras_lstm.LSTM(4)(second)])
    path, sample = tmp_path / "two.keras", tmp_path / "two.npz"
    keras.Model([first, second], keras.layers.Dense(2)(joined)).save(path)
    rng = np.random.default_rng(0)
    np.savez(sample, rng.standard_normal((3, 9, 3)).astype("float32"), rng.standard_normal((3, 4, 2)).astype("float32"))
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "two.onnx"), "--sample", str(sample)]) == 0
    assert json.loads(capsys.readouterr().out)["max_error"] < 1e-5
    np.savez(sample, np.zeros((3, 9, 3), "float32"))  # one array for two inputs
    assert main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "one.onnx"), "--sample", str(sample)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"keras-lstm export: --sample {sample} holds 1 array(s); the model takes 2 inputs ['first', 'second']: "
        "expected an .npz with one array per input, in that order"
    ]


# --- bad input: one line on stderr, exit status 2, no traceback ------------------

MODELS = {}  # each zoo model loaded once for all the commands below


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """Bad (and one good) input files in the working directory, and zoo models loaded once."""
    from keras_lstm import zoo

    load = zoo.load

    def load_once(name, directory=None):
        if name not in MODELS:
            MODELS[name] = load(name, directory)
        return MODELS[name]

    monkeypatch.setattr(zoo, "load", load_once)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.wav").write_text("hi\n")
    for name, frames, channels in (("short.wav", 100, 1), ("stereo.wav", 1000, 2)):
        with wave.open(name, "wb") as stream:
            stream.setnchannels(channels)
            stream.setsampwidth(2)
            stream.setframerate(8000)
            stream.writeframes(b"\0\0" * frames * channels)
    demand = np.full(800, 30000.0)
    np.savetxt("good.csv", demand)
    np.savetxt("negative.csv", np.r_[demand[:797], -5.0, demand[:2]])
    np.savetxt("gap.csv", np.r_[demand[:10], np.nan, demand[11:]])
    np.savetxt("short.csv", demand[:100])
    (tmp_path / "text.csv").write_text("30000\nabc\n")
    (tmp_path / "empty.csv").write_text("")
    return tmp_path


EXPECTED = "; expected half-hourly demand in MW, one value a line"
STORY_FORMS = (
    "'Mary went to the kitchen.', 'John picked up the football.', 'Sandra dropped the milk.', "
    "'Sandra is not in the garden.', 'Then she went to the office.', 'The office is north of the bedroom.'"
)
QUESTION_FORMS = (
    "'Where is Mary?', 'Where is the football?', 'Where was the football before the kitchen?', "
    "'Is John in the garden?', 'How many objects is Daniel carrying?', 'What is Daniel carrying?', "
    "'What is north of the bedroom?', 'What is the bedroom south of?'"
)
FORECAST = ["zoo", "run", "electricity-forecaster", "--start", "2000-08-14T00:00", "--csv"]


REFUSED = [
    (["zoo", "run", "digit-speech-recognizer", "missing.wav"],
     "keras-lstm zoo: missing.wav: No such file or directory; expected a 16-bit mono WAV file"),
    (["zoo", "run", "digit-speech-recognizer", "x.wav"],
     "keras-lstm zoo: x.wav is not a WAV file (too short for a WAV header); expected a 16-bit mono WAV file"),
    (["zoo", "run", "digit-speech-recognizer", "short.wav"],
     "keras-lstm zoo: short.wav has 100 samples; expected at least 400 (50 ms at 8 kHz)"),
    (["zoo", "run", "digit-speech-recognizer", "stereo.wav"],
     "keras-lstm zoo: stereo.wav: expected 16-bit mono PCM, got 16-bit with 2 channels"),
    (FORECAST + ["negative.csv"],
     "keras-lstm zoo: --csv negative.csv: history[797] is -5.0; expected demand above 0 MW (1 of 800 values are 0 or below)"),
    (FORECAST + ["gap.csv"],
     "keras-lstm zoo: --csv gap.csv: history[10] is nan; expected a demand in MW at every half-hour "
     "(1 of 800 values are missing (NaN) or infinite)"),
    (FORECAST + ["short.csv"],
     "keras-lstm zoo: --csv short.csv: history has shape (100,); expected a 1-D series of at least 768 "
     "half-hourly values (two weeks to start the smoothing, then the model's 96-step window)"),
    (FORECAST + ["text.csv"],
     "keras-lstm zoo: --csv text.csv: could not convert string 'abc' to float64 at row 1, column 1." + EXPECTED),
    (FORECAST + ["empty.csv"], 'keras-lstm zoo: --csv empty.csv: loadtxt: input contained no data: "empty.csv"' + EXPECTED),
    (FORECAST + ["missing.csv"], "keras-lstm zoo: --csv missing.csv: No such file or directory" + EXPECTED),
    (["zoo", "run", "electricity-forecaster", "--csv", "good.csv", "--start", "next monday"],
     "keras-lstm zoo: --start='next monday' is not a date and time; expected a date and time such as '2000-08-14T00:00'"),
    (["zoo", "run", "qa-chatbot", "--story", "", "--question", "Where is Mary?"],
     f"keras-lstm zoo: story='' has no sentences; expected sentences such as {STORY_FORMS}"),
    (["zoo", "run", "qa-chatbot", "--story", "Mary went to the kitchen.", "--question", ""],
     f"keras-lstm zoo: question=''; expected a question such as {QUESTION_FORMS}"),
    (["zoo", "run", "qa-chatbot", " "], "keras-lstm zoo: prompts is empty; expected some text"),
    (["zoo", "run", "de-en-translator", "Das Haus ist groß.", ""], "keras-lstm zoo: sentences[1] is empty; expected some text"),
    (["export", "missing.keras", "--format", "onnx", "--out", "x.onnx"],
     "keras-lstm export: missing.keras: no such file; expected a model saved as .keras"),
    (["export", "x.wav", "--format", "onnx", "--out", "x.onnx"],
     "keras-lstm export: x.wav is not a .keras file (not a zip archive); expected a model saved as .keras"),
    (["chat", "--beam", "0"], "keras-lstm chat: --beam 0: expected 1 or more"),
    (["zoo", "train", "qa-chatbot", "--voices", "flite=3"],
     "keras-lstm zoo: --voices applies to digit-speech-recognizer, not qa-chatbot"),
    (["zoo", "train", "digit-speech-recognizer", "--voices", "flite=3", "espeak=2"],
     "keras-lstm zoo: --voices espeak=2: expected GROUP=N, GROUP one of espeak-ng, flite, festival, piper and N a number >= 0"),
    (["zoo", "train", "digit-speech-recognizer", "--voices", "piper=-1"],
     "keras-lstm zoo: --voices piper=-1: expected GROUP=N, GROUP one of espeak-ng, flite, festival, piper and N a number >= 0"),
]


@pytest.mark.parametrize("argv, line", REFUSED, ids=[" ".join(argv) for argv, _ in REFUSED])
def test_bad_input_is_one_line_and_exit_status_2(inputs, capsys, argv, line):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.splitlines() == [line]


def test_zoo_train_voices_override_the_recipes_numbers_group_by_group(monkeypatch, tmp_path, capsys):
    from keras_lstm.zoo import digit_speech_recognizer as dsr

    asked = {}
    monkeypatch.setattr(dsr, "train", lambda output, **options: (None, asked.update(options) or {"done": True}))
    argv = ["zoo", "train", "digit-speech-recognizer", "--output", str(tmp_path), "--voices", "festival=3", "flite=0"]
    assert main(argv) == 0
    assert asked["voices"] == {**dsr.VOICES, "festival": 3, "flite": 0} == {"espeak-ng": 200, "flite": 0, "festival": 3}
    assert capsys.readouterr().out.strip() == f'wrote {tmp_path}: {{"done": true}}'
