"""keras_lstm layers in a tf-keras twin model for TFLite: the fused
`UNIDIRECTIONAL_SEQUENCE_LSTM` where the op takes the cell, plain builtins
otherwise.

- Fused: a tf-keras LSTM of the output's width stands in while the converter
  fuses it; `tflite_fused_lstm` then writes the cell's weights and options
  into the op. A right-padded mask (as `Embedding(mask_zero=True)` on
  post-padded ids gives) is written around the op, which has no sequence
  lengths: a forward LSTM over a right-padded sequence is exact up to each
  row's length, so its final state is read at length - 1; a backward LSTM
  runs forward over each row reversed within its length and is reversed
  back. The op outputs only the sequence: a graph that uses an LSTM's final
  cell state c has that LSTM run as the loop below instead.
- Otherwise (what the op does not take, in `variants.py`; an initial state
  over a sequence; the final c used): the reference loop,
  `recurrence.lstm_sequence` over `gates.step`, in TensorFlow ops
  (`TensorFlowOps`), a `tf.while_loop` that converts to the builtin `WHILE`.
- One step from given states (a decoder step, a streaming model): the same
  step in plain builtins, no loop.
"""

import functools

import keras
import numpy as np

from keras_lstm import gates, variants
from keras_lstm.recurrence import lstm_sequence
from keras_lstm.export import common
from keras_lstm.export.common import Recurrent

# A distinct forget-gate bias for each stand-in LSTM, by which the rewrite
# finds its op (the converter does not keep the layers' order).
_FIRST_MARKER = 0.125


def tf_activation(name):
    """common.ACTIVATIONS as TensorFlow functions, with Keras 3's definitions
    (tf-keras's hard_sigmoid is another function)."""
    import tensorflow as tf

    functions = {
        "linear": lambda x: x,
        "tanh": tf.tanh,
        "sigmoid": tf.sigmoid,
        "relu": tf.nn.relu,
        "hard_sigmoid": lambda x: tf.nn.relu6(x + 3.0) / 6.0,
        "softmax": lambda x: tf.nn.softmax(x, axis=-1),
    }
    assert set(functions) == set(common.ACTIVATIONS)
    return functions[name]


class TensorFlowOps:
    """`gates.KerasOps`'s operations in TensorFlow, whatever Keras's backend."""

    def __init__(self):
        import tensorflow as tf

        self.tf = tf

    def matmul(self, x, w):
        return self.tf.matmul(x, w) if len(x.shape) == 2 else self.tf.einsum("...i,ij->...j", x, w)

    def activation(self, function, x):
        return tf_activation(common.activation_name(function, "An LSTM"))(x)

    def clip(self, x, bound):
        return self.tf.clip_by_value(x, -bound, bound)

    def split(self, x, count):
        return self.tf.split(x, count, axis=-1)

    def layer_norm(self, x, scale, center, epsilon):
        tf = self.tf
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        variance = tf.reduce_mean(tf.square(x - mean), axis=-1, keepdims=True)
        y = (x - mean) * tf.math.rsqrt(variance + epsilon) * scale
        return y if center is None else y + center

    # What the sequence loop needs besides the step.
    def convert_to_tensor(self, x):
        return self.tf.convert_to_tensor(x)

    def expand_dims(self, x, axis):
        return self.tf.expand_dims(x, axis)

    def transpose(self, x, axes):
        return self.tf.transpose(x, axes)

    def cast(self, x, dtype):
        return self.tf.cast(x, dtype)

    def flip(self, x, axis):
        return self.tf.reverse(x, [axis])

    def where(self, condition, x, y):
        return self.tf.where(condition, x, y)

    def zeros_like(self, x):
        return self.tf.zeros_like(x)

    def stack(self, xs, axis):
        return self.tf.stack(xs, axis)

    # What layers with their own `export_tflite` use (common.OWN_EXPORT), with keras.ops's signatures.
    def abs(self, x):
        return self.tf.abs(x)

    def log(self, x):
        return self.tf.math.log(x)

    def maximum(self, x, y):
        return self.tf.maximum(x, y)

    def max(self, x, axis=None, keepdims=False):
        return self.tf.reduce_max(x, axis=axis, keepdims=keepdims)

    def squeeze(self, x, axis=None):
        return self.tf.squeeze(x, axis)

    def pad(self, x, pad_width):
        return self.tf.pad(x, pad_width)

    def leaky_relu(self, x, negative_slope=0.2):
        return self.tf.nn.leaky_relu(x, alpha=negative_slope)

    def conv(self, x, kernel, strides=1, padding="valid"):
        """Channels last, as keras.ops.conv: 1-D or 2-D by the kernel's rank."""
        return self.tf.nn.convolution(x, kernel, strides=strides, padding=padding.upper())

    def max_pool(self, x, pool_size, strides=None, padding="valid"):
        return self.tf.nn.max_pool(x, pool_size, strides if strides is not None else pool_size, padding.upper())


