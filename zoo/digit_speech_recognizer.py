"""digit-speech-recognizer: spoken digit strings to digits, from raw audio.

Model (the committed one, `EMBEDDING_CONFIG`): raw audio resampled to 16 kHz ->
peak normalisation -> Google's speech embedding as openWakeWord ships it
(`speech_embedding`: log-mel frames, then a pretrained convolutional network
giving 96 values every 80 ms), frozen -> layer normalisation -> a two-layer
bidirectional `keras_lstm.StackedLSTM` -> per-step scores for blank and the ten
digits, trained with CTC (`keras.losses.CTC`) and decoded greedily with
`keras.ops.ctc_decode`. Only the part after the embedding trains, on the
embeddings of the augmented training audio, computed once.

The earlier model (`LOG_MEL_CONFIG`), kept to measure what the pretrained front
end adds: 8 kHz audio -> peak normalisation -> log-mel spectrogram (40 bands,
25 ms windows every 10 ms; `keras.layers.MelSpectrogram`) -> per-recording band
normalisation (CMVN) -> SpecAugment masks in training -> a strided convolution
(30 ms steps) -> the same LSTM and CTC, all trained together.

Either way everything from the raw samples on is inside the Keras model: it
takes audio, with no feature code to reimplement beside it.

Data: the Free Spoken Digit Dataset (see `spoken_digits`). Training mixes
single recordings and connected strings of 2-7 digits made from the training
takes, with speed, level and noise augmentation, and every digit from 300
synthetic speakers of Debian main's espeak-ng and flite (`VOICES`; the groups a
recipe can take are `voice_groups.GROUPS`; `make voices` installs their synthesisers).
"""

import argparse
import time
import warnings
from pathlib import Path

import keras
import numpy as np

import keras_lstm
from keras_lstm.zoo import artifacts, packaged_voices, speech_embedding, spoken_digits, training, voice_groups
from keras_lstm.zoo.base import ZooModel

NAME = "digit-speech-recognizer"
SAMPLE_RATE = spoken_digits.SAMPLE_RATE
FRAME_STEP = 80  # samples: 10 ms
SUBSAMPLING = 3  # the convolution's stride: one LSTM step per 30 ms
BLANK = 0  # CTC's blank; digit d is class d + 1
BUCKET = 2400  # batches are padded to a multiple of 0.3 s: few distinct shapes to compile
MAX_DIGITS = 7
LOG_FLOOR = 1e-6

# Two front ends (issue 21 asks for the recognizer with and without the pretrained one):
# log-mel bands computed here, at 8 kHz, trained with the LSTM; or Google's speech
# embedding (`speech_embedding`), pretrained and frozen, at 16 kHz.
LOG_MEL_CONFIG = {"front_end": "log_mel", "mel_bins": 40, "conv_filters": 128, "units": 128, "layers": 2, "dropout": 0.1}
EMBEDDING_CONFIG = {"front_end": "speech_embedding", "units": 96, "layers": 2, "dropout": 0.2, "copies": 4}
FRONT_ENDS = {"log_mel": LOG_MEL_CONFIG, "speech_embedding": EMBEDDING_CONFIG}
DEFAULT_CONFIG = EMBEDDING_CONFIG
# The recipe's synthetic speakers per group (`voice_groups`), every digit once each: Debian
# main's espeak-ng and flite took the unseen-speaker mean from 95.8 to 96.5% and its
# strings' digit errors from 5.17 to 4.19% (card).
VOICES = {"espeak-ng": 200, "flite": 100}

# The speech embedding reads 16 kHz audio at int16 scale: each recording is scaled to half
# of int16's range at its peak, gets 0.4 s of silence at each end and, when still shorter
# than 2 s, is centred in 2 s (16 embeddings). Batches are padded to a multiple of 0.5 s.
# One embedding reads 0.78 s: without the margin, speech in a recording's first or last
# 0.4 s is never near a window's middle (a model trained without it got 201 of the 500
# official test strings wrong, mostly their first or last digit; with it, 13).
EMBEDDING_CLIP = 2 * speech_embedding.SAMPLE_RATE
EMBEDDING_MARGIN = int(0.4 * speech_embedding.SAMPLE_RATE)
EMBEDDING_PEAK = speech_embedding.FULL_SCALE / 2
EMBEDDING_BUCKET = speech_embedding.SAMPLE_RATE // 2


PEAK_EPSILON = 1e-6  # silence stays silence


