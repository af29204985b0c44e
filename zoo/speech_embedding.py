"""Google's speech embedding, as openWakeWord 0.5.1 ships it, rebuilt as Keras layers.

openWakeWord (Apache-2.0) ships two ONNX models that together turn 16 kHz audio into
one 96-value embedding every 80 ms; a classifier trained on the embeddings of a few
speakers hears new speakers well (issue 21: pooled embeddings and a logistic
regression reach 95 % on FSDD speakers they never heard). Here they are Keras layers,
so that a model reading them runs on every backend and exports as one network:

- `LogMelFrames`, melspectrogram.onnx: a 512-point DFT of 400-sample periodic Hann
  windows every 160 samples (no centre padding), power, 32 mel bands (the ONNX file's
  matrix, 60 Hz to 3.8 kHz), 10 log10 with a floor 80 dB below the clip's loudest
  value, then openWakeWord's own `x / 10 + 2`. Input: samples at int16 scale
  (openWakeWord casts int16 PCM to float without scaling), so the loudness matters
  up to the floor.
- `SpeechEmbedding`, embedding_model.onnx: 20 convolutions (batch norm folded in) with
  LeakyReLU(0.2) and a floor at -0.4, and 2x2 or 1x2 max pools, over 76 frames x 32
  bands. Time is never padded and the pools halve it three times, so the network run
  once over a whole spectrogram gives the embeddings of every 76-frame window 8 frames
  apart: (frames - 76) // 8 + 1 of them, as openWakeWord's sliding windows would,
  with about a sixth of the work.

The weights come from the ONNX files of the installed `openwakeword` package
(`from_openwakeword`); a zoo model that reads the embedding saves them in its own
weights file. The DFT kernels are computed (they equal the ONNX file's to 4e-9);
the mel matrix and the convolutions are copied.

One difference on purpose: melspectrogram.onnx takes its 80 dB floor over the whole
batch (a ReduceMax without axes). openWakeWord calls it one clip at a time on CPU, and
so does this layer in effect: the floor is per clip, so a clip's frames do not depend
on what it is batched with.
"""

import importlib.util
from pathlib import Path

import keras
import numpy as np
from keras import ops

PACKAGE = "keras_lstm.zoo"
SAMPLE_RATE = 16000
FULL_SCALE = 32768.0  # openWakeWord's input unit: int16 PCM values, as float
FFT_SIZE, WINDOW_SIZE, HOP = 512, 400, 160
MEL_BANDS = 32
FLOOR_DB = 80.0
LN_10 = 2.3025851  # as the ONNX graph writes it
WINDOW_FRAMES, WINDOW_STRIDE = 76, 8  # what one embedding reads, and how far apart they are
UNITS = 96
LEAK, ACTIVATION_FLOOR = 0.2, -0.4
OPENWAKEWORD = "openwakeword==0.5.1"


