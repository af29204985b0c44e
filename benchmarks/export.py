"""Times exported models: ours against the same network exported the Keras way.

    KERAS_BACKEND=tensorflow python -m benchmarks.export [--repeats 50] [--out benchmarks/results]

The network: Input (T=100, 32 features) -> LSTM(128) -> Dense(1), the same
weights in `keras_lstm.LSTM` and `keras.layers.LSTM`. Exports:
- ours: `to_onnx` (one native ONNX LSTM node, dynamic batch) and `to_tflite`
  (the fused TFLite LSTM op; a static batch, so one file per batch size);
- Keras's: `model.export(format="onnx")` and `model.export(format="litert")`.
Each file runs in its runtime with one thread (onnxruntime, the LiteRT
interpreter) at batch 1 and 64; medians of interleaved calls. Run it on the
TensorFlow backend: Keras's ONNX export goes through TensorFlow there.
"""

import argparse
import json
import os
import statistics
import time

# numpy's OpenBLAS threads keep spinning after a call and steal the cores
# from the runtime timed next.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

STEPS, FEATURES, UNITS = 100, 32, 128
BATCHES = (1, 64)


def networks():
    import keras

    import keras_lstm

    keras.utils.set_random_seed(0)
    ours = keras.Sequential([keras.Input((STEPS, FEATURES)), keras_lstm.LSTM(UNITS), keras.layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.LSTM(UNITS), keras.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def onnx_session(path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def litert_runner(path, batch):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    detail = interpreter.get_input_details()[0]
    if tuple(detail["shape"]) != (batch, STEPS, FEATURES):
        interpreter.resize_tensor_input(detail["index"], [batch, STEPS, FEATURES])
    interpreter.allocate_tensors()
    output = interpreter.get_output_details()[0]["index"]

    def run(x):
        # The fused LSTM op keeps its last state in variables: a user resets them per sequence.
        interpreter.reset_all_variables()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run


def median_ms(contenders, x, repeats):
    for run in contenders.values():
        for _ in range(3):
            run(x)
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run(x)
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(times) for name, times in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description="exported-model latency")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default=os.path.join("benchmarks", "results"))
    args = parser.parse_args(argv)

    import keras

    from keras_lstm.export.onnx import to_onnx
    from keras_lstm.export.tflite import to_tflite

    os.makedirs(args.out, exist_ok=True)
    folder = os.path.join(args.out, "exported")
    os.makedirs(folder, exist_ok=True)
    ours, theirs = networks()
    files, notes = {}, []
    files["ours.onnx"] = os.path.join(folder, "ours.onnx")
    to_onnx(ours, files["ours.onnx"])
    for batch in BATCHES:
        files[f"ours-b{batch}.tflite"] = os.path.join(folder, f"ours-b{batch}.tflite")
        to_tflite(ours, files[f"ours-b{batch}.tflite"], batch_size=batch)
    theirs(np.zeros((1, STEPS, FEATURES), "float32"))  # Keras refuses to export a model never called
    for fmt, name in (("onnx", "keras.onnx"), ("litert", "keras.tflite")):
        path = os.path.join(folder, name)
        try:
            theirs.export(path, format=fmt, verbose=False)
            files[name] = path
        except Exception as error:  # report, do not hide: this is a measured outcome
            notes.append(f"Keras export to {fmt} failed: {type(error).__name__}: {str(error)[:200]}")

    rows = []
    for batch in BATCHES:
        x = np.random.default_rng(batch).standard_normal((batch, STEPS, FEATURES)).astype("float32")
        expected = np.asarray(keras.ops.convert_to_numpy(ours(x)))
        contenders = {"ours, onnxruntime": onnx_session(files["ours.onnx"])}
        contenders["ours, LiteRT"] = litert_runner(files[f"ours-b{batch}.tflite"], batch)
        if "keras.onnx" in files:
            contenders["Keras export, onnxruntime"] = onnx_session(files["keras.onnx"])
        if "keras.tflite" in files:
            try:
                runner = litert_runner(files["keras.tflite"], batch)
                runner(x)
                contenders["Keras export, LiteRT"] = runner
            except Exception as error:
                notes.append(f"Keras's TFLite file does not run in LiteRT at batch {batch}: {str(error).splitlines()[0][:160]}")
        for name, run in contenders.items():
            error = float(np.abs(run(x) - expected).max() / np.abs(expected).max())
            assert error < 1e-4, (name, error)
        for name, ms in median_ms(contenders, x, args.repeats).items():
            file = {"ours, onnxruntime": "ours.onnx", "ours, LiteRT": f"ours-b{batch}.tflite",
                    "Keras export, onnxruntime": "keras.onnx", "Keras export, LiteRT": "keras.tflite"}[name]
            rows.append({"batch": batch, "contender": name, "ms": ms, "bytes": os.path.getsize(files[file])})

    lines = ["| batch | contender | ms (1 thread) | sequences/s | file size |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['batch']} | {row['contender']} | {row['ms']:.3f} | {row['batch'] / row['ms'] * 1e3:.0f} "
            f"| {row['bytes'] / 1024:.0f} KiB |"
        )
    lines += [""] + [f"- {note}" for note in dict.fromkeys(notes)]
    markdown = "\n".join(lines)
    print(markdown)
    with open(os.path.join(args.out, "export.md"), "w") as file:
        file.write(markdown + "\n")
    with open(os.path.join(args.out, "export.json"), "w") as file:
        json.dump({"rows": rows, "notes": notes}, file, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
