"""Running an exported .tflite file in the LiteRT interpreter, at any batch size
and length, and in a child process for the exporter's own check.

Two things about the fused LSTM op that a caller has to handle, and `run`
does: the op keeps its final h and c in variable tensors, so each run starts
with `reset_all_variables()` (else it would continue from the previous
sequence); and those tensors have the exported batch size, so another batch
resizes them with the input.

This module needs only numpy and ai_edge_litert, so that it runs where the
model is deployed, and as `python litert.py FOLDER` (the exporter's check).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

_FUSED_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
_H_STATE, _C_STATE = 18, 19


class Runner:
    """One interpreter of `model` (a path or the flatbuffer's bytes), called on
    {signature input name: array} as often as needed; returns {output name: array}.

    A streaming model (`states`: the export report's [(name, size)]) is fed
    the first input one step at a time along axis 1, each step's states into
    the next from zeros; its outputs are stacked along axis 1.
    """

    def __init__(self, model, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
        self.interpreter = Interpreter(**source, num_threads=num_threads)
        self.signature = self.interpreter._get_full_signature_list()["serving_default"]

    def __call__(self, inputs, states=None):
        if not states:
            return self._invoke(inputs)
        frame_name = next(iter(inputs))
        frames = inputs[frame_name]
        values = {name: np.zeros((frames.shape[0], size), np.float32) for name, size in states}
        per_step = {}
        for t in range(frames.shape[1]):
            results = self._invoke({frame_name: frames[:, t], **values})
            values = {name: results[f"{name}_out"] for name, _ in states}
            for name, value in results.items():
                per_step.setdefault(name, []).append(value)
        return {name: np.stack(steps, axis=1) for name, steps in per_step.items()}

    def _invoke(self, inputs):
        interpreter, signature = self.interpreter, self.signature
        shapes = {index: tuple(interpreter._get_tensor_details(index, 0)["shape"]) for index in signature["inputs"].values()}
        for name, value in inputs.items():
            index = signature["inputs"][name]
            if shapes[index] != value.shape:
                interpreter.resize_tensor_input(index, list(value.shape))
        batch = next(iter(inputs.values())).shape[0]
        for op in interpreter._get_ops_details():
            if op["op_name"] == _FUSED_LSTM:
                for slot in (_H_STATE, _C_STATE):
                    index = int(op["inputs"][slot])
                    size = int(interpreter._get_tensor_details(index, 0)["shape"][-1])
                    interpreter.resize_tensor_input(index, [batch, size])
        interpreter.allocate_tensors()
        interpreter.reset_all_variables()  # the fused op's state starts at zero
        for name, value in inputs.items():
            interpreter.set_tensor(signature["inputs"][name], value)
        interpreter.invoke()
        return {name: interpreter.get_tensor(index).copy() for name, index in signature["outputs"].items()}


def run(model, inputs, states=None):
    """`Runner(model)(inputs, states)`: one run in a fresh interpreter."""
    return Runner(model)(inputs, states)


def input_shapes(model):
    """{input name: shape, with None for a free axis} of the file's signature."""
    runner = Runner(model)
    details = {d["index"]: d for d in runner.interpreter.get_input_details()}
    return {
        name: [None if d < 0 else int(d) for d in details[index]["shape_signature"]]
        for name, index in runner.signature["inputs"].items()
    }


def op_names(model):
    return [op["op_name"] for op in Runner(model).interpreter._get_ops_details()]


def run_in_subprocess(flatbuffer, inputs, states=None, timeout=300):
    """`run` in a child process: the interpreter has been seen to crash on some
    models, and a crash here becomes a RuntimeError instead of ending the
    caller. Returns {"outputs": {name: float64 array}, "ops": [op names],
    "input_shapes": `input_shapes`}."""
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "model.tflite"), "wb") as file:
            file.write(flatbuffer)
        np.savez(os.path.join(folder, "inputs.npz"), **inputs)
        with open(os.path.join(folder, "states.json"), "w") as file:
            json.dump(states or [], file)
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        child = subprocess.run(
            # This file as a script: numpy and LiteRT only, not keras_lstm's imports.
            [sys.executable, os.path.abspath(__file__), folder],
            capture_output=True, text=True, env=environment, timeout=timeout,
        )
        if child.returncode != 0:
            raise RuntimeError(
                f"The LiteRT interpreter could not run the exported model (exit {child.returncode}):\n"
                f"{child.stderr[-2000:]}"
            )
        outputs = np.load(os.path.join(folder, "outputs.npz"))
        with open(os.path.join(folder, "model.json")) as file:
            described = json.load(file)
        outputs = {name: outputs[name].astype(np.float64) for name in outputs.files}
        return {"outputs": outputs, **described}


def main(folder):
    model = os.path.join(folder, "model.tflite")
    inputs = dict(np.load(os.path.join(folder, "inputs.npz")))
    with open(os.path.join(folder, "states.json")) as file:
        states = [tuple(state) for state in json.load(file)]
    np.savez(os.path.join(folder, "outputs.npz"), **run(model, inputs, states))
    with open(os.path.join(folder, "model.json"), "w") as file:
        json.dump({"ops": op_names(model), "input_shapes": input_shapes(model)}, file)


if __name__ == "__main__":
    main(sys.argv[1])
