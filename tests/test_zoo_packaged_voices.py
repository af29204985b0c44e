"""The real digit recordings of Debian packages: mu-law decoding, and reading each voice.

Reading a voice needs its package (`make voices`); without it those tests skip and say
which package. The decoder and the errors need nothing installed.
"""

import warnings

import numpy as np
import pytest

from keras_lstm.zoo import packaged_voices, spoken_digits


def test_mu_law_decodes_g711s_end_codes():
    # G.711's table: 0x00 and 0x80 are the largest magnitudes (-/+ 8031 in 14-bit steps,
    # 32124 at 16 bits), 0x7F and 0xFF the two zeros; 0xEF is 0x10 below 0xFF: exponent 1, mantissa 0.
    decoded = packaged_voices.mu_law_decode(bytes([0x00, 0x80, 0x7F, 0xFF, 0xEF, 0x6F]))
    np.testing.assert_array_equal(decoded * 32768, [-32124, 32124, 0, 0, 132, -132])
    assert decoded.dtype == np.float32


def test_mu_law_matches_the_standard_librarys_decoder_on_every_byte():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop", reason="audioop left the standard library in Python 3.13")
    every_byte = bytes(range(256))
    expected = np.frombuffer(audioop.ulaw2lin(every_byte, 2), dtype="<i2") / 32768.0
    np.testing.assert_array_equal(packaged_voices.mu_law_decode(every_byte), expected)


def test_an_unknown_voice_is_named():
    with pytest.raises(ValueError, match=r"voice='kal'; expected one of \['allison', 'saytime'\]"):
        packaged_voices.load_clips("kal")


def test_a_voice_not_installed_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setitem(packaged_voices.VOICES, "saytime", ("saytime", tmp_path, ".au"))
    assert "saytime" not in packaged_voices.installed()
    assert "saytime" in packaged_voices.missing()
    with pytest.raises(FileNotFoundError, match="install the Debian package saytime"):
        packaged_voices.load_clips("saytime")


def test_a_voice_reads_from_the_files_its_package_names(monkeypatch, tmp_path):
    # Ten mu-law files of 800 bytes: 0.1 s at 8 kHz each, digit d holding byte 0x80 + d.
    for digit in range(10):
        (tmp_path / f"{digit}.au").write_bytes(bytes([0x80 + digit]) * 800)
    monkeypatch.setitem(packaged_voices.VOICES, "saytime", ("saytime", tmp_path, ".au"))
    clips = packaged_voices.load_clips("saytime")
    assert [clip.digit for clip in clips] == list(range(10))
    assert {clip.speaker for clip in clips} == {"saytime"}
    for clip in clips:
        assert clip.audio.shape == (800,)
        np.testing.assert_array_equal(clip.audio, packaged_voices.mu_law_decode(bytes([0x80 + clip.digit]))[0])


@pytest.mark.parametrize("voice", sorted(packaged_voices.VOICES))
def test_each_installed_voice_gives_ten_digits_of_speech_at_8_khz(voice):
    if voice not in packaged_voices.installed():
        pytest.skip(f"Debian package {packaged_voices.VOICES[voice][0]} is not installed (make voices)")
    clips = packaged_voices.load_clips(voice)
    assert [clip.digit for clip in clips] == list(range(10))
    for clip in clips:
        # A spoken digit: between 0.2 and 1.5 s at spoken_digits' rate, not silence, not clipped.
        assert 0.2 * spoken_digits.SAMPLE_RATE < len(clip.audio) < 1.5 * spoken_digits.SAMPLE_RATE
        assert 0.05 < np.max(np.abs(clip.audio)) < 1.0
