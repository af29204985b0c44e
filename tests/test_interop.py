"""keras_lstm.interop against torch.nn.LSTM, keras.layers.LSTM and onnxruntime."""

import re

import numpy as np
import keras
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import keras_lstm
from keras_lstm import interop
from support import random_inputs, relative_error, to_numpy

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5
PROJ = 3
FORWARD_TOLERANCE = 1e-5  # relative, float32 (the project's standard)

# torch's own notice when it runs proj_size without oneDNN; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


def outputs_of(layer, x):
    outputs = layer(x)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [to_numpy(o) for o in outputs]


# ------------------------------------------------------------------ torch

TORCH_CASES = {
    "plain": {},
    "no_bias": {"bias": False},
    "proj_size": {"proj_size": PROJ},
    "bidirectional": {"bidirectional": True},
    "two_layers": {"num_layers": 2, "dropout": 0.3},
    "two_layers_bidirectional_proj_size": {"num_layers": 2, "bidirectional": True, "proj_size": PROJ},
}


def torch_output(module, x):
    """torch's `output` for batch-major numpy `x`, as batch-major numpy."""
    inputs = torch.from_numpy(x if module.batch_first else np.ascontiguousarray(x.transpose(1, 0, 2)))
    module.eval()
    with torch.no_grad():
        output, _ = module(inputs)
    output = output.numpy()
    return output if module.batch_first else output.transpose(1, 0, 2)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_from_torch_matches_torch(case, batch_first):
    torch.manual_seed(0)
    module = torch.nn.LSTM(FEATURES, UNITS, batch_first=batch_first, **TORCH_CASES[case])
    layer = interop.from_torch(module)
    x = random_inputs(BATCH, STEPS, FEATURES)
    [ours] = outputs_of(layer, x)
    expected = torch_output(module, x)
    assert ours.shape == expected.shape
    assert relative_error(ours, expected) < FORWARD_TOLERANCE
    expected_type = keras_lstm.StackedLSTM if module.num_layers > 1 else (
        keras.layers.Bidirectional if module.bidirectional else keras_lstm.LSTM
    )
    assert type(layer) is expected_type
    if module.num_layers > 1:
        assert layer.inter_layer_dropout == pytest.approx(module.dropout)


ROUND_TRIP_CASES = {
    "plain": lambda: keras_lstm.LSTM(UNITS, return_sequences=True, bias_initializer="random_normal"),
    "last_output": lambda: keras_lstm.LSTM(UNITS, bias_initializer="random_normal"),
    "no_bias": lambda: keras_lstm.LSTM(UNITS, use_bias=False, return_sequences=True),
    "proj_units": lambda: keras_lstm.LSTM(
        UNITS, proj_units=PROJ, return_sequences=True, bias_initializer="random_normal"
    ),
    "bidirectional": lambda: keras.layers.Bidirectional(
        keras_lstm.LSTM(UNITS, return_sequences=True, bias_initializer="random_normal")
    ),
    "stacked": lambda: keras_lstm.StackedLSTM(
        UNITS, num_layers=2, return_sequences=True, bias_initializer="random_normal"
    ),
    "stacked_bidirectional_proj_units": lambda: keras_lstm.StackedLSTM(
        UNITS,
        num_layers=2,
        bidirectional=True,
        inter_layer_dropout=0.2,
        proj_units=PROJ,
        return_sequences=True,
        bias_initializer="random_normal",
    ),
}


@pytest.mark.parametrize("case", sorted(ROUND_TRIP_CASES))
def test_to_torch_matches_ours_and_converts_back(case):
    layer = ROUND_TRIP_CASES[case]()
    x = random_inputs(BATCH, STEPS, FEATURES)
    [ours] = outputs_of(layer, x)
    module = interop.to_torch(layer)
    assert isinstance(module, torch.nn.LSTM) and module.batch_first
    expected = torch_output(module, x)
    if ours.ndim == 2:  # return_sequences=False: the last step of torch's output
        expected = expected[:, -1]
    assert relative_error(ours, expected) < FORWARD_TOLERANCE
    back = interop.from_torch(module)
    assert relative_error(outputs_of(back, x)[0], torch_output(module, x)) < FORWARD_TOLERANCE


UNSUPPORTED_BY_TORCH = {
    "peephole": ({"peephole": True}, "peephole=True"),
    "coupled_gates": ({"coupled_gates": True}, "coupled_gates=True"),
    "layer_norm": ({"layer_norm": True}, "layer_norm=True"),
    "gate_clip": ({"gate_clip": 3.0}, "gate_clip=3.0"),
    "cell_clip": ({"cell_clip": 3.0}, "cell_clip=3.0"),
    "proj_clip": ({"proj_units": PROJ, "proj_clip": 1.0}, "proj_clip=1.0"),
    "zoneout": ({"zoneout_cell": 0.1}, "zoneout_cell=0.1"),
    "go_backwards": ({"go_backwards": True}, "go_backwards=True"),
    "relu": ({"activation": "relu"}, "activation='relu'"),
    "hard_sigmoid": ({"recurrent_activation": "hard_sigmoid"}, "recurrent_activation='hard_sigmoid'"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED_BY_TORCH))
