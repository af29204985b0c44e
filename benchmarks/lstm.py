"""Times keras_lstm.LSTM against keras.layers.LSTM and torch.nn.LSTM.

    python -m benchmarks.lstm [--repeats 30] [--skip-large] [--backends torch,jax,tensorflow]
                              [--out benchmarks/results]

On a machine with a CUDA GPU every backend that sees it runs there (Keras
places tensors on the GPU by itself); the table's header names the device,
and the results go to lstm-gpu.md/json instead of lstm.md/json.

Each backend runs in its own process (a framework's idle threads spin after
its calls and slow the next framework's, so mixing frameworks in one process
inflates every figure). Within a process the contenders are interleaved, call
by call, after a warm-up, and the median is reported. torch.nn.LSTM is timed
in the torch process; every ratio is against its time for the same case in
the same run.

Cases (float32, input 32 features):
    forward      B=64, T=100, units 128, last h, inference
    train_step   the same with Dense(1), MSE and Adam: forward, backward, update
    latency      B=1, T=100, units 128, forward
    masked       forward with a mask (a quarter of each sequence padded at the end)
    large        B=64, T=1000, units 512, forward
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

FEATURES = 32
CASES = {
    # name: (batch, steps, units, kind)
    "forward": (64, 100, 128, "forward"),
    "train_step": (64, 100, 128, "train"),
    "latency": (1, 100, 128, "forward"),
    "masked": (64, 100, 128, "masked"),
    "large": (64, 1000, 512, "forward"),
}
BACKENDS = ("torch", "jax", "tensorflow")


def lstm_flops(batch, steps, units, kind):
    """Multiply-adds of the gate products, x2; a training step counts ~3x.

    A masked case counts only the steps that are not padding.
    """
    if kind == "masked":
        steps -= steps // 4
    forward = 2.0 * batch * steps * (FEATURES + units) * 4 * units
    return 3 * forward if kind == "train" else forward


def case_data(batch, steps, units, kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, FEATURES)).astype("float32")
    y = rng.standard_normal((batch, 1)).astype("float32")
    mask = np.ones((batch, steps), bool)
    mask[:, steps - steps // 4 :] = False
    return x, y, mask


def device_name(backend):
    """The accelerator this backend's process computes on: 'gpu' or 'cpu'."""
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    if backend == "jax":
        import jax

        return "gpu" if jax.default_backend() == "gpu" else "cpu"
    import tensorflow as tf

    return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"


def device_description(backend):
    """The device and framework versions, for the table's header."""
    import keras

    if backend == "torch":
        import torch

        device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
        version = f"torch {torch.__version__}"
    elif backend == "jax":
        import jax

        device, version = jax.devices()[0].device_kind, f"jax {jax.__version__}"
    else:
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        device, version = ("GPU" if gpus else "CPU"), f"tensorflow {tf.__version__}"
    return f"{device}, {version}, keras {keras.__version__}"


def synchronizer(backend):
    """A function that waits for the device's queued work (GPU calls return early)."""
    if backend == "torch" and device_name("torch") == "gpu":
        import torch

        return torch.cuda.synchronize
    return lambda: None


def keras_contenders(batch, steps, units, kind):
    """{name: zero-argument callable that runs one call to completion}."""
    import keras

    import keras_lstm

    backend = keras.backend.backend()
    x, y, mask = case_data(batch, steps, units, kind)
    contenders = {}
    for name, layer_class in (("keras_lstm.LSTM", keras_lstm.LSTM), ("keras.layers.LSTM", keras.layers.LSTM)):
        keras.utils.set_random_seed(0)
        if kind == "train":
            model = keras.Sequential([keras.Input((steps, FEATURES)), layer_class(units), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            # train_on_batch returns the loss as a Python float: it waits.
            contenders[name] = lambda model=model: model.train_on_batch(x, y)
            continue
        layer = layer_class(units)
        layer(x[:1])
        kwargs = {"mask": mask} if kind == "masked" else {}
        contenders[name] = compiled_forward(backend, layer, x, kwargs)
    return contenders


def compiled_forward(backend, layer, x, kwargs):
    """The layer's inference call compiled the way each backend runs predict()."""
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]
        forward = jax.jit(lambda t, n, x, kw: layer.stateless_call(t, n, x, **kw)[0])
        x = jax.numpy.asarray(x)
        kwargs = {k: jax.numpy.asarray(v) for k, v in kwargs.items()}
        return lambda: forward(trainable, non_trainable, x, kwargs).block_until_ready()
    if backend == "tensorflow":
        import tensorflow as tf

        forward = tf.function(lambda x, kw: layer(x, **kw))
        x = tf.constant(x)
        kwargs = {k: tf.constant(v) for k, v in kwargs.items()}
        return lambda: forward(x, kwargs).numpy()
    import keras
    import torch

    # On Keras's device (the GPU when there is one), so no call copies inputs.
    x = keras.ops.convert_to_tensor(x)
    kwargs = {k: keras.ops.convert_to_tensor(v) for k, v in kwargs.items()}
    synchronize = synchronizer("torch")

    def forward():
        with torch.no_grad():
            outputs = layer(x, **kwargs)
        synchronize()
        return outputs

    return forward


def torch_contender(batch, steps, units, kind):
    import torch

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    synchronize = synchronizer("torch")
    x, y, mask = case_data(batch, steps, units, kind)
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    lstm = torch.nn.LSTM(FEATURES, units, batch_first=True).to(device)
    if kind == "train":
        head = torch.nn.Linear(units, 1).to(device)
        optimizer = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()))

        def train_step():
            optimizer.zero_grad()
            outputs, _ = lstm(x)
            loss = torch.nn.functional.mse_loss(head(outputs[:, -1]), y)
            loss.backward()
            optimizer.step()
            synchronize()

        return train_step
    if kind == "masked":
        lengths = torch.from_numpy(mask.sum(axis=1))

        def masked_forward():
            with torch.no_grad():
                packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
                h = lstm(packed)[1][0]
            synchronize()
            return h

        return masked_forward

    def forward():
        with torch.no_grad():
            h = lstm(x)[1][0]
        synchronize()
        return h

    return forward


