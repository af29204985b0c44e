"""What the ONNX and TFLite exporters share: walking a model, what an LSTM layer
is to export, sample inputs, names, and the check that the file computes what
the model does.

Both exporters walk every model, Sequential or functional, chain or graph,
with Keras's own traversal (`Functional._run_through_graph`): each layer's
`emit(layer, *args, **kwargs)` receives what its inputs became in the target
format and returns what its outputs become.
"""

import dataclasses

import keras
import numpy as np

from keras_lstm import variants
from keras_lstm.interop import _directions, _read_weights, _sublayers
from keras_lstm.lstm import LSTM
from keras_lstm.stacked import StackedLSTM

SUPPORTED = (
    "keras_lstm.LSTM, Bidirectional(keras_lstm.LSTM), StackedLSTM, Embedding, Dense, Concatenate, Add, "
    "Attention, AdditiveAttention, GlobalAveragePooling1D, UnitNormalization, LayerNormalization (last axis), Rescaling, "
    "Reshape, Identity, Dropout, Activation, fixed slices, Embedding's mask, functional models inside the model, "
    "and layers with their own export_onnx / export_tflite"
)

# A layer from outside keras_lstm (a zoo model's front end, a user's own) exports
# through methods of its own, so that what it computes is stated beside its `call`:
#   export_onnx(self, graph, x) -> the output's name, written with
#       graph.node(op_type, *input_names, **attributes) and graph.constant(array)
#   export_tflite(self, ops, x) -> the output, computed on the tf-keras twin's
#       tensor x with `ops` (`tflite_lstm.TensorFlowOps`: keras.ops's names in
#       TensorFlow, and `ops.tf`), weights read as numpy (outside any trace).
# A layer that writes its math once against an `ops` argument gets its Keras
# `call` and its TFLite export from the same lines.
OWN_EXPORT = {"ONNX": "export_onnx", "TFLite": "export_tflite"}


def own_export(layer, file_format):
    """The layer's own export method for `file_format`, or None."""
    return getattr(layer, OWN_EXPORT[file_format], None)


def is_nested_model(layer):
    """A functional (or Sequential) model used as a layer: exported layer by layer."""
    return isinstance(layer, keras.Model) and (
        isinstance(layer, keras.Sequential) or hasattr(layer, "_run_through_graph")
    )


def walk_nested(model, emit, args):
    """What a model used as a layer gives: its single output, or the list of them."""
    inputs = list(args[0]) if isinstance(args[0], (list, tuple)) else [args[0]]
    outputs = walk(model, emit, inputs)
    return outputs[0] if len(outputs) == 1 else outputs


def check_layer_normalization(layer):
    """LayerNormalization over the last axis, with Keras's (not RMS) scaling."""
    axis = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    try:
        last = [-1, len(layer.input.shape) - 1]
    except (AttributeError, ValueError):  # a layer used more than once has no single input
        last = [-1]
    if len(axis) != 1 or axis[0] not in last or getattr(layer, "rms_scaling", False):
        raise ValueError(
            f"Layer {layer.name!r}: LayerNormalization exports over the last axis without rms_scaling. "
            f"Received: axis={layer.axis!r}, rms_scaling={getattr(layer, 'rms_scaling', False)!r}"
        )


def layer_normalization_weights(layer):
    """(gamma or None, beta or None) of a LayerNormalization, as numpy."""
    read = lambda weight: None if weight is None else keras.ops.convert_to_numpy(weight)  # noqa: E731
    return read(layer.gamma if layer.scale else None), read(layer.beta if layer.center else None)


def walk(model, emit, inputs):
    """What `model`'s outputs become when each layer is `emit`ted, from `inputs`
    (one per model input, in order): a flat list."""
    graph = model._functional if isinstance(model, keras.Sequential) else model
    if graph is None or not hasattr(graph, "_run_through_graph"):
        raise ValueError(
            f"Model {model.name!r} has no graph of layers to export: build it on keras.Input (a "
            "Sequential model starting with keras.Input(shape), or a functional model)."
        )

    def operation(layer):
        return lambda *args, **kwargs: emit(layer, *args, **kwargs)

    return keras.tree.flatten(graph._run_through_graph(inputs, operation_fn=operation))


