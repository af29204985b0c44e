"""ONNX for functional Keras models that are not a chain: several inputs and
outputs, LSTMs started from given states, attention.

This is what an encoder-decoder exports as: the encoder (ids -> memory and
states) and one decoder step (token, states, memory -> scores, states), each
a model of its own. The graph is walked with Keras's own traversal
(`Functional._run_through_graph`), each layer written as ONNX nodes. Keras 3
records a mask as an explicit argument of the layer it reaches (computed by
an op such as `not_equal(ids, 0)` from `Embedding(mask_zero=True)`), so the
export follows exactly the masks Keras uses: they become the LSTM node's
`sequence_lens` and the attention's padding.

Layers: `keras_lstm.LSTM` (with `initial_state`, `return_state`; a mask must
be right-padded, as `Embedding(mask_zero=True)` on post-padded ids gives),
`Bidirectional` of one, `Embedding` (with `mask_zero`), `Dense`,
`Concatenate`, `Add`, `Attention` (dot scores, no scale) and `AdditiveAttention` (no causal
mask), `Reshape`, `Dropout`, `Activation`, `Identity`, and slices of a tensor with fixed
bounds (`x[..., -16:]`, Keras's `GetItem` op). Anything else raises a `ValueError`
naming the layer.
"""

import keras
import numpy as np

from keras_lstm.export.onnx import _activation, _check_lstm, onnx_lstm_weights
from keras_lstm.interop import _directions
from keras_lstm.lstm import LSTM

_INT64, _FLOAT, _BOOL, _INT32 = 7, 1, 9, 6


def export_graph(graph, model):
    """Adds `model`'s nodes to `graph`; returns (input names, output names)."""

    def operation(layer):
        return lambda *args, **kwargs: _emit(graph, layer, *args, **kwargs)

    inputs = [tensor.name for tensor in model.inputs]
    outputs = keras.tree.flatten(model._run_through_graph(inputs, operation_fn=operation))
    names = list(model.output_names) if len(model.output_names) == len(outputs) else [f"output_{k}" for k in range(len(outputs))]
    for k, name in enumerate(names):  # two outputs of one layer share its name
        if name in names[:k]:
            names[k] = f"{name}_{k}"
    for value, name in zip(outputs, names):
        graph.nodes.append(graph.onnx.helper.make_node("Identity", [value], [name], name=f"{name}_identity"))
    return inputs, names


def _emit(graph, layer, *args, **kwargs):
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
        return _activation(graph, keras.activations.serialize(layer.activation), y, hint)
    if isinstance(layer, keras.layers.Activation):
        return _activation(graph, keras.activations.serialize(layer.activation), x, hint)
    if isinstance(layer, keras.layers.Concatenate):
        return node("Concat", *x, axis=layer.axis)
    if isinstance(layer, keras.layers.Add):
        return node("Sum", *x)
    if type(layer).__name__ == "GetItem":
        bounds = slice_bounds(layer, args[1])
        if not bounds:
            return x
        axes, starts, stops = (np.array(column, np.int64) for column in zip(*bounds))
        return node("Slice", x, graph.constant("starts", starts), graph.constant("ends", stops), graph.constant("axes", axes))
    if isinstance(layer, keras.layers.Reshape):
        return node("Reshape", x, graph.constant("shape", np.array([0] + list(layer.target_shape), np.int64)))
    if isinstance(layer, (keras.layers.Attention, keras.layers.AdditiveAttention)):
        return _attention(graph, layer, x, kwargs)
    if isinstance(layer, LSTM) or (isinstance(layer, keras.layers.Bidirectional) and isinstance(layer.forward_layer, LSTM)):
        return _recurrent(graph, layer, x, kwargs.get("mask"), kwargs.get("initial_state"))
    raise ValueError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no ONNX export in a functional graph. Supported: "
        "keras_lstm.LSTM, Bidirectional(keras_lstm.LSTM), Embedding, Dense, Concatenate, Add, Attention, "
        "Reshape, Dropout, Activation, fixed slices, and Embedding's mask."
    )


def slice_bounds(layer, key):
    """[(axis, start, stop)] of `x[key]`, for the keys both exporters take: slices with
    fixed bounds and step 1, from the first axis on or, after an Ellipsis, ending at
    the last (axes counted from the end). Whole-axis slices are left out."""
    key = key if isinstance(key, tuple) else (key,)
    trailing = key[:1] == (Ellipsis,)
    slices = key[1:] if trailing else key
    fixed = lambda bound: bound is None or isinstance(bound, int)  # noqa: E731
    if not all(isinstance(s, slice) and s.step in (None, 1) and fixed(s.start) and fixed(s.stop) for s in slices):
        raise ValueError(
            f"Layer {layer.name!r}: only slices with fixed bounds and step 1 export, such as x[..., -16:] "
            f"or x[:, 1:3]; got the index {key!r}."
        )
    axes = range(-len(slices), 0) if trailing else range(len(slices))
    return [
        (axis, s.start or 0, s.stop if s.stop is not None else np.iinfo(np.int64).max)
        for axis, s in zip(axes, slices)
        if (s.start, s.stop) != (None, None)
    ]


def _attention(graph, layer, inputs, kwargs):
    """keras.layers.Attention (dot scores) or AdditiveAttention (sum(scale * tanh(q + k))):
    softmax of the scores, padding at -1e9, times v, as Keras computes it."""
    additive = isinstance(layer, keras.layers.AdditiveAttention)
    if kwargs.get("use_causal_mask") or (not additive and (layer.score_mode != "dot" or layer.use_scale)):
        raise ValueError(f"Layer {layer.name!r}: only dot or additive scores without causal mask export.")
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


