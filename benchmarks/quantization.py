"""Size and accuracy of the float and quantized exports, measured on a task.

    KERAS_BACKEND=jax python -m benchmarks.quantization [--seconds 20]

The task is the adding problem (keras_lstm.adding_problem) (T=30, LSTM(32) + Dense(1)), trained
for a few seconds; each export is scored on 512 held-out sequences (MSE; 1/6
for always predicting the mean). Until the zoo's models exist this is the
measured task.
"""

import argparse
import os
import tempfile

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", default=os.path.join("benchmarks", "results"))
    args = parser.parse_args(argv)

    import keras
    import onnxruntime

    import keras_lstm
    from keras_lstm.adding_problem import STEPS, TimeLimit, adding_problem
    from keras_lstm.export.onnx import to_onnx
    from keras_lstm.export import litert
    from keras_lstm.export.tflite import to_tflite

    keras.utils.set_random_seed(0)
    x_train, y_train = adding_problem(4096, seed=0)
    x_test, y_test = adding_problem(512, seed=1)
    model = keras.Sequential([keras.Input((STEPS, 2)), keras_lstm.LSTM(32), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    model.fit(x_train, y_train, batch_size=64, epochs=500, verbose=0, callbacks=[TimeLimit(args.seconds)])

    def mse(predictions):
        return float(np.mean((np.asarray(predictions).reshape(-1, 1) - y_test) ** 2))

    rows = [("Keras model", "float32", None, mse(keras.ops.convert_to_numpy(model(x_test))))]
    with tempfile.TemporaryDirectory() as folder:
        for quantize in (None, "dynamic"):
            path = os.path.join(folder, f"model-{quantize}.onnx")
            report = to_onnx(model, path, quantize=quantize)
            session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
            rows.append(("ONNX, onnxruntime", quantize or "float32", report["size_bytes"], mse(session.run(None, {"inputs": x_test})[0])))
        calibration = [x_train[i : i + 1] for i in range(0, 200)]
        for quantize in (None, "dynamic", "int8"):
            path = os.path.join(folder, f"model-{quantize}.tflite")
            report = to_tflite(model, path, batch_size=len(x_test), quantize=quantize, representative_data=[x_train[:512]] * 4 if quantize == "int8" else None)
            with open(path, "rb") as file:
                outputs = litert.run_in_subprocess(file.read(), {"inputs": x_test})["outputs"]["outputs"]
            rows.append(("TFLite, LiteRT", quantize or "float32", report["size_bytes"], mse(outputs)))
    lines = [
        f"Adding problem, T={STEPS}: test MSE (predicting the mean: {float(np.mean((y_test - y_train.mean()) ** 2)):.4f})",
        "",
        "| file | weights | size | test MSE | change vs float32 Keras |",
        "|---|---|---|---|---|",
    ]
    reference = rows[0][3]
    for name, kind, size, error in rows:
        size_text = "" if size is None else f"{size / 1024:.1f} KiB"
        lines.append(f"| {name} | {kind} | {size_text} | {error:.5f} | {error - reference:+.5f} |")
    markdown = "\n".join(lines)
    print(markdown)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "quantization.md"), "w") as file:
        file.write(markdown + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