def front_end(config):
    """"log_mel" (configs saved before there were two front ends) or "speech_embedding"."""
    return config.get("front_end", "log_mel")


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class PeakNormalization(keras.layers.Layer):
    """Scales each recording to a peak of 1, so loudness does not matter (and zero padding is neutral)."""

    def call(self, audio):
        return self.compute(keras.ops, audio)

    def compute(self, ops, audio):
        """The layer in `ops`: keras.ops, or their TensorFlow twins for TFLite."""
        return audio / (ops.max(ops.abs(audio), axis=-1, keepdims=True) + PEAK_EPSILON)

    def export_tflite(self, ops, audio):
        return self.compute(ops, audio)

    def export_onnx(self, graph, audio):
        peak = graph.node("ReduceMax", graph.node("Abs", audio), axes=[-1], keepdims=1)
        return graph.node("Div", audio, graph.node("Add", peak, graph.constant(np.array(PEAK_EPSILON, np.float32))))


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class LogMel(keras.layers.Layer):
    """(batch, bands, frames) mel power -> (batch, frames, bands) log power.

    Not MelSpectrogram's own dB scale: its floor is relative to the largest
    value in the whole batch, so a recording's features would depend on what
    it was batched with.
    """

    def call(self, mel):
        return keras.ops.transpose(keras.ops.log(mel + LOG_FLOOR), (0, 2, 1))


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class UtteranceNormalization(keras.layers.Layer):
    """Per-recording mean and variance normalisation of each band (CMVN).

    A microphone or room scales each band by its own factor, which the log
    turns into an offset: subtracting the recording's own band means removes
    it, which is what lets the model hear a speaker recorded elsewhere.
    Statistics use the recording's frames only; zero padding (log-mel at its
    floor) is excluded and set to 0, so a recording's features do not depend
    on how much padding its batch needed.
    """

    def call(self, log_mel):
        floor = float(np.log(LOG_FLOOR))
        valid = keras.ops.cast(keras.ops.max(log_mel, axis=-1, keepdims=True) > floor + 1e-3, log_mel.dtype)
        count = keras.ops.maximum(keras.ops.sum(valid, axis=1, keepdims=True), 1.0)
        mean = keras.ops.sum(log_mel * valid, axis=1, keepdims=True) / count
        variance = keras.ops.sum(keras.ops.square(log_mel - mean) * valid, axis=1, keepdims=True) / count
        return (log_mel - mean) * keras.ops.rsqrt(variance + 1e-2) * valid


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class SpecAugment(keras.layers.Layer):
    """Training only: blanks one random band range and two random time spans (Park et al. 2019)."""

    def __init__(self, max_bands=8, max_frames=6, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_bands = max_bands
        self.max_frames = max_frames
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _span(self, batch, length, width):
        start = keras.random.uniform((batch, 1), 0.0, 1.0, seed=self.seed_generator) * keras.ops.cast(length, "float32")
        size = keras.random.uniform((batch, 1), 0.0, float(width), seed=self.seed_generator)
        position = keras.ops.cast(keras.ops.arange(length), "float32")[None, :]
        return keras.ops.cast((position >= start) & (position < start + size), "float32")

    def call(self, features, training=False):
        if not training:
            return features
        shape = keras.ops.shape(features)
        batch, frames, bands = shape[0], shape[1], shape[2]
        keep_band = 1.0 - self._span(batch, bands, self.max_bands)[:, None, :]
        keep_time = (1.0 - self._span(batch, frames, self.max_frames)) * (1.0 - self._span(batch, frames, self.max_frames))
        return features * keep_band * keep_time[:, :, None]

    def get_config(self):
        return {**super().get_config(), "max_bands": self.max_bands, "max_frames": self.max_frames, "seed": self.seed}


def mel_spectrogram(bands, **kwargs):
    """Mel power spectrogram of 8 kHz audio: 25 ms windows every 10 ms, 20-3800 Hz."""
    return keras.layers.MelSpectrogram(
        fft_length=256, sequence_stride=FRAME_STEP, sequence_length=200, sampling_rate=SAMPLE_RATE,
        num_mel_bins=bands, min_freq=20.0, max_freq=3800.0, power_to_db=False, **kwargs,
    )


def encoder_and_scores(features, config):
    """Both front ends' top: dropout, the bidirectional `keras_lstm.StackedLSTM`, dropout,
    and per-step scores for blank and the ten digits."""
    x = keras.layers.Dropout(config["dropout"])(features)
    x = keras_lstm.StackedLSTM(
        config["units"], num_layers=config["layers"], bidirectional=True, return_sequences=True,
        inter_layer_dropout=config["dropout"], name="encoder",
    )(x)
    x = keras.layers.Dropout(config["dropout"])(x)
    return keras.layers.Dense(11, name="logits")(x)


def spectrogram_frames(samples):
    """Spectrogram frames for `samples` samples (the spectrogram centres its windows)."""
    return np.asarray(samples) // FRAME_STEP + 1


def frames(samples):
    """LSTM steps for a recording of `samples` samples."""
    return -(-spectrogram_frames(samples) // SUBSAMPLING)


class Model(ZooModel):
    """The trained recognizer: `.model` (Keras, audio -> CTC logits) and `.recognize(audio)`."""

    name = NAME

    @classmethod
    def build_model(cls, config):
        if front_end(config) == "speech_embedding":
            return embedding_recognizer(config)
        audio = keras.Input((None,), name="audio")
        x = PeakNormalization(name="peak")(audio)
        x = mel_spectrogram(config["mel_bins"], name="mel")(x)
        x = LogMel(name="log_mel")(x)
        x = UtteranceNormalization(name="cmvn")(x)
        x = SpecAugment(name="spec_augment")(x)
        x = keras.layers.Conv1D(
            config["conv_filters"], 5, strides=SUBSAMPLING, padding="same", activation="relu", name="subsample"
        )(x)
        return keras.Model(audio, encoder_and_scores(x, config), name="digit_speech_recognizer")

    @property
    def hears_embeddings(self):
        """Whether the network reads the pretrained speech embedding (else log-mel bands)."""
        return front_end(self.config) == "speech_embedding"

    @property
    def sample_rate(self):
        """The rate the network hears (recordings at other rates are resampled to it)."""
        return speech_embedding.SAMPLE_RATE if self.hears_embeddings else SAMPLE_RATE

    @property
    def bucket(self):
        """Batches are padded to a multiple of this many samples."""
        return EMBEDDING_BUCKET if self.hears_embeddings else BUCKET

    def prepare(self, recording, sample_rate=SAMPLE_RATE):
        """A recording at `sample_rate` (FSDD's 8 kHz by default) as the network takes it:
        resampled to `self.sample_rate`, and padded with silence for the embedding."""
        recording = spoken_digits.resample(recording, sample_rate, self.sample_rate)
        return centred(recording) if self.hears_embeddings else recording

    def steps(self, samples):
        """The network's output steps for recordings of `samples` samples each."""
        if self.hears_embeddings:
            return [speech_embedding.embeddings(speech_embedding.frames(n)) for n in samples]
        return frames(samples)

    def recognize(self, audio, sample_rate=SAMPLE_RATE, batch_size=32):
        """The digits heard in each recording.

        Args:
            audio: one recording (a 1-D numpy array of samples) or a list of them,
                float in [-1, 1] or int16 (other signed integers and any loudness
                work too: each recording is scaled to a peak of 1).
            sample_rate: their rate (8 kHz by default, FSDD's); they are resampled
                to the network's (`sample_rate`: 16 kHz for the speech embedding).

        Returns:
            A string of digits ("4071") for one recording, or a list of them.

        Raises:
            TypeError: `audio` is not an array or a list of them (a file name, None).
            ValueError: a recording that is not 1-D numbers, is shorter than 400
                samples, holds NaN or infinite samples, or one value throughout
                (silence without noise; each named as `audio` or `audio[k]`); a
                `sample_rate` or `batch_size` that is not positive.
        """
        if isinstance(audio, (str, bytes)) or not hasattr(audio, "__iter__"):
            raise TypeError(
                f"audio is {type(audio).__name__}; expected samples (a 1-D numpy array) or a list of them "
                "(spoken_digits.read_wav reads a WAV file)"
            )
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not 0 < sample_rate < np.inf:
            raise ValueError(f"sample_rate={sample_rate!r}; expected a rate in Hz above 0")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r}; expected an int >= 1")
        single = isinstance(audio, np.ndarray) and audio.ndim <= 1
        recordings = [audio] if single else list(audio)
        prepared = [
            self.prepare(recording_samples(recording, "audio" if single else f"audio[{k}]"), sample_rate)
            for k, recording in enumerate(recordings)
        ]
        digits = [None] * len(prepared)
        for batch in bucket_batches([len(r) for r in prepared], self.bucket, batch_size):
            logits = self.model.predict_on_batch(training.pad([prepared[k] for k in batch], self.bucket, "float32"))
            for k, decoded in zip(batch, greedy_decode(logits, self.steps([len(prepared[k]) for k in batch]))):
                digits[k] = decoded
        return digits[0] if single else digits


MIN_SAMPLES = 400  # 50 ms at 8 kHz


def recording_samples(recording, name):
    """One recording as float32 samples (int16 scaled to [-1, 1]), or a ValueError naming
    it (`name`) and saying what is wrong. NaN samples are refused: peak normalisation
    would spread them over the whole recording and the model would hear nothing."""
    recording = np.asarray(recording)
    signed = np.issubdtype(recording.dtype, np.floating) or np.issubdtype(recording.dtype, np.signedinteger)
    if not signed:
        raise ValueError(f"{name} has dtype {recording.dtype}; expected float or signed integer samples (int16)")
    if recording.ndim == 0:
        raise ValueError(
            f"{name} is a single number; expected a 1-D recording (pass one recording as a numpy array, "
            "several as a list of arrays)"
        )
    if recording.ndim != 1:
        raise ValueError(f"{name} has shape {recording.shape}; expected a 1-D recording (one channel)")
    if recording.size < MIN_SAMPLES:
        raise ValueError(f"{name} has {recording.size} samples; expected at least {MIN_SAMPLES} (50 ms at 8 kHz)")
    finite = np.isfinite(recording)
    if not finite.all():
        first = int(np.argmin(finite))
        raise ValueError(
            f"sample {first} of {name} is {float(recording[first])!r}; expected finite samples "
            f"({int((~finite).sum())} of {recording.size} are not)"
        )
    if recording.min() == recording.max():
        # Peak normalisation leaves nothing of a constant: the model would answer from no sound.
        raise ValueError(
            f"{name} holds one value ({recording[0].item()!r}) throughout; expected a recording with sound in it"
        )
    if recording.dtype == np.int16:
        return recording.astype("float32") / 32768.0
    return recording.astype("float32")


def pad(recordings):
    return training.pad(recordings, BUCKET, "float32")


def bucket_batches(lengths, bucket, batch_size):
    """Indices in batches of at most `batch_size` whose lengths round up to the same multiple
    of `bucket`, shortest first: each recording is padded to its own bucket's length, never
    to a longer one's (the LSTMs read the padding; training batches are built the same way)."""
    same = {}
    for k in np.argsort(lengths, kind="stable"):
        same.setdefault(-(-lengths[k] // bucket), []).append(int(k))
    return [group[start:start + batch_size] for group in same.values() for start in range(0, len(group), batch_size)]


def ctc_labels(digit_lists):
    """(batch, MAX_DIGITS) int32: digit d as class d + 1, padded with blanks."""
    labels = np.zeros((len(digit_lists), MAX_DIGITS), "int32")
    for row, digits in enumerate(digit_lists):
        labels[row, : len(digits)] = np.asarray(digits) + 1
    return labels


# --- the speech-embedding front end ------------------------------------------


def centred(recording, margin=EMBEDDING_MARGIN, length=EMBEDDING_CLIP):
    """`recording` with `margin` samples of silence at each end, then centred in `length`
    samples of silence when still shorter."""
    padded = len(recording) + 2 * margin
    start = margin + max(0, length - padded) // 2
    return np.pad(recording, (start, max(padded, length) - len(recording) - start)).astype("float32")


def embedding_head(config):
    """(batch, steps, 96) speech embeddings -> (batch, steps, 11) CTC logits: what trains."""
    embedded = keras.Input((None, speech_embedding.UNITS), name="embeddings")
    x = keras.layers.LayerNormalization(name="embedding_norm")(embedded)
    return keras.Model(embedded, encoder_and_scores(x, config), name="head")


def embedding_recognizer(config):
    """Raw 16 kHz audio -> CTC logits, one step per 80 ms: peak normalisation, the frozen
    speech embedding, then `embedding_head`."""
    audio = keras.Input((None,), name="audio")
    x = PeakNormalization(name="peak")(audio)
    x = keras.layers.Rescaling(EMBEDDING_PEAK, name="int16_scale")(x)
    x = speech_embedding.LogMelFrames(name="log_mel_frames")(x)
    x = speech_embedding.SpeechEmbedding(name="speech_embedding")(x)
    return keras.Model(audio, embedding_head(config)(x), name="digit_speech_recognizer")


def front_end_model(model):
    """The audio -> speech embeddings part of an `embedding_recognizer`."""
    return keras.Model(model.input, model.get_layer("speech_embedding").output)


def embedded_examples(model, examples, rng, batch_size=64):
    """[(embeddings, digits)] of [(8 kHz audio, digits)]: each recording resampled to
    16 kHz, centred in 2 s when shorter, placed at a random offset in its batch's
    length (a multiple of 0.5 s, as `recognize` pads), then through the frozen front end
    once. The embeddings are the head's training data: the front end does not train,
    so there is no need to run it every epoch."""
    audio = [centred(spoken_digits.resample(a, SAMPLE_RATE, speech_embedding.SAMPLE_RATE)) for a, _ in examples]
    features = front_end_model(model)
    embedded = [None] * len(audio)
    for batch in bucket_batches([len(a) for a in audio], EMBEDDING_BUCKET, batch_size):
        length = -(-len(audio[batch[0]]) // EMBEDDING_BUCKET) * EMBEDDING_BUCKET
        padded = np.zeros((len(batch), length), "float32")
        for row, k in enumerate(batch):
            offset = int(rng.integers(0, length - len(audio[k]) + 1))
            padded[row, offset:offset + len(audio[k])] = audio[k]
        for k, vectors in zip(batch, keras.ops.convert_to_numpy(features.predict_on_batch(padded))):
            embedded[k] = vectors
    return [(vectors, digits) for vectors, (_, digits) in zip(embedded, examples)]


class EmbeddedBatches(keras.utils.PyDataset):
    """Training batches of embedded examples of one length each: (embeddings, labels
    padded with blanks)."""

    def __init__(self, examples, batch_size, seed, devices=1):
        super().__init__()
        self.examples = examples
        order = bucket_batches([len(vectors) for vectors, _ in examples], 1, batch_size)
        # Data parallel: every batch must split over the devices (as `Batches`).
        order = [batch[len(batch) % devices:] for batch in order if len(batch) >= devices]
        self.batches = training.shuffled(order, seed)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        batch = self.batches[index]
        return np.stack([self.examples[k][0] for k in batch]), ctc_labels([self.examples[k][1] for k in batch])


def embedding_training_examples(clips, rng, strings, copies, synthetic=()):
    """Every training clip `copies` times, each with speed, level and noise augmentation
    (15-40 dB), plus `strings` connected strings of 2-7 digits."""
    singles = [clip for clip in [*clips, *synthetic] for _ in range(copies)]
    noisy = [(spoken_digits.add_noise(spoken_digits.perturbed(clip, rng), rng.uniform(15.0, 40.0), rng), [clip.digit]) for clip in singles]
    return noisy + spoken_digits.random_strings(clips, strings, rng, lengths=(2, MAX_DIGITS), augment=True)


length_batches = training.length_batches


def greedy_decode(logits, lengths):
    """CTC greedy decoding with keras.ops.ctc_decode: digit strings."""
    decoded, _ = keras.ops.ctc_decode(
        keras.ops.convert_to_tensor(logits), keras.ops.convert_to_tensor(np.asarray(lengths, "int32")),
        strategy="greedy", mask_index=BLANK,
    )
    decoded = keras.ops.convert_to_numpy(decoded)[0]
    return ["".join(str(label - 1) for label in row if label > BLANK) for row in decoded]


class Batches(keras.utils.PyDataset):
    """Training batches of similar length: (padded audio, labels padded with blanks)."""

    def __init__(self, examples, batch_size, seed, devices=1):
        super().__init__()
        self.examples = examples
        order = length_batches([len(audio) for audio, _ in examples], batch_size)
        # Data parallel: every batch, the last one included, must split over the devices.
        order = [batch[len(batch) % devices :] for batch in order]
        self.batches = training.shuffled(order, seed)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        batch = self.batches[index]
        return pad([self.examples[k][0] for k in batch]), ctc_labels([self.examples[k][1] for k in batch])


def training_examples(clips, rng, strings, synthetic=()):
    """Every training clip alone twice (as recorded, and with silence and noise around it),
    plus `strings` connected strings of 2-7 digits; all with speed and level augmentation.
    `synthetic` clips (espeak-ng voices) are added alone, twice, like the recordings."""
    singles = list(clips) + list(synthetic)
    recorded = [(spoken_digits.perturbed(clip, rng), [clip.digit]) for clip in singles]
    padded = [spoken_digits.connected_string([clip], rng, augment=True, snr_db=(20.0, 60.0)) for clip in singles]
    return recorded + padded + spoken_digits.random_strings(clips, strings, rng, lengths=(2, MAX_DIGITS), augment=True)


def train(
    output=None, *, epochs=20, seed=0, batch_size=32, strings=3000, holdout_speaker=None, checkpoint_dir=None,
    data_parallel=False, config=None, clips=None, callbacks=(), voices=None,
):
    """The recipe. `holdout_speaker` trains the leave-one-speaker-out model instead of the official one;
    `voices` ({group: speakers}, groups of `voice_groups.GROUPS`; default `VOICES`) adds every
    digit from that many synthetic speakers of each group to the training data (`{}`: FSDD alone)."""
    keras.utils.set_random_seed(seed)
    chosen = (config or {}).get("front_end", DEFAULT_CONFIG["front_end"])
    if chosen not in FRONT_ENDS:
        raise ValueError(f"config['front_end']={chosen!r}; expected one of {sorted(FRONT_ENDS)}")
    foreign = sorted(set(config or {}) - set(FRONT_ENDS[chosen]))
    if foreign:
        raise ValueError(
            f"config has {foreign}, which the {chosen!r} front end does not take; expected keys of "
            f"{sorted(FRONT_ENDS[chosen])} (set config['front_end'] for the other front end)"
        )
    config = {**FRONT_ENDS[chosen], **(config or {}), "holdout_speaker": holdout_speaker}
    voices = voice_groups.checked(VOICES if voices is None else voices)
    missing = voice_groups.missing(voices)  # said before minutes of synthesis, not after
    if missing:
        remaining = {group: count for group, count in voices.items() if group not in missing}
        raise FileNotFoundError(
            f"voices={voices}: {'; '.join(voice_groups.GROUPS[group].INSTALL for group in missing)}; "
            f"voices={remaining} trains without them"
        )
    clips = spoken_digits.load_clips() if clips is None else clips
    if holdout_speaker:
        train_clips, _ = spoken_digits.speaker_split(clips, holdout_speaker)
    else:
        train_clips, _ = spoken_digits.official_split(clips)
    rng = np.random.default_rng(seed)
    synthetic = voice_groups.clips(voices, seed)
    distribution = training.data_parallel() if data_parallel else None
    training.check_batch_size(batch_size, distribution)
    devices = training.device_count(distribution)
    with training.distribution_scope(distribution):
        model = Model.build_model(config)
        if front_end(config) == "speech_embedding":
            # Only the head trains, on the frozen front end's embeddings, computed once.
            speech_embedding.from_openwakeword(model.get_layer("log_mel_frames"), model.get_layer("speech_embedding"))
            examples = embedding_training_examples(train_clips, rng, strings, config["copies"], synthetic)
            started = time.perf_counter()
            dataset = EmbeddedBatches(embedded_examples(model, examples, rng), batch_size, seed, devices)
            front_end_seconds = time.perf_counter() - started
            learner = model.get_layer("head")
            # The head's layer normalisation needs the embeddings' size known on TensorFlow.
            data = training.fit_data(dataset, shapes=((None, None, speech_embedding.UNITS), (None, MAX_DIGITS)))
        else:
            examples = training_examples(train_clips, rng, strings, synthetic)
            dataset = Batches(examples, batch_size, seed, devices)
            front_end_seconds, learner, data = 0.0, model, training.fit_data(dataset)
        schedule = keras.optimizers.schedules.CosineDecay(
            1e-3, epochs * len(dataset), warmup_target=2e-3, warmup_steps=len(dataset)
        )
        learner.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0), loss=keras.losses.CTC())
        print(f"{NAME}: {len(examples)} training recordings ({len(train_clips)} clips), backend {keras.backend.backend()}")
        history, seconds = training.fit(
            learner, data, None,
            checkpoint_dir=checkpoint_dir or training.default_checkpoint_dir(NAME + (f"-{holdout_speaker}" if holdout_speaker else "")),
            epochs=epochs, verbose=1, callbacks=callbacks,
            shuffle=keras.backend.backend() != "tensorflow",  # there `fit_data` shuffles
        )
    zoo_model = Model(model, config)
    trained = {
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "strings": strings,
        "voices": voices,
        "backend": keras.backend.backend(), "seconds": round(seconds + front_end_seconds, 1),
        "front_end_seconds": round(front_end_seconds, 1),
        "final_loss": float(history.history["loss"][-1]),
        "data_parallel_devices": training.device_count(distribution),
    }
    if output is not None:
        zoo_model.save(output, training=trained)
    return zoo_model, trained


# --- evaluation ------------------------------------------------------------

HOLDOUT_SPEAKER = "george"  # chosen before training: the first speaker in alphabetical order
EVALUATION_SEED = 2026
TEST_STRINGS = 500


def holdout_dir(speaker=HOLDOUT_SPEAKER):
    return artifacts.folder(NAME) / f"holdout-{speaker}"


def trained_holdouts():
    """{speaker: folder} of the leave-one-speaker-out models trained so far (holdout-NAME/).

    They are evaluation artifacts, kept in the repository and out of the installed
    package (pyproject.toml): installed from a wheel, there are none, and a warning says
    where they are rather than the card's unseen-speaker rows going missing unexplained."""
    folders = {speaker: holdout_dir(speaker) for speaker in spoken_digits.SPEAKERS}
    trained = {speaker: folder for speaker, folder in folders.items() if (folder / artifacts.MANIFEST).is_file()}
    if not trained:
        warnings.warn(
            f"no leave-one-speaker-out model in {holdout_dir().parent}: they are in the repository's "
            f"zoo/{NAME}/holdout-*/, not in the installed package; evaluate from a checkout (pip install -e .) "
            f"or train one (keras-lstm zoo train {NAME} --holdout-speaker NAME)",
            stacklevel=2,
        )
    return trained


def edit_distance(reference, hypothesis):
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref != hyp))
    return row[-1]


