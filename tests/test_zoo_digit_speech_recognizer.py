"""digit-speech-recognizer: loads and recognizes on every backend; the card's numbers reproduce.

Needs the FSDD recordings (../shared/data/fsdd beside the checkout, or FSDD_DIR);
without them these tests skip and say so. CI has them.
"""

import wave

import numpy as np
import pytest

from keras_lstm import zoo
from keras_lstm.zoo import digit_speech_recognizer as dsr
from keras_lstm.zoo import spoken_digits

try:
    FSDD = spoken_digits.data_dir()
except FileNotFoundError as missing:
    pytest.skip(f"FSDD recordings not available: {missing}", allow_module_level=True)


@pytest.fixture(scope="module")
def recognizer():
    return zoo.load("digit-speech-recognizer")


@pytest.fixture(scope="module")
def clips():
    return spoken_digits.load_clips()


def test_official_split_is_takes_0_to_4(clips):
    train, test = spoken_digits.official_split(clips)
    assert len(clips) == 2500 and len(test) == 250 and len(train) == 2250
    assert {clip.take for clip in test} == set(range(5))
    loso_train, loso_test = spoken_digits.speaker_split(clips, "george")
    assert {clip.speaker for clip in loso_test} == {"george"} and "george" not in {c.speaker for c in loso_train}


def test_connected_strings_only_join_clips_of_one_speaker_and_split(clips):
    _, test = spoken_digits.official_split(clips)
    strings = spoken_digits.random_strings(test, 20, np.random.default_rng(0), lengths=(3, 7))
    for audio, digits in strings:
        assert 3 <= len(digits) <= 7 and audio.dtype == np.float32
        assert len(audio) > len(digits) * 0.1 * spoken_digits.SAMPLE_RATE


def test_model_takes_raw_audio_and_computes_its_features_itself(recognizer):
    names = [layer.name for layer in recognizer.model.layers]
    assert names[:4] == ["audio", "peak", "mel", "log_mel"]
    assert recognizer.model.input.shape == (None, None)


def test_recognize_official_test_takes(recognizer, clips):
    """Single digits on this backend, against the accuracy the card reports."""
    _, test = spoken_digits.official_split(clips)
    accuracy = dsr.single_digit_accuracy(recognizer, test)
    assert accuracy == pytest.approx(recognizer.manifest["metrics"]["official"]["single_digit_accuracy"], abs=0.41)
    assert accuracy >= 98.0


def test_evaluate_reproduces_the_card_on_connected_strings(recognizer, clips):
    _, test = spoken_digits.official_split(clips)
    audio, references = dsr.test_strings(test)
    scores = dsr.string_scores(recognizer.recognize(audio), references)
    recorded = recognizer.manifest["metrics"]["official"]
    # One digit of 2,500 either way: float rounding differs between backends.
    assert scores["digit_error_rate"] == pytest.approx(recorded["digit_error_rate"], abs=0.05)
    assert scores["digit_error_rate"] < 5.0


def test_recognize_is_independent_of_batching_and_loudness(recognizer, clips):
    _, test = spoken_digits.official_split(clips)
    audio, _ = dsr.test_strings(test, count=6, seed=1)
    together = recognizer.recognize(audio)
    alone = [recognizer.recognize(recording) for recording in audio]
    quiet = recognizer.recognize([0.1 * recording for recording in audio])
    assert together == alone == quiet


def test_recognize_accepts_int16_and_other_rates(recognizer, clips):
    clip = next(c for c in clips if c.take == 0 and c.digit == 7 and c.speaker == "theo")
    as_int16 = (clip.audio * 32767).astype(np.int16)
    at_16k = spoken_digits.resample(clip.audio, 8000, 16000)
    assert recognizer.recognize(as_int16) == recognizer.recognize(at_16k, sample_rate=16000) == "7"


@pytest.mark.parametrize(
    "audio, match",
    [
        ([np.zeros((2, 8000), "float32")], r"audio\[0\] has shape \(2, 8000\); expected a 1-D recording"),
        ([np.zeros(8000), np.zeros(100)], r"audio\[1\] has shape \(100,\).*at least 400 samples"),
    ],
)
def test_recognize_rejects_bad_input(recognizer, audio, match):
    with pytest.raises(ValueError, match=match):
        recognizer.recognize(audio)


def test_edit_distance():
    assert dsr.edit_distance("1234", "1234") == 0
    assert dsr.edit_distance("1234", "124") == 1
    assert dsr.edit_distance("1234", "12354") == 1
    assert dsr.edit_distance("", "12") == 2
    assert dsr.string_scores(["12", "3"], ["12", "34"]) == {"digit_error_rate": 25.0, "string_accuracy": 50.0}


def test_run_command_prints_the_digits_heard(recognizer, tmp_path, capsys, clips):
    _, test = spoken_digits.official_split(clips)
    audio, references = dsr.test_strings(test, count=1, seed=3)
    path = tmp_path / "number.wav"
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(8000)
        stream.writeframes((np.clip(audio[0], -1, 1) * 32767).astype("<i2").tobytes())
    from keras_lstm import cli

    assert cli.main(["zoo", "run", "digit-speech-recognizer", str(path)]) == 0
    heard = recognizer.recognize(spoken_digits.read_wav(path)[0])
    assert capsys.readouterr().out.strip() == f"{path}: {heard}"
    assert len(heard) == len(references[0])


@pytest.mark.slow
def test_full_recipe_meets_the_targets(tmp_path, clips):
    dsr.train(tmp_path / "model", checkpoint_dir=tmp_path / "checkpoint", clips=clips)
    trained = zoo.load("digit-speech-recognizer", tmp_path / "model")
    _, test = spoken_digits.official_split(clips)
    assert dsr.single_digit_accuracy(trained, test) >= 98.0
    audio, references = dsr.test_strings(test)
    assert dsr.string_scores(trained.recognize(audio), references)["digit_error_rate"] < 5.0
