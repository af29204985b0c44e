"""`to_onnx`: Keras models with keras_lstm layers as ONNX graphs of native `LSTM` nodes.

Keras 3's own ONNX export turns a recurrent layer into a `Loop` (torch backend:
every step unrolled for a fixed length), and `tf2onnx.convert.from_keras` fails
on Keras 3 models. This exporter writes the graph itself, layer by layer, so
that every `keras_lstm.LSTM` becomes one ONNX `LSTM` node with dynamic batch and
time axes, which onnxruntime runs with its fused kernel.

Any model, Sequential or functional (several inputs and outputs, LSTMs given
`initial_state` or returning their state, attention: an encoder, one decoder
step), is walked with Keras's own traversal (`export/common.py`). Layers:
`keras_lstm.LSTM` (forward, `go_backwards`; peepholes, coupled gates and
`gate_clip` in the native node; what the LSTM op cannot express, as listed in
`keras_lstm/variants.py`, as an ONNX `Scan` over the step in plain ops, named
in the report's "fallbacks"), `keras.layers.Bidirectional` of one (merge mode
"concat"), `keras_lstm.StackedLSTM`, `Embedding` (with `mask_zero`: the mask
becomes the LSTM's sequence lengths, right-padded as post-padded ids give),
`Dense`, `Concatenate`, `Add`, `Attention` (dot scores, no scale) and
`AdditiveAttention` (no causal mask), `GlobalAveragePooling1D` (over the mask's steps),
`UnitNormalization` and `LayerNormalization` (last axis), `Rescaling`,
`Reshape`, `Dropout`, `Activation`, `Identity`, fixed slices (`x[..., -16:]`),
functional models inside the model, and layers with their own `export_onnx`
(`common.OWN_EXPORT`). Anything else raises a `ValueError` naming the layer;
nothing is exported half right.
"""

import keras
import numpy as np

from keras_lstm.export import common, onnx_lstm

_FLOAT, _INT64, _BOOL = 1, 7, 9


# Reductions whose axes are an attribute until opset 17 and an input from opset 18
# (ReduceSum's moved at 13, which this exporter's lowest opset already has).
_AXES_INPUT_FROM_18 = {
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
    "ReduceSumSquare",
}


class _Graph:
    """Collects ONNX nodes and initializers with unique names, for one opset."""

    def __init__(self, onnx, opset, streaming=False):
        self.onnx, self.opset = onnx, opset
        self.streaming = streaming
        self.nodes, self.initializers, self.count = [], [], 0
        self.states = []  # (name, size) of each state input, in layer order
        self.fallbacks = []  # layers written as a Scan, and why
        self.weights = {}

    def add_state(self, name, size):
        unique = common.unique_name(name, {existing for existing, _ in self.states})
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
        """Adds a node; reductions are written with `axes=[...]` as an attribute, which
        becomes an input where the opset wants one."""
        if op in _AXES_INPUT_FROM_18 and "axes" in attributes and self.opset >= 18:
            inputs = [*inputs, self.constant(f"{hint}_axes", np.array(attributes.pop("axes"), np.int64))]
        names = [self.name(f"{hint}_{op.lower()}") for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, names, name=self.name(hint), **attributes))
        return names[0] if outputs == 1 else names

    def subgraph(self, offset):
        """A loop body: its own nodes, the outer graph's initializers and names."""
        body = _Graph(self.onnx, self.opset)
        body.constant = self.constant
        body.weights = self.weights
        body.count = self.count + offset
        return body