def test_to_torch_rejects_what_torch_cannot_express(case):
    kwargs, message = UNSUPPORTED_BY_TORCH[case]
    layer = keras_lstm.LSTM(UNITS, **kwargs)
    layer.build((None, None, FEATURES))
    with pytest.raises(ValueError, match=f"cannot express .*{re.escape(message)}"):
        interop.to_torch(layer)


def test_to_torch_rejects_other_inputs():
    bidirectional_sum = keras.layers.Bidirectional(keras_lstm.LSTM(UNITS), merge_mode="sum")
    bidirectional_sum.build((None, None, FEATURES))
    with pytest.raises(ValueError, match=re.escape("merge_mode='concat'. Received: merge_mode='sum'")):
        interop.to_torch(bidirectional_sum)
    with pytest.raises(ValueError, match="needs a built layer"):
        interop.to_torch(keras_lstm.LSTM(UNITS))
    theirs = keras.layers.LSTM(UNITS)
    theirs.build((None, None, FEATURES))
    with pytest.raises(TypeError, match=re.escape("call from_keras first). Received: LSTM")):
        interop.to_torch(theirs)
    with pytest.raises(TypeError, match="Received: Dense"):
        interop.to_torch(keras.layers.Dense(3))


def test_from_torch_rejects_other_modules():
    with pytest.raises(TypeError, match="converts a torch.nn.LSTM. Received: torch.nn.modules.rnn.GRU"):
        interop.from_torch(torch.nn.GRU(FEATURES, UNITS))
    with pytest.raises(TypeError, match="Received: torch.nn.modules.linear.Linear"):
        interop.from_torch(torch.nn.Linear(FEATURES, UNITS))


# ------------------------------------------------------------------ keras

KERAS_CASES = {
    "sequences_and_state": {"return_sequences": True, "return_state": True},
    "backwards_no_bias": {"go_backwards": True, "use_bias": False, "return_sequences": True},
    "activations_dropout_unroll": {
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
        "dropout": 0.2,
        "recurrent_dropout": 0.1,
        "unit_forget_bias": False,
        "unroll": True,
    },
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_from_keras_matches_keras_lstm(case):
    x = random_inputs(BATCH, STEPS, FEATURES)
    theirs = keras.layers.LSTM(UNITS, bias_initializer="random_normal", **KERAS_CASES[case])
    theirs(x)
    ours = interop.from_keras(theirs)
    assert isinstance(ours, keras_lstm.LSTM)
    our_config = ours.get_config()
    for key, value in theirs.get_config().items():
        assert our_config.get(key) == value, key  # ours leaves out None entries
    expected = outputs_of(theirs, x)
    actual = outputs_of(ours, x)
    assert len(actual) == len(expected)
    for mine, reference in zip(actual, expected):
        assert relative_error(mine, reference) < FORWARD_TOLERANCE


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_from_keras_converts_a_bidirectional(merge_mode):
    x = random_inputs(BATCH, STEPS, FEATURES)
    theirs = keras.layers.Bidirectional(
        keras.layers.LSTM(UNITS, return_sequences=True, bias_initializer="random_normal"),
        merge_mode=merge_mode,
    )
    theirs(x)
    ours = interop.from_keras(theirs)
    assert isinstance(ours, keras.layers.Bidirectional) and ours.merge_mode == merge_mode
    assert isinstance(ours.forward_layer, keras_lstm.LSTM)
    assert isinstance(ours.backward_layer, keras_lstm.LSTM) and ours.backward_layer.go_backwards
    assert relative_error(outputs_of(ours, x)[0], outputs_of(theirs, x)[0]) < FORWARD_TOLERANCE


def test_from_keras_of_an_unbuilt_layer_copies_the_config_only():
    ours = interop.from_keras(keras.layers.LSTM(UNITS, return_state=True))
    assert isinstance(ours, keras_lstm.LSTM) and not ours.built and ours.return_state


def test_from_keras_rejects_other_layers():
    with pytest.raises(TypeError, match="Received: GRU"):
        interop.from_keras(keras.layers.GRU(UNITS))
    with pytest.raises(TypeError, match="Received: GRU inside a Bidirectional"):
        interop.from_keras(keras.layers.Bidirectional(keras.layers.GRU(UNITS)))


# ------------------------------------------------------------------- onnx


def onnx_lstm_model(
    direction="forward",
    bias=True,
    peephole=False,
    clip=None,
    input_forget=False,
    activations=None,
    saturate=False,
    seed=0,
):
    """A one-node ONNX model: Y, Y_h, Y_c = LSTM(X) with weights as initializers.

    `saturate` sets large i, f and c biases (3, most pre-activations past a
    clip of 1, some not) so that the cell state grows past that clip.
    """
    rng = np.random.default_rng(seed)
    directions = 2 if direction == "bidirectional" else 1
    hidden = UNITS

    def tensor(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype("float32"), name)

    initializers = [tensor("W", directions, 4 * hidden, FEATURES), tensor("R", directions, 4 * hidden, hidden)]
    inputs = ["X", "W", "R", ""]
    if bias:
        b = rng.standard_normal((directions, 8 * hidden)).astype("float32")
        if saturate:
            for block in (0, 2, 3):  # ONNX gate order i, o, f, c
                b[:, block * hidden : (block + 1) * hidden] = 3.0
        initializers.append(numpy_helper.from_array(b, "B"))
        inputs[3] = "B"
    if peephole:
        initializers.append(tensor("P", directions, 3 * hidden))
        inputs += ["", "", "", "P"]
    attributes = {"direction": direction, "hidden_size": hidden}
    if clip is not None:
        attributes["clip"] = clip
    if input_forget:
        attributes["input_forget"] = 1
    if activations:
        attributes["activations"] = activations
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], name="lstm", **attributes)
    graph = helper.make_graph(
        [node],
        "lstm_graph",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [STEPS, BATCH, FEATURES])],
        [
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, [STEPS, directions, BATCH, hidden]),
            helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [directions, BATCH, hidden]),
            helper.make_tensor_value_info("Y_c", TensorProto.FLOAT, [directions, BATCH, hidden]),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    return model


