"""The TensorFlow GPU fast path: cuDNN through Keras's own TensorFlow function.

keras.layers.LSTM on a GPU calls `keras.src.backend.tensorflow.rnn.lstm`,
which runs cuDNN's `CudnnRNNV3`; calling the same function (keras is pinned)
gives our layer the kernel and the weight packing that Keras tests, instead
of kernel code of our own. Keras's gate order is ours, so the weights go in
as they are.
"""

import importlib

import tensorflow as tf

# The module, not the package attribute of the same name (the `rnn` function).
keras_tensorflow_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")


def gpu_available():
    return bool(tf.config.list_logical_devices("GPU"))


def cudnn_lstm_sequence(cell, sequences, initial_state, go_backwards=False, input_dropout_mask=None):
    """Same contract as `recurrence.lstm_sequence`, for the plain LSTM with a
    bias and no mask. Raises NotImplementedError (the caller falls back to
    the loop) when Keras's function does."""
    x = tf.convert_to_tensor(sequences)
    if input_dropout_mask is not None:
        x = x * input_dropout_mask[:, None, :]
    h0, c0 = initial_state
    return keras_tensorflow_rnn.lstm(
        x,
        h0,
        c0,
        None,
        kernel=cell.kernel,
        recurrent_kernel=cell.recurrent_kernel,
        bias=cell.bias,
        activation=cell.activation,
        recurrent_activation=cell.recurrent_activation,
        return_sequences=True,  # the contract: every step's output
        go_backwards=go_backwards,
        unroll=False,
    )