def to_onnx(model, path, opset=17, verify=True, sample_inputs=None, tolerance=None, streaming=False, quantize=None):
    """Writes `model` to `path` as ONNX; returns a report dict.

    Args:
        model: a built Keras model (Sequential or functional) on any backend;
            it need not have been called.
        path: the .onnx file to write.
        opset: the ONNX opset, 17 or later (LayerNormalization and the
            axes-as-inputs forms of Unsqueeze and ReduceSum).
        verify: run the file in onnxruntime on `sample_inputs` (default:
            `common.sample_inputs`: a batch of 2, free axes of length 7) and
            raise, writing nothing, if its outputs differ from the model's by
            more than `tolerance` relative to their largest magnitude
            (default 1e-4; 0.1 quantized).
        sample_inputs: an array, or a list with one array per input.
        streaming: export one step instead of the whole sequence: inputs the
            frame (batch, features) and "<lstm>_h", "<lstm>_c" for each LSTM
            layer; outputs this step's output and "<lstm>_h_out",
            "<lstm>_c_out". Feeding T frames one after the other, each step's
            states into the next, gives the outputs of the full model at each
            step (its last output for a model that returns only that).
            Forward LSTMs only; one input.
        quantize: None, or "dynamic": onnxruntime's dynamic quantization
            (int8 weights; LSTM nodes become com.microsoft
            DynamicQuantizeLSTM, MatMul MatMulInteger).

    A model with one input and one output has them named "inputs" and
    "outputs"; otherwise they take the Keras names.

    Returns:
        {"path", "inputs", "outputs", "lstm_nodes", "max_error" (None without
        verify), "states" (streaming: [(input name, size)]), "size_bytes",
        "fallbacks"}.
    """
    import onnx

    if quantize not in (None, "dynamic"):
        raise ValueError(f"`quantize` must be None or 'dynamic'. Received: quantize={quantize!r}")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 17:
        raise ValueError(f"`opset` must be an int, 17 or later (LayerNormalization came in 17). Received: opset={opset!r}")
    inputs = common.model_inputs(model)
    single = len(model.inputs) == 1 and len(model.outputs) == 1
    if streaming and len(inputs) != 1:
        raise ValueError("streaming=True takes a model with one input (the frame).")
    graph = _Graph(onnx, opset, streaming=streaming)
    input_names = ["inputs"] if single else [name for name, _, _ in inputs]
    outputs = common.walk(model, lambda layer, *args, **kwargs: _emit(graph, layer, *args, **kwargs), input_names)
    output_names = ["outputs"] if single else common.output_names(model, len(outputs))
    for value, name in zip(outputs, output_names):
        graph.nodes.append(onnx.helper.make_node("Identity", [value], [name], name=f"{name}_identity"))
    floats = onnx.TensorProto.FLOAT
    input_infos = [
        onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), _dims(name, shape, streaming, single)
        )
        for name, (_, shape, dtype) in zip(input_names, inputs)
    ]
    output_shapes = [tuple(t.shape)[1:] for t in keras.tree.flatten(model.outputs)]
    output_infos = [
        onnx.helper.make_tensor_value_info(name, floats, _dims(name, shape, streaming and len(shape) > 1, single))
        for name, shape in zip(output_names, output_shapes)
    ]
    state_inputs = [onnx.helper.make_tensor_value_info(name, floats, ["batch", size]) for name, size in graph.states]
    state_outputs = [onnx.helper.make_tensor_value_info(f"{name}_out", floats, ["batch", size]) for name, size in graph.states]
    onnx_model = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes, model.name, input_infos + state_inputs, output_infos + state_outputs, graph.initializers
        ),
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="keras-lstm",
    )
    onnx.checker.check_model(onnx_model, full_check=True)
    if quantize:
        onnx_model = _quantize_dynamic(onnx_model)
    report = {
        "path": str(path),
        "inputs": input_names,
        "outputs": output_names,
        "lstm_nodes": sum(node.op_type in ("LSTM", "DynamicQuantizeLSTM") for node in onnx_model.graph.node),
        "max_error": None,
        "states": list(graph.states),
        "size_bytes": onnx_model.ByteSize(),
        "fallbacks": list(graph.fallbacks),
    }
    if verify:
        tolerance = common.default_tolerance(quantize) if tolerance is None else tolerance
        report["max_error"] = _verify(onnx_model, model, input_names, output_names, sample_inputs, tolerance, graph.states)
    onnx.save(onnx_model, str(path))
    return report


def _dims(name, shape, streaming, single):
    """ONNX dimensions: a free batch, free axes named; a streaming frame has no time axis."""
    if streaming:
        shape = shape[1:]
    prefix = "" if single else f"{name}_"
    dims = ["batch"] + [d if d is not None else f"{prefix}axis_{k}" for k, d in enumerate(shape, start=1)]
    if single and not streaming and len(dims) > 1 and shape[0] is None:
        dims[1] = "time"
    return dims


