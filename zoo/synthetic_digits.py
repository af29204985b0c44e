"""Synthetic spoken digits from Debian's espeak-ng: many voices, for training only.

FSDD has five male speakers. A speech synthesiser gives many more voices
(English accents, male and female variants, pitch and rate), which can teach
the recogniser what varies between speakers. Synthetic clips are only ever
training data; every figure on a model card is measured on real recordings.

espeak-ng comes from Debian's `espeak-ng` package (`apt-get install
espeak-ng`); `available()` says whether it is on this machine.
"""

import shutil
import subprocess

import numpy as np

from keras_lstm.zoo.spoken_digits import SAMPLE_RATE, Clip, resample

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Each digit in espeak-ng's phonemes: the English pronunciation first, then
# the substitutions common in non-native English (th as t or s, full vowels
# for diphthongs, a final r, devoicing), so that synthetic voices also carry
# something of an accent.
PRONUNCIATIONS = (
    ("z'i@roU", "z'i:ro", "z'Ero", "z'ero"),
    ("w'Vn", "w'0n", "w'an"),
    ("t'u:", "t'u", "tS'u:"),
    ("Tr'i:", "tr'i:", "sr'i:", "tr'i"),
    ("f'o@", "f'o:r", "f'Or"),
    ("f'aIv", "f'aIf", "f'ajv"),
    ("s'Iks", "s'iks"),
    ("s'Ev@n", "s'even", "s'Even"),
    ("'eIt", "'Eit", "'ejt"),
    ("n'aIn", "n'ajn", "n'aIn@"),
)
# English voices (accents) and voice variants of espeak-ng 1.51.
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt6", "Alex", "Andy", "Annie", "Denis", "Gene", "Jacky",
    "Lee", "Mario", "Michael", "Mike", "Storm", "adam", "antonio", "aunty", "belinda", "benjamin",
    "boris", "caleb", "david", "ed", "edward", "grandma", "grandpa", "iven", "iven2", "john", "linda",
    "max", "michel", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "steph", "travis",
    "victor", "zac",
)
ESPEAK_RATE = 22050
INSTALL = "espeak-ng is not installed (Debian: apt-get install espeak-ng; make setup installs it)"


def available():
    return shutil.which("espeak-ng") is not None


def synthesize(word, accent, variant, pitch, words_per_minute):
    """One word (text, or espeak-ng phonemes in [[...]]) from espeak-ng, as
    float32 at 8 kHz with the silence around it trimmed."""
    if not available():
        raise FileNotFoundError(INSTALL)
    wav = subprocess.run(
        ["espeak-ng", "-v", f"{accent}+{variant}", "-p", str(pitch), "-s", str(words_per_minute), "--stdout", word],
        check=True, capture_output=True,
    ).stdout
    # Written to a pipe, the WAV header cannot give the length: the samples
    # are everything after the 44-byte header.
    samples = np.frombuffer(wav[44 : 44 + (len(wav) - 44) // 2 * 2], dtype="<i2").astype("float32") / 32768.0
    return trim(resample(samples, ESPEAK_RATE, SAMPLE_RATE))


def trim(audio, threshold=0.02):
    """Cuts the silence before and after the loud part, keeping 20 ms either side."""
    loud = np.flatnonzero(np.abs(audio) > threshold * (np.max(np.abs(audio)) + 1e-9))
    if loud.size == 0:
        return audio
    margin = SAMPLE_RATE // 50
    return audio[max(0, loud[0] - margin) : loud[-1] + margin]


def voices_in_turn(voices, count, seed, stretch):
    """`count` speakers (voice, pitch, duration stretch) for a synthesiser's other groups
    (`voice_groups`): `voices` ({voice: (lowest pitch, highest pitch, ...)}) in turn, each at
    a random mean pitch in its range and a random stretch in `stretch` (low, high)."""
    rng = np.random.default_rng(seed)
    names = list(voices)
    chosen = []
    for k in range(count):
        voice = names[k % len(names)]
        low, high = voices[voice][:2]
        chosen.append((voice, int(rng.integers(low, high)), round(float(rng.uniform(*stretch)), 2)))
    return chosen


def spoken_by(speakers, synthesize, name):
    """Every digit once from each of `speakers`, as `Clip`s: `synthesize(word, *speaker)`
    gives the audio and `name(*speaker)` the speaker's name."""
    return [Clip(digit, name(*speaker), 0, synthesize(word, *speaker)) for speaker in speakers for digit, word in enumerate(WORDS)]


def synthetic_speakers(count, seed, accented=0.5):
    """`count` synthetic voices, each a random (accent, variant, pitch, rate,
    pronunciations): every digit has its English pronunciation, or with
    probability `accented` one of its non-native ones."""
    rng = np.random.default_rng(seed)
    speakers = []
    for _ in range(count):
        voice = (
            ACCENTS[rng.integers(len(ACCENTS))],
            VARIANTS[rng.integers(len(VARIANTS))],
            int(rng.integers(20, 81)),
            int(rng.integers(120, 201)),
        )
        pronunciations = tuple(
            options[1 + rng.integers(len(options) - 1)] if rng.random() < accented else options[0]
            for options in PRONUNCIATIONS
        )
        speakers.append((*voice, pronunciations))
    return speakers


def clips(count, seed=0):
    """Every digit once from each of `count` voices (see `synthetic_speakers`), as `Clip`s
    whose speaker names the voice ("espeak:en-us+m3:p40:s150")."""
    return [
        Clip(digit, f"espeak:{accent}+{variant}:p{pitch}:s{rate}", 0, synthesize(f"[[{phonemes}]]", accent, variant, pitch, rate))
        for accent, variant, pitch, rate, pronunciations in synthetic_speakers(count, seed)
        for digit, phonemes in enumerate(pronunciations)
    ]
