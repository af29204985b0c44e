"""`to_tflite`: Keras models with keras_lstm layers as TFLite's fused LSTM builtin.

Keras 3's `model.export(format="litert")` turns an LSTM into a `WHILE` loop of
Flex (select TF) ops that the Python interpreters cannot run with a dynamic
batch. TF 2.21's converter still fuses tf-keras 2's LSTM layer into the
`UNIDIRECTIONAL_SEQUENCE_LSTM` builtin when the function is traced with a
static batch (see shared research notes). So this exporter rebuilds the model
in tf-keras with the same weights, traces it with a fixed batch size and
converts that: no Flex ops, runnable by the plain LiteRT interpreter.

Supported layers: plain `keras_lstm.LSTM` (tanh/sigmoid; `go_backwards`),
`keras.layers.Bidirectional` of one, `keras_lstm.StackedLSTM`, `Dense`,
`Embedding` (without `mask_zero`), `Dropout`, `Activation`; one chain. The
other variants raise `ValueError` naming the layer.
"""

import json
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np

from keras_lstm.interop import _directions, _read_weights, _sublayers
from keras_lstm.lstm import LSTM
from keras_lstm.stacked import StackedLSTM

QUANTIZATIONS = (None, "dynamic", "int8")
_FUSED_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def _check_plain(layer, lstm):
    cell = lstm.cell
    if not cell.is_plain:
        raise ValueError(
            f"Layer {layer.name!r} uses an LSTM variant (peephole, projection, coupled gates, layer "
            "norm, clips or zoneout); TFLite export supports the plain LSTM so far."
        )
    if cell.activation is not keras.activations.tanh or cell.recurrent_activation is not keras.activations.sigmoid:
        raise ValueError(f"Layer {layer.name!r}: only the tanh/sigmoid activations export to TFLite.")


def _tf_keras_lstm(tf_keras, layer, lstm):
    _check_plain(layer, lstm)
    weights = _read_weights(lstm)
    rebuilt = tf_keras.layers.LSTM(
        lstm.units,
        use_bias=lstm.use_bias,
        return_sequences=lstm.return_sequences,
        go_backwards=lstm.go_backwards,
        name=lstm.name,
    )
    order = ["kernel", "recurrent_kernel"] + (["bias"] if lstm.use_bias else [])
    return rebuilt, [weights[name] for name in order]


class _Step:
    """One step of a plain LSTM with explicit state, as tf-keras's LSTMCell.

    A single step needs no loop: it converts to plain builtins (matrix
    products and activations), which is what a streaming model runs.
    """

    def __init__(self, tf_keras, layer, lstm):
        _check_plain(layer, lstm)
        if lstm.go_backwards:
            raise ValueError(
                f"Layer {layer.name!r} reads its sequence backwards; a streaming model can only "
                "run forward LSTMs (frames arrive one at a time)."
            )
        self.name, self.units = lstm.name, lstm.units
        self.cell = tf_keras.layers.LSTMCell(lstm.units, use_bias=lstm.use_bias)
        self.weights = _tf_keras_lstm(tf_keras, layer, lstm)[1]
        self.state_inputs = [
            tf_keras.Input((lstm.units,), batch_size=None, name=f"{lstm.name}_{s}") for s in ("h", "c")
        ]

    def __call__(self, x):
        output, self.next_states = self.cell(x, self.state_inputs)
        return output

    def set_weights(self, weights):
        self.cell.set_weights(weights)


def _tf_keras_layers(tf_keras, layer, streaming=False):
    """[(tf-keras layer, its weights)] computing what `layer` computes."""
    if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
        return []
    if streaming and isinstance(layer, (LSTM, keras.layers.Bidirectional)):
        if isinstance(layer, keras.layers.Bidirectional):
            raise ValueError(
                f"Layer {layer.name!r} is bidirectional: it needs the whole sequence, so it cannot stream."
            )
        step = _Step(tf_keras, layer, layer)
        return [(step, step.weights)]
    if isinstance(layer, LSTM):
        return [_tf_keras_lstm(tf_keras, layer, layer)]
    if isinstance(layer, keras.layers.Bidirectional) and isinstance(layer.forward_layer, LSTM):
        forward, backward = (_tf_keras_lstm(tf_keras, layer, lstm) for lstm in _directions(layer))
        wrapper = tf_keras.layers.Bidirectional(forward[0], backward_layer=backward[0], merge_mode=layer.merge_mode)
        return [(wrapper, forward[1] + backward[1])]
    if isinstance(layer, StackedLSTM):
        return [pair for sublayer in _sublayers(layer) for pair in _tf_keras_layers(tf_keras, sublayer, streaming)]
    if isinstance(layer, keras.layers.Dense):
        activation = keras.activations.serialize(layer.activation)
        return [(tf_keras.layers.Dense(layer.units, activation=activation, use_bias=layer.use_bias), layer.get_weights())]
    if isinstance(layer, keras.layers.Activation):
        return [(tf_keras.layers.Activation(keras.activations.serialize(layer.activation)), [])]
    if isinstance(layer, keras.layers.Embedding) and not layer.mask_zero:
        return [(tf_keras.layers.Embedding(layer.input_dim, layer.output_dim), layer.get_weights())]
    raise ValueError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no TFLite export here. Supported: "
        "keras_lstm.LSTM, Bidirectional(keras_lstm.LSTM), StackedLSTM, Dense, Embedding "
        "(mask_zero=False), Dropout, Activation."
    )


