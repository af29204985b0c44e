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


def _layer_norm(x, scale, center, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * scale + center


def numpy_lstm_variant(x, weights, options, initial_state=None, zoneout_masks=None):
    """The LSTM with its variants, from the papers' equations, in float64.

    weights: a dict by weight name (kernel, recurrent_kernel, bias, peephole_i,
    peephole_f, peephole_o, projection_kernel, gate_norm_scale,
    cell_norm_scale, cell_norm_center). options: the layer's variant
    arguments. zoneout_masks: optional (keep_c, keep_h), each (T, B, size),
    for training; without them zoneout uses its expectation.
    Returns (outputs (B, T, hidden), h, c).
    """
    w = {name: np.asarray(value, np.float64) for name, value in weights.items()}
    x = np.asarray(x, np.float64)
    batch, steps, _ = x.shape
    units = options["units"]
    coupled = options.get("coupled_gates", False)
    peephole = options.get("peephole", False)
    layer_norm = options.get("layer_norm", False)
    epsilon = options.get("layer_norm_epsilon", 1e-5)
    gate_clip = options.get("gate_clip")
    cell_clip = options.get("cell_clip")
    proj_clip = options.get("proj_clip")
    hidden = w["projection_kernel"].shape[1] if "projection_kernel" in w else units
    names = ["f", "c", "o"] if coupled else ["i", "f", "c", "o"]
    h, c = (np.zeros((batch, hidden)), np.zeros((batch, units))) if initial_state is None else (
        np.asarray(initial_state[0], np.float64),
        np.asarray(initial_state[1], np.float64),
    )
    clip = (lambda v: np.clip(v, -gate_clip, gate_clip)) if gate_clip else (lambda v: v)
    outputs = []
    for t in range(steps):
        raw = x[:, t] @ w["kernel"] + h @ w["recurrent_kernel"]
        block = {n: raw[:, k * units : (k + 1) * units] for k, n in enumerate(names)}
        bias = {n: w["bias"][k * units : (k + 1) * units] for k, n in enumerate(names)} if "bias" in w else {}
        for k, n in enumerate(names):
            if layer_norm:
                scale = w["gate_norm_scale"][k * units : (k + 1) * units]
                block[n] = _layer_norm(block[n], scale, 0.0, epsilon)
            block[n] = block[n] + bias.get(n, 0.0)
        block["f"] = block["f"] + options.get("forget_bias", 0.0)
        if peephole:
            block["f"] = block["f"] + w["peephole_f"] * c
            if not coupled:
                block["i"] = block["i"] + w["peephole_i"] * c
        forget = sigmoid(clip(block["f"]))
        input_gate = 1.0 - forget if coupled else sigmoid(clip(block["i"]))
        c_new = forget * c + input_gate * np.tanh(clip(block["c"]))
        if cell_clip:
            c_new = np.clip(c_new, -cell_clip, cell_clip)
        z_o = block["o"] + (w["peephole_o"] * c_new if peephole else 0.0)
        output_gate = sigmoid(clip(z_o))
        shown = _layer_norm(c_new, w["cell_norm_scale"], w["cell_norm_center"], epsilon) if layer_norm else c_new
        h_new = output_gate * np.tanh(shown)
        if "projection_kernel" in w:
            h_new = h_new @ w["projection_kernel"]
            if proj_clip:
                h_new = np.clip(h_new, -proj_clip, proj_clip)
        for state, new, rate, index in ((c, c_new, options.get("zoneout_cell", 0.0), 0), (h, h_new, options.get("zoneout_hidden", 0.0), 1)):
            if zoneout_masks is not None and zoneout_masks[index] is not None:
                keep = zoneout_masks[index][t]
            else:
                keep = rate
            if index == 0:
                c_new = keep * state + (1 - keep) * new
            else:
                h_new = keep * state + (1 - keep) * new
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def numeric_gradients(function, arrays, epsilon=1e-6):
    """Central finite differences of scalar `function(*arrays)` in float64."""
    arrays = [np.array(a, np.float64) for a in arrays]
    gradients = []
    for array in arrays:
        gradient = np.zeros_like(array)
        flat, flat_gradient = array.reshape(-1), gradient.reshape(-1)
        for index in range(flat.size):
            original = flat[index]
            flat[index] = original + epsilon
            up = function(*arrays)
            flat[index] = original - epsilon
            down = function(*arrays)
            flat[index] = original
            flat_gradient[index] = (up - down) / (2 * epsilon)
        gradients.append(gradient)
    return gradients