def _recurrent(graph, layer, x, mask, initial_state):
    """One ONNX LSTM node for a keras_lstm.LSTM or a Bidirectional of one."""
    hint = layer.name
    node = lambda op, *names, outputs=1, **attributes: graph.node(op, list(names), hint, outputs=outputs, **attributes)  # noqa: E731
    constant = lambda value, dtype=np.int64: graph.constant("value", np.array(value, dtype))  # noqa: E731
    directions = _directions(layer)
    first = directions[0]
    missing = [what for lstm in directions for what in _check_lstm(layer, lstm)]
    if missing:
        raise ValueError(f"Layer {hint!r}: {', '.join(missing)} cannot export in a functional graph yet.")
    bidirectional = len(directions) == 2
    if bidirectional and layer.merge_mode != "concat":
        raise ValueError(f"Layer {hint!r}: only merge_mode='concat' exports.")
    if mask is not None and first.go_backwards and not bidirectional:
        raise ValueError(f"Layer {hint!r}: a masked go_backwards LSTM exports only inside Bidirectional.")
    W, R, B, P = onnx_lstm_weights(directions)
    attributes = {"hidden_size": first.cell.units}
    attributes["direction"] = "bidirectional" if bidirectional else ("reverse" if first.go_backwards else "forward")
    if first.cell.coupled_gates:
        attributes["input_forget"] = 1
    if first.cell.gate_clip is not None:
        attributes["clip"] = first.cell.gate_clip
    inputs = [node("Transpose", x, perm=[1, 0, 2])]
    inputs += [graph.constant(f"{hint}_{n}", a) for n, a in (("W", W), ("R", R), ("B", B))]
    # A right-padded mask is the sequence lengths.
    inputs.append(node("ReduceSum", node("Cast", mask, to=_INT32), constant([1]), keepdims=0) if mask is not None else "")
    if initial_state is not None:
        states = keras.tree.flatten(initial_state)
        axis = constant([0])
        if bidirectional:  # [h_f, c_f, h_b, c_b] -> (2, batch, units) each
            h = node("Concat", node("Unsqueeze", states[0], axis), node("Unsqueeze", states[2], axis), axis=0)
            c = node("Concat", node("Unsqueeze", states[1], axis), node("Unsqueeze", states[3], axis), axis=0)
        else:
            h, c = node("Unsqueeze", states[0], axis), node("Unsqueeze", states[1], axis)
        inputs += [h, c]
    if P is not None:
        inputs += [""] * (7 - len(inputs)) + [graph.constant(f"{hint}_P", P)]
    y, y_h, y_c = node("LSTM", *inputs, outputs=3, **attributes)
    # Y (time, directions, batch, units) -> (batch, time, directions * units)
    sequence = node("Reshape", node("Transpose", y, perm=[2, 0, 1, 3]), constant([0, 0, -1]))
    last = node("Reshape", node("Transpose", y_h, perm=[1, 0, 2]), constant([0, -1]))
    if mask is not None and not first.zero_output_for_mask:
        # Keras repeats the last output over the padding where ONNX writes
        # zeros (a Bidirectional's backward half is zeros there in Keras too).
        fill = node("Unsqueeze", node("Gather", y_h, constant(0), axis=0), constant([1]))
        if bidirectional:
            fill = node("Concat", fill, node("Mul", fill, constant(0, np.float32)), axis=-1)
        keep = node("Unsqueeze", node("Cast", mask, to=_BOOL), constant([-1]))
        sequence = node("Where", keep, sequence, fill)
    if first.go_backwards and not bidirectional:
        # ONNX gives a reverse LSTM's outputs in input order; Keras in the order processed.
        sequence = node("Slice", sequence, constant([-1]), constant([-(2**62)]), constant([1]), constant([-1]))
    output = sequence if first.return_sequences else last
    if not first.return_state:
        return output
    states = []
    for direction in range(len(directions)):
        states += [node("Gather", y_h, constant(direction), axis=0), node("Gather", y_c, constant(direction), axis=0)]
    return [output, *states]


def sample_inputs(model, seed=0, batch=2, steps=7):
    """Random inputs for each of `model`'s inputs: ids within the embedding
    that reads them (the second row right-padded with zeros where the
    embedding masks them), right-padded boolean masks, normal floats."""
    rng = np.random.default_rng(seed)
    readers = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding):
            for node in layer._inbound_nodes:
                for tensor in node.input_tensors:
                    readers[id(tensor)] = layer
    samples = []
    for tensor in model.inputs:
        shape = [batch] + [d if d is not None else steps for d in tensor.shape[1:]]
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if dtype == "bool":
            value = np.ones(shape, bool)
            if len(shape) > 1:
                value[1:, max(1, shape[1] // 2) :] = False
        elif "int" in dtype:
            embedding = readers.get(id(tensor))
            high = embedding.input_dim if embedding is not None else 10
            value = rng.integers(1, high, shape).astype(dtype)
            if embedding is not None and embedding.mask_zero and len(shape) > 1 and shape[1] > 1:
                value[1:, max(1, shape[1] // 2) :] = 0
        else:
            value = rng.standard_normal(shape).astype(dtype)
        samples.append(value)
    return samples
