"""The LSTM equations: gates and new state from the gate pre-activations.

With z = x_t W + h_{t-1} U + b split into four blocks in Keras's order
(i, f, c, o), sigma the recurrent activation and tanh the activation:

    i_t = sigma(z_i)                     input gate
    f_t = sigma(z_f)                     forget gate
    g_t = tanh(z_c)                      candidate cell state
    o_t = sigma(z_o)                     output gate
    c_t = f_t * c_{t-1} + i_t * g_t      cell state
    h_t = o_t * tanh(c_t)                hidden state (the output)
"""

from keras import ops


def lstm_update(z, c_prev, activation, recurrent_activation):
    """Returns (h_t, c_t) from pre-activations `z` (batch, 4 * units)."""
    z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
    input_gate = recurrent_activation(z_i)
    forget_gate = recurrent_activation(z_f)
    candidate = activation(z_c)
    output_gate = recurrent_activation(z_o)
    c = forget_gate * c_prev + input_gate * candidate
    h = output_gate * activation(c)
    return h, c