def tf_params(cell, weights):
    """The cell's options and its `weights` ({name: numpy array}, read outside any
    trace: a Keras variable cannot be read inside tf-keras's graph on every
    backend) for `gates.step`, as TensorFlow constants."""
    import tensorflow as tf

    return gates.read_params(cell, lambda variable, name: tf.constant(weights[name]))


class Twin:
    """What the rebuild collects besides the tf-keras graph: each stand-in's
    marker, cell and weights (to write into its op), the streaming states,
    the fallbacks, and the layers whose final c is used."""

    def __init__(self, tf, tf_keras, batch_size, streaming, quantize, needs_cell_state):
        self.tf, self.tf_keras = tf, tf_keras
        self.batch_size, self.streaming, self.quantize = batch_size, streaming, quantize
        self.needs_cell_state = needs_cell_state  # layer names, found by a first pass
        self.fused = []  # (marker, cell, {name: numpy weight}) per float stand-in
        self.stand_ins = 0  # fused LSTM ops the twin will have
        self.state_inputs, self.state_outputs, self.states = [], [], []
        self.fallbacks = []
        self.pending_weights = []  # (tf-keras layer, weights) set once the twin is built
        self.names = set()  # of the twin's layers: two StackedLSTMs both have an "lstm_0"

    def name(self, name):
        return common.unique_name(name, self.names)

    def next_marker(self):
        return _FIRST_MARKER + 0.25 * len(self.fused)


class CellStateUsed(Exception):
    """An LSTM's final c reached another layer, and its fused op cannot give it."""

    def __init__(self, layer_name):
        super().__init__(layer_name)
        self.layer_name = layer_name


class _NoCellState:
    """Stands for a fused LSTM's final c until something reads it."""

    def __init__(self, layer_name):
        self.layer_name = layer_name


def check_no_cell_state(values):
    for value in keras.tree.flatten(values):
        if isinstance(value, _NoCellState):
            raise CellStateUsed(value.layer_name)


def emit(twin, layer, x, mask=None, initial_state=None):
    """The tf-keras twin of one LSTM layer (a keras_lstm.LSTM or a Bidirectional
    of one) reading `x`; returns what Keras's layer returns."""
    recurrent = Recurrent.of(layer)
    if twin.streaming:
        return _streaming_step(twin, recurrent, x, mask, initial_state)
    if initial_state is not None and x.shape[1] == 1 and not recurrent.bidirectional:
        return _one_step(twin, recurrent, x, mask, initial_state)
    refusals = recurrent.refusals(variants.TFLITE_QUANTIZED if twin.quantize else variants.TFLITE_FUSED)
    if twin.quantize and refusals:
        raise ValueError(
            f"Layer {recurrent.name!r}: quantized TFLite export takes the plain LSTM; this one has "
            f"{', '.join(refusals)}. Export it in float32."
        )
    reasons = list(refusals)
    if initial_state is not None:
        reasons.append("an initial state over a sequence")
    if recurrent.name in twin.needs_cell_state:
        reasons.append("its final cell state is used")
    if reasons:
        twin.fallbacks.append(f"{recurrent.name}: {', '.join(reasons)} -> a WHILE loop of plain builtins")
        return _loop(twin, recurrent, x, mask, initial_state)
    return _fused(twin, recurrent, x, mask)


def scan_into_buffers(step, init, xs):
    """`keras.ops.scan`'s contract in TensorFlow ops that TFLite runs at any batch
    size and length: a `tf.while_loop` (builtin WHILE) writing each step's
    outputs into buffers with `tensor_scatter_nd_update`. A TensorArray, as
    `keras_lstm.tf_scan` uses for training, needs a static element shape, which
    would fix the batch (docs/tflite-fused-lstm.md)."""
    import tensorflow as tf
    from keras.src import tree

    xs_flat = tree.flatten(xs)
    steps = tf.shape(xs_flat[0])[0]
    init_flat = tree.flatten(init)
    buffers = [tf.zeros(tf.concat([[steps], tf.shape(x)], 0), x.dtype) for x in init_flat]

    def body(t, carry_flat, buffers):
        carry, emitted = step(tree.pack_sequence_as(init, carry_flat), tree.pack_sequence_as(xs, [x[t] for x in xs_flat]))
        buffers = [tf.tensor_scatter_nd_update(b, [[t]], y[None]) for b, y in zip(buffers, tree.flatten(emitted))]
        return t + 1, tree.flatten(carry), buffers

    _, carry_flat, buffers = tf.while_loop(lambda t, *_: t < steps, body, (0, init_flat, buffers))
    return tree.pack_sequence_as(init, carry_flat), tree.pack_sequence_as(init, buffers)


