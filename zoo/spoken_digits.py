"""Spoken digits: the FSDD recordings, their splits, and connected digit strings.

The Free Spoken Digit Dataset (Zohar Jackson and contributors, CC BY-SA 4.0):
2,500 recordings, 8 kHz mono, digits 0-9, five speakers, 50 takes of each
digit each, named `{digit}_{speaker}_{index}.wav`. The recordings are not part
of this repository; they are read from `../shared/data/fsdd` beside the
checkout, or from the folder in the FSDD_DIR environment variable.

Connected strings (what people say when they read out a number) are made
from single recordings: a speaker's clips joined with short random pauses,
then noise. A string only ever joins clips of one split, so strings for
testing are built from held-out recordings only.
"""

import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 8000
SPEAKERS = ("george", "jackson", "nicolas", "theo", "yweweler")
TEST_TAKES = range(0, 5)  # the dataset's own test split: takes 0-4 of every digit and speaker


def data_dir():
    """The FSDD folder, or a FileNotFoundError saying where it was looked for."""
    candidates = []
    if os.environ.get("FSDD_DIR"):
        candidates.append(Path(os.environ["FSDD_DIR"]))
    candidates.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd")
    for candidate in candidates:
        if (candidate / "recordings").is_dir():
            return candidate.resolve()
    raise FileNotFoundError(
        "the FSDD recordings were not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); set FSDD_DIR to the folder holding recordings/"
    )


def read_wav(path):
    """A 16-bit mono WAV file as float32 in [-1, 1] and its sample rate; an OSError
    (FileNotFoundError when missing) or a ValueError, naming the file, when it is not one."""
    try:
        stream = wave.open(str(path), "rb")
    except OSError as error:  # missing, a folder, not readable
        raise type(error)(f"{path}: {error.strerror or error}; expected a 16-bit mono WAV file") from None
    except (wave.Error, EOFError) as error:
        # The wave module says EOFError, without a message, for a file shorter than a header.
        reason = str(error) or "too short for a WAV header"
        raise ValueError(f"{path} is not a WAV file ({reason}); expected a 16-bit mono WAV file") from None
    with stream:
        if stream.getsampwidth() != 2 or stream.getnchannels() != 1:
            raise ValueError(
                f"{path}: expected 16-bit mono PCM, got {8 * stream.getsampwidth()}-bit "
                f"with {stream.getnchannels()} channels"
            )
        rate = stream.getframerate()
        if rate < 1:
            raise ValueError(f"{path}: its header gives a sample rate of {rate} Hz; expected a 16-bit mono WAV file")
        data = stream.readframes(stream.getnframes())
    # A file cut short can end in half a sample.
    samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")
    return samples.astype("float32") / 32768.0, rate


def resample(audio, rate, target=SAMPLE_RATE):
    """Linear-interpolation resampling; enough for speech at these rates."""
    if rate == target:
        return audio
    length = int(round(len(audio) * target / rate))
    return np.interp(np.linspace(0, len(audio) - 1, length), np.arange(len(audio)), audio).astype("float32")


def read_recording(path, rate=SAMPLE_RATE):
    """A 16-bit mono WAV file (`read_wav`'s errors) as float32 samples at `rate`."""
    audio, recorded_at = read_wav(path)
    return resample(audio, recorded_at, rate)


@dataclass(frozen=True)
class Clip:
    digit: int
    speaker: str
    take: int
    audio: np.ndarray


def load_clips(directory=None):
    """Every recording, sorted by (speaker, digit, take)."""
    directory = Path(directory) if directory is not None else data_dir()
    clips = []
    for path in sorted((directory / "recordings").glob("*.wav")):
        digit, speaker, take = path.stem.split("_")
        clips.append(Clip(int(digit), speaker, int(take), read_recording(path)))
    if not clips:
        raise FileNotFoundError(f"no .wav files in {directory / 'recordings'}")
    return sorted(clips, key=lambda clip: (clip.speaker, clip.digit, clip.take))


def official_split(clips):
    """(train, test): takes 5-49 and takes 0-4."""
    test = [clip for clip in clips if clip.take in TEST_TAKES]
    train = [clip for clip in clips if clip.take not in TEST_TAKES]
    return train, test


def speaker_split(clips, speaker):
    """(train, test) for a speaker never heard in training: the others' takes 5-49, all of `speaker`'s."""
    if speaker not in SPEAKERS:
        raise ValueError(f"speaker={speaker!r}; expected one of {SPEAKERS}")
    test = [clip for clip in clips if clip.speaker == speaker]
    train = [clip for clip in clips if clip.speaker != speaker and clip.take not in TEST_TAKES]
    return train, test


def add_noise(audio, snr_db, rng):
    power = float(np.mean(audio**2)) + 1e-12
    noise = rng.standard_normal(len(audio)).astype("float32")
    return audio + noise * np.sqrt(power / 10 ** (snr_db / 10)).astype("float32")


def speed(audio, factor):
    """Plays `audio` `factor` times faster (tempo and pitch both change)."""
    length = max(2, int(round(len(audio) / factor)))
    return np.interp(np.linspace(0, len(audio) - 1, length), np.arange(len(audio)), audio).astype("float32")


def perturbed(clip, rng, augment=True):
    """The clip at a peak of 1; with `augment`, also ±15% faster or slower and quieter."""
    audio = clip.audio / (np.max(np.abs(clip.audio)) + 1e-6)
    if augment:
        audio = speed(audio, rng.uniform(0.85, 1.15)) * rng.uniform(0.5, 1.0)
    return audio.astype("float32")


def connected_string(clips, rng, *, augment=False, pause=(0.05, 0.3), snr_db=(20.0, 40.0)):
    """Joins `clips` with random silences and adds noise: (audio, digits)."""
    pieces = [np.zeros(int(rng.uniform(0.0, 0.2) * SAMPLE_RATE), "float32")]
    for k, clip in enumerate(clips):
        pieces.append(perturbed(clip, rng, augment))
        gap = rng.uniform(*pause) if k < len(clips) - 1 else rng.uniform(0.0, 0.2)
        pieces.append(np.zeros(int(gap * SAMPLE_RATE), "float32"))
    audio = add_noise(np.concatenate(pieces), rng.uniform(*snr_db), rng)
    return audio.astype("float32"), [clip.digit for clip in clips]


def random_strings(clips, count, rng, *, lengths=(3, 7), augment=False):
    """`count` strings of `lengths[0]`-`lengths[1]` digits, each spoken by one speaker."""
    by_speaker = {}
    for clip in clips:
        by_speaker.setdefault(clip.speaker, []).append(clip)
    speakers = sorted(by_speaker)
    strings = []
    for _ in range(count):
        pool = by_speaker[speakers[rng.integers(len(speakers))]]
        chosen = [pool[i] for i in rng.integers(0, len(pool), rng.integers(lengths[0], lengths[1] + 1))]
        strings.append(connected_string(chosen, rng, augment=augment))
    return strings