def string_scores(recognized, references):
    """Digit error rate (edits / reference digits) and whole-string accuracy, in %."""
    if len(recognized) != len(references) or not any(references):
        raise ValueError(
            f"{len(recognized)} recognized strings and {len(references)} references; expected one each, some digits"
        )
    edits = sum(edit_distance(ref, hyp) for ref, hyp in zip(references, recognized))
    digits = sum(len(ref) for ref in references)
    exact = sum(ref == hyp for ref, hyp in zip(references, recognized))
    return {"digit_error_rate": 100 * edits / digits, "string_accuracy": 100 * exact / len(references)}


def test_strings(clips, count=TEST_STRINGS, seed=EVALUATION_SEED):
    """Connected strings of 3-7 digits from `clips`, the same for every evaluation."""
    strings = spoken_digits.random_strings(clips, count, np.random.default_rng(seed), lengths=(3, MAX_DIGITS))
    return [audio for audio, _ in strings], ["".join(map(str, digits)) for _, digits in strings]


def single_digit_accuracy(zoo_model, clips):
    recognized = zoo_model.recognize([clip.audio for clip in clips])
    return 100 * float(np.mean([text == str(clip.digit) for text, clip in zip(recognized, clips)]))


def summary_features(clips, batch_size=64):
    """Mean and standard deviation of each log-mel band over a recording: a fixed-length vector.

    Batched by length like `recognize`, so that JAX and TensorFlow compile a
    handful of shapes rather than one per recording.
    """
    layer = mel_spectrogram(LOG_MEL_CONFIG["mel_bins"])
    audio = [clip.audio / (np.max(np.abs(clip.audio)) + 1e-6) for clip in clips]
    vectors = [None] * len(clips)
    for batch in length_batches([len(a) for a in audio], batch_size):
        mel = keras.ops.convert_to_numpy(layer(pad([audio[k] for k in batch])))
        for row, k in enumerate(batch):
            log_mel = np.log(mel[row, :, : spectrogram_frames(len(audio[k]))] + LOG_FLOOR)
            vectors[k] = np.concatenate([log_mel.mean(axis=1), log_mel.std(axis=1)])
    return np.asarray(vectors)


