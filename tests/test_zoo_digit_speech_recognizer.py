"""digit-speech-recognizer: loads and recognizes on every backend; the card's numbers reproduce.

The tests that use recordings need FSDD (../shared/data/fsdd beside the checkout, or
FSDD_DIR); without it they skip and say so. CI has them. The checks of bad input and
of the metrics need no recordings.
"""

import wave

import keras
import numpy as np
import pytest

from keras_lstm import zoo
from keras_lstm.zoo import digit_speech_recognizer as dsr
from keras_lstm.zoo import packaged_voices, spoken_digits, training, voice_groups

@pytest.fixture(scope="module")
def recognizer():
    return zoo.load("digit-speech-recognizer")


@pytest.fixture(scope="module")
def clips():
    try:
        return spoken_digits.load_clips()
    except FileNotFoundError as missing:
        pytest.skip(f"FSDD recordings not available: {missing}")


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
    assert names == ["audio", "peak", "int16_scale", "log_mel_frames", "speech_embedding", "head"]
    assert recognizer.model.input.shape == (None, None)
    assert recognizer.sample_rate == 16000


def test_the_front_end_is_openwakewords_unchanged_by_training(recognizer):
    from keras_lstm.zoo import speech_embedding

    fresh = speech_embedding.front_end()
    for name in ("log_mel_frames", "speech_embedding"):
        assert not recognizer.model.get_layer(name).trainable_weights
        for ours, theirs in zip(recognizer.model.get_layer(name).get_weights(), fresh.get_layer(name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)


def test_embedded_examples_are_centred_in_2_s_and_bucketed_by_half_seconds(recognizer):
    # 0.5 s at 8 kHz -> 1 s at 16 kHz, 1.8 s with 0.4 s of silence at each end, centred in
    # 2 s: (32000 - 512) // 160 + 1 = 197 frames, (197 - 76) // 8 + 1 = 16 embeddings. 2.3 s
    # -> 3.1 s with the margins -> a 3.5 s batch: 347 frames, 34 embeddings.
    rng = np.random.default_rng(0)
    examples = [(rng.normal(0, 0.1, 4000).astype("float32"), [1]), (rng.normal(0, 0.1, 18400).astype("float32"), [2, 3])]
    embedded = dsr.embedded_examples(recognizer.model, examples, rng)
    assert [vectors.shape for vectors, _ in embedded] == [(16, 96), (34, 96)]
    assert [digits for _, digits in embedded] == [[1], [2, 3]]
    assert recognizer.steps([32000, 56000]) == [16, 34]
    batches = dsr.EmbeddedBatches(embedded * 3, batch_size=4, seed=0)
    shapes = sorted(batches[k][0].shape for k in range(len(batches)))
    assert shapes == [(3, 16, 96), (3, 34, 96)]  # one length per batch: nothing padded
    labels = {batch[0].shape[1]: batch[1][0] for batch in (batches[k] for k in range(len(batches)))}
    assert labels[34].tolist() == [3, 4, 0, 0, 0, 0, 0]  # digit d is class d + 1, blanks after


def test_centred_adds_0_4_s_at_each_end_then_fills_2_s():
    # 1 s of ones: 0.4 s each side makes 1.8 s, then 0.1 s more each side for 2 s: ones at
    # [8000, 24000). 2.5 s: 6400 zeros at each end, 3.3 s in all.
    short, long = dsr.centred(np.ones(16000, "float32")), dsr.centred(np.ones(40000, "float32"))
    assert len(short) == 32000 and np.flatnonzero(short)[[0, -1]].tolist() == [8000, 23999]
    assert len(long) == 52800 and np.flatnonzero(long)[[0, -1]].tolist() == [6400, 46399]


def test_bucket_batches_pad_each_recording_to_its_own_bucket():
    # Buckets of 10: lengths 5, 25, 8, 12, 30 -> buckets 1, 3, 1, 2, 3; batches of at most 2,
    # shortest first: [0, 2] (5, 8), [3] (12), [1, 4] (25, 30).
    assert dsr.bucket_batches([5, 25, 8, 12, 30], 10, 2) == [[0, 2], [3], [1, 4]]
    assert dsr.bucket_batches([5, 25, 8, 12, 30], 10, 1) == [[0], [2], [3], [1], [4]]


def test_the_log_mel_front_end_still_builds_and_old_configs_read_as_it():
    config = {key: value for key, value in dsr.LOG_MEL_CONFIG.items() if key != "front_end"}  # saved before there were two
    recognizer = dsr.Model(dsr.Model.build_model(config), config)
    assert recognizer.sample_rate == 8000 and not recognizer.hears_embeddings
    assert [layer.name for layer in recognizer.model.layers][:4] == ["audio", "peak", "mel", "log_mel"]
    assert recognizer.steps([8000]) == dsr.frames([8000]).tolist()


@pytest.mark.parametrize(
    "config, match",
    [
        ({"front_end": "mfcc"}, r"config\['front_end'\]='mfcc'; expected one of \['log_mel', 'speech_embedding'\]"),
        ({"mel_bins": 20}, r"config has \['mel_bins'\], which the 'speech_embedding' front end does not take"),
        ({"front_end": "log_mel", "copies": 2}, r"config has \['copies'\], which the 'log_mel' front end does not take"),
    ],
)
def test_train_refuses_a_config_for_no_or_another_front_end(config, match):
    with pytest.raises(ValueError, match=match):
        dsr.train(None, epochs=1, config=config, clips=[])


@pytest.mark.parametrize("group", list(voice_groups.GROUPS))
def test_train_says_which_voice_synthesiser_is_missing_before_it_starts(monkeypatch, group):
    for name, module in voice_groups.GROUPS.items():  # only `group` missing, here or not
        monkeypatch.setattr(module, "available", lambda absent=name == group: not absent)
        monkeypatch.setattr(module, "clips", lambda count, seed: pytest.fail("synthesised before the check"))
    module = voice_groups.GROUPS[group]
    voices = {**dsr.VOICES, group: 2}
    others = {name: count for name, count in voices.items() if name != group}
    with pytest.raises(FileNotFoundError) as raised:
        dsr.train(None, clips=[], voices=voices)
    assert str(raised.value) == f"voices={voices}: {module.INSTALL}; voices={others} trains without them"


@pytest.mark.parametrize(
    "voices, error, match",
    [
        ([("flite", 2)], TypeError, r"voices is list; expected a dict of \{group: speakers\}"),
        ({"mbrola": 2}, ValueError, r"voices has 'mbrola'; expected groups of \['espeak-ng', 'flite', 'festival', 'piper'\]"),
        ({"flite": -1}, ValueError, r"voices\['flite'\]=-1; expected a number of speakers >= 0"),
        ({"flite": 2.0}, ValueError, r"voices\['flite'\]=2.0; expected a number of speakers >= 0"),
    ],
)
def test_train_refuses_voices_it_cannot_take(voices, error, match):
    with pytest.raises(error, match=match):
        dsr.train(None, clips=[], voices=voices)


def test_training_on_embeddings_changes_the_head_alone(clips, tmp_path):
    # Ten single clips (16 steps each, one batch of 10) and three strings (longer, batches of
    # their own): batches of several lengths and sizes, which TensorFlow's fit takes only
    # through `training.fit_data`.
    few = [clip for clip in clips if clip.take == 5 and clip.speaker == "theo"]

    class Initial(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.trains, self.weights = self.model.name, [w.copy() for w in self.model.get_weights()]

    initial = Initial()
    trained, record = dsr.train(
        None, epochs=1, strings=3, clips=few, checkpoint_dir=tmp_path, voices={},
        config={"copies": 1, "units": 8, "layers": 1}, callbacks=[initial],
    )
    assert np.isfinite(record["final_loss"]) and initial.trains == "head"
    untrained = dsr.Model.build_model(trained.config)
    from keras_lstm.zoo import speech_embedding

    speech_embedding.from_openwakeword(untrained.get_layer("log_mel_frames"), untrained.get_layer("speech_embedding"))
    for name in ("log_mel_frames", "speech_embedding"):
        for ours, theirs in zip(trained.model.get_layer(name).get_weights(), untrained.get_layer(name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    head = zip(trained.model.get_layer("head").get_weights(), initial.weights)
    assert not all(np.array_equal(ours, before) for ours, before in head)
    assert trained.config["front_end"] == "speech_embedding"


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


@pytest.mark.parametrize("voice", sorted(packaged_voices.VOICES))
def test_unheard_real_voices_reproduce_the_card(recognizer, voice):
    if voice not in packaged_voices.installed():
        pytest.skip(f"Debian package {packaged_voices.VOICES[voice][0]} is not installed (make voices)")
    clips = packaged_voices.load_clips(voice)
    recorded = recognizer.manifest["metrics"][dsr.voice_row(voice)]
    # Ten recordings: one more or fewer right is 10 points.
    assert dsr.single_digit_accuracy(recognizer, clips) == pytest.approx(recorded["single_digit_accuracy"], abs=1)
    # The card's strings of these voices (500 each) are left to `evaluate`: on JAX their
    # lengths compile for over a minute per voice; the string path is tested above.


def test_front_end_exports_at_opset_18(recognizer, tmp_path):
    # Its ReduceMax nodes take their axes as an input there.
    from keras_lstm.export.onnx import to_onnx

    report = to_onnx(recognizer.model, tmp_path / "opset18.onnx", opset=18, sample_inputs=dsr.export_sample(recognizer))
    assert report["max_error"] < 1e-4 and report["lstm_nodes"] == 2


def test_exports_hear_raw_audio_as_keras_does(recognizer, clips, tmp_path):
    # The whole network, front end included, in onnxruntime and the LiteRT interpreter:
    # checked by the exporters on a test string, then run here on recordings of other
    # lengths (one string, two single digits batched), decoded as a device would.
    import onnxruntime

    from keras_lstm.export import litert

    reports = dsr.export(recognizer, tmp_path)
    assert set(reports) == set(dsr.EXPORTED_FILES.values())
    assert all(report["max_error"] < 1e-4 for report in reports.values())
    assert reports["digit_speech_recognizer.onnx"]["lstm_nodes"] == 2  # the BiLSTM's two layers
    assert reports["digit_speech_recognizer.tflite"]["fused_lstm_ops"] == 4  # two directions each
    assert reports["digit_speech_recognizer.tflite"]["input_shapes"] == {"inputs": [1, None]}
    _, test = spoken_digits.official_split(clips)
    strings, said = dsr.test_strings(test, count=1, seed=11)
    recordings = [recognizer.prepare(a) for a in [strings[0], test[3].audio, test[40].audio]]
    heard = recognizer.recognize([strings[0], test[3].audio, test[40].audio])
    assert heard[0] == said[0] and heard[1:] == [str(test[3].digit), str(test[40].digit)]
    session = onnxruntime.InferenceSession(str(tmp_path / "digit_speech_recognizer.onnx"), providers=["CPUExecutionProvider"])
    for recording, expected in zip(recordings, heard):
        keras_logits = keras.ops.convert_to_numpy(recognizer.model(recording[None]))
        onnx_logits = session.run(None, {"inputs": recording[None]})[0]
        tflite_logits = litert.run(str(tmp_path / "digit_speech_recognizer.tflite"), {"inputs": recording[None]})["outputs"]
        for logits in (onnx_logits, tflite_logits):
            assert np.abs(logits - keras_logits).max() < 1e-4 * np.abs(keras_logits).max()
            assert dsr.greedy_decode(logits, [logits.shape[1]]) == [expected]
    # A batch, padded as `recognize` pads it: each row decoded over its own steps.
    batched = session.run(None, {"inputs": training.pad(recordings[1:], recognizer.bucket, "float32")})[0]
    assert dsr.greedy_decode(batched, recognizer.steps([len(r) for r in recordings[1:]])) == heard[1:]


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


NOISE = np.random.default_rng(0).uniform(-0.1, 0.1, 8000).astype("float32")  # a second of something to hear


@pytest.mark.parametrize(
    "audio, error, match",
    [
        ([np.zeros((2, 8000), "float32")], ValueError, r"audio\[0\] has shape \(2, 8000\); expected a 1-D recording"),
        ([NOISE, NOISE[:100]], ValueError, r"audio\[1\] has 100 samples; expected at least 400"),
        (np.zeros(0, "float32"), ValueError, r"audio has 0 samples; expected at least 400"),
        (np.full(8000, np.nan, "float32"), ValueError,
         r"sample 0 of audio is nan; expected finite samples \(8000 of 8000 are not\)"),
        ([NOISE, np.r_[NOISE[:7999], np.inf]], ValueError,
         r"sample 7999 of audio\[1\] is inf; expected finite samples \(1 of 8000"),
        (np.zeros(8000, "float32"), ValueError,
         r"audio holds one value \(0.0\) throughout; expected a recording with sound in it"),
        ([np.full(800, 7, "int16")], ValueError, r"audio\[0\] holds one value"),
        ([0.1] * 800, ValueError, r"audio\[0\] is a single number; expected a 1-D recording"),
        (np.full(8000, 128, "uint8"), ValueError, r"audio has dtype uint8; expected float or signed integer"),
        (np.array(["0.1"] * 800), ValueError, r"audio has dtype <U3"),
        ([np.array([None] * 800)], ValueError, r"audio\[0\] has dtype object"),
        (None, TypeError, r"audio is NoneType; expected samples \(a 1-D numpy array\) or a list of them"),
        ("one.wav", TypeError, r"audio is str; expected samples .*read_wav reads a WAV file"),
    ],
)
def test_recognize_rejects_bad_input(recognizer, audio, error, match):
    with pytest.raises(error, match=match):
        recognizer.recognize(audio)


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"sample_rate": 0}, "sample_rate=0; expected a rate in Hz above 0"),
        ({"sample_rate": float("nan")}, "sample_rate=nan"),
        ({"sample_rate": "8000"}, "sample_rate='8000'"),
        ({"batch_size": 0}, "batch_size=0; expected an int >= 1"),
    ],
)
def test_recognize_rejects_bad_settings(recognizer, arguments, match):
    with pytest.raises(ValueError, match=match):
        recognizer.recognize(NOISE, **arguments)