def _rebuild(model, batch_size, streaming=False):
    """The tf-keras twin of `model` (of one step of it, when streaming).

    Returns (twin, input shape without batch, input dtype, state sizes); a
    streaming twin takes [frame, h, c of each LSTM] and returns [output, the
    new h, c of each LSTM].
    """
    import tf_keras

    from keras_lstm.export.onnx import _chain

    layers = _chain(model)
    shape = tuple(model.inputs[0].shape)[1:]
    dtype = keras.backend.standardize_dtype(model.inputs[0].dtype)
    if streaming:
        shape = shape[1:]  # one frame: no time axis
    inputs = tf_keras.Input(shape, batch_size=batch_size, dtype=dtype, name="inputs")
    x = inputs
    pairs = [pair for layer in layers for pair in _tf_keras_layers(tf_keras, layer, streaming)]
    for rebuilt, _ in pairs:
        x = rebuilt(x)
    steps = [rebuilt for rebuilt, _ in pairs if isinstance(rebuilt, _Step)]
    state_inputs = [state for step in steps for state in step.state_inputs]
    state_outputs = [state for step in steps for state in step.next_states]
    twin = tf_keras.Model([inputs, *state_inputs], [x, *state_outputs]) if streaming else tf_keras.Model(inputs, x)
    for rebuilt, weights in pairs:
        rebuilt.set_weights(weights)
    return twin, shape, dtype, [step.units for step in steps for _ in "hc"]


def to_tflite(
    model,
    path,
    batch_size=1,
    quantize=None,
    representative_data=None,
    verify=True,
    sample_inputs=None,
    tolerance=None,
    streaming=False,
    steps=None,
):
    """Writes `model` to `path` as a TFLite flatbuffer; returns a report dict.

    Args:
        model: a built Keras model (any backend; need not have been called).
        path: the .tflite file.
        batch_size: the fixed batch of the exported model (the fused LSTM op
            is emitted only for a static batch). The time axis keeps the
            model's length; a model with a free time axis needs one.
        quantize: None (float32), "dynamic" (weights int8, dynamic-range),
            or "int8" (full integer, needs `representative_data`: an
            iterable of input batches of shape (batch_size, ...)).
        verify: run the file in the LiteRT interpreter (in a subprocess, so a
            crash is a failure, not the end of the caller) on `sample_inputs`
            (default: the first representative batch, else random inputs)
            and raise if its outputs differ from the model's by more than
            `tolerance` relative (default 1e-4 for float32, 0.1 quantized).
        streaming: export one step: inputs (frame, then h and c of each LSTM
            layer, in order), outputs (this step's output, then the new h and
            c of each layer). A step is a few plain builtins (no loop, no
            fused op). Running T steps equals the full model.
        steps: for a functional model that is not a chain (an encoder, a
            decoder step; see `tflite_functional`), the length every free
            axis is fixed to. Its inputs and outputs keep the Keras names,
            and `sample_inputs` is a list, one array per input.

    Returns:
        {"path", "size_bytes", "ops", "fused_lstm_ops", "max_error",
        "state_sizes" (streaming: the size of each state input, in order)}.
    """
    import tensorflow as tf

    from keras_lstm.export.onnx import _is_chain

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be one of {QUANTIZATIONS}. Received: quantize={quantize!r}")
    if not _is_chain(model):
        if streaming or quantize == "int8":
            raise ValueError("streaming and int8 exports take a chain of layers; this model has several inputs or outputs.")
        return _to_tflite_functional(model, path, batch_size, steps, quantize, verify, sample_inputs, tolerance)
    if quantize == "int8" and representative_data is None:
        raise ValueError("`quantize='int8'` needs `representative_data`: input batches to calibrate on.")
    twin, shape, dtype, state_sizes = _rebuild(model, batch_size, streaming)
    if any(d is None for d in shape):
        raise ValueError(
            f"to_tflite needs a fixed time length: the model's input shape is {(None, *shape)}. "
            "Build the model on keras.Input((steps, features))."
        )
    specs = [tf.TensorSpec((batch_size, *shape), tf.as_dtype(dtype))]
    specs += [tf.TensorSpec((batch_size, size), tf.float32) for size in state_sizes]
    function = tf.function(lambda *inputs: twin(list(inputs) if streaming else inputs[0]))
    concrete = function.get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], twin)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "dynamic":
        # TF 2.21's new dynamic-range quantizer leaves the fused LSTM's
        # weights in float32 (file size unchanged, measured); the legacy one
        # quantizes them to int8 (73 kB -> 25 kB for LSTM(64)).
        converter.experimental_new_dynamic_range_quantizer = False
    if quantize == "int8":
        converter.representative_dataset = lambda: ([np.asarray(batch, dtype)] for batch in representative_data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    flatbuffer = converter.convert()

    full_shape = tuple(model.inputs[0].shape)[1:]
    if sample_inputs is None and representative_data is not None:
        # A quantized model is only accurate on data like its calibration
        # data, so it is checked on that, not on random inputs.
        sample_inputs = next(iter(representative_data))
    x = _sample(model, batch_size, full_shape, dtype) if sample_inputs is None else np.asarray(sample_inputs, dtype)
    run = _run_in_subprocess(flatbuffer, x, state_sizes if streaming else None)
    report = {
        "path": str(path),
        "size_bytes": len(flatbuffer),
        "ops": run["ops"],
        "fused_lstm_ops": run["ops"].count(_FUSED_LSTM),
        "max_error": None,
        "state_sizes": state_sizes,
    }
    if verify:
        expected = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), np.float64)
        actual = run["outputs"]
        if streaming and actual.ndim != expected.ndim:  # the model returns its last output
            actual = actual[:, -1]
        report["max_error"] = _check_agreement({"outputs": (actual, expected)}, quantize, tolerance)
    with open(path, "wb") as file:
        file.write(flatbuffer)
    return report


