"""The JAX GPU fast path: cuDNN's fused LSTM through `jax.experimental.rnn`.

Keras's JAX backend has no cuDNN LSTM (keras.layers.LSTM runs a `lax.scan`
on GPU too); JAX itself ships the cuDNN kernel with its gradient. cuDNN's
gate order is torch's (i, f, g, o), which is Keras's (i, f, c, o), so the
Keras weights go in transposed, with no reordering, and a zero second bias.
"""

import jax
import jax.numpy as jnp
from jax.experimental import rnn as jax_rnn

from keras_lstm import padding
from keras_lstm.recurrence import lstm_sequence


def gpu_available():
    return jax.default_backend() == "gpu"


def pack_weights(cell):
    """The cell's weights as cuDNN's flat vector: W_ih, W_hh, b_ih, b_hh."""
    kernel = jnp.asarray(cell.kernel.value)
    recurrent_kernel = jnp.asarray(cell.recurrent_kernel.value)
    if cell.use_bias:
        bias = jnp.asarray(cell.bias.value)
    else:
        bias = jnp.zeros((4 * cell.units,), kernel.dtype)
    return jnp.concatenate(
        [kernel.T.ravel(), recurrent_kernel.T.ravel(), bias, jnp.zeros_like(bias)]
    )


def right_padded(mask):
    """Traced predicate: each row of `mask` is ones then zeros, at least one one."""
    lengths = jnp.sum(mask, axis=1, dtype="int32")
    steps = jnp.arange(mask.shape[1], dtype="int32")
    return jnp.logical_and(
        jnp.min(lengths) > 0, jnp.all(mask == (steps[None, :] < lengths[:, None]))
    )


def maybe_right_padded(mask):
    """False only for a concrete mask that is not right-padded."""
    if isinstance(mask, jax.core.Tracer):
        return True
    return bool(right_padded(jnp.asarray(mask, "bool")))


def cudnn_lstm_sequence(
    cell,
    sequences,
    initial_state,
    mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    input_dropout_mask=None,
    fused_lstm=None,
):
    """Same contract as `recurrence.lstm_sequence`.

    Takes the plain LSTM with no recurrent dropout. A mask goes to cuDNN as
    sequence lengths when it is right-padded (with `go_backwards`, each
    sequence reversed within its length); as the mask is usually traced,
    that is decided at run time with `lax.cond`, and any other mask runs the
    scan.

    `fused_lstm` replaces `jax.experimental.rnn.lstm` (same signature), so
    the packing can be checked on a machine without a GPU.
    """
    fused_lstm = fused_lstm or jax_rnn.lstm
    x = jnp.asarray(sequences)
    if input_dropout_mask is not None:
        x = x * input_dropout_mask[:, None, :]
    if go_backwards and mask is None:
        x = jnp.flip(x, axis=1)
    batch, steps = x.shape[0], x.shape[1]
    h0, c0 = (jnp.asarray(state)[None] for state in initial_state)

    def fused(lengths):
        inputs = x
        if go_backwards and mask is not None:
            inputs = padding.reverse_within_lengths(x, lengths)
        outputs, h, c = fused_lstm(
            inputs,
            h0,
            c0,
            pack_weights(cell),
            lengths,
            input_size=x.shape[-1],
            hidden_size=cell.units,
            num_layers=1,
            dropout=0.0,
            bidirectional=False,
        )
        h, c = h[0], c[0]
        if mask is not None and go_backwards:
            return h, padding.backward_outputs(outputs, lengths), [h, c]
        if mask is not None:
            # Keras semantics: a padded step repeats the last output (cuDNN
            # writes zeros there).
            fill = jnp.zeros_like(h) if zero_output_for_mask else h
            outputs = jnp.where(mask[:, :, None], outputs, fill[:, None, :])
        return h, outputs, [h, c]

    if mask is None:
        return fused(jnp.full((batch,), steps, "int32"))
    mask = jnp.asarray(mask, "bool")

    def scan(_):
        return lstm_sequence(
            cell,
            sequences,
            initial_state,
            mask=mask,
            go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask,
            input_dropout_mask=input_dropout_mask,
            project_inputs_first=False,
        )

    return jax.lax.cond(
        right_padded(mask),
        lambda _: fused(jnp.sum(mask, axis=1, dtype="int32")),
        scan,
        None,
    )
