"""Synthetic digits from festival: more training voices for the speech recipe."""

import numpy as np
import pytest

from keras_lstm.zoo import festival_digits
from keras_lstm.zoo.spoken_digits import SAMPLE_RATE

needs_festival = pytest.mark.skipif(not festival_digits.available(), reason=festival_digits.INSTALL)


def test_speakers_are_seeded_take_the_voices_in_turn_and_stay_in_range():
    assert festival_digits.speakers(7, seed=3) == festival_digits.speakers(7, seed=3)
    chosen = festival_digits.speakers(6, seed=3)
    assert [voice for voice, _, _ in chosen] == list(festival_digits.VOICES) * 2
    for voice, pitch, stretch in chosen:
        low, high, _ = festival_digits.VOICES[voice]
        assert low <= pitch < high
        assert festival_digits.STRETCH[0] <= stretch <= festival_digits.STRETCH[1]


def test_an_unknown_voice_is_named():
    with pytest.raises(ValueError, match=r"voice='rab_diphone'; expected one of \['cmu_us_slt_arctic_hts', 'kal_diphone', 'ked_diphone'\]"):
        festival_digits.synthesize("one", "rab_diphone", 100, 1.0)


def test_the_hts_voice_is_played_faster_for_pitch_the_diphone_voices_take_it_directly():
    # slt speaks at 165 Hz: 330 Hz is twice as fast, so a stretch of 1.25 is speed 1 / 2.5.
    scheme, factor = festival_digits.settings("cmu_us_slt_arctic_hts", 330, 1.25)
    assert factor == 2.0 and "'(\"-r\" 0.4000)" in scheme
    diphone, factor = festival_digits.settings("ked_diphone", 120, 1.25)
    assert factor == 1.0 and "(Parameter.set 'Duration_Stretch 1.25)" in diphone and "(target_f0_mean 120)" in diphone


@needs_festival
def test_every_digit_is_a_trimmed_8khz_word():
    clips = festival_digits.clips(3, seed=0)
    assert [clip.digit for clip in clips] == list(range(10)) * 3
    assert [clips[10 * k].speaker.split(":")[1] for k in range(3)] == list(festival_digits.VOICES)
    for clip in clips:
        assert clip.audio.dtype == np.float32
        assert 0.15 * SAMPLE_RATE < len(clip.audio) < 1.5 * SAMPLE_RATE


@needs_festival
@pytest.mark.parametrize("voice", list(festival_digits.VOICES))
def test_pitch_and_speed_change_the_sound(voice):
    low, high, _ = festival_digits.VOICES[voice]
    plain = festival_digits.synthesize("seven", voice, low, 1.0)
    np.testing.assert_array_equal(plain, festival_digits.synthesize("seven", voice, low, 1.0))
    slower = festival_digits.synthesize("seven", voice, low, 1.3)
    assert len(slower) > 1.1 * len(plain)  # 1.3 asked; the trimmed word of slt 1.14 longer
    higher = festival_digits.synthesize("seven", voice, high, 1.0)
    assert higher.shape != plain.shape or not np.allclose(higher, plain)