def _check_agreement(pairs, quantize, tolerance):
    """The largest relative error over {output name: (TFLite's, Keras's)}; a RuntimeError
    (and nothing written) when it reaches the tolerance."""
    errors = {
        name: float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-12))
        for name, (actual, expected) in pairs.items()
    }
    worst = max(errors, key=errors.get)
    limit = tolerance if tolerance is not None else (0.1 if quantize else 1e-4)
    if not errors[worst] < limit:
        where = f" in output {worst!r}" if len(errors) > 1 else ""
        raise RuntimeError(
            f"The TFLite model disagrees with the Keras model: relative error {errors[worst]:.2e}{where} "
            f"(tolerance {limit:.0e}). Nothing was written."
        )
    return errors[worst]


def _to_tflite_functional(model, path, batch_size, steps, quantize, verify, sample_inputs, tolerance):
    import tensorflow as tf

    from keras_lstm.export import onnx_functional, tflite_functional

    free = [t.name for t in model.inputs if None in tuple(t.shape)[1:]]
    if free and steps is None:
        raise ValueError(f"to_tflite needs `steps`, the length to fix the free axes of inputs {free} to.")
    twin, specs = tflite_functional.rebuild(model, batch_size, steps)
    output_names = _unique(list(model.output_names))
    function = tf.function(lambda *inputs: dict(zip(output_names, keras.tree.flatten(twin(list(inputs))))))
    concrete = function.get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], twin)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.experimental_new_dynamic_range_quantizer = False
    flatbuffer = converter.convert()
    if sample_inputs is None:
        sample_inputs = onnx_functional.sample_inputs(model, batch=batch_size, steps=steps or 7)
    samples = [np.asarray(s) for s in sample_inputs]
    run = _run_named_in_subprocess(flatbuffer, dict(zip([t.name for t in model.inputs], samples)), output_names)
    report = {
        "path": str(path),
        "size_bytes": len(flatbuffer),
        "inputs": [t.name for t in model.inputs],
        "outputs": output_names,
        "ops": run["ops"],
        "fused_lstm_ops": run["ops"].count(_FUSED_LSTM),
        "max_error": None,
    }
    if verify:
        expected = keras.tree.flatten(model(samples if len(samples) > 1 else samples[0], training=False))
        pairs = {
            name: (run["outputs"][name], np.asarray(keras.ops.convert_to_numpy(value), np.float64))
            for name, value in zip(output_names, expected)
        }
        report["max_error"] = _check_agreement(pairs, quantize, tolerance)
    with open(path, "wb") as file:
        file.write(flatbuffer)
    return report


