"""`to_onnx`: Keras models with keras_lstm layers as ONNX graphs of native `LSTM` nodes.

Keras 3's own ONNX export turns a recurrent layer into a `Loop` (torch backend:
every step unrolled for a fixed length), and `tf2onnx.convert.from_keras` fails
on Keras 3 models. This exporter writes the graph itself, layer by layer, so
that every `keras_lstm.LSTM` becomes one ONNX `LSTM` node with dynamic batch and
time axes, which onnxruntime runs with its fused kernel.

Supported layers: `keras_lstm.LSTM` (forward, `go_backwards`; peepholes,
coupled gates and `gate_clip` in the native node; projection, layer norm, cell
clip and zoneout, which the LSTM op cannot express, as an ONNX `Scan` over the
step written in plain ops, listed in the report's "fallbacks"),
`keras.layers.Bidirectional` of one (merge mode "concat"),
`keras_lstm.StackedLSTM`, `Dense`, `Embedding` (without `mask_zero`),
`Dropout`, `Activation` and `InputLayer`, in a model whose layers form one
chain. Anything else raises `ValueError` naming the layer; nothing is
exported half right.
"""

import numpy as np
import keras

from keras_lstm import gates, variants
from keras_lstm.gates import gate_names
from keras_lstm.interop import _directions, _join_gates, _read_weights, _split_gates, _sublayers
from keras_lstm.lstm import LSTM
from keras_lstm.stacked import StackedLSTM

ONNX_GATE_ORDER = ("i", "o", "f", "c")
ONNX_PEEPHOLE_ORDER = ("i", "o", "f")
_ACTIVATIONS = {"linear": None, "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}

def onnx_lstm_weights(directions):
    """W, R, B and P (or None) of an ONNX LSTM node from keras_lstm.LSTM layers.

    `directions`: [forward] or [forward, backward]. Keras stacks the gate
    blocks i, f, c, o; ONNX wants i, o, f, c, weights transposed, and a bias
    for the input and for the recurrence (the second is zero here).

    Coupled gates: our cell keeps f and sets i = 1 - f, while onnxruntime's
    `input_forget=1` keeps i and sets f = 1 - i (its forget weights are
    ignored). Since sigmoid(-z) = 1 - sigmoid(z), ONNX's input block gets our
    forget block negated (weights, bias and peephole), which gives the same
    gates; the clip is symmetric, so `gate_clip` still holds.
    """
    W, R, B, P = [], [], [], []
    for lstm in directions:
        cell = lstm.cell
        weights = _read_weights(lstm)
        order = gate_names(cell.coupled_gates)
        units = cell.units
        kernel = _split_gates(weights["kernel"], order, axis=1)
        recurrent = _split_gates(weights["recurrent_kernel"], order, axis=1)
        bias = _split_gates(weights.get("bias", np.zeros(len(order) * units, "float32")), order)
        peepholes = {name: weights.get(f"peephole_{name}", np.zeros(units, "float32")) for name in ONNX_PEEPHOLE_ORDER}
        if cell.coupled_gates:
            for blocks in (kernel, recurrent, bias, peepholes):
                blocks["i"] = -blocks["f"]
                blocks["f"] = np.zeros_like(blocks["f"])  # ignored by ONNX
        W.append(_join_gates(kernel, ONNX_GATE_ORDER, axis=1).T)
        R.append(_join_gates(recurrent, ONNX_GATE_ORDER, axis=1).T)
        B.append(np.concatenate([_join_gates(bias, ONNX_GATE_ORDER), np.zeros(4 * units, "float32")]))
        P.append(_join_gates(peepholes, ONNX_PEEPHOLE_ORDER))
    has_peephole = directions[0].cell.peephole
    stack = lambda arrays: np.stack(arrays).astype("float32")  # noqa: E731
    return stack(W), stack(R), stack(B), stack(P) if has_peephole else None


class _Graph:
    """Collects ONNX nodes and initializers with unique names."""

    def __init__(self, onnx, streaming=False):
        self.onnx = onnx
        self.streaming = streaming
        self.nodes, self.initializers, self.count = [], [], 0
        self.states = []  # (name, size) of each state input, in layer order
        self.fallbacks = []  # layers written as a Scan, and why
        self.weights = {}

    def add_state(self, name, size):
        taken = {existing for existing, _ in self.states}
        unique, suffix = name, 1
        while unique in taken:  # two stacks both have an "lstm_0"
            suffix += 1
            unique = f"{name}{suffix}"
        self.states.append((unique, size))
        return unique

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def constant(self, hint, array):
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, hint, outputs=1, **attributes):
        names = [self.name(f"{hint}_{op.lower()}") for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, names, name=self.name(hint), **attributes))
        return names[0] if outputs == 1 else names