def nearest_neighbour_accuracy(train_clips, test_clips, features):
    """The baseline: 1-nearest-neighbour on band means and deviations (standardised).

    `features` maps each clip's (speaker, digit, take) to its summary vector.
    """
    train = np.asarray([features[clip_key(clip)] for clip in train_clips])
    test = np.asarray([features[clip_key(clip)] for clip in test_clips])
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1)
    predicted = np.asarray([clip.digit for clip in train_clips])[distances.argmin(axis=1)]
    return 100 * float(np.mean(predicted == np.asarray([clip.digit for clip in test_clips])))


def clip_key(clip):
    return clip.speaker, clip.digit, clip.take


# The frozen-embedding baseline of issue 21, as the issue measured it: each clip upsampled
# to 16 kHz (scipy's polyphase filter), scaled to half of int16's range at its peak and
# centred in 2 s (the two FSDD takes longer than 2 s cut there; no 0.4 s margins, unlike
# the recognizer's input), and its embeddings pooled by mean and by maximum.


def pooled_embeddings(clips, batch_size=100):
    """(clips, 192): each clip's speech embeddings' mean, then their maximum."""
    from scipy.signal import resample_poly

    audio = np.zeros((len(clips), EMBEDDING_CLIP), "float32")
    for row, clip in enumerate(clips):
        upsampled = resample_poly(clip.audio, speech_embedding.SAMPLE_RATE, SAMPLE_RATE)[:EMBEDDING_CLIP]
        start = (EMBEDDING_CLIP - len(upsampled)) // 2
        audio[row, start:start + len(upsampled)] = upsampled * EMBEDDING_PEAK / (np.max(np.abs(upsampled)) + 1e-6)
    embed = speech_embedding.front_end()
    embedded = np.concatenate([
        keras.ops.convert_to_numpy(embed.predict_on_batch(audio[start:start + batch_size]))
        for start in range(0, len(audio), batch_size)
    ])
    return np.concatenate([embedded.mean(axis=1), embedded.max(axis=1)], axis=1)


