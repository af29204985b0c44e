"""Synthetic spoken digits from Debian's festival: three more voices, for training only.

festival (Debian main, `make voices`) with `festvox-kallpc16k` (kal, an American
man, the diphones flite's kal is built from), `festvox-kdlpc16k` (ked, an American
man: a speaker no other group has) and `festvox-us-slt-hts` (slt, an American
woman, synthesised by HTS rather than flite's way). Each synthetic speaker is one
voice at a random mean pitch within its range and a random speed; like the other
groups' (`voice_groups`), they are only ever training data. Licences: festival's
and the three voices' are permissive (free use, modification and distribution,
including commercial).
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from keras_lstm.zoo import spoken_digits
from keras_lstm.zoo.synthetic_digits import spoken_by, trim, voices_in_turn

INSTALL = "festival and its voices are not installed (Debian: make voices)"
PACKAGES = ("festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts")
# Each voice, its range of mean pitch (Hz), and the pitch its HTS model speaks at
# (None: a diphone voice, whose pitch festival's intonation model sets directly).
VOICES = {"kal_diphone": (85, 140, None), "ked_diphone": (85, 140, None), "cmu_us_slt_arctic_hts": (140, 230, 165)}
STRETCH = (0.8, 1.3)  # duration: above 1 is slower
VOICE_FOLDER = Path("/usr/share/festival/voices")


def available():
    return shutil.which("text2wave") is not None and all(any(VOICE_FOLDER.glob(f"*/{voice}")) for voice in VOICES)


def settings(voice, pitch, stretch):
    """(the Scheme that selects `voice` at mean pitch `pitch` (Hz) and duration `stretch`,
    the factor by which to raise the pitch of what it says).

    Diphone voices take a target mean pitch and a duration stretch. The HTS voice
    ignores both, and of its engine's options festival passes on the speed (-r,
    above 1 is faster) but not the pitch: its recording is played faster (the
    factor), which raises pitch and formants together as a smaller speaker's
    would, and spoken slower to keep the duration asked for."""
    if voice not in VOICES:
        raise ValueError(f"voice={voice!r}; expected one of {sorted(VOICES)}")
    own_pitch = VOICES[voice][2]
    if own_pitch is None:
        return (
            f"(begin (voice_{voice}) (Parameter.set 'Duration_Stretch {stretch}) "
            f"(set! int_lr_params '((target_f0_mean {pitch}) (target_f0_std 14) (model_f0_mean 170) (model_f0_std 34))))"
        ), 1.0
    factor = pitch / own_pitch
    return f"(begin (voice_{voice}) (set! hts_engine_params (append hts_engine_params (list '(\"-r\" {1 / (stretch * factor):.4f})))))", factor


def synthesize(word, voice, pitch, stretch):
    """One word from festival as float32 at 8 kHz, with the silence around it trimmed."""
    scheme, factor = settings(voice, pitch, stretch)
    if not available():
        raise FileNotFoundError(INSTALL)
    with tempfile.TemporaryDirectory() as folder:
        text, path = Path(folder) / "word.txt", Path(folder) / "word.wav"
        text.write_text(word)
        subprocess.run(["text2wave", "-eval", scheme, "-o", str(path), str(text)], check=True, capture_output=True)
        audio, rate = spoken_digits.read_wav(path)
    return trim(spoken_digits.resample(audio, rate * factor, spoken_digits.SAMPLE_RATE))


def speakers(count, seed):
    """`count` (voice, pitch, stretch): the voices in turn, each at a random pitch and speed."""
    return voices_in_turn(VOICES, count, seed, STRETCH)


def clips(count, seed=0):
    """Every digit once from each of `count` festival speakers, as `spoken_digits.Clip`s
    whose speaker names the voice ("festival:ked_diphone:p110:d1.05")."""
    return spoken_by(speakers(count, seed), synthesize, lambda voice, pitch, stretch: f"festival:{voice}:p{pitch}:d{stretch}")