def model_inputs(model):
    """[(name, shape without batch, dtype)] of the model's inputs."""
    return [
        (tensor.name, tuple(tensor.shape)[1:], keras.backend.standardize_dtype(tensor.dtype))
        for tensor in model.inputs
    ]


def output_names(model, count):
    """The names the exported outputs take: Keras's, made unique."""
    names = list(model.output_names) if len(model.output_names) == count else [f"output_{k}" for k in range(count)]
    return unique(names)


def unique(names):
    names = list(names)
    for k, name in enumerate(names):
        if name in names[:k]:
            names[k] = f"{name}_{k}"
    return names


def emit_recurrent(layer, x, kwargs, emit):
    """What a recurrent layer becomes: `emit(lstm_or_bidirectional, x, mask,
    initial_state)` for it, or for each layer of a StackedLSTM in order."""
    for sublayer in sublayers(layer):
        x = emit(sublayer, x, kwargs.get("mask"), kwargs.get("initial_state"))
    return x


def is_recurrent(layer):
    return isinstance(layer, (LSTM, StackedLSTM)) or (
        isinstance(layer, keras.layers.Bidirectional) and isinstance(layer.forward_layer, LSTM)
    )


@dataclasses.dataclass
class Recurrent:
    """An LSTM layer as the exporters see it: a `keras_lstm.LSTM` or a
    `Bidirectional` of one (merge_mode "concat")."""

    layer: keras.layers.Layer
    directions: list  # [forward] or [forward, backward], keras_lstm.LSTM each

    @classmethod
    def of(cls, layer):
        directions = _directions(layer)
        if len(directions) == 2 and layer.merge_mode != "concat":
            raise ValueError(f"Layer {layer.name!r}: only merge_mode='concat' exports. Received: {layer.merge_mode!r}")
        recurrent = cls(layer, directions)
        recurrent.check_activations()
        return recurrent

    @property
    def name(self):
        return self.layer.name

    @property
    def first(self):
        return self.directions[0]

    @property
    def bidirectional(self):
        return len(self.directions) == 2

    @property
    def cell(self):
        return self.first.cell

    def refusals(self, consumer):
        """What of the layer's options `consumer` does not take (both directions)."""
        return list(dict.fromkeys(p for lstm in self.directions for p in variants.refusals(lstm.cell, consumer)))

    def fallback_note(self, consumer, instead):
        return f"{self.name}: {', '.join(self.refusals(consumer))} -> {instead}"

    def check_activations(self):
        """Both activations are ones the exporters write, or a ValueError naming the layer."""
        for function in (self.cell.activation, self.cell.recurrent_activation):
            activation_name(function, f"Layer {self.name!r}")

    def check_streaming(self):
        if self.bidirectional or self.first.go_backwards:
            raise ValueError(
                f"Layer {self.name!r} reads its sequence backwards (or is bidirectional): it needs the "
                "whole sequence, so it cannot stream (frames arrive one at a time)."
            )


def sublayers(layer):
    """The layers of a `StackedLSTM`, first to last; `[layer]` otherwise."""
    return _sublayers(layer)


# The activations both exporters write (each maps them to its own ops), by
# Keras name; Keras 3's hard_sigmoid is relu6(x + 3) / 6.
ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu", "hard_sigmoid", "softmax")


def activation_name(layer_or_function, where):
    """The Keras name of an activation the exporters write, or a ValueError
    naming `where` it is used."""
    function = getattr(layer_or_function, "activation", layer_or_function)
    name = keras.activations.serialize(function)
    if name not in ACTIVATIONS:
        raise ValueError(f"{where}: activation {name!r} has no export here (exported: {', '.join(ACTIVATIONS)}).")
    return name


