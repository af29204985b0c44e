"""Synthetic spoken digits from Debian's flite: five more voices, for training only.

flite (Debian main, `make voices`) ships five English voices: `kal` (a diphone
voice, 8 kHz), `kal16` (16 kHz), and `awb` (Scottish), `rms` and `slt` (a woman),
statistical parametric voices built from CMU ARCTIC recordings. Each synthetic
speaker here is one of them at a random mean pitch within its own range and a
random speed; like espeak-ng's (`synthetic_digits`), they are only ever training data.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from keras_lstm.zoo import spoken_digits
from keras_lstm.zoo.synthetic_digits import spoken_by, trim, voices_in_turn

# Each voice and the range of mean pitch (Hz) it is given: around its own, which is
# lower for the men's voices than for slt's.
VOICES = {"kal": (90, 140), "kal16": (90, 140), "awb": (85, 140), "rms": (85, 140), "slt": (150, 250)}
STRETCH = (0.8, 1.3)  # duration_stretch: above 1 is slower
INSTALL = "flite is not installed (Debian: apt-get install flite, or make voices)"


def available():
    return shutil.which("flite") is not None


def synthesize(word, voice, pitch, stretch):
    """One word from flite as float32 at 8 kHz, with the silence around it trimmed."""
    if voice not in VOICES:
        raise ValueError(f"voice={voice!r}; expected one of {sorted(VOICES)}")
    if not available():
        raise FileNotFoundError(INSTALL)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "word.wav"
        subprocess.run(
            ["flite", "-voice", voice, "-t", word, "-o", str(path),
             "--setf", f"duration_stretch={stretch}", "--setf", f"int_f0_target_mean={pitch}"],
            check=True, capture_output=True,
        )
        audio = spoken_digits.read_recording(path)
    return trim(audio)


def speakers(count, seed):
    """`count` (voice, pitch, stretch): the voices in turn, each at a random pitch and speed."""
    return voices_in_turn(VOICES, count, seed, STRETCH)


def clips(count, seed=0):
    """Every digit once from each of `count` flite speakers, as `spoken_digits.Clip`s whose
    speaker names the voice ("flite:slt:p180:d1.05")."""
    return spoken_by(speakers(count, seed), synthesize, lambda voice, pitch, stretch: f"flite:{voice}:p{pitch}:d{stretch}")