def run_onnxruntime(model, x):
    """Y, Y_h, Y_c for batch-major `x` (fed time-major, ONNX layout 0)."""
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": np.ascontiguousarray(x.transpose(1, 0, 2))})


def onnx_errors(model, direction, layer=None):
    """Relative errors of our converted layer against onnxruntime: Y, Y_h, Y_c."""
    x = random_inputs(BATCH, STEPS, FEATURES)
    y, y_h, y_c = run_onnxruntime(model, x)
    if layer is None:
        [layer] = interop.from_onnx(model, return_state=True)
    sequence, *states = outputs_of(layer, x)
    if direction == "reverse":  # ours come in processing order, ONNX's in time order
        sequence = sequence[:, ::-1]
    # Y (time, directions, batch, H) -> (batch, time, directions * H): the
    # Bidirectional's concatenation, forward half first.
    expected_sequence = y.transpose(2, 0, 1, 3).reshape(BATCH, STEPS, -1)
    expected_states = [state[d] for d in range(y_h.shape[0]) for state in (y_h, y_c)]
    return {
        "Y": relative_error(sequence, expected_sequence),
        "Y_h": max(relative_error(s, e) for s, e in zip(states[0::2], expected_states[0::2])),
        "Y_c": max(relative_error(s, e) for s, e in zip(states[1::2], expected_states[1::2])),
    }, y_c


ONNX_CASES = {
    "forward": {},
    "reverse": {"direction": "reverse"},
    "bidirectional": {"direction": "bidirectional"},
    "no_bias": {"bias": False},
    "peephole": {"peephole": True},
    "peephole_bidirectional": {"peephole": True, "direction": "bidirectional"},
    "relu": {"activations": ["Sigmoid", "Relu", "Relu"]},
    "input_forget": {"input_forget": True},
    "input_forget_peephole_reverse": {"input_forget": True, "peephole": True, "direction": "reverse"},
}


@pytest.mark.parametrize("case", sorted(ONNX_CASES))
def test_from_onnx_matches_onnxruntime(case):
    kwargs = ONNX_CASES[case]
    errors, _ = onnx_errors(onnx_lstm_model(**kwargs), kwargs.get("direction", "forward"))
    for name, error in errors.items():
        assert error < FORWARD_TOLERANCE, (name, error)


