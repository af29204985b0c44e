"""spoken_digits' augmentation on synthetic signals (no recordings needed)."""

import numpy as np
import pytest

from keras_lstm.zoo import spoken_digits

RATE = spoken_digits.SAMPLE_RATE


def voiced(seconds=0.5, pitch=125.0):
    """A vowel-like signal: harmonics of `pitch` under a slow loudness envelope."""
    t = np.arange(int(seconds * RATE)) / RATE
    harmonics = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6))
    return (harmonics * np.hanning(len(t))).astype("float32")


def period(audio):
    """The pitch period in samples, from the autocorrelation of the loudest half."""
    middle = audio[len(audio) // 4 : 3 * len(audio) // 4]
    correlation = np.correlate(middle, middle, "full")[len(middle) - 1 :]
    return 20 + int(np.argmax(correlation[20:200]))  # periods of 2.5-25 ms: pitches of 40-400 Hz


@pytest.mark.parametrize("rate", [0.7, 1.0, 1.4])
def test_time_stretch_changes_duration_not_pitch(rate):
    audio = voiced()
    stretched = spoken_digits.time_stretch(audio, rate)
    assert stretched.dtype == np.float32
    assert len(stretched) == round(len(audio) / rate)
    assert period(stretched) == pytest.approx(period(audio), abs=1)  # 64 samples at 125 Hz
    # Speed perturbation, by contrast, moves the pitch with the tempo.
    if rate != 1.0:
        assert abs(period(spoken_digits.speed(audio, rate)) - period(audio)) > 10


def test_time_stretch_at_rate_one_is_the_signal():
    audio = voiced()
    np.testing.assert_allclose(spoken_digits.time_stretch(audio, 1.0)[1:], audio[1:], atol=1e-5)
