"""TFLite for functional Keras models that are not a chain: an encoder, a decoder step.

Like `to_tflite` for chains, the model is rebuilt in tf-keras with the same
weights and converted at a fixed batch and length, so that each LSTM over a
sequence becomes TFLite's fused `UNIDIRECTIONAL_SEQUENCE_LSTM` builtin and
nothing needs Flex ops. What that op cannot do is written around it:

- A mask (right-padded, as `Embedding(mask_zero=True)` on post-padded ids
  gives): the fused op has no sequence lengths, but a forward LSTM over a
  right-padded sequence is exact up to each row's length, so its final state
  is read at position length - 1. A backward LSTM runs forward over each
  row reversed within its length (a gather), and its outputs are reversed
  back. Padded positions then get what Keras gives them.
- The op outputs only the sequence, not the cell state c: a graph that uses
  an encoder's final c cannot export (a `ValueError` says which layer).
- An LSTM started from given states over one step (a decoder step) is a few
  plain builtins (`tf-keras` `LSTMCell`), with no loop.

Layers: `keras_lstm.LSTM` (plain), `Bidirectional` of one, `Embedding`,
`Dense`, `Concatenate`, `Add`, `Attention` (dot scores), `AdditiveAttention`, `Reshape`,
`Identity`, `Dropout`, `Activation`, fixed slices (`x[..., -16:]`), and the `not_equal` op of
Embedding's mask.
"""

import keras
import numpy as np

from keras_lstm.export.onnx_functional import slice_bounds
from keras_lstm.export.tflite import _check_plain, _tf_keras_lstm
from keras_lstm.interop import _directions, _read_weights
from keras_lstm.lstm import LSTM


class _NoCellState:
    """Stands for an encoder's final c, which the fused op does not output."""

    def __init__(self, layer):
        self.layer = layer


def rebuild(model, batch_size, steps):
    """(tf-keras twin, input specs): `model` with every free axis fixed to `steps`."""
    import tensorflow as tf
    import tf_keras

    inputs, specs = [], []
    for tensor in model.inputs:
        shape = tuple(d if d is not None else steps for d in tensor.shape[1:])
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        inputs.append(tf_keras.Input(shape, batch_size=batch_size, dtype=dtype, name=tensor.name))
        specs.append(tf.TensorSpec((batch_size, *shape), tf.as_dtype(dtype), name=tensor.name))
    pending_weights = []

    def operation(layer):
        return lambda *args, **kwargs: _emit(tf, tf_keras, layer, pending_weights, *args, **kwargs)

    outputs = keras.tree.flatten(model._run_through_graph(inputs, operation_fn=operation))
    for output in outputs:
        if isinstance(output, _NoCellState):
            raise ValueError(_cell_state_message(output.layer))
    twin = tf_keras.Model(inputs, outputs)
    for rebuilt, weights in pending_weights:
        rebuilt.set_weights(weights)
    return twin, specs


def _cell_state_message(layer):
    return (
        f"Layer {layer.name!r}'s final cell state c is used, but TFLite's fused LSTM op outputs only "
        "the sequence: build the model from the final outputs h instead (as keras_lstm's zoo seq2seq does)."
    )


def _emit(tf, tf_keras, layer, pending_weights, *args, **kwargs):
    for value in keras.tree.flatten((args, kwargs)):
        if isinstance(value, _NoCellState):
            raise ValueError(_cell_state_message(value.layer))
    x = args[0]
    if isinstance(layer, (keras.layers.Dropout, keras.layers.InputLayer)):
        return x
    if isinstance(layer, keras.layers.Identity):
        return tf_keras.layers.Activation("linear", name=layer.name)(x)
    if type(layer).__name__ == "NotEqual" and len(args) == 2 and np.isscalar(args[1]):
        return tf.math.not_equal(x, args[1])
    if isinstance(layer, keras.layers.Embedding):
        rebuilt = tf_keras.layers.Embedding(layer.input_dim, layer.output_dim, name=layer.name)
        pending_weights.append((rebuilt, layer.get_weights()))
        return rebuilt(x)
    if isinstance(layer, keras.layers.Dense):
        activation = keras.activations.serialize(layer.activation)
        rebuilt = tf_keras.layers.Dense(layer.units, activation=activation, use_bias=layer.use_bias, name=layer.name)
        pending_weights.append((rebuilt, layer.get_weights()))
        return rebuilt(x)
    if isinstance(layer, keras.layers.Activation):
        return tf_keras.layers.Activation(keras.activations.serialize(layer.activation))(x)
    if isinstance(layer, keras.layers.Concatenate):
        return tf_keras.layers.Concatenate(axis=layer.axis)(list(x))
    if isinstance(layer, keras.layers.Add):
        return tf_keras.layers.Add()(list(x))
    if type(layer).__name__ == "GetItem":
        slice_bounds(layer, args[1])  # the same keys as the ONNX export, or its ValueError
        return x[args[1]]
    if isinstance(layer, keras.layers.Reshape):
        return tf_keras.layers.Reshape(layer.target_shape, name=layer.name)(x)
    if isinstance(layer, (keras.layers.Attention, keras.layers.AdditiveAttention)):
        return _attention(tf, layer, x, kwargs)
    if isinstance(layer, LSTM) or (isinstance(layer, keras.layers.Bidirectional) and isinstance(layer.forward_layer, LSTM)):
        return _recurrent(tf, tf_keras, layer, pending_weights, x, kwargs.get("mask"), kwargs.get("initial_state"))
    raise ValueError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no TFLite export in a functional graph. Supported: "
        "keras_lstm.LSTM, Bidirectional(keras_lstm.LSTM), Embedding, Dense, Concatenate, Add, Attention, "
        "Reshape, Identity, Dropout, Activation, fixed slices."
    )


