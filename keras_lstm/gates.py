"""The LSTM equations: one step, written once, with each variant a small piece.

With z = x_t W + h_{t-1} U + b split into blocks in Keras's order
(i, f, c, o), sigma the recurrent activation and tanh the activation:

    i_t = sigma(z_i)                     input gate
    f_t = sigma(z_f)                     forget gate
    g_t = tanh(z_c)                      candidate cell state
    o_t = sigma(z_o)                     output gate
    c_t = f_t * c_{t-1} + i_t * g_t      cell state
    h_t = o_t * tanh(c_t)                hidden state (the output)

Each variant (see `variants.py` for which are on) is one function below,
beside its paper's equation, and `update` applies them in order. The step is
written against a small operations namespace `F` (`KERAS` here): the
exporters pass their own, so the ONNX and TFLite fallbacks compute these same
functions in plain graph ops instead of restating them.
"""

import types

from keras import ops

from keras_lstm import variants


class KerasOps:
    """The operations the step needs, in keras.ops (the backend's tensors)."""

    matmul = staticmethod(ops.matmul)

    @staticmethod
    def activation(function, x):
        return function(x)

    @staticmethod
    def clip(x, bound):
        return ops.clip(x, -bound, bound)

    @staticmethod
    def split(x, count):
        return ops.split(x, count, axis=-1)

    @staticmethod
    def layer_norm(x, scale, center, epsilon):
        """(x - mean) / sqrt(variance + epsilon) * scale (+ center), over the last axis."""
        mean = ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
        y = (x - mean) * ops.rsqrt(variance + epsilon) * scale
        return y if center is None else y + center

    # What the sequence loop (recurrence.py) needs besides the step.
    convert_to_tensor = staticmethod(ops.convert_to_tensor)
    expand_dims = staticmethod(ops.expand_dims)
    transpose = staticmethod(ops.transpose)
    cast = staticmethod(ops.cast)
    flip = staticmethod(ops.flip)
    where = staticmethod(ops.where)
    zeros_like = staticmethod(ops.zeros_like)
    stack = staticmethod(ops.stack)


KERAS = KerasOps()


def gate_names(coupled_gates):
    """The blocks of z, in order: Keras's i, f, c, o, without i when coupled."""
    return ("f", "c", "o") if coupled_gates else ("i", "f", "c", "o")


def read_params(cell, read):
    """The cell's options and weights as one namespace for `step`.

    `read(variable, name)` turns each weight into what `F` computes with (a
    tensor read once outside the loop, an ONNX initializer, a TF constant);
    weights the cell does not have are None.
    """
    values = {name: getattr(cell, name) for name in variants.NAMES}
    values.update({name: None for name in variants.WEIGHT_NAMES})
    values.update(
        {weight.name: read(getattr(cell, weight.name), weight.name) for weight in variants.weights_of(cell)}
    )
    values.update(units=cell.units, hidden_size=cell.hidden_size, gate_names=gate_names(cell.coupled_gates))
    return types.SimpleNamespace(**values)


def bias_in_projection(p):
    """Whether b is added with x_t W (with layer norm it comes after the norm)."""
    return p.use_bias and not p.layer_norm


def project_input(p, x, F=KERAS):
    """x_t W (+ b): the part of z that does not depend on the state."""
    z = F.matmul(x, p.kernel)
    return z + p.bias if bias_in_projection(p) else z


def step(p, z_input, h_prev, c_prev, F=KERAS, recurrent_dropout_mask=None, keep_c=None, keep_h=None):
    """(h_t, c_t) from `z_input` = `project_input(x_t)` and the previous state.

    `recurrent_dropout_mask` multiplies h_{t-1} where it enters the gates;
    `keep_c` and `keep_h` are zoneout's (see `zoneout`).
    """
    h_recurrent = h_prev if recurrent_dropout_mask is None else h_prev * recurrent_dropout_mask
    z = z_input + F.matmul(h_recurrent, p.recurrent_kernel)
    h, c = update(p, z, c_prev, F)
    return zoneout(h_prev, h, keep_h), zoneout(c_prev, c, keep_c)