@functools.cache
def _layers(tf_keras):
    """The tf-keras layers that compute a keras_lstm LSTM in TensorFlow ops:
    (the reference loop, one step)."""
    import tensorflow as tf

    class CellLayer(tf_keras.layers.Layer):
        def __init__(self, lstm, **kwargs):
            super().__init__(**kwargs)
            self.lstm = lstm
            self.numpy_weights = common.lstm_weights(lstm)

        def params(self):
            return tf_params(self.lstm.cell, self.numpy_weights)

    class LoopLSTM(CellLayer):
        """The reference loop in TF ops: (last output, outputs, h, c)."""

        def call(self, x, mask=None, initial_state=None):
            lstm, cell = self.lstm, self.lstm.cell
            if initial_state is None:
                # Zeros of the input's batch, computed from the input: a
                # tf.zeros of tf.shape(x)[0] would be folded into a constant of
                # the exported batch, and the file would run at no other.
                batch_zeros = tf.zeros_like(x[:, 0, :1])
                initial_state = [batch_zeros + tf.zeros([1, size]) for size in (cell.hidden_size, cell.units)]
            zoneout = common.inference_zoneout(cell)
            last, outputs, (h, c) = lstm_sequence(
                cell,
                x,
                list(initial_state),
                mask=mask,
                go_backwards=lstm.go_backwards,
                zero_output_for_mask=lstm.zero_output_for_mask,
                params=self.params(),
                F=TensorFlowOps(),
                scan=scan_into_buffers,
                zoneout_cell_keep=zoneout["keep_c"],
                zoneout_hidden_keep=zoneout["keep_h"],
            )
            return last, outputs, h, c

    class StepLSTM(CellLayer):
        """One step of `gates.step` from given states: plain builtins."""

        def call(self, x, h, c):
            p, F = self.params(), TensorFlowOps()
            return gates.step(p, gates.project_input(p, x, F), h, c, F, **common.inference_zoneout(self.lstm.cell))

    return LoopLSTM, StepLSTM


def _loop(twin, recurrent, x, mask, initial_state):
    tf = twin.tf
    loop = _layers(twin.tf_keras)[0]
    states = keras.tree.flatten(initial_state) if initial_state is not None else None
    sequences, lasts, finals = [], [], []
    for index, lstm in enumerate(recurrent.directions):
        given = states[2 * index : 2 * index + 2] if states is not None else None
        last, sequence, h, c = loop(lstm, name=twin.name(f"{lstm.name}_loop"))(x, mask=mask, initial_state=given)
        if recurrent.bidirectional and lstm.go_backwards:
            sequence = tf.reverse(sequence, [1])  # Bidirectional's backward half in time order
        sequences.append(sequence)
        lasts.append(last)
        finals += [h, c]
    concat = lambda values: values[0] if len(values) == 1 else tf.concat(values, axis=-1)  # noqa: E731
    output = concat(sequences) if recurrent.first.return_sequences else concat(lasts)
    return [output, *finals] if recurrent.first.return_state else output


def _one_step(twin, recurrent, x, mask, initial_state):
    """An LSTM from given states over a one-step sequence (a decoder step). A
    masked step keeps the states and outputs zeros, as Keras's RNN does."""
    tf = twin.tf
    lstm = recurrent.first
    h, c = keras.tree.flatten(initial_state)
    h_next, c_next = _layers(twin.tf_keras)[1](lstm, name=twin.name(f"{lstm.name}_step"))(x[:, 0], h, c)
    output = h_next
    if mask is not None:
        step = tf.cast(mask, tf.bool)[:, :1]
        h_next, c_next = tf.where(step, h_next, h), tf.where(step, c_next, c)
        output = tf.where(step, output, tf.zeros_like(output))
    result = output[:, None, :] if lstm.return_sequences else output
    return [result, h_next, c_next] if lstm.return_state else result


def _streaming_step(twin, recurrent, x, mask, initial_state):
    """One step with the layer's h and c as model inputs and outputs."""
    recurrent.check_streaming()
    if mask is not None or initial_state is not None:
        raise ValueError(f"Layer {recurrent.name!r}: a streaming step takes no mask and no initial_state.")
    lstm, cell = recurrent.first, recurrent.cell
    states = []
    for name, size in (("h", cell.hidden_size), ("c", cell.units)):
        state_name = common.unique_name(f"{lstm.name}_{name}", {existing for existing, _ in twin.states})
        states.append(twin.tf_keras.Input((size,), batch_size=twin.batch_size, name=state_name))
        twin.states.append((state_name, size))
    twin.state_inputs += states
    h_next, c_next = _layers(twin.tf_keras)[1](lstm, name=twin.name(f"{lstm.name}_step"))(x, *states)
    twin.state_outputs += [h_next, c_next]
    return h_next


