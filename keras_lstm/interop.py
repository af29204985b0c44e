"""Weights in and out: torch.nn.LSTM, keras.layers.LSTM and ONNX LSTM nodes.

Each function builds the equivalent layer (or module) and copies the weights,
so that it computes the same outputs on the same inputs:

- `from_torch(module)` and `to_torch(layer)`: `torch.nn.LSTM`, any
  num_layers, bidirectional, proj_size, bias.
- `from_keras(layer)`: `keras.layers.LSTM`, or a `keras.layers.Bidirectional`
  of one.
- `from_onnx(model)`: every `LSTM` node of an ONNX graph.

The gate blocks: Keras and torch both stack them i, f, c (g), o, so torch
weights only need transposing (and torch's two biases summing). ONNX stacks
them i, o, f, c, and its peepholes i, o, f. torch and onnx are imported only
inside the functions that need them, so this module imports on any backend.
"""

import os

import keras
import numpy as np

from keras_lstm import variants
from keras_lstm.gates import gate_names
from keras_lstm.lstm import LSTM
from keras_lstm.stacked import StackedLSTM

_TORCH_SUFFIXES = ("", "_reverse")  # forward, backward direction
_ONNX_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu"}
_ONNX_DEFAULT_ACTIVATIONS = ("Sigmoid", "Tanh", "Tanh")


# ---------------------------------------------------------------- helpers


def _import(module_name, caller):
    try:
        return __import__(module_name)
    except ImportError as error:
        raise ImportError(
            f"`{caller}` needs the `{module_name}` package, which is not "
            f"installed: pip install {module_name}"
        ) from error


def _split_gates(array, order, axis=0):
    """{gate: block}: `array` cut into len(order) equal blocks along `axis`."""
    return dict(zip(order, np.split(np.asarray(array), len(order), axis=axis)))


def _join_gates(blocks, order, axis=0):
    """The blocks of `blocks` named in `order`, concatenated along `axis`."""
    return np.concatenate([blocks[name] for name in order], axis=axis)


def _sublayers(layer):
    """The layers of a `StackedLSTM`, first to last; `[layer]` otherwise."""
    return list(layer.layers) if isinstance(layer, StackedLSTM) else [layer]


def _directions(layer):
    """[forward, backward] of a `Bidirectional`; `[layer]` otherwise."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


def _read_weights(lstm):
    """{name: numpy array} of an LSTM layer's cell weights that exist.

    Works for `keras_lstm.LSTM` and `keras.layers.LSTM` (same names).
    """
    weights = {}
    for name in variants.WEIGHT_NAMES:
        variable = getattr(lstm.cell, name, None)
        if variable is not None:
            weights[name] = keras.ops.convert_to_numpy(variable)
    return weights


def _assign_weights(lstm, **weights):
    """Assigns each given (not None) weight to the built `lstm`'s cell."""
    for name, value in weights.items():
        if value is None:
            continue
        variable = getattr(lstm.cell, name)
        value = np.asarray(value, dtype=variable.dtype)
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"Weight `{name}` of {lstm.name!r} has shape "
                f"{tuple(variable.shape)}; the source gives {tuple(value.shape)}."
            )
        variable.assign(value)


def _build_shape(keras_layer, input_dim):
    # Keras records the shape a layer was built with (keras is pinned); it
    # keeps a fixed batch (stateful) or time length (unroll) if there was one.
    recorded = getattr(keras_layer, "_build_shapes_dict", None) or {}
    return tuple(recorded.get("sequences_shape") or (None, None, input_dim))


# ------------------------------------------------------------------ torch


