"""The adding problem (Hochreiter & Schmidhuber 1997), a long-lag memory task.

Each step carries a random number and a marker; exactly two steps are marked,
and the target is the sum of their numbers. The model must remember the first
marked number until the end of the sequence. Predicting the mean sum (1.0)
scores an MSE of 1/6 ~ 0.167; anything well below that means the LSTM learned
to remember. Used by `examples/adding_problem.py` and `benchmarks.quantization`.
"""

import time

import keras
import numpy as np

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