def lstm_weights(lstm):
    """{name: numpy array} of an LSTM layer's cell weights (read outside any trace)."""
    return _read_weights(lstm)


def inference_zoneout(cell):
    """Zoneout at inference, its expectation: keep = the rate (None without)."""
    return {
        "keep_c": cell.zoneout_keep(None, None, training=False),
        "keep_h": cell.zoneout_keep(None, None, training=False, hidden=True),
    }


def unique_name(name, taken):
    """`name`, or `name2`, `name3`, ... if it is taken (two stacks both have an
    "lstm_0"); adds it to `taken`."""
    unique, suffix = name, 1
    while unique in taken:
        suffix += 1
        unique = f"{name}{suffix}"
    taken.add(unique)
    return unique


def sample_inputs(model, seed=0, batch=2, steps=7):
    """Random inputs for each of `model`'s inputs: ids within the embedding
    that reads them (the second row right-padded with zeros where the
    embedding masks them), right-padded boolean masks, normal floats. Free
    axes take `steps`."""
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
            if embedding is None:  # a Sequential's input feeds its first layer
                embedding = next((l for l in model.layers if isinstance(l, keras.layers.Embedding)), None)
            high = embedding.input_dim if embedding is not None else 10
            value = rng.integers(1, high, shape).astype(dtype)
            if embedding is not None and embedding.mask_zero and len(shape) > 1 and shape[1] > 1:
                value[1:, max(1, shape[1] // 2) :] = 0
        else:
            value = rng.standard_normal(shape).astype(dtype)
        samples.append(value)
    return samples


def keras_outputs(model, samples):
    """The model's outputs on `samples` (a list, one per input), as float64 arrays."""
    outputs = model(samples if len(samples) > 1 else samples[0], training=False)
    return [np.asarray(keras.ops.convert_to_numpy(y), np.float64) for y in keras.tree.flatten(outputs)]


def default_tolerance(quantize):
    return 0.1 if quantize else 1e-4


def check_agreement(file_format, names, actual, expected, tolerance, where=""):
    """The largest relative error (max |a - e| / max |e|) over the outputs;
    a RuntimeError, before anything is written, when it reaches `tolerance`."""
    errors = {
        name: float(np.abs(np.asarray(a, np.float64) - e).max() / max(np.abs(e).max(), 1e-12))
        for name, a, e in zip(names, actual, expected)
    }
    worst = max(errors, key=errors.get)
    if not errors[worst] < tolerance:
        output = f" in output {worst!r}" if len(errors) > 1 else ""
        raise RuntimeError(
            f"The exported {file_format} model disagrees with the Keras model: relative error "
            f"{errors[worst]:.2e}{output}{where} (tolerance {tolerance:.0e}). Nothing was written."
        )
    return errors[worst]


def check_average_pooling(layer):
    """GlobalAveragePooling1D over the steps of (batch, steps, features), to (batch, features)."""
    if layer.data_format != "channels_last" or layer.keepdims:
        raise ValueError(
            f"Layer {layer.name!r}: GlobalAveragePooling1D exports with data_format='channels_last' and "
            f"keepdims=False. Received: data_format={layer.data_format!r}, keepdims={layer.keepdims!r}"
        )


def check_unit_normalization(layer):
    if layer.axis not in (-1, [-1]):
        raise ValueError(f"Layer {layer.name!r}: UnitNormalization exports over the last axis. Received: axis={layer.axis!r}")


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


def check_attention(layer, kwargs):
    additive = isinstance(layer, keras.layers.AdditiveAttention)
    if kwargs.get("use_causal_mask") or (not additive and (layer.score_mode != "dot" or layer.use_scale)):
        raise ValueError(f"Layer {layer.name!r}: only dot or additive scores without causal mask export.")
    return additive


def unsupported(layer, file_format):
    return ValueError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no {file_format} export here. Supported: {SUPPORTED}."
    )