def write_wav(path, samples, rate=8000, channels=1):
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(channels)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def test_read_wav_names_a_file_that_is_missing_or_no_wav(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.wav: No such file or directory; expected a 16-bit mono WAV"):
        spoken_digits.read_wav(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("hi\n")
    with pytest.raises(ValueError, match=r"text.wav is not a WAV file \(too short for a WAV header\)"):
        spoken_digits.read_wav(tmp_path / "text.wav")
    (tmp_path / "long.wav").write_text("not audio, but longer than a WAV header would be\n")
    with pytest.raises(ValueError, match=r"long.wav is not a WAV file \(file does not start with RIFF id\)"):
        spoken_digits.read_wav(tmp_path / "long.wav")
    write_wav(tmp_path / "stereo.wav", np.zeros(1600), channels=2)
    with pytest.raises(ValueError, match=r"stereo.wav: expected 16-bit mono PCM, got 16-bit with 2 channels"):
        spoken_digits.read_wav(tmp_path / "stereo.wav")


# --- the metrics, against values worked out by hand ---------------------------


def test_edit_distance():
    assert dsr.edit_distance("1234", "1234") == 0
    assert dsr.edit_distance("1234", "124") == 1
    assert dsr.edit_distance("1234", "12354") == 1
    assert dsr.edit_distance("", "12") == 2
    assert dsr.edit_distance("123", "") == 3
    assert dsr.edit_distance("1234", "1934") == 1  # one substitution (not a deletion and an insertion)
    assert dsr.edit_distance("1234", "2345") == 2  # drop the 1, add the 5 (not four substitutions)


def test_string_scores_count_edits_over_reference_digits():
    # "12" for "12": 0 edits; "35" for "34": 1 (a substitution); "4" for "456": 2 (two
    # digits missed). Digit error rate = (0 + 1 + 2) / (2 + 2 + 3) reference digits = 3/7
    # = 42.86 %; whole strings right: 1 of 3 = 33.3 %. Over the recognized digits instead,
    # 3/5 = 60 %; the mean of each string's rate, (0 + 1/2 + 2/3) / 3 = 38.9 %.
    scores = dsr.string_scores(["12", "35", "4"], ["12", "34", "456"])
    assert scores == {"digit_error_rate": pytest.approx(300 / 7), "string_accuracy": pytest.approx(100 / 3)}
    with pytest.raises(ValueError, match="2 recognized strings and 3 references"):
        dsr.string_scores(["12", "35"], ["12", "34", "456"])


class Heard:
    """A recognizer that hears what it is told to."""

    def __init__(self, texts):
        self.texts = texts

    def recognize(self, audio):
        assert len(audio) == len(self.texts)
        return list(self.texts)


def clip(digit, speaker="theo", take=0):
    return spoken_digits.Clip(digit, speaker, take, np.zeros(400, "float32"))


def test_single_digit_accuracy_needs_exactly_the_digit():
    # Said 3, 5, 7, 7; heard "3", "", "7", "71": right, wrong, right, wrong (an extra
    # digit is wrong): 2 of 4 = 50 %. Counting the digit anywhere in what was heard: 75 %.
    clips = [clip(3), clip(5), clip(7), clip(7, take=1)]
    assert dsr.single_digit_accuracy(Heard(["3", "", "7", "71"]), clips) == pytest.approx(50.0)


def test_nearest_neighbour_baseline_standardises_with_the_training_clips():
    # Training: digit 0 at (0, 0), digit 1 at (2, 100); their mean (1, 50) and deviation
    # (1, 50) map them to (-1, -1) and (1, 1). Test: (1.8, 20), a 1, maps to (0.8, -0.6):
    # squared distances 1.8² + 0.4² = 3.40 to the 0 and 0.2² + 1.6² = 2.60 to the 1, so 1,
    # right. (0.1, 5), a 0, maps to (-0.9, -0.9): nearest the 0, right. 2 of 2 = 100 %.
    # Unstandardised, (1.8, 20) is nearest (0, 0): 50 %; the farthest neighbour: 0 %.
    train = [clip(0, take=5), clip(1, take=5)]
    test = [clip(1, take=0), clip(0, take=0)]
    features = {
        ("theo", 0, 5): np.array([0.0, 0.0]), ("theo", 1, 5): np.array([2.0, 100.0]),
        ("theo", 1, 0): np.array([1.8, 20.0]), ("theo", 0, 0): np.array([0.1, 5.0]),
    }
    assert dsr.nearest_neighbour_accuracy(train, test, features) == pytest.approx(100.0)


def test_embedding_regression_baseline_standardises_with_the_training_clips():
    # Training: digit 0 near 0, digit 1 near 1 (mean 0.5): the boundary is at 0.5. Test: three
    # 1s at 0.6, 0.9 and 0.95, all right (100 %). Scaled with the test clips' own mean
    # (0.82) instead, 0.6 would fall below the boundary and read as a 0: 67 %.
    train = [clip(digit, take=take) for digit in (0, 1) for take in (5, 6, 7)]
    test = [clip(1, take=take) for take in (0, 1, 2)]
    features = {("theo", digit, take): np.array([float(digit) + 0.01 * (take - 6)]) for digit in (0, 1) for take in (5, 6, 7)}
    features.update({("theo", 1, take): np.array([value]) for take, value in zip((0, 1, 2), (0.6, 0.9, 0.95))})
    assert dsr.embedding_regression_accuracy(train, test, features) == pytest.approx(100.0)


def test_pooled_embeddings_are_the_mean_then_the_maximum(clips):
    pooled = dsr.pooled_embeddings(clips[:2])
    assert pooled.shape == (2, 2 * 96)
    assert (pooled[:, 96:] >= pooled[:, :96]).all()


def test_run_command_prints_the_digits_heard(recognizer, tmp_path, capsys, clips):
    _, test = spoken_digits.official_split(clips)
    audio, references = dsr.test_strings(test, count=1, seed=3)
    path = tmp_path / "number.wav"
    write_wav(path, audio[0])
    from keras_lstm import cli

    assert cli.main(["zoo", "run", "digit-speech-recognizer", str(path)]) == 0
    heard = recognizer.recognize(spoken_digits.read_wav(path)[0])
    assert capsys.readouterr().out.strip() == f"{path}: {heard}"
    assert len(heard) == len(references[0])


def test_evaluate_finds_the_holdout_models_of_the_checkout_and_says_where_they_are_when_missing(monkeypatch, tmp_path):
    assert sorted(dsr.trained_holdouts()) == sorted(spoken_digits.SPEAKERS)
    # Installed from a wheel, the folders are not there (pyproject.toml leaves them out).
    monkeypatch.setattr(dsr, "holdout_dir", lambda speaker="george": tmp_path / f"holdout-{speaker}")
    with pytest.warns(UserWarning, match=r"not in the installed package.*--holdout-speaker"):
        assert dsr.trained_holdouts() == {}


@pytest.mark.slow
@pytest.mark.skipif(
    bool(voice_groups.missing(dsr.VOICES)), reason=f"the recipe's synthetic voices need {list(dsr.VOICES)} (make voices)"
)
def test_full_recipe_meets_the_targets(tmp_path, clips):
    dsr.train(tmp_path / "model", checkpoint_dir=tmp_path / "checkpoint", clips=clips)
    trained = zoo.load("digit-speech-recognizer", tmp_path / "model")
    _, test = spoken_digits.official_split(clips)
    assert dsr.single_digit_accuracy(trained, test) >= 98.0
    audio, references = dsr.test_strings(test)
    assert dsr.string_scores(trained.recognize(audio), references)["digit_error_rate"] < 5.0