@pytest.mark.parametrize("peephole", [False, True], ids=["no_peephole", "peephole"])
@pytest.mark.parametrize("input_forget", [False, True], ids=["no_input_forget", "input_forget"])
def test_from_onnx_clip_is_gate_clip(peephole, input_forget):
    # onnxruntime clips every gate pre-activation (peephole terms included,
    # the output gate's after its c_t peephole), and neither the cell state
    # nor its copy going into h(C_t): here |c_t| grows past the clip, so
    # clipping either would change Y_c or Y, and still all match gate_clip.
    clip = 1.0
    model = onnx_lstm_model(clip=clip, peephole=peephole, input_forget=input_forget, saturate=True)
    [layer] = interop.from_onnx(model, return_state=True)
    assert layer.gate_clip == clip and layer.cell_clip is None
    errors, y_c = onnx_errors(model, "forward", layer)
    for name, error in errors.items():
        assert error < FORWARD_TOLERANCE, (name, error)
    if not input_forget:  # (with it c_t is a convex mix of c_{t-1} and g_t: |c_t| < 1)
        assert np.abs(y_c).max() > 1.5 * clip  # the cell state itself is not clipped
    # And the clip is doing something: without it the outputs differ.
    unclipped_model = onnx_lstm_model(peephole=peephole, input_forget=input_forget, saturate=True)
    [unclipped] = interop.from_onnx(unclipped_model, return_state=True)
    errors_unclipped, _ = onnx_errors(model, "forward", unclipped)
    assert errors_unclipped["Y"] > 1e-2


def test_from_onnx_reads_a_file_and_converts_every_node_in_order(tmp_path):
    first = onnx_lstm_model(direction="bidirectional")
    second = onnx_lstm_model(direction="reverse", peephole=True, seed=1)
    # One graph with both nodes, each reading X; the second only outputs Y2.
    graph = first.graph
    renamed = {"W": "W2", "R": "R2", "B": "B2", "P": "P2"}
    for tensor in second.graph.initializer:
        tensor.name = renamed[tensor.name]
        graph.initializer.append(tensor)
    node = second.graph.node[0]
    node.input[:] = [renamed.get(name, name) for name in node.input]
    node.output[:] = ["Y2", "", ""]
    node.name = "lstm2"
    graph.node.append(node)
    graph.output.append(helper.make_tensor_value_info("Y2", TensorProto.FLOAT, [STEPS, 1, BATCH, UNITS]))
    path = tmp_path / "two.onnx"
    onnx.save(first, str(path))
    layers = interop.from_onnx(str(path))
    assert [type(layer) for layer in layers] == [keras.layers.Bidirectional, keras_lstm.LSTM]
    assert layers[1].go_backwards and layers[1].peephole and layers[1].return_sequences
    x = random_inputs(BATCH, STEPS, FEATURES)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y2 = session.run(["Y2"], {"X": np.ascontiguousarray(x.transpose(1, 0, 2))})[0]
    ours = outputs_of(layers[1], x)[0][:, ::-1]  # processing order -> time order
    assert relative_error(ours, y2[:, 0].transpose(1, 0, 2)) < FORWARD_TOLERANCE


def test_from_onnx_reads_hidden_size_from_the_shapes():
    # onnxruntime requires the attribute; the ONNX spec does not.
    model = onnx_lstm_model(peephole=True)
    with_attribute = interop.from_onnx(model)[0].get_weights()
    attribute = [a for a in model.graph.node[0].attribute if a.name == "hidden_size"][0]
    model.graph.node[0].attribute.remove(attribute)
    [layer] = interop.from_onnx(model)
    assert layer.units == UNITS
    for mine, reference in zip(layer.get_weights(), with_attribute, strict=True):
        np.testing.assert_array_equal(mine, reference)


def test_from_onnx_rejects_what_it_cannot_convert():
    relu = helper.make_node("Relu", ["X"], ["Y"])
    graph = helper.make_graph(
        [relu],
        "no_lstm",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])],
    )
    with pytest.raises(ValueError, match="found no LSTM node in the graph. Its operators: Relu"):
        interop.from_onnx(helper.make_model(graph))
    with pytest.raises(ValueError, match=r"activations \['HardSigmoid', 'Tanh', 'Tanh'\] are not supported"):
        interop.from_onnx(onnx_lstm_model(activations=["HardSigmoid", "Tanh", "Tanh"]))
    with pytest.raises(ValueError, match="activations .* are not supported"):
        interop.from_onnx(onnx_lstm_model(activations=["Sigmoid", "Tanh", "Relu"]))
    with pytest.raises(ValueError, match="must name 3 functions .* 6 for direction bidirectional"):
        interop.from_onnx(onnx_lstm_model(direction="bidirectional", activations=["Sigmoid", "Tanh", "Tanh"]))
    model = onnx_lstm_model()
    weights = [t for t in model.graph.initializer if t.name == "W"][0]
    model.graph.initializer.remove(weights)
    with pytest.raises(ValueError, match="its W input 'W' must be an initializer"):
        interop.from_onnx(model)
    with pytest.raises(TypeError, match="onnx.ModelProto or the path .* Received: bytes"):
        interop.from_onnx(b"not a model")