def _check_lstm(layer, lstm):
    """What of `lstm` the ONNX LSTM op cannot express: [] for a native node."""
    cell = lstm.cell
    if cell.activation is not keras.activations.tanh or cell.recurrent_activation is not keras.activations.sigmoid:
        raise ValueError(f"Layer {layer.name!r}: only the tanh/sigmoid activations export.")
    return variants.refusals(cell, variants.ONNX_LSTM)


def _lstm(graph, layer, directions, x):
    """Adds an LSTM node for one layer (1 or 2 directions); returns its output name."""
    missing = [what for lstm in directions for what in _check_lstm(layer, lstm)]
    first = directions[0]
    if missing:
        # The step written out in plain ONNX ops (`_step`), in a Scan loop.
        graph.fallbacks.append(
            f"{layer.name}: {', '.join(dict.fromkeys(missing))} -> ONNX Scan over the step in plain ops"
        )
        if graph.streaming:
            return _streaming_step(graph, layer, first, x)
        return _scan(graph, layer, directions, x)
    if graph.streaming:
        return _lstm_step(graph, layer, first, x)
    W, R, B, P = onnx_lstm_weights(directions)
    if len(directions) == 2:
        direction = "bidirectional"
    else:
        direction = "reverse" if first.go_backwards else "forward"
    attributes = {"hidden_size": first.cell.units, "direction": direction}
    if first.cell.coupled_gates:
        attributes["input_forget"] = 1
    if first.cell.gate_clip is not None:
        attributes["clip"] = first.cell.gate_clip
    inputs = [graph.node("Transpose", [x], layer.name, perm=[1, 0, 2])]
    inputs += [graph.constant(f"{layer.name}_{n}", a) for n, a in (("W", W), ("R", R), ("B", B))]
    if P is not None:
        inputs += ["", "", "", graph.constant(f"{layer.name}_P", P)]
    y, y_h = graph.node("LSTM", inputs, layer.name, outputs=2, **attributes)
    if not first.return_sequences:  # Y_h (directions, batch, units) -> (batch, directions * units)
        last = graph.node("Transpose", [y_h], layer.name, perm=[1, 0, 2])
        return graph.node("Reshape", [last, graph.constant("shape", np.array([0, -1]))], layer.name)
    # Y (time, directions, batch, units) -> (batch, time, directions * units)
    y = graph.node("Transpose", [y], layer.name, perm=[2, 0, 1, 3])
    y = graph.node("Reshape", [y, graph.constant("shape", np.array([0, 0, -1]))], layer.name)
    if direction == "reverse":
        # ONNX gives a reverse LSTM's outputs in input order; Keras in the
        # order processed (last step first).
        y = graph.node(
            "Slice",
            [y, *(graph.constant(n, np.array([v])) for n, v in (("starts", -1), ("ends", -(2**62)), ("axes", 1), ("steps", -1)))],
            layer.name,
        )
    return y