def embedding_regression_accuracy(train_clips, test_clips, features):
    """The baseline of issue 21: a logistic regression on `pooled_embeddings`, each
    feature standardised with the training clips' mean and deviation.

    `features` maps each clip's (speaker, digit, take) to its pooled vector.
    """
    from sklearn.linear_model import LogisticRegression

    train = np.asarray([features[clip_key(clip)] for clip in train_clips])
    test = np.asarray([features[clip_key(clip)] for clip in test_clips])
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    classifier = LogisticRegression(max_iter=2000).fit((train - mean) / std, [clip.digit for clip in train_clips])
    predicted = classifier.predict((test - mean) / std)
    return 100 * float(np.mean(predicted == np.asarray([clip.digit for clip in test_clips])))


def evaluate(zoo_model, *, baselines=True, holdout=True, voices=True):
    """The card's metrics: official test takes, connected strings from them, the held-out
    speakers, and the real voices of `packaged_voices` that are installed."""
    clips = spoken_digits.load_clips()
    train_clips, test_clips = spoken_digits.official_split(clips)
    heard_voices = {voice: packaged_voices.load_clips(voice) for voice in (packaged_voices.installed() if voices else ())}
    every_clip = clips + [clip for voice_clips in heard_voices.values() for clip in voice_clips]
    audio, references = test_strings(test_clips)
    results = {
        "official": {
            "single_digit_accuracy": single_digit_accuracy(zoo_model, test_clips),
            **string_scores(zoo_model.recognize(audio), references),
        }
    }
    if baselines:
        features = dict(zip(map(clip_key, every_clip), summary_features(every_clip)))
        pooled = dict(zip(map(clip_key, every_clip), pooled_embeddings(every_clip)))
        results["official"]["nearest_neighbour_accuracy"] = nearest_neighbour_accuracy(
            train_clips, test_clips, features
        )
        results["official"]["embedding_regression_accuracy"] = embedding_regression_accuracy(train_clips, test_clips, pooled)
    if holdout:
        unseen = []
        for speaker, folder in trained_holdouts().items():
            speaker_model = Model.load(folder)
            loso_train, loso_test = spoken_digits.speaker_split(clips, speaker)
            audio, references = test_strings(loso_test)
            row = {
                "single_digit_accuracy": single_digit_accuracy(speaker_model, loso_test),
                **string_scores(speaker_model.recognize(audio), references),
            }
            if baselines:
                row["nearest_neighbour_accuracy"] = nearest_neighbour_accuracy(loso_train, loso_test, features)
                row["embedding_regression_accuracy"] = embedding_regression_accuracy(loso_train, loso_test, pooled)
            results[f"unseen speaker ({speaker})"] = row
            unseen.append(row)
        if len(unseen) > 1:
            results[f"unseen speaker, mean of {len(unseen)}"] = {
                key: float(np.mean([row[key] for row in unseen])) for key in unseen[0]
            }
    for voice, voice_clips in heard_voices.items():
        audio, references = test_strings(voice_clips)
        row = {
            "single_digit_accuracy": single_digit_accuracy(zoo_model, voice_clips),
            **string_scores(zoo_model.recognize(audio), references),
        }
        if baselines:  # fitted on the official training takes, like the committed model
            row["nearest_neighbour_accuracy"] = nearest_neighbour_accuracy(train_clips, voice_clips, features)
            row["embedding_regression_accuracy"] = embedding_regression_accuracy(train_clips, voice_clips, pooled)
        results[voice_row(voice)] = row
    return results