def frames(samples):
    """How many log-mel frames `samples` samples give."""
    return max(0, (samples - FFT_SIZE) // HOP + 1)


def embeddings(frame_count):
    """How many embeddings `frame_count` frames give."""
    return max(0, (frame_count - WINDOW_FRAMES) // WINDOW_STRIDE + 1)


def dft_kernels():
    """(FFT_SIZE, 1, 2 * bins) float32: the real parts' kernels, then the imaginary parts'
    (cos and -sin), of a 400-sample periodic Hann window centred in 512 taps."""
    window = np.zeros(FFT_SIZE)
    start = (FFT_SIZE - WINDOW_SIZE) // 2
    window[start:start + WINDOW_SIZE] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW_SIZE) / WINDOW_SIZE)
    angles = 2 * np.pi * np.outer(np.arange(FFT_SIZE), np.arange(FFT_SIZE // 2 + 1)) / FFT_SIZE
    return np.concatenate([window[:, None] * np.cos(angles), -window[:, None] * np.sin(angles)], axis=1)[:, None, :].astype("float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class LogMelFrames(keras.layers.Layer):
    """(batch, samples) at 16 kHz, int16 scale -> (batch, frames(samples), 32) log-mel frames."""

    def build(self, input_shape):
        self.bins = FFT_SIZE // 2 + 1
        self.mel = self.add_weight(shape=(self.bins, MEL_BANDS), initializer="zeros", trainable=False, name="mel")
        self.kernels = dft_kernels()

    def call(self, audio):
        return self.compute(ops, audio, self.mel)

    def compute(self, ops, audio, mel):
        """The layer in `ops`: keras.ops, or their TensorFlow twins for TFLite."""
        spectrum = ops.conv(ops.expand_dims(audio, -1), ops.convert_to_tensor(self.kernels), strides=HOP, padding="valid")
        real, imaginary = spectrum[..., : self.bins], spectrum[..., self.bins:]
        power = ops.matmul(real * real + imaginary * imaginary, mel)
        # The ONNX graph's order: clip at 1e-10, natural log, * 10, / ln 10.
        decibels = ops.log(ops.maximum(power, 1e-10)) * 10.0 / LN_10
        decibels = ops.maximum(decibels, ops.max(decibels, axis=(1, 2), keepdims=True) - FLOOR_DB)
        return decibels / 10.0 + 2.0

    def export_tflite(self, ops, audio):
        return self.compute(ops, audio, keras.ops.convert_to_numpy(self.mel))

    def export_onnx(self, graph, audio):
        scalar = lambda value: graph.constant(np.array(value, np.float32))  # noqa: E731
        axes = lambda *values: graph.constant(np.array(values, np.int64))  # noqa: E731
        # ONNX convolves (batch, channels, samples) with (out, in, taps) kernels.
        spectrum = graph.node(
            "Conv", graph.node("Unsqueeze", audio, axes(1)), graph.constant(self.kernels.transpose(2, 1, 0)), strides=[HOP]
        )
        spectrum = graph.node("Transpose", spectrum, perm=[0, 2, 1])
        real = graph.node("Slice", spectrum, axes(0), axes(self.bins), axes(2))
        imaginary = graph.node("Slice", spectrum, axes(self.bins), axes(2 * self.bins), axes(2))
        squares = graph.node("Add", graph.node("Mul", real, real), graph.node("Mul", imaginary, imaginary))
        power = graph.node("MatMul", squares, graph.constant(keras.ops.convert_to_numpy(self.mel)))
        logs = graph.node("Log", graph.node("Max", power, scalar(1e-10)))
        decibels = graph.node("Div", graph.node("Mul", logs, scalar(10.0)), scalar(LN_10))
        loudest = graph.node("ReduceMax", decibels, axes=[1, 2], keepdims=1)
        decibels = graph.node("Max", decibels, graph.node("Sub", loudest, scalar(FLOOR_DB)))
        return graph.node("Add", graph.node("Div", decibels, scalar(10.0)), scalar(2.0))

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else frames(input_shape[1])
        return (input_shape[0], steps, MEL_BANDS)


# After a stem of three convolutions (24 filters) and a 2x2 pool, four stages of
# (1x3, 3x1, 1x3, 3x1) convolutions, each followed by a pool; then a 3x1 convolution
# without bias or activation. Kernels are (time, band).
STEM = (((3, 3), 24), ((1, 3), 24), ((3, 1), 24))
STAGES = ((48, (1, 2)), (72, (2, 2)), (96, (1, 2)), (96, (2, 2)))
STAGE_KERNELS = ((1, 3), (3, 1), (1, 3), (3, 1))
# The pool before convolution k: after the stem, and after each stage.
POOLS = {len(STEM): (2, 2), **{len(STEM) + len(STAGE_KERNELS) * (k + 1): pool for k, (_, pool) in enumerate(STAGES)}}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpeechEmbedding(keras.layers.Layer):
    """(batch, frames, 32) log-mel frames -> (batch, embeddings(frames), 96). Frozen by
    default (`trainable=False`): it is a pretrained front end."""

    def __init__(self, trainable=False, **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        kernels = [*STEM, *[(kernel, filters) for filters, _ in STAGES for kernel in STAGE_KERNELS], ((3, 1), UNITS)]
        # The ONNX file's names (conv2d, conv2d_1, ...), so the weights copy by name.
        self.convolutions = [
            keras.layers.Conv2D(filters, kernel, use_bias=k < len(kernels) - 1, name="conv2d" + (f"_{k}" if k else ""))
            for k, (kernel, filters) in enumerate(kernels)
        ]

    def build(self, input_shape):
        channels = 1
        for convolution in self.convolutions:
            convolution.build((None, None, None, channels))
            channels = convolution.filters

    def call(self, log_mel):
        return self.compute(ops, log_mel, [c.kernel for c in self.convolutions], [c.bias for c in self.convolutions])

    def compute(self, ops, log_mel, kernels, biases):
        """The layer in `ops` (keras.ops, or their TensorFlow twins for TFLite), with each
        convolution's kernel (time, band, in, out) and bias (None for the last)."""
        x = ops.expand_dims(log_mel, -1)
        last = len(kernels) - 1
        for k, (kernel, bias) in enumerate(zip(kernels, biases)):
            if k in POOLS:
                x = ops.max_pool(x, POOLS[k], strides=POOLS[k])
            if kernel.shape[1] == 3:  # the bands are padded, time never is
                x = ops.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
            x = ops.conv(x, kernel, padding="valid")
            if bias is not None:
                x = x + bias
            if k < last:
                x = ops.maximum(ops.leaky_relu(x, LEAK), ACTIVATION_FLOOR)
        return ops.squeeze(x, axis=2)

    def numpy_weights(self):
        """Each convolution's (kernel, bias or None), as numpy."""
        read = lambda weight: None if weight is None else keras.ops.convert_to_numpy(weight)  # noqa: E731
        return [(read(c.kernel), read(c.bias)) for c in self.convolutions]

    def export_tflite(self, ops, log_mel):
        kernels, biases = zip(*self.numpy_weights())
        return self.compute(ops, log_mel, kernels, biases)

    def export_onnx(self, graph, log_mel):
        # ONNX works in (batch, channels, time, band): the frames become one channel.
        x = graph.node("Unsqueeze", log_mel, graph.constant(np.array([1], np.int64)))
        weights = self.numpy_weights()
        for k, (kernel, bias) in enumerate(weights):
            if k in POOLS:
                x = graph.node("MaxPool", x, kernel_shape=list(POOLS[k]), strides=list(POOLS[k]))
            inputs = [x, graph.constant(kernel.transpose(3, 2, 0, 1))] + ([graph.constant(bias)] if bias is not None else [])
            x = graph.node("Conv", *inputs, pads=[0, 1, 0, 1] if kernel.shape[1] == 3 else [0, 0, 0, 0])
            if k < len(weights) - 1:
                x = graph.node("Max", graph.node("LeakyRelu", x, alpha=LEAK), graph.constant(np.array(ACTIVATION_FLOOR, np.float32)))
        # (batch, 96, embeddings, 1) -> (batch, embeddings, 96)
        return graph.node("Transpose", graph.node("Squeeze", x, graph.constant(np.array([3], np.int64))), perm=[0, 2, 1])

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else embeddings(input_shape[1])
        return (input_shape[0], steps, UNITS)


def openwakeword_models():
    """The folder of the installed openwakeword package's ONNX models, or a FileNotFoundError
    saying how to install it (its dependencies are not needed: only the files are read)."""
    spec = importlib.util.find_spec("openwakeword")
    folder = Path(next(iter(spec.submodule_search_locations))) / "resources" / "models" if spec else None
    if folder is None or not (folder / "embedding_model.onnx").is_file():
        raise FileNotFoundError(
            f"openWakeWord's ONNX models were not found ({folder or 'no openwakeword package'}); "
            f"install them with `pip install --no-deps {OPENWAKEWORD}` (`make setup` does)"
        )
    return folder


def onnx_weights(path):
    """{initializer name: array} of an ONNX file."""
    import onnx
    from onnx import numpy_helper

    return {tensor.name: numpy_helper.to_array(tensor) for tensor in onnx.load(str(path)).graph.initializer}


def from_openwakeword(log_mel, embedding, folder=None):
    """Copies openWakeWord's weights into a built `LogMelFrames` and `SpeechEmbedding`."""
    folder = Path(folder) if folder is not None else openwakeword_models()
    mel = onnx_weights(folder / "melspectrogram.onnx")
    copied = np.concatenate([mel["0.stft.conv_real.weight"], mel["0.stft.conv_imag.weight"]])[:, 0].T
    if np.abs(copied - dft_kernels()[:, 0]).max() > 1e-6:  # what the computed kernels stand for
        raise ValueError(f"{folder / 'melspectrogram.onnx'}: its DFT kernels are not the 400-sample Hann windows expected")
    log_mel.mel.assign(mel["1.melW"])
    convolutions = onnx_weights(folder / "embedding_model.onnx")
    for convolution in embedding.convolutions:
        prefix = f"model/{convolution.name}/Conv2D"
        # ONNX kernels are (out, in, time, band); Keras's (time, band, in, out).
        if convolution.use_bias:
            weights = [convolutions[prefix + "_weights_fused_bn"], convolutions[prefix + "_bias_fused_bn"]]
        else:
            weights = [convolutions[prefix + "/ReadVariableOp:0"]]
        convolution.set_weights([weights[0].transpose(2, 3, 1, 0), *weights[1:]])


def front_end(folder=None):
    """keras.Sequential: (batch, samples) at 16 kHz, int16 scale -> (batch, embeddings, 96),
    with openWakeWord's weights."""
    log_mel, embedding = LogMelFrames(name="log_mel_frames"), SpeechEmbedding(name="speech_embedding")
    model = keras.Sequential([keras.Input((None,), name="audio"), log_mel, embedding], name="speech_front_end")
    from_openwakeword(log_mel, embedding, folder)
    return model