def _lstm_step(graph, layer, lstm, x):
    """One step of `lstm` with its state as graph inputs and outputs.

    The step reads a frame (batch, features) and the layer's "<name>_h" and
    "<name>_c" inputs, and writes "<name>_h_out" and "<name>_c_out": an ONNX
    LSTM node run over a sequence of length 1.
    """
    if lstm.go_backwards or len(_directions(layer)) > 1:
        raise ValueError(
            f"Layer {layer.name!r} reads its sequence backwards; a streaming model can only "
            "run forward LSTMs (frames arrive one at a time)."
        )
    W, R, B, P = onnx_lstm_weights([lstm])
    attributes = {"hidden_size": lstm.cell.units, "direction": "forward"}
    if lstm.cell.coupled_gates:
        attributes["input_forget"] = 1
    if lstm.cell.gate_clip is not None:
        attributes["clip"] = lstm.cell.gate_clip
    axis = graph.constant("axis", np.array([0]))
    h, c = (graph.add_state(f"{lstm.name}_{name}", lstm.cell.units) for name in ("h", "c"))
    inputs = [graph.node("Unsqueeze", [x, axis], layer.name)]
    inputs += [graph.constant(f"{layer.name}_{n}", a) for n, a in (("W", W), ("R", R), ("B", B))]
    inputs += ["", graph.node("Unsqueeze", [h, axis], layer.name), graph.node("Unsqueeze", [c, axis], layer.name)]
    if P is not None:
        inputs.append(graph.constant(f"{layer.name}_P", P))
    _, h_next, c_next = graph.node("LSTM", inputs, layer.name, outputs=3, **attributes)
    for state, name in ((h_next, h), (c_next, c)):
        graph.nodes.append(graph.onnx.helper.make_node("Squeeze", [state, axis], [f"{name}_out"]))
    return f"{h}_out"


def _weight(graph, lstm, name):
    """The initializer of one of `lstm`'s cell weights (added once)."""
    key = f"{lstm.name}_{name}_{id(lstm)}"
    if key not in graph.weights:
        value = keras.ops.convert_to_numpy(getattr(lstm.cell, name)).astype("float32")
        graph.weights[key] = graph.constant(f"{lstm.name}_{name}", value)
    return graph.weights[key]


def _step(graph, lstm, x, h, c):
    """One step of `lstm` (any variant) in plain ONNX ops; returns (h_t, c_t).

    The same equations as keras_lstm/gates.py, in the same order, for the
    variants the LSTM op lacks: projection, layer norm, the clips, zoneout
    (its inference-time expectation).
    """
    cell, hint = lstm.cell, lstm.name
    node = lambda op, *inputs, **attributes: graph.node(op, list(inputs), hint, **attributes)  # noqa: E731
    scalar = lambda value: graph.constant("scalar", np.array(value, "float32"))  # noqa: E731
    clip = lambda v, bound: node("Clip", v, scalar(-bound), scalar(bound)) if bound else v  # noqa: E731
    z = node("Add", node("MatMul", x, _weight(graph, lstm, "kernel")), node("MatMul", h, _weight(graph, lstm, "recurrent_kernel")))
    if gates.bias_in_projection(cell):
        z = node("Add", z, _weight(graph, lstm, "bias"))
    names = gate_names(cell.coupled_gates)
    sizes = graph.constant("split", np.array([cell.units] * len(names)))
    blocks = dict(zip(names, graph.node("Split", [z, sizes], hint, outputs=len(names), axis=1)))
    if cell.layer_norm:
        scales = _split_gates(keras.ops.convert_to_numpy(cell.gate_norm_scale), names)
        biases = _split_gates(keras.ops.convert_to_numpy(cell.bias), names) if cell.use_bias else {}
        for name in names:
            scale = graph.constant("norm_scale", scales[name])
            bias = graph.constant("norm_bias", biases.get(name, np.zeros(cell.units, "float32")))
            blocks[name] = node("LayerNormalization", blocks[name], scale, bias, axis=-1, epsilon=cell.layer_norm_epsilon)
    if cell.peephole:
        blocks["f"] = node("Add", blocks["f"], node("Mul", _weight(graph, lstm, "peephole_f"), c))
        if not cell.coupled_gates:
            blocks["i"] = node("Add", blocks["i"], node("Mul", _weight(graph, lstm, "peephole_i"), c))
    forget = node("Sigmoid", clip(blocks["f"], cell.gate_clip))
    input_gate = node("Sub", scalar(1.0), forget) if cell.coupled_gates else node("Sigmoid", clip(blocks["i"], cell.gate_clip))
    candidate = node("Tanh", clip(blocks["c"], cell.gate_clip))
    c_next = clip(node("Add", node("Mul", forget, c), node("Mul", input_gate, candidate)), cell.cell_clip)
    z_o = blocks["o"]
    if cell.peephole:
        z_o = node("Add", z_o, node("Mul", _weight(graph, lstm, "peephole_o"), c_next))
    output_gate = node("Sigmoid", clip(z_o, cell.gate_clip))
    shown = c_next
    if cell.layer_norm:
        shown = node(
            "LayerNormalization",
            c_next,
            _weight(graph, lstm, "cell_norm_scale"),
            _weight(graph, lstm, "cell_norm_center"),
            axis=-1,
            epsilon=cell.layer_norm_epsilon,
        )
    h_next = node("Mul", output_gate, node("Tanh", shown))
    if cell.proj_units:
        h_next = clip(node("MatMul", h_next, _weight(graph, lstm, "projection_kernel")), cell.proj_clip)
    for rate, previous, name in ((cell.zoneout_cell, c, "c"), (cell.zoneout_hidden, h, "h")):
        if rate:  # inference: the expectation of zoneout
            new = c_next if name == "c" else h_next
            mixed = node("Add", node("Mul", scalar(rate), previous), node("Mul", scalar(1.0 - rate), new))
            c_next, h_next = (mixed, h_next) if name == "c" else (c_next, mixed)
    return h_next, c_next


