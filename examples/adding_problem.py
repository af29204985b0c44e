"""The long-lag adding problem (Hochreiter & Schmidhuber 1997): LSTM vs SimpleRNN.

Each sequence has T steps of (value, marker); two steps are marked, one in each
half, and the target is the sum of their values. Predicting the mean sum scores
an MSE of 1/6 ~ 0.167 (chance); adding only the later value and guessing the
earlier one scores 1/12 ~ 0.083. A plain RNN must carry the first value across
~T/2 steps, where its gradients vanish; the LSTM's additive cell state does not
have that problem.

    KERAS_BACKEND=jax python examples/adding_problem.py [--steps 100] [--epochs 40]

Writes docs/adding_problem.png (validation MSE per epoch of both models).
"""

import argparse
import os
import time

import keras
import numpy as np

import keras_lstm
from keras_lstm.adding_problem import adding_problem

CHANCE_MSE = 1.0 / 6.0
# A model that adds the later marked number but cannot carry the earlier one
# across the gap predicts it by its mean: the MSE is its variance, 1/12.
SECOND_ONLY_MSE = 1.0 / 12.0


def train(recurrent_layer, x, y, x_val, y_val, epochs, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(x.shape[1:]), recurrent_layer, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss="mse")
    start = time.perf_counter()
    history = model.fit(x, y, validation_data=(x_val, y_val), batch_size=64, epochs=epochs, verbose=0)
    return history.history["val_loss"], time.perf_counter() - start


def run(steps=100, epochs=40, units=32, train_size=8192, plot_path=None):
    """Trains both models; returns {name: (val_mse_per_epoch, seconds)}."""
    x, y = adding_problem(train_size, steps=steps, seed=0)
    x_val, y_val = adding_problem(1024, steps=steps, seed=1)
    results = {
        "keras_lstm.LSTM": train(keras_lstm.LSTM(units), x, y, x_val, y_val, epochs),
        "keras.layers.SimpleRNN": train(keras.layers.SimpleRNN(units), x, y, x_val, y_val, epochs),
    }
    if plot_path:
        plot(results, steps, units, plot_path)
    return results


def plot(results, steps, units, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name, (losses, _) in results.items():
        axis.plot(range(1, len(losses) + 1), losses, label=f"{name} ({units} units)")
    axis.axhline(CHANCE_MSE, color="gray", linestyle="--", label="chance: predict the mean (1/6)")
    axis.axhline(
        SECOND_ONLY_MSE, color="gray", linestyle=":", label="add only the later number (1/12)"
    )
    axis.set_yscale("log")
    axis.set_xlabel("epoch (8,192 sequences)")
    axis.set_ylabel("validation MSE")
    axis.set_title(f"Adding problem, T = {steps} ({keras.backend.backend()} backend)")
    axis.legend()
    figure.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--plot", default=os.path.join("docs", "adding_problem.png"))
    args = parser.parse_args()
    results = run(args.steps, args.epochs, plot_path=args.plot)
    for name, (losses, seconds) in results.items():
        print(
            f"{name:24s} final validation MSE {losses[-1]:.4f} (chance {CHANCE_MSE:.3f}, "
            f"later number only {SECOND_ONLY_MSE:.3f}), {seconds:.0f} s"
        )
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
