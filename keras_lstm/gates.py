"""The LSTM equations: gates and new state from the gate pre-activations.

With z = x_t W + h_{t-1} U + b split into blocks in Keras's order
(i, f, c, o), sigma the recurrent activation and tanh the activation:

    i_t = sigma(z_i)                     input gate
    f_t = sigma(z_f)                     forget gate
    g_t = tanh(z_c)                      candidate cell state
    o_t = sigma(z_o)                     output gate
    c_t = f_t * c_{t-1} + i_t * g_t      cell state
    h_t = o_t * tanh(c_t)                hidden state (the output)

and the variants, each off by default (see `LSTMCell`):

    peephole (Gers & Schmidhuber 2000):  z_i += p_i * c_{t-1}, z_f += p_f * c_{t-1},
                                         z_o += p_o * c_t
    coupled gates (CIFG):                i_t = 1 - f_t, and z has no i block
    gate clip (ONNX's `clip`):           every z block clipped to [-gate_clip, gate_clip]
    layer norm (Ba et al. 2016,          z_k = LN(x W_k + h U_k) * gamma_k + b_k per gate,
      TFLite's layer-norm LSTM):         h_t = o_t * tanh(LN(c_t) * gamma_c + beta_c)
    cell clip:                           c_t clipped to [-cell_clip, cell_clip]
    projection (LSTMP, Sak et al. 2014): h_t = (o_t * tanh(c_t)) P, clipped to
                                         [-proj_clip, proj_clip] if given
    zoneout (Krueger et al. 2016):       s_t = d * s_{t-1} + (1 - d) * s_t for s in
                                         c, h; d ~ Bernoulli(rate) in training,
                                         d = rate at inference
"""

from keras import ops


def gate_names(coupled_gates):
    """The blocks of z, in order: Keras's i, f, c, o, without i when coupled."""
    return ("f", "c", "o") if coupled_gates else ("i", "f", "c", "o")


def normalize(x, epsilon):
    """Zero mean, unit variance over the last axis (no scale or shift)."""
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * ops.rsqrt(variance + epsilon)


def lstm_update(cell, z, c_prev):
    """Returns (h_t, c_t) from pre-activations `z` and c_{t-1}.

    `z` is x_t W + h_{t-1} U, plus b unless `cell.layer_norm` (then b is
    added after the normalization, as TFLite does). `cell` supplies the
    activations, the variant switches and their weights.
    """
    names = gate_names(cell.coupled_gates)
    blocks = dict(zip(names, ops.split(z, len(names), axis=-1)))
    if cell.layer_norm:
        scales = dict(zip(names, ops.split(cell.gate_norm_scale, len(names))))
        biases = (
            dict(zip(names, ops.split(cell.bias, len(names))))
            if cell.use_bias
            else {}
        )
        for name in names:
            blocks[name] = normalize(blocks[name], cell.layer_norm_epsilon) * scales[name]
            if name in biases:
                blocks[name] = blocks[name] + biases[name]
    if cell.peephole:
        blocks["f"] = blocks["f"] + cell.peephole_f * c_prev
        if not cell.coupled_gates:
            blocks["i"] = blocks["i"] + cell.peephole_i * c_prev
    if cell.gate_clip is not None:  # o is clipped below, after its peephole
        blocks = {
            name: block if name == "o" else ops.clip(block, -cell.gate_clip, cell.gate_clip)
            for name, block in blocks.items()
        }

    forget_gate = cell.recurrent_activation(blocks["f"])
    if cell.coupled_gates:
        input_gate = 1.0 - forget_gate
    else:
        input_gate = cell.recurrent_activation(blocks["i"])
    candidate = cell.activation(blocks["c"])
    c = forget_gate * c_prev + input_gate * candidate
    if cell.cell_clip is not None:
        c = ops.clip(c, -cell.cell_clip, cell.cell_clip)

    z_o = blocks["o"]
    if cell.peephole:
        z_o = z_o + cell.peephole_o * c
    if cell.gate_clip is not None:
        z_o = ops.clip(z_o, -cell.gate_clip, cell.gate_clip)
    output_gate = cell.recurrent_activation(z_o)
    cell_output = c
    if cell.layer_norm:
        cell_output = (
            normalize(c, cell.layer_norm_epsilon) * cell.cell_norm_scale
            + cell.cell_norm_center
        )
    h = output_gate * cell.activation(cell_output)
    if cell.proj_units is not None:
        h = ops.matmul(h, cell.projection_kernel)
        if cell.proj_clip is not None:
            h = ops.clip(h, -cell.proj_clip, cell.proj_clip)
    return h, c


def zoneout(previous, new, keep):
    """keep * previous + (1 - keep) * new; `new` itself when keep is None."""
    if keep is None:
        return new
    return keep * previous + (1.0 - keep) * new