def _reverse_within_lengths(tf, x, lengths):
    """Each row's first `lengths` steps reversed; the padding after them (any values) stays after."""
    positions = tf.range(tf.shape(x)[1])[None, :]
    index = tf.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)
    return tf.gather(x, index, batch_dims=1)


def _stand_in(twin, lstm):
    """A tf-keras LSTM that the converter fuses, of the op's output width.

    Float: random weights and a marker bias; the op gets `lstm`'s weights
    and options afterwards (`tflite_fused_lstm`). Quantized: the real weights,
    which the converter quantizes itself (plain LSTMs only)."""
    cell = lstm.cell
    real = common.lstm_weights(lstm)
    use_bias = cell.use_bias or not twin.quantize
    stand_in = twin.tf_keras.layers.LSTM(
        cell.hidden_size, use_bias=use_bias, return_sequences=True, name=twin.name(f"{lstm.name}_fused")
    )
    if twin.quantize:
        values = [real[name] for name in ("kernel", "recurrent_kernel", "bias") if name in real]
    else:
        # Distinct random weights: equal constants can be merged by the
        # converter (with a state of the same shape, even); all are replaced.
        rng = np.random.default_rng(len(twin.fused))
        width = 4 * cell.hidden_size
        marker = twin.next_marker()
        values = [
            rng.uniform(-0.1, 0.1, (real["kernel"].shape[0], width)).astype("float32"),
            rng.uniform(-0.1, 0.1, (cell.hidden_size, width)).astype("float32"),
            np.full(width, marker, "float32"),
        ]
        twin.fused.append((marker, cell, real))
    twin.pending_weights.append((stand_in, values))
    twin.stand_ins += 1
    return stand_in


def _fused(twin, recurrent, x, mask):
    if mask is None:
        return _fused_unmasked(twin, recurrent, x)
    tf = twin.tf
    first = recurrent.first
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    valid = tf.range(tf.shape(x)[1])[None, :] < lengths[:, None]
    outputs, finals = [], []
    for lstm in recurrent.directions:
        backward = lstm.go_backwards
        inputs = _reverse_within_lengths(tf, x, lengths) if backward else x
        sequence = _stand_in(twin, lstm)(inputs)
        finals.append(tf.gather(sequence, lengths - 1, batch_dims=1))
        if backward:
            sequence = _reverse_within_lengths(tf, sequence, lengths)
            if not recurrent.bidirectional:
                # Keras's go_backwards order: the padding first (zeros), then the
                # real steps from last to first.
                sequence = tf.reverse(tf.where(valid[:, :, None], sequence, tf.zeros_like(sequence)), axis=[1])
        outputs.append(sequence)
    sequence = tf.concat(outputs, axis=-1) if recurrent.bidirectional else outputs[0]
    if not (first.go_backwards and not recurrent.bidirectional):
        if first.zero_output_for_mask:
            fill = tf.zeros_like(sequence)
        else:  # Keras repeats the last output over the padding (forward half)
            last = tf.concat([finals[0], tf.zeros_like(finals[1])], axis=-1) if recurrent.bidirectional else finals[0]
            fill = tf.broadcast_to(last[:, None, :], tf.shape(sequence))
        sequence = tf.where(valid[:, :, None], sequence, fill)
    return _fused_outputs(recurrent, sequence, finals)


def _fused_unmasked(twin, recurrent, x):
    """Without a mask nothing depends on the batch size, so the file runs at any."""
    tf = twin.tf
    outputs, finals = [], []
    for lstm in recurrent.directions:
        # Keras's go_backwards: the reversed sequence, outputs in the order processed.
        sequence = _stand_in(twin, lstm)(tf.reverse(x, [1]) if lstm.go_backwards else x)
        finals.append(sequence[:, -1])
        if lstm.go_backwards and recurrent.bidirectional:
            sequence = tf.reverse(sequence, [1])  # Bidirectional puts its backward half in time order
        outputs.append(sequence)
    sequence = tf.concat(outputs, axis=-1) if recurrent.bidirectional else outputs[0]
    return _fused_outputs(recurrent, sequence, finals)


def _fused_outputs(recurrent, sequence, finals):
    tf = __import__("tensorflow")
    first = recurrent.first
    output = sequence if first.return_sequences else tf.concat(finals, axis=-1)
    if not first.return_state:
        return output
    states = []
    for final in finals:
        states += [final, _NoCellState(recurrent.name)]
    return [output, *states]
