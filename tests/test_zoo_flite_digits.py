"""Synthetic digits from flite: more training voices for the speech recipe."""

import numpy as np
import pytest

from keras_lstm.zoo import flite_digits
from keras_lstm.zoo.spoken_digits import SAMPLE_RATE

needs_flite = pytest.mark.skipif(not flite_digits.available(), reason="flite is not installed (apt-get install flite, or make voices)")


def test_speakers_are_seeded_take_the_voices_in_turn_and_stay_in_range():
    assert flite_digits.speakers(7, seed=3) == flite_digits.speakers(7, seed=3)
    chosen = flite_digits.speakers(10, seed=3)
    assert [voice for voice, _, _ in chosen] == list(flite_digits.VOICES) * 2
    for voice, pitch, stretch in chosen:
        low, high = flite_digits.VOICES[voice]
        assert low <= pitch < high
        assert flite_digits.STRETCH[0] <= stretch <= flite_digits.STRETCH[1]


def test_an_unknown_voice_is_named():
    with pytest.raises(ValueError, match=r"voice='kevin'; expected one of \['awb', 'kal', 'kal16', 'rms', 'slt'\]"):
        flite_digits.synthesize("one", "kevin", 100, 1.0)


@needs_flite
def test_every_digit_is_a_trimmed_8khz_word():
    clips = flite_digits.clips(2, seed=0)
    assert [clip.digit for clip in clips] == list(range(10)) * 2
    assert clips[0].speaker.startswith("flite:kal:") and clips[10].speaker.startswith("flite:kal16:")
    for clip in clips:
        assert clip.audio.dtype == np.float32
        assert 0.15 * SAMPLE_RATE < len(clip.audio) < 1.5 * SAMPLE_RATE


@needs_flite
def test_pitch_and_speed_change_the_sound():
    plain = flite_digits.synthesize("seven", "slt", 170, 1.0)
    np.testing.assert_array_equal(plain, flite_digits.synthesize("seven", "slt", 170, 1.0))
    slower = flite_digits.synthesize("seven", "slt", 170, 1.3)
    assert len(slower) > 1.15 * len(plain)
    higher = flite_digits.synthesize("seven", "slt", 230, 1.0)
    assert higher.shape != plain.shape or not np.allclose(higher, plain)