def from_torch(module):
    """The keras-lstm layer equivalent to a `torch.nn.LSTM`, weights copied.

    - one layer, one direction: `keras_lstm.LSTM`;
    - one layer, bidirectional: `keras.layers.Bidirectional(keras_lstm.LSTM)`
      (merge_mode "concat", forward features first, as torch);
    - num_layers > 1: `keras_lstm.StackedLSTM` (torch's `dropout` becomes
      `inter_layer_dropout`).

    The layer returns the whole sequence, (batch, time, features): torch's
    `output`. It is always batch-major; with torch's batch_first=False only
    the torch call takes (time, batch, features). proj_size becomes
    proj_units (`projection_kernel` = W_hr.T), torch's two biases are summed,
    bias=False gives use_bias=False.

    Example:

    >>> module = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True)
    >>> layer = from_torch(module)
    >>> x = np.random.rand(3, 6, 4).astype("float32")
    >>> expected, _ = module(torch.from_numpy(x))   # layer(x) equals it
    """
    torch = _import("torch", "from_torch")
    if not isinstance(module, torch.nn.LSTM):
        raise TypeError(
            "`from_torch` converts a torch.nn.LSTM. Received: "
            f"{type(module).__module__}.{type(module).__qualname__}"
        )
    kwargs = {
        "use_bias": module.bias,
        "proj_units": module.proj_size or None,
        "return_sequences": True,
    }
    if module.num_layers > 1:
        layer = StackedLSTM(
            module.hidden_size,
            num_layers=module.num_layers,
            bidirectional=module.bidirectional,
            inter_layer_dropout=float(module.dropout),
            **kwargs,
        )
    elif module.bidirectional:
        layer = keras.layers.Bidirectional(LSTM(module.hidden_size, **kwargs))
    else:
        layer = LSTM(module.hidden_size, **kwargs)
    layer.build((None, None, module.input_size))

    def weight(name):
        return getattr(module, name).detach().cpu().numpy()

    for index, sublayer in enumerate(_sublayers(layer)):
        for lstm, suffix in zip(_directions(sublayer), _TORCH_SUFFIXES):
            tail = f"_l{index}{suffix}"
            _assign_weights(
                lstm,
                kernel=weight("weight_ih" + tail).T,
                recurrent_kernel=weight("weight_hh" + tail).T,
                bias=weight("bias_ih" + tail) + weight("bias_hh" + tail)
                if module.bias
                else None,
                projection_kernel=weight("weight_hr" + tail).T
                if module.proj_size
                else None,
            )
    return layer


def _torch_problems(lstm, go_backwards):
    """Why torch.nn.LSTM cannot compute `lstm` (empty if it can)."""
    problems = variants.refusals(lstm.cell, variants.TORCH_MODULE)
    if lstm.go_backwards != go_backwards:
        where = "the backward layer of a Bidirectional" if go_backwards else "a forward layer"
        problems.append(f"go_backwards={lstm.go_backwards} on {where}")
    return problems