def voice_row(voice):
    """The card's row for a voice of `packaged_voices`."""
    return f"unheard real voice: {voice} ({packaged_voices.VOICES[voice][0]})"


# The recognizers committed before, from their cards (`evaluate` on their committed
# models): what each step of issue 21 added. First the log-mel one (`LOG_MEL_CONFIG`),
# trained on FSDD alone: what the pretrained front end adds.
LOG_MEL_RESULTS = {
    "official": {"single_digit_accuracy": 98.0, "digit_error_rate": 0.28, "string_accuracy": 98.6},
    "unseen speaker (george)": {"single_digit_accuracy": 78.0, "digit_error_rate": 22.76, "string_accuracy": 31.4},
    "unseen speaker (jackson)": {"single_digit_accuracy": 75.6, "digit_error_rate": 9.68, "string_accuracy": 63.0},
    "unseen speaker (nicolas)": {"single_digit_accuracy": 70.4, "digit_error_rate": 26.19, "string_accuracy": 23.4},
    "unseen speaker (theo)": {"single_digit_accuracy": 86.4, "digit_error_rate": 5.93, "string_accuracy": 74.2},
    "unseen speaker (yweweler)": {"single_digit_accuracy": 78.4, "digit_error_rate": 11.02, "string_accuracy": 56.0},
    "unseen speaker, mean of 5": {"single_digit_accuracy": 77.8, "digit_error_rate": 15.12, "string_accuracy": 49.6},
}
# Then the speech-embedding one trained on FSDD alone (voices={}):
# what Debian main's synthetic voices add.
FSDD_ONLY_RESULTS = {
    "official": {"single_digit_accuracy": 99.6, "digit_error_rate": 0.57, "string_accuracy": 97.4},
    "unseen speaker (george)": {"single_digit_accuracy": 93.0, "digit_error_rate": 9.04, "string_accuracy": 63.0},
    "unseen speaker (jackson)": {"single_digit_accuracy": 95.6, "digit_error_rate": 4.05, "string_accuracy": 81.0},
    "unseen speaker (nicolas)": {"single_digit_accuracy": 93.6, "digit_error_rate": 7.73, "string_accuracy": 67.4},
    "unseen speaker (theo)": {"single_digit_accuracy": 98.2, "digit_error_rate": 1.94, "string_accuracy": 91.0},
    "unseen speaker (yweweler)": {"single_digit_accuracy": 98.8, "digit_error_rate": 3.11, "string_accuracy": 84.8},
    "unseen speaker, mean of 5": {"single_digit_accuracy": 95.8, "digit_error_rate": 5.17, "string_accuracy": 77.4},
    "unheard real voice: allison (asterisk-core-sounds-en-wav)": {"single_digit_accuracy": 100.0, "digit_error_rate": 0.00, "string_accuracy": 100.0},
    "unheard real voice: saytime (saytime)": {"single_digit_accuracy": 100.0, "digit_error_rate": 0.56, "string_accuracy": 97.2},
}
EARLIER_RESULTS = {
    "Without the synthetic voices (the speech-embedding recognizer committed before, trained on FSDD alone)": FSDD_ONLY_RESULTS,
    "Without the synthetic voices and the pretrained front end (the log-mel recognizer committed before that, FSDD alone)": LOG_MEL_RESULTS,
}