def _emit(graph, layer, *args, **kwargs):
    """The ONNX of one layer: what its outputs become, from what its inputs became."""
    hint = layer.name
    node = lambda op, *inputs, **attributes: graph.node(op, list(inputs), hint, **attributes)  # noqa: E731
    x = args[0]
    if isinstance(layer, (keras.layers.Dropout, keras.layers.InputLayer, keras.layers.Identity)):
        return x
    if type(layer).__name__ == "NotEqual" and len(args) == 2 and np.isscalar(args[1]):
        # Embedding(mask_zero=True)'s mask: ids != 0.
        ids = node("Cast", x, to=_INT64)
        return node("Not", node("Equal", ids, graph.constant("value", np.array(args[1], np.int64))))
    if isinstance(layer, keras.layers.Embedding):
        table = graph.constant(f"{hint}_embeddings", keras.ops.convert_to_numpy(layer.embeddings))
        return node("Gather", table, node("Cast", x, to=_INT64))
    if isinstance(layer, keras.layers.Dense):
        y = node("MatMul", x, graph.constant(f"{hint}_kernel", keras.ops.convert_to_numpy(layer.kernel)))
        if layer.use_bias:
            y = node("Add", y, graph.constant(f"{hint}_bias", keras.ops.convert_to_numpy(layer.bias)))
        return onnx_lstm.activation(graph, layer.activation, y, hint)
    if isinstance(layer, keras.layers.Activation):
        return onnx_lstm.activation(graph, layer.activation, x, hint)
    if isinstance(layer, keras.layers.Concatenate):
        return node("Concat", *x, axis=layer.axis)
    if isinstance(layer, keras.layers.Add):
        return node("Sum", *x)
    if type(layer).__name__ == "GetItem":
        bounds = common.slice_bounds(layer, args[1])
        if not bounds:
            return x
        axes, starts, stops = (np.array(column, np.int64) for column in zip(*bounds))
        return node("Slice", x, graph.constant("starts", starts), graph.constant("ends", stops), graph.constant("axes", axes))
    if isinstance(layer, keras.layers.Reshape):
        return node("Reshape", x, graph.constant("shape", np.array([0] + list(layer.target_shape), np.int64)))
    if isinstance(layer, (keras.layers.Attention, keras.layers.AdditiveAttention)):
        return _attention(graph, layer, x, kwargs)
    if isinstance(layer, keras.layers.GlobalAveragePooling1D):
        common.check_average_pooling(layer)
        axis = lambda k: graph.constant("axis", np.array([k], np.int64))  # noqa: E731
        mask = kwargs.get("mask")
        if mask is None:
            return node("ReduceMean", x, axes=[1], keepdims=0)
        # Keras: the sum over the steps the mask keeps, over how many it keeps.
        kept = node("Unsqueeze", node("Cast", mask, to=_FLOAT), axis(2))
        return node("Div", node("ReduceSum", node("Mul", x, kept), axis(1), keepdims=0), node("ReduceSum", kept, axis(1), keepdims=0))
    if isinstance(layer, keras.layers.UnitNormalization):
        common.check_unit_normalization(layer)
        # Keras (ops.normalize): x * min(1 / sqrt(sum x^2), 1 / epsilon).
        squares = node("ReduceSum", node("Mul", x, x), graph.constant("axis", np.array([-1], np.int64)), keepdims=1)
        inverse = node("Min", node("Reciprocal", node("Sqrt", squares)), graph.constant("most", np.array(1e12, np.float32)))
        return node("Mul", x, inverse)
    if isinstance(layer, keras.layers.Rescaling):
        scale, offset = (np.asarray(keras.ops.convert_to_numpy(v), np.float32) for v in (layer.scale, layer.offset))
        return node("Add", node("Mul", x, graph.constant(f"{hint}_scale", scale)), graph.constant(f"{hint}_offset", offset))
    if isinstance(layer, keras.layers.LayerNormalization):
        common.check_layer_normalization(layer)
        gamma, beta = common.layer_normalization_weights(layer)
        # ONNX's LayerNormalization takes both; one of a single value broadcasts (its
        # definition multiplies and adds them to the normalised input).
        gamma = np.ones(1, np.float32) if gamma is None else gamma
        beta = np.zeros(1, np.float32) if beta is None else beta
        return node(
            "LayerNormalization", x, graph.constant(f"{hint}_gamma", gamma), graph.constant(f"{hint}_beta", beta),
            axis=-1, epsilon=float(layer.epsilon),
        )
    if common.is_recurrent(layer):
        return common.emit_recurrent(layer, x, kwargs, lambda *args: onnx_lstm.emit(graph, *args))
    if common.is_nested_model(layer):
        return common.walk_nested(layer, lambda *a, **k: _emit(graph, *a, **k), args)
    if common.own_export(layer, "ONNX"):
        return layer.export_onnx(LayerGraph(graph, hint), x)
    raise common.unsupported(layer, "ONNX")