def _zeros_like_batch(graph, x, size, hint):
    """Zeros (batch, size), the batch read from `x` (batch first) at run time."""
    batch = graph.node("Slice", [graph.node("Shape", [x], hint), *(graph.constant(n, np.array([v])) for n, v in (("start", 0), ("end", 1)))], hint)
    shape = graph.node("Concat", [batch, graph.constant("size", np.array([size]))], hint, axis=0)
    return graph.node("ConstantOfShape", [shape], hint, value=graph.onnx.numpy_helper.from_array(np.zeros(1, "float32")))


def _scan(graph, layer, directions, x):
    """The layer as ONNX Scan loops over `_step`: one per direction."""
    onnx = graph.onnx
    time_major = graph.node("Transpose", [x], layer.name, perm=[1, 0, 2])
    results = []
    for index, lstm in enumerate(directions):
        cell = lstm.cell
        body = _Graph(onnx)
        body.constant = graph.constant  # weights live in the outer graph
        body.weights = graph.weights
        body.count = graph.count + 1000 * (index + 1)
        h_in, c_in, x_in = (body.name(f"{lstm.name}_{n}_in") for n in ("h", "c", "x"))
        h_out, c_out = _step(body, lstm, x_in, h_in, c_in)
        names = [body.name(f"{lstm.name}_{n}_out") for n in ("h", "c", "y")]
        for source, name in zip((h_out, c_out, h_out), names):
            body.nodes.append(onnx.helper.make_node("Identity", [source], [name]))
        graph.count = body.count
        floats = onnx.TensorProto.FLOAT
        body_graph = onnx.helper.make_graph(
            body.nodes,
            f"{lstm.name}_step",
            [onnx.helper.make_tensor_value_info(n, floats, None) for n in (h_in, c_in, x_in)],
            [onnx.helper.make_tensor_value_info(n, floats, None) for n in names],
        )
        initial = [_zeros_like_batch(graph, x, cell.hidden_size, layer.name), _zeros_like_batch(graph, x, cell.units, layer.name)]
        backward = bool(lstm.go_backwards)
        # Keras: a go_backwards layer's outputs come in processing order, but
        # a Bidirectional flips its backward layer's back to input order.
        outputs_reversed = backward and len(directions) == 2
        h_last, _, sequence = graph.node(
            "Scan",
            [*initial, time_major],
            layer.name,
            outputs=3,
            body=body_graph,
            num_scan_inputs=1,
            scan_input_directions=[int(backward)],
            scan_output_directions=[int(outputs_reversed)],
        )
        if lstm.return_sequences:
            results.append(graph.node("Transpose", [sequence], layer.name, perm=[1, 0, 2]))
        else:
            results.append(h_last)
    if len(results) == 1:
        return results[0]
    return graph.node("Concat", results, layer.name, axis=-1)


def _streaming_step(graph, layer, lstm, x):
    """A streaming step of a variant LSTM: `_step` between state inputs and outputs."""
    if lstm.go_backwards or len(_directions(layer)) > 1:
        raise ValueError(
            f"Layer {layer.name!r} reads its sequence backwards; a streaming model can only "
            "run forward LSTMs (frames arrive one at a time)."
        )
    h = graph.add_state(f"{lstm.name}_h", lstm.cell.hidden_size)
    c = graph.add_state(f"{lstm.name}_c", lstm.cell.units)
    h_next, c_next = _step(graph, lstm, x, h, c)
    for state, name in ((h_next, h), (c_next, c)):
        graph.nodes.append(graph.onnx.helper.make_node("Identity", [state], [f"{name}_out"]))
    return h_next