def _unique(names):
    for k, name in enumerate(names):
        if name in names[:k]:
            names[k] = f"{name}_{k}"
    return names


def _sample(model, batch_size, shape, dtype):
    rng = np.random.default_rng(0)
    if "int" in dtype:
        embedding = next(layer for layer in model.layers if isinstance(layer, keras.layers.Embedding))
        return rng.integers(0, embedding.input_dim, (batch_size, *shape)).astype(dtype)
    return rng.standard_normal((batch_size, *shape)).astype(dtype)


_RUNNER = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
folder = sys.argv[1]
state_sizes = json.load(open(folder + "/states.json"))
interpreter = Interpreter(model_path=folder + "/model.tflite")
interpreter.allocate_tensors()
x = np.load(folder + "/inputs.npy")
# The signature's inputs and outputs, in the order the model was traced with.
runner = interpreter.get_signature_runner()
if state_sizes is None:
    outputs = list(runner(**{next(iter(runner.get_input_details())): x}).values())[0]
else:
    signature = interpreter.get_signature_list()["serving_default"]
    # "inputs_10" sorts before "inputs_2": order by the number.
    by_number = lambda names: sorted(names, key=lambda name: int(name.rsplit("_", 1)[1]))
    inputs, output_names = by_number(signature["inputs"]), by_number(signature["outputs"])
    states = [np.zeros((x.shape[0], size), np.float32) for size in state_sizes]
    steps = []
    for t in range(x.shape[1]):
        results = runner(**{inputs[0]: x[:, t]}, **dict(zip(inputs[1:], states)))
        results = [results[name] for name in output_names]
        steps.append(results[0])
        states = results[1:]
    outputs = np.stack(steps, axis=1)
np.save(folder + "/outputs.npy", outputs)
json.dump([op["op_name"] for op in interpreter._get_ops_details()], open(folder + "/ops.json", "w"))
"""


_NAMED_RUNNER = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
folder = sys.argv[1]
interpreter = Interpreter(model_path=folder + "/model.tflite")
interpreter.allocate_tensors()
inputs = dict(np.load(folder + "/inputs.npz"))
outputs = interpreter.get_signature_runner()(**inputs)
np.savez(folder + "/outputs.npz", **outputs)
json.dump([op["op_name"] for op in interpreter._get_ops_details()], open(folder + "/ops.json", "w"))
"""


def _run_litert(flatbuffer, runner, files, read_outputs):
    """Writes the flatbuffer and `files` ({name: writer(path)}) to a temporary folder and runs
    `runner` on it in a child process: the interpreter has been seen to segfault on
    some models, and a crash here becomes a RuntimeError instead of killing the caller.
    Returns {"outputs": read_outputs(folder), "ops": the op names the runner saw}."""
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "model.tflite"), "wb") as file:
            file.write(flatbuffer)
        for name, write in files.items():
            write(os.path.join(folder, name))
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        run = subprocess.run(
            [sys.executable, "-c", runner, folder], capture_output=True, text=True, env=environment, timeout=300
        )
        if run.returncode != 0:
            raise RuntimeError(
                f"The LiteRT interpreter could not run the exported model (exit {run.returncode}):\n"
                f"{run.stderr[-2000:]}"
            )
        with open(os.path.join(folder, "ops.json")) as file:
            ops = json.load(file)
        return {"outputs": read_outputs(folder), "ops": ops}


def _run_named_in_subprocess(flatbuffer, inputs, output_names):
    """Runs the flatbuffer's signature on named inputs: {"outputs": {name: array}, "ops"}."""

    def read_outputs(folder):
        outputs = np.load(os.path.join(folder, "outputs.npz"))
        return {name: outputs[name].astype(np.float64) for name in output_names}

    files = {"inputs.npz": lambda path: np.savez(path, **inputs)}
    return _run_litert(flatbuffer, _NAMED_RUNNER, files, read_outputs)


def _run_in_subprocess(flatbuffer, x, state_sizes=None):
    """Runs the flatbuffer on `x` in the LiteRT interpreter.

    With `state_sizes` (a streaming model) it feeds x one step at a time,
    each step's states into the next, from zero states.
    """

    def write_states(path):
        with open(path, "w") as file:
            json.dump(state_sizes, file)

    files = {"inputs.npy": lambda path: np.save(path, x), "states.json": write_states}
    return _run_litert(
        flatbuffer, _RUNNER, files, lambda folder: np.load(os.path.join(folder, "outputs.npy")).astype(np.float64)
    )