class LayerGraph:
    """What a layer's own `export_onnx(graph, x)` writes with (see `common.OWN_EXPORT`)."""

    def __init__(self, graph, hint):
        self._graph, self._hint = graph, hint

    def node(self, op_type, *inputs, **attributes):
        """Adds an ONNX node of `op_type`; returns its output's name."""
        return self._graph.node(op_type, list(inputs), self._hint, **attributes)

    def constant(self, array):
        """Adds `array` as an initializer; returns its name."""
        return self._graph.constant(self._hint, np.asarray(array))


def _attention(graph, layer, inputs, kwargs):
    """keras.layers.Attention (dot scores) or AdditiveAttention (sum(scale * tanh(q + k))):
    softmax of the scores, padding at -1e9, times v, as Keras computes it."""
    additive = common.check_attention(layer, kwargs)
    hint = layer.name
    node = lambda op, *names, **attributes: graph.node(op, list(names), hint, **attributes)  # noqa: E731
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    query_mask, value_mask = kwargs.get("mask") or (None, None)
    if additive:
        axis = lambda k: graph.constant("axis", np.array([k], np.int64))  # noqa: E731
        summed = node("Tanh", node("Add", node("Unsqueeze", query, axis(2)), node("Unsqueeze", key, axis(1))))
        if layer.use_scale:
            summed = node("Mul", summed, graph.constant(f"{hint}_scale", keras.ops.convert_to_numpy(layer.scale)))
        scores = node("ReduceSum", summed, axis(-1), keepdims=0)
    else:
        scores = node("MatMul", query, node("Transpose", key, perm=[0, 2, 1]))
    if value_mask is not None:
        keep = node("Unsqueeze", node("Cast", value_mask, to=_BOOL), graph.constant("axis", np.array([1], np.int64)))
        shifted = node("Sub", scores, graph.constant("big", np.array(1e9, np.float32)))
        scores = node("Where", keep, scores, shifted)
    weights = node("Softmax", scores, axis=-1)
    output = node("MatMul", weights, value)
    if query_mask is not None:
        keep = node("Unsqueeze", node("Cast", query_mask, to=_BOOL), graph.constant("axis", np.array([-1], np.int64)))
        output = node("Where", keep, output, graph.constant("zero", np.array(0, np.float32)))
    return (output, weights) if kwargs.get("return_attention_scores") else output


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


def run_streaming(session, frames, states, input_name="inputs"):
    """Feeds (batch, time, ...) `frames` one step at a time; returns every step's output.

    `session` is an onnxruntime session of a streaming export, `states` its
    report's [(name, size)]: every state starts at zero.
    """
    batch = frames.shape[0]
    values = {name: np.zeros((batch, size), np.float32) for name, size in states}
    outputs = []
    for t in range(frames.shape[1]):
        results = session.run(None, {input_name: frames[:, t], **values})
        outputs.append(results[0])
        values = {name: value for (name, _), value in zip(states, results[1:])}
    return np.stack(outputs, axis=1)


def _verify(onnx_model, model, input_names, output_names, sample_inputs, tolerance, states):
    import onnxruntime

    if sample_inputs is None:
        samples = common.sample_inputs(model)
    elif isinstance(sample_inputs, (list, tuple)):
        samples = [np.asarray(s) for s in sample_inputs]
    else:
        samples = [np.asarray(sample_inputs)]
    expected = common.keras_outputs(model, samples)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    if states:
        per_step = run_streaming(session, samples[0], states, input_names[0])
        # A model that returns sequences is compared step by step; one that
        # returns its last output, with the last step.
        actual = [per_step if expected[0].ndim == per_step.ndim else per_step[:, -1]]
    else:
        actual = session.run(output_names, dict(zip(input_names, samples)))
    where = f" on sample inputs of shape {samples[0].shape}" if len(samples) == 1 else ""
    return common.check_agreement("ONNX", output_names, actual, expected, tolerance, where)
