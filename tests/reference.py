"""An independent float64 numpy LSTM: the equations, step by step.

Written from the paper's equations and Keras's documented conventions (gate
order i, f, c, o; a masked step carries the state and repeats the previous
output, which starts at zero), not from the code under test.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(
    x,
    kernel,
    recurrent_kernel,
    bias=None,
    initial_state=None,
    mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
):
    """Returns (outputs (B, T, H) in processing order, last_output, h, c)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    recurrent_kernel = np.asarray(recurrent_kernel, np.float64)
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    bias = np.zeros(4 * units) if bias is None else np.asarray(bias, np.float64)
    if initial_state is None:
        h = np.zeros((batch, units))
        c = np.zeros((batch, units))
    else:
        h, c = (np.asarray(s, np.float64) for s in initial_state)
    previous_output = np.zeros((batch, units))
    outputs = []
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    for t in order:
        x_t = x[:, t]
        if input_dropout_mask is not None:
            x_t = x_t * input_dropout_mask
        h_in = h if recurrent_dropout_mask is None else h * recurrent_dropout_mask
        z = x_t @ kernel + h_in @ recurrent_kernel + bias
        i = sigmoid(z[:, :units])
        f = sigmoid(z[:, units : 2 * units])
        g = np.tanh(z[:, 2 * units : 3 * units])
        o = sigmoid(z[:, 3 * units :])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        if mask is None:
            output = h_new
        else:
            keep = np.asarray(mask[:, t], bool)[:, None]
            h_new = np.where(keep, h_new, h)
            c_new = np.where(keep, c_new, c)
            fill = np.zeros_like(h_new) if zero_output_for_mask else previous_output
            output = np.where(keep, h_new, fill)
        h, c, previous_output = h_new, c_new, output
        outputs.append(output)
    return np.stack(outputs, axis=1), previous_output, h, c