def to_torch(layer):
    """The `torch.nn.LSTM(batch_first=True)` equivalent to `layer`.

    `layer` is a built `keras_lstm.LSTM`, a `keras.layers.Bidirectional` of
    one (merge_mode "concat") or a `keras_lstm.StackedLSTM`, of what torch
    has (`variants.TORCH_MODULE` in the options table: the plain LSTM with
    tanh and sigmoid, with or without bias, optionally with proj_units,
    torch's proj_size). Anything else, or go_backwards on a unidirectional
    layer, raises a ValueError naming the options torch lacks. The
    module's `output` is the layer's output with return_sequences=True.
    Dropout on the inputs or the recurrent state has no torch equivalent and
    is left out (it does nothing at inference); a stack's
    inter_layer_dropout becomes torch's `dropout`.

    Example:

    >>> layer = keras_lstm.LSTM(5, return_sequences=True)
    >>> layer.build((None, None, 4))
    >>> module = to_torch(layer)
    >>> output, (h, c) = module(torch.zeros(3, 6, 4))
    """
    torch = _import("torch", "to_torch")
    if isinstance(layer, StackedLSTM):
        bidirectional, dropout = layer.bidirectional, layer.inter_layer_dropout
    elif isinstance(layer, (LSTM, keras.layers.Bidirectional)):
        bidirectional, dropout = isinstance(layer, keras.layers.Bidirectional), 0.0
    else:
        raise TypeError(
            "`to_torch` converts a keras_lstm.LSTM, a keras.layers.Bidirectional "
            "of one, or a keras_lstm.StackedLSTM (for a keras.layers.LSTM, "
            f"call from_keras first). Received: {type(layer).__name__}"
        )
    if not layer.built:
        raise ValueError(
            f"`to_torch` needs a built layer (its input size); {layer.name!r} "
            "is not built: call it on an input or layer.build((None, None, features))."
        )
    if bidirectional and any(s.merge_mode != "concat" for s in _sublayers(layer)):
        raise ValueError(
            "torch.nn.LSTM concatenates the two directions: a Bidirectional "
            "needs merge_mode='concat'. Received: merge_mode="
            f"{_sublayers(layer)[0].merge_mode!r}"
        )
    layers = [_directions(sublayer) for sublayer in _sublayers(layer)]
    first = layers[0][0]
    for directions in layers:
        for lstm, go_backwards in zip(directions, (False, True)):
            if not isinstance(lstm, LSTM):
                raise TypeError(
                    "`to_torch` converts keras_lstm.LSTM layers (for a "
                    "keras.layers.LSTM, call from_keras first). Received: "
                    f"{type(lstm).__name__}"
                )
            problems = _torch_problems(lstm, go_backwards)
            if problems:
                raise ValueError(
                    f"torch.nn.LSTM cannot express {lstm.name!r}: "
                    f"{', '.join(problems)}. It computes the plain LSTM "
                    "(tanh, sigmoid), with or without bias, optionally with "
                    "proj_units."
                )
            shape = (lstm.units, lstm.proj_units, lstm.use_bias)
            if shape != (first.units, first.proj_units, first.use_bias):
                raise ValueError(
                    "torch.nn.LSTM has one (units, proj_units, use_bias) for "
                    f"all layers and directions. Received {shape} for "
                    f"{lstm.name!r}, {(first.units, first.proj_units, first.use_bias)} "
                    f"for {first.name!r}."
                )
    module = torch.nn.LSTM(
        input_size=first.cell.kernel.shape[0],
        hidden_size=first.units,
        num_layers=len(layers),
        bias=first.use_bias,
        batch_first=True,
        dropout=dropout,
        bidirectional=bidirectional,
        proj_size=first.proj_units or 0,
    )
    with torch.no_grad():
        for index, directions in enumerate(layers):
            for lstm, suffix in zip(directions, _TORCH_SUFFIXES):
                tail = f"_l{index}{suffix}"
                weights = _read_weights(lstm)
                values = {
                    "weight_ih": weights["kernel"].T,
                    "weight_hh": weights["recurrent_kernel"].T,
                }
                if first.use_bias:
                    values["bias_ih"] = weights["bias"]
                    values["bias_hh"] = np.zeros_like(weights["bias"])
                if first.proj_units:
                    values["weight_hr"] = weights["projection_kernel"].T
                for name, value in values.items():
                    getattr(module, name + tail).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


# ------------------------------------------------------------------ keras


def _from_keras_lstm_config(layer):
    # Keras keeps use_cudnn out of its config (its Bidirectional copies the
    # attribute instead); ours serializes it.
    return LSTM(**layer.get_config(), use_cudnn=layer.use_cudnn)


def from_keras(layer):
    """The keras-lstm equivalent of a `keras.layers.LSTM`, weights copied.

    `layer` is a `keras.layers.LSTM` or a `keras.layers.Bidirectional` of
    one; the result is a `keras_lstm.LSTM` (or a Bidirectional of one) with
    the same configuration (units, activations, use_bias, initializers,
    regularizers, constraints, dropout, recurrent_dropout, seed,
    return_sequences, return_state, go_backwards, stateful, unroll, name) and,
    if `layer` is built, built on the same input shape with the same weights.

    Example:

    >>> theirs = keras.layers.LSTM(5, return_sequences=True)
    >>> x = np.random.rand(3, 6, 4).astype("float32")
    >>> theirs(x)
    >>> ours = from_keras(theirs)                    # ours(x) equals theirs(x)
    """
    if isinstance(layer, keras.layers.Bidirectional):
        sources = [layer.forward_layer, layer.backward_layer]
    else:
        sources = [layer]
    for source in sources:
        if not isinstance(source, keras.layers.LSTM):
            raise TypeError(
                "`from_keras` converts a keras.layers.LSTM or a "
                "keras.layers.Bidirectional of one. Received: "
                f"{type(source).__name__}"
                + (" inside a Bidirectional" if source is not layer else "")
            )
    converted = [_from_keras_lstm_config(source) for source in sources]
    if isinstance(layer, keras.layers.Bidirectional):
        result = keras.layers.Bidirectional(
            converted[0],
            backward_layer=converted[1],
            merge_mode=layer.merge_mode,
            name=layer.name,
        )
    else:
        result = converted[0]
    if not layer.built:
        return result
    result.build(_build_shape(layer, sources[0].cell.kernel.shape[0]))
    for ours, theirs in zip(_directions(result), sources):
        _assign_weights(ours, **_read_weights(theirs))
    return result


