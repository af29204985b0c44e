"""The Keras speech embedding against openWakeWord's own ONNX models in onnxruntime,
run the way openWakeWord runs them (one clip per call, then 76-frame windows 8 apart)."""

import keras
import numpy as np
import pytest

from keras_lstm.zoo import speech_embedding as se
from keras_lstm.zoo import spoken_digits


@pytest.fixture(scope="module")
def onnx_sessions():
    import onnxruntime

    folder = se.openwakeword_models()
    return tuple(
        onnxruntime.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
        for name in ("melspectrogram.onnx", "embedding_model.onnx")
    )


@pytest.fixture(scope="module")
def front_end():
    return se.front_end().layers


def openwakeword_features(sessions, clip):
    """openWakeWord 0.5.1's AudioFeatures: the mel model on one clip, x / 10 + 2, then the
    embedding model on every 76-frame window starting at a multiple of 8."""
    mel_session, embedding_session = sessions
    frames = np.squeeze(mel_session.run(None, {"input": clip[None].astype("float32")})[0]) / 10 + 2
    windows = np.stack([frames[k:k + 76] for k in range(0, len(frames) - 75, 8)])[..., None]
    embedded = embedding_session.run(None, {"input_1": windows.astype("float32")})[0]
    return frames, embedded.reshape(len(windows), 96)


def clips():
    """At int16 scale, 16 kHz: noise, and FSDD speech (8 kHz, upsampled) with silence around it."""
    rng = np.random.default_rng(0)
    recordings = spoken_digits.load_clips()
    speech = np.concatenate([clip.audio for clip in recordings[:3]])
    speech = np.interp(np.arange(2 * len(speech)) / 2, np.arange(len(speech)), speech) * 20000
    return {
        "noise": rng.uniform(-32768, 32767, 24000).astype("float32"),
        "speech in silence": np.pad(speech, 8000).astype("float32"),
    }


@pytest.mark.parametrize("name", ["noise", "speech in silence"])
def test_frames_and_embeddings_are_openwakewords(onnx_sessions, front_end, name):
    clip = clips()[name]
    frames, embedded = openwakeword_features(onnx_sessions, clip)
    log_mel, embedding = front_end
    ours = keras.ops.convert_to_numpy(log_mel(clip[None]))[0]
    assert ours.shape == frames.shape == (se.frames(len(clip)), se.MEL_BANDS)
    np.testing.assert_allclose(ours, frames, rtol=1e-5, atol=1e-4)
    # Twenty float32 convolutions: onnxruntime's own result is 2e-5 of the peak from float64's
    # (measured), so the two float32 answers are compared against the peak.
    ours = keras.ops.convert_to_numpy(embedding(ours[None]))[0]
    assert ours.shape == embedded.shape == (se.embeddings(len(frames)), se.UNITS)
    assert np.abs(ours - embedded).max() < 2e-5 * np.abs(embedded).max()


def test_one_pass_equals_the_windows_one_by_one(front_end):
    _, embedding = front_end
    frames = np.random.default_rng(1).normal(1.0, 0.5, (1, 76 + 8 * 5 + 3, se.MEL_BANDS)).astype("float32")
    whole = keras.ops.convert_to_numpy(embedding(frames))[0]
    one_by_one = [keras.ops.convert_to_numpy(embedding(frames[:, 8 * k:8 * k + 76]))[0, 0] for k in range(6)]
    assert whole.shape == (6, se.UNITS)
    np.testing.assert_allclose(whole, np.stack(one_by_one), rtol=1e-4, atol=1e-4)


def test_a_clips_frames_do_not_depend_on_its_batch(front_end):
    # melspectrogram.onnx would floor the quiet clip 80 dB below the loud one's peak.
    log_mel, _ = front_end
    rng = np.random.default_rng(2)
    quiet, loud = rng.uniform(-10, 10, 4000), rng.uniform(-30000, 30000, 4000)
    alone = keras.ops.convert_to_numpy(log_mel(quiet[None].astype("float32")))
    batched = keras.ops.convert_to_numpy(log_mel(np.stack([quiet, loud]).astype("float32")))[:1]
    np.testing.assert_allclose(batched, alone, rtol=1e-6)


def test_the_computed_dft_is_a_hann_windowed_fourier_transform():
    # A cosine at bin 10's frequency: bin 10's real part is the window's sum / 2 (a periodic
    # Hann window of 400 samples sums to 200), its imaginary part 0 (the window is centred in
    # the 512 taps), and bins 4 or more away get the side lobes' few percent.
    kernels = se.dft_kernels()[:, 0]
    spectrum = np.cos(2 * np.pi * 10 * np.arange(se.FFT_SIZE) / se.FFT_SIZE) @ kernels
    bins = se.FFT_SIZE // 2 + 1
    magnitude = np.hypot(spectrum[:bins], spectrum[bins:])
    assert spectrum[10] == pytest.approx(200 / 2, rel=1e-3)
    assert abs(spectrum[bins + 10]) < 1e-6
    assert magnitude.argmax() == 10
    assert np.delete(magnitude, range(7, 14)).max() < 0.03 * magnitude[10]


def test_layers_round_trip_through_a_keras_file(front_end, tmp_path):
    log_mel, embedding = front_end
    model = keras.Sequential([keras.Input((None,)), log_mel, embedding])
    model.save(tmp_path / "front_end.keras")
    loaded = keras.saving.load_model(tmp_path / "front_end.keras")
    audio = np.random.default_rng(3).uniform(-3000, 3000, (2, 16000)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(audio)), keras.ops.convert_to_numpy(model(audio)), rtol=1e-6)
    assert not loaded.layers[1].trainable and loaded.layers[1].count_params() == 328_128


def test_the_lengths_are_openwakewords():
    assert [se.frames(n) for n in (511, 512, 671, 672, 16000)] == [0, 1, 1, 2, 97]
    assert [se.embeddings(n) for n in (75, 76, 83, 84, 97)] == [0, 1, 1, 2, 3]