def gemm_rate():
    """Measured float32 matrix-product rate of the device, FLOP/s (torch).

    On a GPU this is the rate at torch's current float32 setting (TF32 off
    by default for matrix products).
    """
    import torch

    gpu = torch.cuda.is_available()
    # On the CPU smaller products measured about half the 2048^3 rate.
    size = 8192 if gpu else 2048
    device = "cuda" if gpu else "cpu"
    synchronize = synchronizer("torch")
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    times = []
    for _ in range(25):
        synchronize()
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times[5:])


def time_interleaved(contenders, repeats, warmup=3):
    for run in contenders.values():
        for _ in range(warmup):
            run()
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def worker(backend, cases, repeats):
    import keras

    assert keras.backend.backend() == backend
    results = []
    for case in cases:
        batch, steps, units, kind = CASES[case]
        contenders = keras_contenders(batch, steps, units, kind)
        if backend == "torch":
            contenders["torch.nn.LSTM"] = torch_contender(batch, steps, units, kind)
        case_repeats = max(3, repeats // 10) if case == "large" else repeats
        medians = time_interleaved(contenders, case_repeats)
        for name, seconds in medians.items():
            results.append({"case": case, "backend": backend, "contender": name, "seconds": seconds, "batch": batch})
        print(f"  {backend:10s} {case:10s} " + "  ".join(f"{n} {s * 1e3:.2f} ms" for n, s in medians.items()), flush=True)
    extra = {"gemm_flops": gemm_rate()} if backend == "torch" else {}
    return {
        "results": results,
        "devices": {backend: device_name(backend)},
        "device_descriptions": {backend: device_description(backend)},
        **extra,
    }


def table(report):
    results = report["results"]
    reference = {r["case"]: r["seconds"] for r in results if r["contender"] == "torch.nn.LSTM"}
    keras_reference = {
        (r["case"], r["backend"]): r["seconds"] for r in results if r["contender"] == "keras.layers.LSTM"
    }
    gemm = report.get("gemm_flops")
    size = 8192 if "gpu" in report.get("devices", {}).values() else 2048
    devices = "; ".join(f"{b} on {d}" for b, d in report.get("device_descriptions", {}).items())
    lines = [
        f"Devices: {devices}" if devices else "",
        f"Measured GEMM rate: {gemm / 1e9:.0f} GFLOP/s (float32, torch.mm {size}^3)" if gemm else "",
        "",
        "| case | backend | contender | ms | seq/s | vs torch.nn.LSTM | vs keras.layers.LSTM | of GEMM rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        batch, steps, units, kind = CASES[r["case"]]
        ms = r["seconds"] * 1e3
        ratio = r["seconds"] / reference[r["case"]] if r["case"] in reference else float("nan")
        vs_keras = r["seconds"] / keras_reference.get((r["case"], r["backend"]), float("nan"))
        fraction = lstm_flops(batch, steps, units, kind) / r["seconds"] / gemm if gemm else float("nan")
        backend = "torch (native)" if r["contender"] == "torch.nn.LSTM" else r["backend"]
        lines.append(
            f"| {r['case']} | {backend} | {r['contender']} | {ms:.2f} | {batch / r['seconds']:.0f} "
            f"| {ratio:.2f}x | {vs_keras:.2f}x | {fraction:.0%} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="keras-lstm speed benchmark")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--skip-large", action="store_true", help="leave out the units-512, T-1000 case")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", default=os.path.join("benchmarks", "results"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not (args.skip_large and c == "large")]

    if args.worker:
        report = worker(args.worker, cases, args.repeats)
        json.dump(report, sys.stdout if args.out == "-" else open(args.out, "w"))
        return 0

    os.makedirs(args.out, exist_ok=True)
    report = {"results": [], "devices": {}, "device_descriptions": {}}
    for backend in args.backends.split(","):
        part = os.path.join(args.out, f"{backend}.json")
        environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "benchmarks.lstm", "--worker", backend, "--out", part, "--repeats", str(args.repeats)]
        if args.skip_large:
            command.append("--skip-large")
        subprocess.run(command, env=environment, check=True)
        with open(part) as file:
            partial = json.load(file)
        os.remove(part)
        report["results"] += partial["results"]
        for key in ("devices", "device_descriptions"):
            report[key].update(partial[key])
        report.update({k: v for k, v in partial.items() if k not in ("results", "devices", "device_descriptions")})
    report["results"].sort(key=lambda r: (list(CASES).index(r["case"]), r["backend"] != "torch", r["backend"]))
    markdown = table(report)
    print(markdown)
    name = "lstm-gpu" if "gpu" in report["devices"].values() else "lstm"
    with open(os.path.join(args.out, f"{name}.md"), "w") as file:
        file.write(markdown + "\n")
    with open(os.path.join(args.out, f"{name}.json"), "w") as file:
        json.dump(report, file, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
