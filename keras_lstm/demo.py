"""`make demo`: train a small keras_lstm model on the adding problem.

The adding problem (Hochreiter & Schmidhuber 1997): each step carries a
random number and a marker; exactly two steps are marked, and the target is
the sum of their numbers. The model must remember the first marked number
until the end of the sequence. Predicting the mean sum (1.0) scores an MSE of
1/6 ~ 0.167; anything well below that means the LSTM learned to remember.

Run: `KERAS_BACKEND=jax python -m keras_lstm.demo [--seconds 20]`
"""

import argparse
import time

import keras
import numpy as np

import keras_lstm

STEPS = 30


def adding_problem(count, steps=STEPS, seed=0):
    """Returns inputs (count, steps, 2) and targets (count, 1)."""
    rng = np.random.default_rng(seed)
    values = rng.random((count, steps))
    markers = np.zeros((count, steps))
    first = rng.integers(0, steps // 2, count)
    second = rng.integers(steps // 2, steps, count)
    markers[np.arange(count), first] = 1.0
    markers[np.arange(count), second] = 1.0
    inputs = np.stack([values, markers], axis=-1).astype("float32")
    targets = (values * markers).sum(axis=1, keepdims=True).astype("float32")
    return inputs, targets


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the epoch that passes `seconds`."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="training budget")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    x_train, y_train = adding_problem(4096, seed=0)
    x_test, y_test = adding_problem(512, seed=1)
    model = keras.Sequential(
        [keras.Input((STEPS, 2)), keras_lstm.LSTM(32), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    print(f"backend: {keras.backend.backend()}; adding problem, {STEPS} steps")
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=200,
        verbose=0,
        callbacks=[TimeLimit(args.seconds)],
    )
    seconds = time.perf_counter() - start
    predictions = model.predict(x_test, verbose=0)
    mse = float(np.mean((predictions - y_test) ** 2))
    baseline = float(np.mean((y_test - y_train.mean()) ** 2))
    print(
        f"trained {len(history.history['loss'])} epochs in {seconds:.1f} s; "
        f"test MSE {mse:.4f} vs {baseline:.4f} for always predicting the mean"
    )
    print("\n  marked numbers      sum    predicted")
    for inputs, target, predicted in zip(x_test[:6], y_test[:6], predictions[:6]):
        marked = inputs[inputs[:, 1] == 1.0, 0]
        print(
            f"  {marked[0]:.3f} + {marked[1]:.3f}   {target[0]:.3f}    {predicted[0]:.3f}"
        )
    learned = mse < 0.25 * baseline
    print(
        "\nThe LSTM learned to carry the first number to the end of the sequence."
        if learned
        else "\nNot learned within the time budget: try --seconds 60."
    )
    return 0 if learned else 1


if __name__ == "__main__":
    raise SystemExit(main())