# ------------------------------------------------------------------- onnx


def from_onnx(model, return_sequences=True, return_state=False):
    """A keras-lstm layer for each `LSTM` node of an ONNX graph, in node order.

    `model` is an `onnx.ModelProto` or the path of a .onnx file. Each LSTM
    node whose W, R and (if given) B and P are initializers becomes, built
    with its weights:

    - direction "forward": `keras_lstm.LSTM`;
    - direction "reverse": `keras_lstm.LSTM(go_backwards=True)`. Its output
      sequence comes in the order processed (last time step first), whereas
      ONNX's Y is in time order: `Y` equals the layer's output flipped along
      time, `keras.ops.flip(output, axis=1)`;
    - direction "bidirectional": `keras.layers.Bidirectional` of two, with
      merge_mode "concat": output[..., :H] is Y[:, 0] and output[..., H:] is
      Y[:, 1] (the backward half is already in time order).

    P (peepholes, ONNX order i, o, f) gives peephole=True, `clip` gives
    gate_clip, `input_forget=1` gives coupled_gates=True, a missing B gives
    use_bias=False. With input_forget, onnxruntime keeps the input gate and
    sets f = 1 - i (measured; the forget gate's W, R, B and P are unused);
    our coupled layer keeps f and sets i = 1 - f, so the f block gets the
    negated ONNX i block (sigmoid(-z) = 1 - sigmoid(z)). Activations:
    (Sigmoid, Tanh, Tanh) by default; Relu and Tanh map too, with the same
    function for g and h; anything else raises a ValueError.

    The layers are batch-major, (batch, time, features): transpose X of
    layout 0 (time, batch, features), and Y (time, directions, batch, H)
    likewise; with layout 1, X (batch, time, features) goes in as it is. sequence_lens, initial_h and initial_c are call inputs, not
    weights: pass `mask=` and `initial_state=[h0, c0]` to the layer instead.
    With `return_state=True` the layer also returns the final h and c
    (Y_h, Y_c; forward then backward for a Bidirectional).

    Example:

    >>> [layer] = from_onnx("model.onnx")
    >>> y = layer(np.transpose(x_onnx, (1, 0, 2)))   # (batch, time, H)
    """
    onnx = _import("onnx", "from_onnx")
    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(os.fspath(model))
    if not isinstance(model, onnx.ModelProto):
        raise TypeError(
            "`from_onnx` takes an onnx.ModelProto or the path of an .onnx "
            f"file. Received: {type(model).__name__}"
        )
    initializers = {
        tensor.name: onnx.numpy_helper.to_array(tensor)
        for tensor in model.graph.initializer
    }
    nodes = [
        node
        for node in model.graph.node
        if node.op_type == "LSTM" and node.domain in ("", "ai.onnx")
    ]
    if not nodes:
        op_types = sorted({node.op_type for node in model.graph.node})
        raise ValueError(
            "`from_onnx` found no LSTM node in the graph. Its operators: "
            f"{', '.join(op_types) or 'none'}."
        )
    return [
        _layer_from_onnx_node(onnx, node, initializers, return_sequences, return_state)
        for node in nodes
    ]


