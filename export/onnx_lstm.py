"""keras_lstm layers as ONNX: the native `LSTM` node where the op takes the
cell, else the step in plain ONNX ops in a `Scan`, and one step with its
state as graph inputs and outputs when streaming.

The plain-ops step is `gates.step` itself, computed on ONNX values (`OnnxOps`):
the same equations, in the same order, as the layer, not a copy of them.
"""

import keras
import numpy as np

from keras_lstm import gates, variants
from keras_lstm.interop import _join_gates, _split_gates
from keras_lstm.export import common
from keras_lstm.export.common import Recurrent

ONNX_GATE_ORDER = ("i", "o", "f", "c")
ONNX_PEEPHOLE_ORDER = ("i", "o", "f")
_INT64, _FLOAT, _BOOL, _INT32 = 7, 1, 9, 6
# common.ACTIVATIONS as ONNX ops and attributes (None: the identity).
ONNX_ACTIVATIONS = {
    "linear": None,
    "tanh": ("Tanh", {}),
    "sigmoid": ("Sigmoid", {}),
    "relu": ("Relu", {}),
    "hard_sigmoid": ("HardSigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}),
    "softmax": ("Softmax", {"axis": -1}),
}
assert set(ONNX_ACTIVATIONS) == set(common.ACTIVATIONS)


def activation(graph, function, x, hint):
    """`function` (a Keras activation, or its name) applied to the value named `x`."""
    name = function if isinstance(function, str) else common.activation_name(function, f"Layer {hint!r}")
    if ONNX_ACTIVATIONS[name] is None:
        return x
    op, attributes = ONNX_ACTIVATIONS[name]
    return graph.node(op, [x], hint, **attributes)


class Value:
    """An ONNX value (a node output or an initializer) with Python's arithmetic,
    so that `gates.py` computes on it as on tensors."""

    def __init__(self, graph, name, hint):
        self.graph, self.name, self.hint = graph, name, hint

    def _binary(self, op, other, reverse=False):
        other = other.name if isinstance(other, Value) else self.graph.constant("scalar", np.array(other, np.float32))
        inputs = [other, self.name] if reverse else [self.name, other]
        return Value(self.graph, self.graph.node(op, inputs, self.hint), self.hint)

    def __add__(self, other):
        return self._binary("Add", other)

    def __radd__(self, other):
        return self._binary("Add", other, reverse=True)

    def __sub__(self, other):
        return self._binary("Sub", other)

    def __rsub__(self, other):
        return self._binary("Sub", other, reverse=True)

    def __mul__(self, other):
        return self._binary("Mul", other)

    def __rmul__(self, other):
        return self._binary("Mul", other, reverse=True)


class OnnxOps:
    """`gates.KerasOps`'s operations as ONNX nodes. Every split in the step cuts
    a gates-wide value into blocks of `units`."""

    def __init__(self, graph, hint, units):
        self.graph, self.hint, self.units = graph, hint, units

    def _node(self, op, *inputs, **attributes):
        names = [x.name if isinstance(x, Value) else x for x in inputs]
        return Value(self.graph, self.graph.node(op, names, self.hint, **attributes), self.hint)

    def matmul(self, x, w):
        return self._node("MatMul", x, w)

    def activation(self, function, x):
        return Value(self.graph, activation(self.graph, function, x.name, self.hint), self.hint)

    def clip(self, x, bound):
        scalar = lambda value: self.graph.constant("bound", np.array(value, np.float32))  # noqa: E731
        return self._node("Clip", x, scalar(-bound), scalar(bound))

    def split(self, x, count):
        sizes = self.graph.constant("split", np.array([self.units] * count, np.int64))
        names = self.graph.node("Split", [x.name, sizes], self.hint, outputs=count, axis=-1)
        return [Value(self.graph, name, self.hint) for name in names]

    def layer_norm(self, x, scale, center, epsilon):
        center = center if center is not None else self.graph.constant("zeros", np.zeros(self.units, np.float32))
        return self._node("LayerNormalization", x, scale, center, axis=-1, epsilon=epsilon)


def step_params(graph, lstm):
    """The cell's options and weights as ONNX initializers (each added once)."""
    key = id(lstm)
    if key not in graph.weights:
        graph.weights[key] = {
            name: graph.constant(f"{lstm.name}_{name}", value.astype("float32"))
            for name, value in common.lstm_weights(lstm).items()
        }
    names = graph.weights[key]
    return gates.read_params(lstm.cell, lambda variable, name: Value(graph, names[name], lstm.name))


def onnx_lstm_weights(recurrent):
    """W, R, B and P (or None) of an ONNX LSTM node from the layer's directions.

    Keras stacks the gate blocks i, f, c, o; ONNX wants i, o, f, c, weights
    transposed, and a bias for the input and for the recurrence (the second
    is zero here).

    Coupled gates: our cell keeps f and sets i = 1 - f, while onnxruntime's
    `input_forget=1` keeps i and sets f = 1 - i (its forget weights are
    ignored). Since sigmoid(-z) = 1 - sigmoid(z), ONNX's input block gets our
    forget block negated (weights, bias and peephole), which gives the same
    gates; the clip is symmetric, so `gate_clip` still holds.
    """
    W, R, B, P = [], [], [], []
    for lstm in recurrent.directions:
        cell = lstm.cell
        weights = common.lstm_weights(lstm)
        order = gates.gate_names(cell.coupled_gates)
        units = cell.units
        kernel = _split_gates(weights["kernel"], order, axis=1)
        recurrent_kernel = _split_gates(weights["recurrent_kernel"], order, axis=1)
        bias = _split_gates(weights.get("bias", np.zeros(len(order) * units, "float32")), order)
        peepholes = {name: weights.get(f"peephole_{name}", np.zeros(units, "float32")) for name in ONNX_PEEPHOLE_ORDER}
        if cell.coupled_gates:
            for blocks in (kernel, recurrent_kernel, bias, peepholes):
                blocks["i"] = -blocks["f"]
                blocks["f"] = np.zeros_like(blocks["f"])  # ignored by ONNX
        W.append(_join_gates(kernel, ONNX_GATE_ORDER, axis=1).T)
        R.append(_join_gates(recurrent_kernel, ONNX_GATE_ORDER, axis=1).T)
        B.append(np.concatenate([_join_gates(bias, ONNX_GATE_ORDER), np.zeros(4 * units, "float32")]))
        P.append(_join_gates(peepholes, ONNX_PEEPHOLE_ORDER))
    stack = lambda arrays: np.stack(arrays).astype("float32")  # noqa: E731
    return stack(W), stack(R), stack(B), stack(P) if recurrent.cell.peephole else None


def emit(graph, layer, x, mask=None, initial_state=None):
    """The ONNX of one LSTM layer (a keras_lstm.LSTM or a Bidirectional of one)
    reading `x` (batch, time, features); with `graph.streaming`, one step."""
    recurrent = Recurrent.of(layer)
    if graph.streaming:
        return _streaming_step(graph, recurrent, x, mask, initial_state)
    if recurrent.refusals(variants.ONNX_LSTM):
        graph.fallbacks.append(recurrent.fallback_note(variants.ONNX_LSTM, "ONNX Scan over the step in plain ops"))
        return _scan(graph, recurrent, x, mask, initial_state)
    return _lstm_node(graph, recurrent, x, mask, initial_state)


def _lstm_node(graph, recurrent, x, mask, initial_state):
    """One native ONNX LSTM node (both directions of a Bidirectional)."""
    hint, first = recurrent.name, recurrent.first
    node = lambda op, *names, outputs=1, **attributes: graph.node(op, list(names), hint, outputs=outputs, **attributes)  # noqa: E731
    constant = lambda value, dtype=np.int64: graph.constant("value", np.array(value, dtype))  # noqa: E731
    if mask is not None and first.go_backwards and not recurrent.bidirectional:
        raise ValueError(f"Layer {hint!r}: a masked go_backwards LSTM exports only inside Bidirectional.")
    W, R, B, P = onnx_lstm_weights(recurrent)
    attributes = {"hidden_size": recurrent.cell.units}
    if recurrent.bidirectional:
        attributes["direction"] = "bidirectional"
    else:
        attributes["direction"] = "reverse" if first.go_backwards else "forward"
    if recurrent.cell.coupled_gates:
        attributes["input_forget"] = 1
    if recurrent.cell.gate_clip is not None:
        attributes["clip"] = recurrent.cell.gate_clip
    inputs = [node("Transpose", x, perm=[1, 0, 2])]
    inputs += [graph.constant(f"{hint}_{n}", a) for n, a in (("W", W), ("R", R), ("B", B))]
    # A right-padded mask is the sequence lengths.
    lengths = node("ReduceSum", node("Cast", mask, to=_INT32), constant([1]), keepdims=0) if mask is not None else ""
    inputs.append(lengths)
    if initial_state is not None:
        h, c = _stacked_states(graph, hint, initial_state, recurrent.bidirectional)
        inputs += [h, c]
    if P is not None:
        inputs += [""] * (7 - len(inputs)) + [graph.constant(f"{hint}_P", P)]
    y, y_h, y_c = node("LSTM", *inputs, outputs=3, **attributes)
    # Y (time, directions, batch, units) -> (batch, time, directions * units)
    sequence = node("Reshape", node("Transpose", y, perm=[2, 0, 1, 3]), constant([0, 0, -1]))
    last = node("Reshape", node("Transpose", y_h, perm=[1, 0, 2]), constant([0, -1]))
    if mask is not None:
        # A row with no step left: Keras's last output is zeros, ONNX's Y_h the initial h.
        nonempty = node("Unsqueeze", node("Greater", lengths, constant(0, np.int32)), constant([1]))
        last = node("Where", nonempty, last, constant(0, np.float32))
    if mask is not None and not first.zero_output_for_mask:
        # Keras repeats the last output over the padding where ONNX writes
        # zeros (a Bidirectional's backward half is zeros there in Keras too).
        fill = node("Unsqueeze", node("Gather", y_h, constant(0), axis=0), constant([1]))
        if recurrent.bidirectional:
            fill = node("Concat", fill, node("Mul", fill, constant(0, np.float32)), axis=-1)
        keep = node("Unsqueeze", node("Cast", mask, to=_BOOL), constant([-1]))
        sequence = node("Where", keep, sequence, fill)
    if first.go_backwards and not recurrent.bidirectional:
        # ONNX gives a reverse LSTM's outputs in input order; Keras in the order processed.
        sequence = _reverse_time(graph, hint, sequence)
    states = []
    given = keras.tree.flatten(initial_state) if initial_state is not None else None
    for direction in range(len(recurrent.directions)):
        for index, final in enumerate((y_h, y_c)):
            state = node("Gather", final, constant(direction), axis=0)
            if mask is not None and given is not None:
                # A row with no step left keeps its initial state (ONNX gives zeros).
                state = node("Where", nonempty, state, given[2 * direction + index])
            states.append(state)
    return _outputs(recurrent, sequence, last, states)


def _outputs(recurrent, sequence, last, states):
    output = sequence if recurrent.first.return_sequences else last
    return [output, *states] if recurrent.first.return_state else output


def _stacked_states(graph, hint, initial_state, bidirectional):
    """[h, c] or [h_f, c_f, h_b, c_b] -> h, c of shape (directions, batch, size)."""
    states = keras.tree.flatten(initial_state)
    axis = graph.constant("axis", np.array([0], np.int64))
    unsqueeze = lambda name: graph.node("Unsqueeze", [name, axis], hint)  # noqa: E731
    if bidirectional:
        h = graph.node("Concat", [unsqueeze(states[0]), unsqueeze(states[2])], hint, axis=0)
        c = graph.node("Concat", [unsqueeze(states[1]), unsqueeze(states[3])], hint, axis=0)
        return h, c
    return unsqueeze(states[0]), unsqueeze(states[1])


def _reverse_time(graph, hint, sequence):
    constant = lambda value: graph.constant("value", np.array([value], np.int64))  # noqa: E731
    return graph.node("Slice", [sequence, constant(-1), constant(-(2**62)), constant(1), constant(-1)], hint)


def _scan(graph, recurrent, x, mask, initial_state):
    """The layer as ONNX Scan loops over `gates.step`: one per direction."""
    import onnx

    hint = recurrent.name
    if mask is not None:
        raise ValueError(
            f"Layer {hint!r}: {', '.join(recurrent.refusals(variants.ONNX_LSTM))} runs as an ONNX Scan, which "
            "takes no mask yet; export it without the mask (or without that option)."
        )
    time_major = graph.node("Transpose", [x], hint, perm=[1, 0, 2])
    states = keras.tree.flatten(initial_state) if initial_state is not None else None
    sequences, lasts, finals = [], [], []
    for index, lstm in enumerate(recurrent.directions):
        cell = lstm.cell
        # x_t W + b for every step at once, outside the loop.
        outer = step_params(graph, lstm)
        projected = gates.project_input(outer, Value(graph, time_major, hint), OnnxOps(graph, hint, cell.units)).name
        # The loop's body reads the same initializers from the outer graph.
        body = graph.subgraph(1000 * (index + 1))
        p = step_params(body, lstm)
        h_in, c_in, z_in = (body.name(f"{lstm.name}_{n}_in") for n in ("h", "c", "z"))
        F = OnnxOps(body, lstm.name, cell.units)
        values = (Value(body, name, lstm.name) for name in (z_in, h_in, c_in))
        h, c = gates.step(p, *values, F, **common.inference_zoneout(cell))
        names = [body.name(f"{lstm.name}_{n}_out") for n in ("h", "c", "y")]
        for source, name in zip((h, c, h), names):
            body.nodes.append(onnx.helper.make_node("Identity", [source.name], [name]))
        graph.count = body.count
        floats = onnx.TensorProto.FLOAT
        body_graph = onnx.helper.make_graph(
            body.nodes,
            f"{lstm.name}_step",
            [onnx.helper.make_tensor_value_info(n, floats, None) for n in (h_in, c_in, z_in)],
            [onnx.helper.make_tensor_value_info(n, floats, None) for n in names],
        )
        if states is not None:
            initial = states[2 * index : 2 * index + 2]
        else:
            initial = [_zeros_like_batch(graph, x, size, hint) for size in (cell.hidden_size, cell.units)]
        backward = bool(lstm.go_backwards)
        # Keras: a go_backwards layer's outputs come in processing order, but
        # a Bidirectional flips its backward layer's back to input order.
        outputs_reversed = backward and recurrent.bidirectional
        h_last, c_last, sequence = graph.node(
            "Scan",
            [*initial, projected],
            hint,
            outputs=3,
            body=body_graph,
            num_scan_inputs=1,
            scan_input_directions=[int(backward)],
            scan_output_directions=[int(outputs_reversed)],
        )
        sequences.append(graph.node("Transpose", [sequence], hint, perm=[1, 0, 2]))
        lasts.append(h_last)
        finals += [h_last, c_last]
    concat = lambda names: names[0] if len(names) == 1 else graph.node("Concat", names, hint, axis=-1)  # noqa: E731
    return _outputs(recurrent, concat(sequences), concat(lasts), finals)


def _zeros_like_batch(graph, x, size, hint):
    """Zeros (batch, size), the batch read from `x` (batch first) at run time."""
    constant = lambda value: graph.constant("value", np.array([value], np.int64))  # noqa: E731
    batch = graph.node("Slice", [graph.node("Shape", [x], hint), constant(0), constant(1)], hint)
    shape = graph.node("Concat", [batch, constant(size)], hint, axis=0)
    return graph.node("ConstantOfShape", [shape], hint, value=graph.onnx.numpy_helper.from_array(np.zeros(1, "float32")))


def _streaming_step(graph, recurrent, x, mask, initial_state):
    """One step: the frame `x` (batch, features) and the layer's "<name>_h",
    "<name>_c" graph inputs in, "<name>_h_out", "<name>_c_out" out."""
    recurrent.check_streaming()
    if mask is not None or initial_state is not None:
        raise ValueError(f"Layer {recurrent.name!r}: a streaming step takes no mask and no initial_state.")
    lstm, cell = recurrent.first, recurrent.cell
    h = graph.add_state(f"{lstm.name}_h", cell.hidden_size)
    c = graph.add_state(f"{lstm.name}_c", cell.units)
    p = step_params(graph, lstm)
    F = OnnxOps(graph, lstm.name, cell.units)
    z_input = gates.project_input(p, Value(graph, x, lstm.name), F)
    h_next, c_next = gates.step(p, z_input, Value(graph, h, lstm.name), Value(graph, c, lstm.name), F, **common.inference_zoneout(cell))
    for state, name in ((h_next, h), (c_next, c)):
        graph.nodes.append(graph.onnx.helper.make_node("Identity", [state.name], [f"{name}_out"]))
    return h_next.name