def _attention(tf, layer, inputs, kwargs):
    additive = isinstance(layer, keras.layers.AdditiveAttention)
    if kwargs.get("use_causal_mask") or (not additive and (layer.score_mode != "dot" or layer.use_scale)):
        raise ValueError(f"Layer {layer.name!r}: only dot or additive scores without causal mask export.")
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    query_mask, value_mask = kwargs.get("mask") or (None, None)
    if additive:
        summed = tf.tanh(query[:, :, None, :] + key[:, None, :, :])
        if layer.use_scale:
            summed = summed * keras.ops.convert_to_numpy(layer.scale)
        scores = tf.reduce_sum(summed, axis=-1)
    else:
        scores = tf.matmul(query, key, transpose_b=True)
    if value_mask is not None:
        scores = tf.where(tf.cast(value_mask, tf.bool)[:, None, :], scores, scores - 1e9)
    weights = tf.nn.softmax(scores, axis=-1)
    output = tf.matmul(weights, value)
    if query_mask is not None:
        output = tf.where(tf.cast(query_mask, tf.bool)[:, :, None], output, tf.zeros_like(output))
    return (output, weights) if kwargs.get("return_attention_scores") else output


def _reverse_within_lengths(tf, x, lengths):
    """Each row's first `lengths` steps reversed; the padding after them (any values) stays after."""
    steps = x.shape[1]
    positions = tf.range(steps)[None, :]
    index = tf.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)
    return tf.gather(x, index, batch_dims=1)


def _recurrent(tf, tf_keras, layer, pending_weights, x, mask, initial_state):
    directions = _directions(layer)
    for lstm in directions:
        _check_plain(layer, lstm)
    first = directions[0]
    bidirectional = len(directions) == 2
    if bidirectional and layer.merge_mode != "concat":
        raise ValueError(f"Layer {layer.name!r}: only merge_mode='concat' exports.")
    if initial_state is not None:
        return _one_step(tf, tf_keras, layer, first, pending_weights, x, initial_state)
    steps = x.shape[1]
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1) if mask is not None else tf.fill([tf.shape(x)[0]], steps)
    valid = tf.range(steps)[None, :] < lengths[:, None]
    outputs, finals = [], []
    for index, lstm in enumerate(directions):
        rebuilt, weights = _tf_keras_lstm(tf_keras, layer, lstm)
        rebuilt.go_backwards = False  # the reversal is done here, within each row's length
        rebuilt.return_sequences = True
        rebuilt._name = f"{layer.name}_{index}"
        pending_weights.append((rebuilt, weights))
        backward = lstm.go_backwards
        inputs = _reverse_within_lengths(tf, x, lengths) if backward else x
        sequence = rebuilt(inputs)
        finals.append(tf.gather(sequence, lengths - 1, batch_dims=1))
        if backward:
            sequence = _reverse_within_lengths(tf, sequence, lengths)
            if not bidirectional:
                # Keras's go_backwards order: the padding first (zeros), then the
                # real steps from last to first.
                sequence = tf.reverse(tf.where(valid[:, :, None], sequence, tf.zeros_like(sequence)), axis=[1])
        outputs.append(sequence)
    sequence = tf.concat(outputs, axis=-1) if bidirectional else outputs[0]
    if mask is not None and not (first.go_backwards and not bidirectional):
        if first.zero_output_for_mask:
            fill = tf.zeros_like(sequence)
        else:  # Keras repeats the last output over the padding (forward half)
            last = tf.concat([finals[0], tf.zeros_like(finals[1])], axis=-1) if bidirectional else finals[0]
            fill = tf.broadcast_to(last[:, None, :], tf.shape(sequence))
        sequence = tf.where(valid[:, :, None], sequence, fill)
    output = sequence if first.return_sequences else tf.concat(finals, axis=-1)
    if not first.return_state:
        return output
    states = []
    for final in finals:
        states += [final, _NoCellState(layer)]
    return [output, *states]


def _one_step(tf, tf_keras, layer, lstm, pending_weights, x, initial_state):
    """An LSTM from given states over a one-step sequence: the cell, in plain builtins."""
    if isinstance(layer, keras.layers.Bidirectional) or x.shape[1] != 1:
        raise ValueError(
            f"Layer {layer.name!r}: an LSTM given an initial state exports to TFLite as one step "
            f"(a sequence of length 1, forward); got input shape {tuple(x.shape)}."
        )
    cell = tf_keras.layers.LSTMCell(lstm.units, use_bias=lstm.use_bias, name=f"{layer.name}_cell")
    order = ["kernel", "recurrent_kernel"] + (["bias"] if lstm.use_bias else [])
    weights = _read_weights(lstm)
    pending_weights.append((cell, [weights[name] for name in order]))
    h, c = keras.tree.flatten(initial_state)
    output, (h_next, c_next) = cell(x[:, 0], [h, c])
    sequence = output[:, None, :]
    result = sequence if lstm.return_sequences else output
    return [result, h_next, c_next] if lstm.return_state else result