def metrics_table(results):
    lines = [
        "| test set | single digits: LSTM-CTC | single digits: 1-NN baseline | single digits: speech embedding + logistic regression "
        "| connected strings: digit error rate | connected strings: whole-string accuracy |",
        "|---|---|---|---|---|---|",
    ]
    percent = lambda value: "n/a" if value is None else f"{value:.1f}%"  # noqa: E731
    for name, values in results.items():
        lines.append(
            f"| {name} | {values['single_digit_accuracy']:.1f}% | {percent(values.get('nearest_neighbour_accuracy'))} | "
            f"{percent(values.get('embedding_regression_accuracy'))} | {values['digit_error_rate']:.2f}% | {values['string_accuracy']:.1f}% |"
        )
    for caption, earlier in EARLIER_RESULTS.items():
        lines += ["", f"{caption}:", "",
                  "| test set | single digits: LSTM-CTC | connected strings: digit error rate | connected strings: whole-string accuracy |",
                  "|---|---|---|---|"]
        for name, values in earlier.items():
            lines.append(f"| {name} | {values['single_digit_accuracy']:.1f}% | {values['digit_error_rate']:.2f}% | {values['string_accuracy']:.1f}% |")
    return "\n".join(lines)


def plot(zoo_model, path):
    """A connected test string: its log-mel spectrogram and the model's per-step digit probabilities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, test_clips = spoken_digits.official_split(spoken_digits.load_clips())
    audio, references = test_strings(test_clips, count=1, seed=7)
    heard = zoo_model.recognize(audio[0])
    recording = zoo_model.prepare(audio[0])
    if zoo_model.hears_embeddings:
        # Embedding k reads frames 8k to 8k + 75: drawn at its window's middle.
        features = "log_mel_frames"
        step_seconds = speech_embedding.WINDOW_STRIDE * speech_embedding.HOP / speech_embedding.SAMPLE_RATE
        window = (speech_embedding.WINDOW_FRAMES - 1) * speech_embedding.HOP + speech_embedding.FFT_SIZE
        first_step = window / 2 / speech_embedding.SAMPLE_RATE
    else:
        features, step_seconds, first_step = "log_mel", SUBSAMPLING * FRAME_STEP / SAMPLE_RATE, 0.0
    features = keras.Model(zoo_model.model.input, zoo_model.model.get_layer(features).output)
    mel = keras.ops.convert_to_numpy(features(recording[None]))[0]
    logits = keras.ops.convert_to_numpy(zoo_model.model(recording[None]))[0]
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    seconds = len(recording) / zoo_model.sample_rate
    top.imshow(mel.T, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[1]), cmap="magma")
    top.set_ylabel("mel band")
    top.set_title(f"said: {references[0]}    heard: {heard}   (a test string the model never trained on)")
    steps = first_step + np.arange(len(probabilities)) * step_seconds
    colours = {}
    for digit in range(10):
        colours[digit] = bottom.plot(steps, probabilities[:, digit + 1], lw=1.2)[0].get_color()
    best = probabilities.argmax(axis=-1)
    for step in np.flatnonzero((best != BLANK) & (np.r_[BLANK, best[:-1]] != best)):
        digit = int(best[step]) - 1
        bottom.text(steps[step], 1.02, str(digit), color=colours[digit], ha="center")
    bottom.plot(steps, probabilities[:, BLANK], color="lightgray", lw=0.8, label="blank")
    bottom.set_ylim(0, 1.12)
    bottom.set_ylabel("P(digit)")
    bottom.set_xlabel("seconds")
    bottom.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --- export ------------------------------------------------------------------

EXPORTED_FILES = {"onnx": "digit_speech_recognizer.onnx", "tflite": "digit_speech_recognizer.tflite"}


def export_sample(zoo_model):
    """A connected test string of the official split (never trained on), prepared as
    `recognize` prepares it: (1, samples) at the network's rate."""
    _, test_clips = spoken_digits.official_split(spoken_digits.load_clips())
    audio, _ = test_strings(test_clips, count=1, seed=7)
    return zoo_model.prepare(audio[0])[None]


