"""Times keras_lstm.LSTM against keras.layers.LSTM and torch.nn.LSTM.

    python -m benchmarks.lstm [--repeats 30] [--skip-large] [--out benchmarks/results]

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
    import torch

    x = torch.from_numpy(x)
    kwargs = {k: torch.from_numpy(v) for k, v in kwargs.items()}

    def forward():
        with torch.no_grad():
            return layer(x, **kwargs)

    return forward


def torch_contender(batch, steps, units, kind):
    import torch

    torch.manual_seed(0)
    x, y, mask = case_data(batch, steps, units, kind)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    lstm = torch.nn.LSTM(FEATURES, units, batch_first=True)
    if kind == "train":
        head = torch.nn.Linear(units, 1)
        optimizer = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()))

        def train_step():
            optimizer.zero_grad()
            outputs, _ = lstm(x)
            loss = torch.nn.functional.mse_loss(head(outputs[:, -1]), y)
            loss.backward()
            optimizer.step()

        return train_step
    if kind == "masked":
        lengths = torch.from_numpy(mask.sum(axis=1))

        def masked_forward():
            with torch.no_grad():
                packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
                return lstm(packed)[1][0]

        return masked_forward

    def forward():
        with torch.no_grad():
            return lstm(x)[1][0]

    return forward


def gemm_rate():
    """Measured float32 matrix-product rate of this machine, FLOP/s (torch)."""
    import torch

    size = 2048  # smaller products measured about half this rate here
    a, b = torch.randn(size, size), torch.randn(size, size)
    times = []
    for _ in range(25):
        start = time.perf_counter()
        torch.mm(a, b)
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
    return {"results": results, **extra}


def table(report):
    results = report["results"]
    reference = {r["case"]: r["seconds"] for r in results if r["contender"] == "torch.nn.LSTM"}
    keras_reference = {
        (r["case"], r["backend"]): r["seconds"] for r in results if r["contender"] == "keras.layers.LSTM"
    }
    gemm = report.get("gemm_flops")
    lines = [
        f"Measured GEMM rate: {gemm / 1e9:.0f} GFLOP/s (float32, torch.mm 2048^3)" if gemm else "",
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
    report = {"results": []}
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
        report.update({k: v for k, v in partial.items() if k != "results"})
    report["results"].sort(key=lambda r: (list(CASES).index(r["case"]), r["backend"] != "torch", r["backend"]))
    markdown = table(report)
    print(markdown)
    with open(os.path.join(args.out, "lstm.md"), "w") as file:
        file.write(markdown + "\n")
    with open(os.path.join(args.out, "lstm.json"), "w") as file:
        json.dump(report, file, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