def _activation(graph, name, x, hint):
    op = _ACTIVATIONS.get(name)
    if name not in _ACTIVATIONS:
        raise ValueError(f"Layer {hint!r}: activation {name!r} has no ONNX mapping here.")
    if op is None:
        return x
    return graph.node(op, [x], hint, **({"axis": -1} if op == "Softmax" else {}))


def _layer(graph, layer, x):
    if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
        return x
    if isinstance(layer, LSTM):
        return _lstm(graph, layer, [layer], x)
    if isinstance(layer, keras.layers.Bidirectional) and isinstance(layer.forward_layer, LSTM):
        if layer.merge_mode != "concat":
            raise ValueError(f"Layer {layer.name!r}: only merge_mode='concat' exports.")
        return _lstm(graph, layer, _directions(layer), x)
    if isinstance(layer, StackedLSTM):
        for sublayer in _sublayers(layer):
            x = _layer(graph, sublayer, x)
        return x
    if isinstance(layer, keras.layers.Dense):
        y = graph.node("MatMul", [x, graph.constant(f"{layer.name}_kernel", keras.ops.convert_to_numpy(layer.kernel))], layer.name)
        if layer.use_bias:
            y = graph.node("Add", [y, graph.constant(f"{layer.name}_bias", keras.ops.convert_to_numpy(layer.bias))], layer.name)
        return _activation(graph, keras.activations.serialize(layer.activation), y, layer.name)
    if isinstance(layer, keras.layers.Activation):
        return _activation(graph, keras.activations.serialize(layer.activation), x, layer.name)
    if isinstance(layer, keras.layers.Embedding) and not layer.mask_zero:
        table = keras.ops.convert_to_numpy(layer.embeddings)
        indices = graph.node("Cast", [x], layer.name, to=7)  # int64
        return graph.node("Gather", [graph.constant(f"{layer.name}_embeddings", table), indices], layer.name)
    raise ValueError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no ONNX export here. Supported: "
        "keras_lstm.LSTM, Bidirectional(keras_lstm.LSTM), StackedLSTM, Dense, Embedding "
        "(mask_zero=False), Dropout, Activation."
    )


def _is_chain(model):
    if isinstance(model, keras.Sequential):
        return True
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    return all(
        getattr(layer.input, "_keras_history", (None,))[0] is previous and len(layer._inbound_nodes) == 1
        for previous, layer in zip(layers, layers[1:])
    )


def _chain(model):
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("to_onnx exports models with one input and one output.")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        return layers
    # A functional model must be a chain: each layer reads the previous one.
    for previous, layer in zip(layers, layers[1:]):
        producer = getattr(layer.input, "_keras_history", (None,))[0]
        if producer is not previous:
            raise ValueError(
                f"The exporters take chains of layers; {layer.name!r} does not read the output of {previous.name!r}."
            )
    return layers


def _input_shape_and_type(model):
    shape = tuple(model.inputs[0].shape)
    dtype = keras.backend.standardize_dtype(model.inputs[0].dtype)
    return shape, dtype