def _layer_from_onnx_node(onnx, node, initializers, return_sequences, return_state):
    label = f"ONNX LSTM node {node.name!r}"
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    direction = attributes.get("direction", b"forward").decode()
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ValueError(
            f"{label}: direction must be forward, reverse or bidirectional. "
            f"Received: {direction!r}"
        )
    num_directions = 2 if direction == "bidirectional" else 1
    inputs = list(node.input) + [""] * (8 - len(node.input))

    def initializer(index, name, required):
        tensor_name = inputs[index]
        if not tensor_name:
            if required:
                raise ValueError(f"{label} has no {name} input.")
            return None
        if tensor_name not in initializers:
            raise ValueError(
                f"{label}: its {name} input {tensor_name!r} must be an "
                "initializer (a constant weight); here it is computed in the "
                "graph or fed at run time."
            )
        return np.asarray(initializers[tensor_name], np.float32)

    w, r = initializer(1, "W", True), initializer(2, "R", True)
    b, p = initializer(3, "B", False), initializer(7, "P", False)
    hidden = int(attributes.get("hidden_size", r.shape[-1]))
    input_dim = w.shape[-1]
    expected = {
        "W": (w, (num_directions, 4 * hidden, input_dim)),
        "R": (r, (num_directions, 4 * hidden, hidden)),
        "B": (b, (num_directions, 8 * hidden)),
        "P": (p, (num_directions, 3 * hidden)),
    }
    for name, (value, shape) in expected.items():
        if value is not None and value.shape != shape:
            raise ValueError(
                f"{label}: {name} must have shape {shape} (direction "
                f"{direction}, hidden_size {hidden}). Received: {value.shape}"
            )
    names = [n.decode() for n in attributes.get("activations") or []]
    names = names or list(_ONNX_DEFAULT_ACTIVATIONS) * num_directions
    if len(names) != 3 * num_directions:
        raise ValueError(
            f"{label}: `activations` must name 3 functions (f, g, h) per "
            f"direction, {3 * num_directions} for direction {direction}. "
            f"Received: {names}"
        )
    coupled = bool(attributes.get("input_forget", 0))
    clip = attributes.get("clip")

    layers = []
    for index in range(num_directions):
        f, g, h = names[3 * index : 3 * index + 3]
        unsupported = [n for n in (f, g, h) if n not in _ONNX_ACTIVATIONS]
        if unsupported or g != h or (coupled and f != "Sigmoid"):
            raise ValueError(
                f"{label}: activations {[f, g, h]} are not supported. "
                f"Supported: f in {sorted(_ONNX_ACTIVATIONS)}, g = h in "
                f"{sorted(_ONNX_ACTIVATIONS)} (the LSTM uses one activation "
                "for both), and f = Sigmoid with input_forget."
            )
        layers.append(
            LSTM(
                hidden,
                activation=_ONNX_ACTIVATIONS[g],
                recurrent_activation=_ONNX_ACTIVATIONS[f],
                use_bias=b is not None,
                peephole=p is not None,
                coupled_gates=coupled,
                gate_clip=clip,
                return_sequences=return_sequences,
                return_state=return_state,
                go_backwards=direction == "reverse" or index == 1,
            )
        )
    if num_directions == 2:
        layer = keras.layers.Bidirectional(
            layers[0], backward_layer=layers[1], merge_mode="concat"
        )
    else:
        layer = layers[0]
    layer.build((None, None, input_dim))

    order = gate_names(coupled)

    def keras_gates(onnx_blocks, axis=0):
        blocks = _split_gates(onnx_blocks, "iofc", axis)
        if coupled:  # onnxruntime: f = 1 - i = sigmoid(-z_i); see from_onnx
            blocks["f"] = -blocks["i"]
        return _join_gates(blocks, order, axis)

    for index, lstm in enumerate(_directions(layer)):
        peepholes = {}
        if p is not None:
            p_blocks = _split_gates(p[index], "iof")
            peepholes = {f"peephole_{gate}": p_blocks[gate] for gate in "ifo"}
            if coupled:
                peepholes["peephole_f"] = -peepholes.pop("peephole_i")
        _assign_weights(
            lstm,
            kernel=keras_gates(w[index]).T,
            recurrent_kernel=keras_gates(r[index]).T,
            bias=None if b is None else keras_gates(b[index, : 4 * hidden] + b[index, 4 * hidden :]),
            **peepholes,
        )
    return layer