def export(zoo_model, folder, formats=("onnx", "tflite"), sample=None):
    """Writes the whole network to `folder`, raw audio in, per-step CTC scores out (the
    speech embedding front end included: its layers export themselves), each file
    checked against Keras by its exporter on `sample` (default `export_sample`). ONNX
    takes any batch and length; TFLite batch 1, any length. A device does what
    `recognize` does around the network: resample to `sample_rate`, pad with silence
    (`prepare`), run the file, then `greedy_decode` (best class per step, repeats
    merged, blanks dropped). Returns the exporters' reports by file name."""
    from keras_lstm.export.onnx import to_onnx
    from keras_lstm.export.tflite import to_tflite

    exporters = {"onnx": to_onnx, "tflite": lambda model, path, **kwargs: to_tflite(model, path, batch_size=1, **kwargs)}
    unknown = [form for form in formats if form not in EXPORTED_FILES]
    if unknown:
        raise ValueError(f"formats={list(formats)!r}; expected some of {sorted(EXPORTED_FILES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sample = export_sample(zoo_model) if sample is None else np.asarray(sample, "float32")
    return {
        EXPORTED_FILES[form]: exporters[form](zoo_model.model, folder / EXPORTED_FILES[form], sample_inputs=sample)
        for form in formats
    }


# --- `keras-lstm zoo run digit-speech-recognizer FILE.wav ...` -------------


def run(zoo_model, argv):
    parser = argparse.ArgumentParser(
        prog=f"keras-lstm zoo run {NAME}", description="Print the digits heard in each WAV file (16-bit mono)."
    )
    parser.add_argument("files", nargs="+", help="WAV files")
    args = parser.parse_args(argv)
    recordings = []
    for path in args.files:
        audio, rate = spoken_digits.read_wav(path)
        recordings.append(spoken_digits.resample(recording_samples(audio, path), rate, zoo_model.sample_rate))
    for path, digits in zip(args.files, zoo_model.recognize(recordings, sample_rate=zoo_model.sample_rate)):
        print(f"{path}: {digits}")
    return 0