def to_onnx(model, path, opset=17, verify=True, sample_inputs=None, tolerance=None, streaming=False, quantize=None):
    """Writes `model` to `path` as ONNX; returns a report dict.

    Args:
        model: a built Keras model (Sequential or a functional chain) on any
            backend; it need not have been called.
        path: the .onnx file to write.
        opset: the ONNX opset (LSTM's layout is the same from 7 on; a
            functional graph's attention and slices need 13 or later).
        verify: run the file in onnxruntime on `sample_inputs` (default: a
            random batch of 2 sequences of 7 steps, or the model's fixed
            length) and raise if its outputs differ from the model's by more
            than `tolerance` relative to their largest magnitude.

        streaming: export one step instead of the whole sequence: inputs
            "inputs" (batch, features), the frame, and "<lstm>_h", "<lstm>_c"
            for each LSTM layer; outputs "outputs" (this step's output) and
            "<lstm>_h_out", "<lstm>_c_out". Feeding T frames one after the
            other, each step's states into the next, gives the outputs of the
            full model at each step (its last output for a model that returns
            only that). Forward LSTMs only.
        quantize: None, or "dynamic": onnxruntime's dynamic quantization
            (int8 weights; LSTM nodes become com.microsoft
            DynamicQuantizeLSTM, MatMul MatMulInteger). The tolerance of the
            check is then 0.1 instead of 1e-4.

    Returns:
        {"path", "lstm_nodes", "max_error" (None without verify), "states"
        (streaming: [(input name, size)])}.

    The graph's input "inputs" and output "outputs" have dynamic batch (and,
    where the model allows, time) axes.

    A functional model that is not a chain (several inputs or outputs, LSTMs
    given an initial state, attention: an encoder, or one decoder step) is
    written by `onnx_functional`; its ONNX inputs and outputs take the Keras
    inputs' and outputs' names, and `sample_inputs` is a list with one array
    per input (default: `onnx_functional.sample_inputs`).
    """
    import onnx

    if not _is_chain(model):
        if streaming:
            raise ValueError("streaming=True takes a chain of layers; this model has several inputs or outputs.")
        return _to_onnx_functional(onnx, model, path, opset, verify, sample_inputs, tolerance, quantize)
    layers = _chain(model)
    shape, dtype = _input_shape_and_type(model)
    graph = _Graph(onnx, streaming=streaming)
    x = "inputs"
    for layer in layers:
        x = _layer(graph, layer, x)
    graph.nodes.append(onnx.helper.make_node("Identity", [x], ["outputs"], name="outputs"))
    input_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    dims = ["batch"] + [d if d is not None else f"axis_{k}" for k, d in enumerate(shape[1:], start=1)]
    if len(dims) > 1 and shape[1] is None:
        dims[1] = "time"
    output_dims = ["batch"] + [d if d is not None else "time" for d in model.outputs[0].shape[1:]]
    if streaming:  # no time axis: one frame in, one step's output out
        dims = [dims[0]] + dims[2:]
        output_dims = ["batch", model.outputs[0].shape[-1]]
    floats = onnx.TensorProto.FLOAT
    state_inputs = [onnx.helper.make_tensor_value_info(name, floats, ["batch", size]) for name, size in graph.states]
    state_outputs = [onnx.helper.make_tensor_value_info(f"{name}_out", floats, ["batch", size]) for name, size in graph.states]
    onnx_graph = onnx.helper.make_graph(
        graph.nodes,
        model.name,
        [onnx.helper.make_tensor_value_info("inputs", input_type, dims)] + state_inputs,
        [onnx.helper.make_tensor_value_info("outputs", floats, output_dims)] + state_outputs,
        graph.initializers,
    )
    onnx_model = onnx.helper.make_model(
        onnx_graph, opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="keras-lstm"
    )
    onnx_model = _checked_and_quantized(onnx, onnx_model, quantize)
    report = {
        "path": str(path),
        "lstm_nodes": sum(node.op_type in ("LSTM", "DynamicQuantizeLSTM") for node in onnx_model.graph.node),
        "max_error": None,
        "states": list(graph.states),
        "size_bytes": onnx_model.ByteSize(),
        "fallbacks": list(graph.fallbacks),
    }
    if tolerance is None:
        tolerance = 0.1 if quantize else 1e-4
    if verify:
        report["max_error"] = _verify(onnx_model, model, shape, dtype, sample_inputs, tolerance, graph.states)
    onnx.save(onnx_model, str(path))
    return report


