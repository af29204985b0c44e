"""Synthetic digits from espeak-ng: training material for the speech recipe."""

import numpy as np
import pytest

from keras_lstm.zoo import synthetic_digits
from keras_lstm.zoo.spoken_digits import SAMPLE_RATE

pytestmark = pytest.mark.skipif(not synthetic_digits.available(), reason="espeak-ng is not installed (apt-get install espeak-ng)")


def test_every_digit_is_a_trimmed_8khz_word():
    clips = synthetic_digits.clips(2, seed=0)
    assert [clip.digit for clip in clips] == list(range(10)) * 2
    for clip in clips:
        assert clip.audio.dtype == np.float32
        assert 0.15 * SAMPLE_RATE < len(clip.audio) < 1.0 * SAMPLE_RATE


def test_trim_keeps_20_ms_around_the_sound():
    tone = np.sin(np.arange(SAMPLE_RATE // 4) * 0.3).astype("float32")
    silence = np.zeros(SAMPLE_RATE // 2, "float32")
    trimmed = synthetic_digits.trim(np.concatenate([silence, tone, silence]))
    assert abs(len(trimmed) - (len(tone) + 2 * SAMPLE_RATE // 50)) <= 2


def test_voices_are_seeded_and_differ():
    assert synthetic_digits.synthetic_speakers(5, seed=1) == synthetic_digits.synthetic_speakers(5, seed=1)
    voices = synthetic_digits.synthetic_speakers(40, seed=1)
    assert len({voice[:4] for voice in voices}) == 40
    # About half the digits take a non-native pronunciation.
    accented = np.mean([p != options[0] for voice in voices for p, options in zip(voice[4], synthetic_digits.PRONUNCIATIONS)])
    assert 0.3 < accented < 0.7


def test_an_accented_pronunciation_sounds_different():
    plain = synthetic_digits.synthesize("[[Tr'i:]]", "en-us", "m3", 50, 160)
    accented = synthetic_digits.synthesize("[[tr'i:]]", "en-us", "m3", 50, 160)
    again = synthetic_digits.synthesize("[[Tr'i:]]", "en-us", "m3", 50, 160)
    np.testing.assert_array_equal(plain, again)
    assert len(plain) != len(accented) or not np.allclose(plain, accented)