def update(p, z, c_prev, F=KERAS):
    """(h_t, c_t) from the pre-activations z and c_{t-1}: the equations above
    with each variant's piece in its place."""
    blocks = dict(zip(p.gate_names, F.split(z, len(p.gate_names))))
    blocks = layer_norm_gates(p, blocks, F)
    blocks = constant_forget_bias(p, blocks)
    blocks = peephole_previous_cell(p, blocks, c_prev)
    blocks = clip_gates(p, blocks, ("i", "f", "c"), F)
    forget_gate = F.activation(p.recurrent_activation, blocks["f"])
    input_gate = coupled_input_gate(p, blocks, forget_gate, F)
    candidate = F.activation(p.activation, blocks["c"])
    c = clip_cell(p, forget_gate * c_prev + input_gate * candidate, F)
    z_o = clip_gates(p, {"o": peephole_new_cell(p, blocks["o"], c)}, ("o",), F)["o"]
    output_gate = F.activation(p.recurrent_activation, z_o)
    h = output_gate * F.activation(p.activation, layer_norm_cell(p, c, F))
    return project(p, h, F), c


def layer_norm_gates(p, blocks, F):
    """Layer norm (Ba et al. 2016), normalizing each gate pre-activation:
    z_k = LN(x W_k + h U_k) * gamma_k + b_k for each gate k."""
    if not p.layer_norm:
        return blocks
    scales = dict(zip(p.gate_names, F.split(p.gate_norm_scale, len(p.gate_names))))
    biases = dict(zip(p.gate_names, F.split(p.bias, len(p.gate_names)))) if p.use_bias else {}
    return {k: F.layer_norm(z_k, scales[k], biases.get(k), p.layer_norm_epsilon) for k, z_k in blocks.items()}


def constant_forget_bias(p, blocks):
    """A constant forget bias (TF 1's BasicLSTMCell): z_f += forget_bias."""
    return dict(blocks, f=blocks["f"] + p.forget_bias) if p.forget_bias else blocks


def peephole_previous_cell(p, blocks, c_prev):
    """Peepholes (Gers & Schmidhuber 2000): z_i += p_i * c_{t-1}, z_f += p_f * c_{t-1}."""
    if not p.peephole:
        return blocks
    blocks = dict(blocks, f=blocks["f"] + p.peephole_f * c_prev)
    if "i" in blocks:
        blocks["i"] = blocks["i"] + p.peephole_i * c_prev
    return blocks


def peephole_new_cell(p, z_o, c):
    """Peephole of the output gate, from the new cell: z_o += p_o * c_t."""
    return z_o + p.peephole_o * c if p.peephole else z_o


def clip_gates(p, blocks, names, F):
    """ONNX's `clip`: the named pre-activations clipped to [-gate_clip, gate_clip]
    (z_o after its peephole term)."""
    if p.gate_clip is None:
        return blocks
    return {k: F.clip(z_k, p.gate_clip) if k in names else z_k for k, z_k in blocks.items()}


def coupled_input_gate(p, blocks, forget_gate, F):
    """Coupled input and forget gates (CIFG, Greff et al. 2017): i_t = 1 - f_t."""
    if p.coupled_gates:
        return 1.0 - forget_gate
    return F.activation(p.recurrent_activation, blocks["i"])


def clip_cell(p, c, F):
    """Cell clipping: c_t clipped to [-cell_clip, cell_clip]."""
    return c if p.cell_clip is None else F.clip(c, p.cell_clip)


def layer_norm_cell(p, c, F):
    """With layer norm, the cell is normalized before the output activation:
    h_t = o_t * tanh(LN(c_t) * gamma_c + beta_c)."""
    if not p.layer_norm:
        return c
    return F.layer_norm(c, p.cell_norm_scale, p.cell_norm_center, p.layer_norm_epsilon)


def project(p, h, F):
    """Projection (LSTMP, Sak et al. 2014): h_t = (o_t * tanh(c_t)) P, clipped
    to [-proj_clip, proj_clip] if given."""
    if p.proj_units is None:
        return h
    h = F.matmul(h, p.projection_kernel)
    return h if p.proj_clip is None else F.clip(h, p.proj_clip)


def zoneout(previous, new, keep):
    """Zoneout (Krueger et al. 2016): keep * previous + (1 - keep) * new.

    `keep` is a Bernoulli(rate) mask in training, the rate itself at
    inference (the expectation), or None without zoneout.
    """
    if keep is None:
        return new
    return keep * previous + (1.0 - keep) * new
