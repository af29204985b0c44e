"""Real recordings of the ten digits that Debian packages ship: voices FSDD never had.

- `asterisk-core-sounds-en-wav`: Allison Smith (a woman, US English), the
  prompts of the Asterisk telephone exchange, `en_US_f_Allison/digits/0.wav`
  ... `9.wav`, 16-bit 8 kHz WAV. CC-BY-SA-3.0.
- `saytime`: a man's voice, `/usr/share/saytime/0.au` ... `9.au`, headerless
  8 kHz mu-law (G.711). Jef Poskanzer's permission notice (use, copy and
  distribute without fee).

They are a test of the recognizer on speakers and recording chains it never
heard, one take of each digit each; nothing trains on them. `make voices`
installs them; where they are missing the card's row is left out and
`missing()` names the packages.
"""

from pathlib import Path

import numpy as np

from keras_lstm.zoo import spoken_digits

VOICES = {
    # name: (Debian package, folder, file suffix)
    "allison": ("asterisk-core-sounds-en-wav", Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits"), ".wav"),
    "saytime": ("saytime", Path("/usr/share/saytime"), ".au"),
}


def mu_law_decode(data):
    """G.711 mu-law bytes as float32 samples in [-1, 1] (full scale 32768, as `read_wav`).

    The stored byte is the complement of sign, 3-bit exponent and 4-bit mantissa;
    the magnitude is ((mantissa * 8 + 132) << exponent) - 132. (The standard
    library's audioop did this; it is gone from Python 3.13.)"""
    code = ~np.frombuffer(bytes(data), dtype="uint8")
    exponent = (code >> 4) & 0x07
    mantissa = (code & 0x0F).astype("int32")
    magnitude = ((mantissa * 8 + 0x84) << exponent) - 0x84
    return (np.where(code & 0x80, -magnitude, magnitude) / 32768.0).astype("float32")


def read_mu_law(path):
    """A headerless 8 kHz mu-law file (saytime's .au) as float32 samples."""
    return mu_law_decode(Path(path).read_bytes())


def read(path):
    """One recording as float32 samples at `spoken_digits.SAMPLE_RATE`."""
    if Path(path).suffix == ".au":
        return read_mu_law(path)
    return spoken_digits.read_recording(path)


def installed():
    """The names of the `VOICES` whose recordings are on this machine."""
    return [voice for voice, (_, folder, suffix) in VOICES.items() if all((folder / f"{d}{suffix}").is_file() for d in range(10))]


def missing():
    """The Debian packages of the `VOICES` that are not installed."""
    return sorted({VOICES[voice][0] for voice in VOICES if voice not in installed()})


def load_clips(voice):
    """`voice`'s ten recordings as `spoken_digits.Clip`s (speaker = the voice's name, take 0)."""
    if voice not in VOICES:
        raise ValueError(f"voice={voice!r}; expected one of {sorted(VOICES)}")
    package, folder, suffix = VOICES[voice]
    if voice not in installed():
        raise FileNotFoundError(f"{folder}/0{suffix} ... 9{suffix} not found; install the Debian package {package} (make voices)")
    return [spoken_digits.Clip(digit, voice, 0, read(folder / f"{digit}{suffix}")) for digit in range(10)]
