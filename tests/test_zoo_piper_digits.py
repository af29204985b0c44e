"""Synthetic digits from Piper's voice joe: more training voices for the speech recipe."""

import numpy as np
import pytest

from keras_lstm.zoo import piper_digits
from keras_lstm.zoo.spoken_digits import SAMPLE_RATE

needs_piper = pytest.mark.skipif(not piper_digits.available(), reason=piper_digits.INSTALL)


def test_speakers_are_seeded_and_stay_in_range():
    assert piper_digits.speakers(5, seed=3) == piper_digits.speakers(5, seed=3)
    chosen = piper_digits.speakers(20, seed=3)
    assert len(set(chosen)) == 20
    for settings in chosen:
        for value, (low, high) in zip(settings, (piper_digits.LENGTH, piper_digits.NOISE, piper_digits.DURATION_NOISE)):
            assert low <= value <= high


@needs_piper
def test_every_digit_is_a_trimmed_8khz_word():
    clips = piper_digits.clips(2, seed=0)
    assert [clip.digit for clip in clips] == list(range(10)) * 2
    assert clips[0].speaker.startswith("piper:joe:l")
    for clip in clips:
        assert clip.audio.dtype == np.float32
        assert 0.15 * SAMPLE_RATE < len(clip.audio) < 1.5 * SAMPLE_RATE


@needs_piper
def test_length_scale_slows_the_word_down():
    # Without noise the voice is deterministic; with it, each call sounds a little different.
    plain = piper_digits.synthesize("seven", 1.0, 0.0, 0.0)
    np.testing.assert_allclose(plain, piper_digits.synthesize("seven", 1.0, 0.0, 0.0), atol=1e-5)
    assert len(piper_digits.synthesize("seven", 1.3, 0.0, 0.0)) > 1.15 * len(plain)