def _to_onnx_functional(onnx, model, path, opset, verify, sample_inputs, tolerance, quantize):
    from keras_lstm.export import onnx_functional

    graph = _Graph(onnx)
    input_names, output_names = onnx_functional.export_graph(graph, model)
    inputs = []
    for tensor, name in zip(model.inputs, input_names):
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        dims = ["batch"] + [d if d is not None else f"{name}_axis_{k}" for k, d in enumerate(tensor.shape[1:], start=1)]
        inputs.append(onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), dims))
    outputs = [
        onnx.helper.make_tensor_value_info(
            name, onnx.TensorProto.FLOAT, ["batch"] + [d if d is not None else f"{name}_axis_{k}" for k, d in enumerate(tensor.shape[1:], start=1)]
        )
        for tensor, name in zip(keras.tree.flatten(model.outputs), output_names)
    ]
    onnx_model = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, model.name, inputs, outputs, graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="keras-lstm",
    )
    onnx_model = _checked_and_quantized(onnx, onnx_model, quantize)
    report = {
        "path": str(path),
        "inputs": input_names,
        "outputs": output_names,
        "lstm_nodes": sum(node.op_type in ("LSTM", "DynamicQuantizeLSTM") for node in onnx_model.graph.node),
        "max_error": None,
        "size_bytes": onnx_model.ByteSize(),
        "fallbacks": [],
    }
    if verify:
        import onnxruntime

        samples = onnx_functional.sample_inputs(model) if sample_inputs is None else [np.asarray(s) for s in sample_inputs]
        outputs = model(samples if len(samples) > 1 else samples[0], training=False)
        expected = [np.asarray(keras.ops.convert_to_numpy(y), np.float64) for y in keras.tree.flatten(outputs)]
        session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
        actual = session.run(output_names, dict(zip(input_names, samples)))
        errors = [float(np.abs(a - e).max() / max(np.abs(e).max(), 1e-12)) for a, e in zip(actual, expected)]
        error = max(errors)
        limit = tolerance if tolerance is not None else (0.1 if quantize else 1e-4)
        if not error < limit:
            worst = output_names[int(np.argmax(errors))]
            raise RuntimeError(
                f"The exported ONNX model disagrees with the Keras model: relative error {error:.2e} in "
                f"output {worst!r} (tolerance {limit:.0e}). Nothing was written."
            )
        report["max_error"] = error
    onnx.save(onnx_model, str(path))
    return report


def _checked_and_quantized(onnx, onnx_model, quantize):
    """The model after ONNX's full check, int8-quantized with `quantize="dynamic"`."""
    onnx.checker.check_model(onnx_model, full_check=True)
    if quantize not in (None, "dynamic"):
        raise ValueError(f"`quantize` must be None or 'dynamic'. Received: quantize={quantize!r}")
    return _quantize_dynamic(onnx_model) if quantize else onnx_model


def _quantize_dynamic(onnx_model):
    """onnxruntime's dynamic (int8 weight) quantization of a model in memory."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        source, target = f"{folder}/float.onnx", f"{folder}/int8.onnx"
        onnx.save(onnx_model, source)
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        return onnx.load(target)


def _sample(shape, dtype, model):
    rng = np.random.default_rng(0)
    full = [2] + [d if d is not None else 7 for d in shape[1:]]
    if "int" in dtype:
        embedding = next(layer for layer in model.layers if isinstance(layer, keras.layers.Embedding))
        return rng.integers(0, embedding.input_dim, full).astype(dtype)
    return rng.standard_normal(full).astype(dtype)


def run_streaming(session, frames, states):
    """Feeds (batch, time, ...) `frames` one step at a time; returns every step's output.

    `session` is an onnxruntime session of a streaming export, `states` its
    report's [(name, size)]: every state starts at zero.
    """
    batch = frames.shape[0]
    values = {name: np.zeros((batch, size), np.float32) for name, size in states}
    outputs = []
    for t in range(frames.shape[1]):
        results = session.run(None, {"inputs": frames[:, t], **values})
        outputs.append(results[0])
        values = {name: value for (name, _), value in zip(states, results[1:])}
    return np.stack(outputs, axis=1)


def _verify(onnx_model, model, shape, dtype, sample_inputs, tolerance, states):
    import onnxruntime

    x = _sample(shape, dtype, model) if sample_inputs is None else np.asarray(sample_inputs)
    expected = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), np.float64)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    if states:
        per_step = run_streaming(session, x, states)
        # A model that returns sequences is compared step by step; one that
        # returns its last output, with the last step.
        actual = per_step if expected.ndim == per_step.ndim else per_step[:, -1]
    else:
        actual = session.run(None, {"inputs": x})[0]
    error = float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-12))
    if not error < tolerance:
        raise RuntimeError(
            f"The exported ONNX model disagrees with the Keras model: relative error {error:.2e} "
            f"on sample inputs of shape {x.shape} (tolerance {tolerance:.0e}). Nothing was written."
        )
    return error
