"""electricity-forecaster: next-day half-hourly electricity demand, with intervals.

Data: half-hourly demand (MW) in England and Wales, Monday 2000-06-05 to
Sunday 2000-08-27, 4,032 values (Taylor 2003), shipped in `pmdarima`
(`pmdarima.datasets.load_taylor`, MIT licence). The last two weeks (672
values) are the test split; nothing from them is used in training.

The model is a hybrid in the manner of ES-RNN (Smyl 2020): exponential
smoothing supplies level and seasons, an LSTM learns what they miss. The
smoothing is Taylor's double seasonal Holt-Winters with AR(1) adjustment
(`double_seasonal`), the method made for this series, its four parameters
fitted on the training weeks. It runs over the history and forecasts the
next 48 half-hours. The LSTM reads the smoothing's recent one-step errors
and the time of day and predicts, for each of the 48, quantiles 0.1, 0.5 and
0.9 of what the smoothing's forecast will miss; adding them to it gives the
forecast and an 80% prediction interval.

The network's raw 0.1-0.9 band does not cover 80% of new days. The recipe
widens it by the margin that makes it cover 80% of the last four training
weeks, each forecast by a network that never saw it (conformalized quantile
regression, Romano et al. 2019, cross-conformal over four weeks).
"""

import argparse
import dataclasses
import datetime
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import keras_lstm
from keras_lstm.zoo import double_seasonal, training
from keras_lstm.zoo.base import ZooModel

NAME = "electricity-forecaster"
SERIES_START = np.datetime64("2000-06-05T00:00")
HALF_HOUR = np.timedelta64(30, "m")
DAY = 48
WEEK = 7 * DAY
HORIZON = DAY
TEST_SIZE = 2 * WEEK
QUANTILES = (0.1, 0.5, 0.9)
WARMUP = double_seasonal.WARMUP  # the smoothing's initial state comes from the history's first two weeks
FEATURES = 3  # per half-hour: the smoothing's one-step error, sin and cos of the time of day

DEFAULT_CONFIG = {
    "window": 96,
    "units": 16,
    "layers": 1,
    "quantiles": list(QUANTILES),
}


def load_series():
    """The 4,032 half-hourly demand values (MW), float64."""
    try:
        from pmdarima.datasets import load_taylor
    except ImportError as error:  # pragma: no cover - pmdarima is a pinned dependency
        raise ImportError("the electricity data ships in pmdarima: pip install pmdarima") from error
    return np.asarray(load_taylor(), dtype="float64")


def split(series):
    """(train, test) with the test split the last two weeks."""
    return series[:-TEST_SIZE], series[-TEST_SIZE:]


def to_datetime64(when, argument="start"):
    """`when` (datetime64, datetime or ISO string) to the minute: a TypeError for other
    types, a ValueError for a string that is no date, each naming `argument`. Numbers are
    refused: numpy would read 5 as five minutes after 1970, and None as no time (NaT)."""
    expected = "expected a date and time such as '2000-08-14T00:00'"
    if not isinstance(when, (str, datetime.date, np.datetime64)):
        raise TypeError(f"{argument}={when!r} is {type(when).__name__}; {expected}")
    try:
        value = np.datetime64(when, "m")
    except ValueError:
        raise ValueError(f"{argument}={when!r} is not a date and time; {expected}") from None
    if np.isnat(value):
        raise ValueError(f"{argument}={when!r} is no time (NaT); {expected}")
    return value


def time_of_day(times):
    """(sin, cos) of the time of day of datetime64 values: (n, 2)."""
    minutes = (times - times.astype("datetime64[D]")).astype("timedelta64[m]").astype("float64")
    angle = 2 * np.pi * minutes / (24 * 60)
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def smooth(history, config):
    """Taylor's smoothing, with the fitted parameters in `config`, over `history`."""
    return double_seasonal.smooth(history, double_seasonal.Parameters(**config["smoothing"]))


def smoothed_forecasts(states, origins, config):
    """The smoothing's own day-ahead forecasts from each origin: (n, 48), MW."""
    return double_seasonal.forecasts(states, origins, config["smoothing"]["phi"], HORIZON)


def windows(states, times, origins, config):
    """Network inputs for forecasts from each of `origins`: (n, window, FEATURES), the
    `window` half-hours before each, from the smoothing `states` over the series so far."""
    features = np.concatenate(
        [(states.error / config["error_std"])[:, None], time_of_day(times[: len(states.error)])], axis=1
    ).astype("float32")
    return features[np.asarray(origins)[:, None] + np.arange(-config["window"], 0)]


def misses(series, states, origins, config):
    """What the smoothing's forecast from each origin missed: (n, 48), MW."""
    index = np.asarray(origins)[:, None] + np.arange(HORIZON)
    return series[index] - smoothed_forecasts(states, origins, config)


def demand_history(history, needed, window):
    """`history` as float64 MW, or a ValueError naming what is wrong with it and where.

    Demand is positive: a zero, a negative value or a gap (NaN) is a meter fault or a
    missing reading, and the smoothing, which updates its level and seasons by every
    error, would carry it into the forecast.
    """
    try:
        values = np.asarray(history, dtype="float64")
    except (TypeError, ValueError) as error:
        raise ValueError(f"history is not a series of numbers ({error}); expected demand values in MW") from None
    if values.ndim != 1 or len(values) < needed:
        raise ValueError(
            f"history has shape {values.shape}; expected a 1-D series of at least {needed} half-hourly "
            f"values (two weeks to start the smoothing, then the model's {window}-step window)"
        )
    faults = (
        (~np.isfinite(values), "a demand in MW at every half-hour", "missing (NaN) or infinite"),
        (values <= 0, "demand above 0 MW", "0 or below"),
    )
    for wrong, expected, found in faults:
        if wrong.any():
            first = int(np.argmax(wrong))
            raise ValueError(
                f"history[{first}] is {float(values[first])!r}; expected {expected} "
                f"({int(wrong.sum())} of {len(values)} values are {found})"
            )
    return values


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class OrderedQuantiles(keras.layers.Layer):
    """(…, 3) raw outputs -> quantiles that cannot cross: median ∓ softplus spreads.
    (`order_quantiles` is the same in numpy, for runtimes that export the network without it.)"""

    def call(self, raw):
        median = raw[..., 1:2]
        lower = median - keras.ops.softplus(raw[..., 0:1])
        upper = median + keras.ops.softplus(raw[..., 2:3])
        return keras.ops.concatenate([lower, median, upper], axis=-1)


def pinball_loss(quantiles):
    levels = keras.ops.convert_to_tensor(np.asarray(quantiles, "float32"))

    def loss(target, predicted):
        error = keras.ops.expand_dims(target, -1) - predicted
        return keras.ops.mean(keras.ops.maximum(levels * error, (levels - 1.0) * error))

    return loss


@dataclass
class Forecast:
    """A day-ahead forecast: `median`, `lower` and `upper` (the 80% interval), in MW."""

    times: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def order_quantiles(raw):
    """`OrderedQuantiles` in numpy, for a runtime that runs the exported network without
    that last layer: (…, 3) raw outputs -> median ∓ softplus spreads."""
    raw = np.asarray(raw, "float64")
    median = raw[..., 1]
    return np.stack([median - np.logaddexp(0, raw[..., 0]), median, median + np.logaddexp(0, raw[..., 2])], -1)


def to_demand(quantiles, smoothed, config):
    """Median, lower and upper forecasts in MW from the network's quantiles of the
    smoothing's miss (n, 48, 3) and the smoothing's forecasts (n, 48), the interval widened
    by the calibrated margin (a negative margin narrows it, never past the median).
    Shared by Keras and the exported network's runtimes."""
    quantiles = np.asarray(quantiles, "float64")
    margin = config.get("interval_margin", 0.0)
    median = quantiles[..., 1]
    lower = np.minimum(quantiles[..., 0] - margin, median)
    upper = np.maximum(quantiles[..., 2] + margin, median)
    return tuple(smoothed + part * config["miss_std"] for part in (median, lower, upper))


class Model(ZooModel):
    """The trained forecaster: `.model` (Keras) and `.forecast(history, start)`."""

    name = NAME

    @classmethod
    def build_model(cls, config):
        inputs = keras.Input((config["window"], FEATURES), name="past")
        hidden = inputs
        for layer in range(config["layers"]):
            last = layer == config["layers"] - 1
            hidden = keras_lstm.LSTM(config["units"], return_sequences=not last, name=f"lstm_{layer}")(hidden)
        raw = keras.layers.Dense(HORIZON * 3, name="head")(hidden)
        raw = keras.layers.Reshape((HORIZON, 3))(raw)
        outputs = OrderedQuantiles(name="quantiles")(raw)
        return keras.Model(inputs, outputs, name="electricity_forecaster")

    @property
    def history_needed(self):
        """How many past half-hours `forecast` needs."""
        return WARMUP + self.config["window"]

    def forecast(self, history, start):
        """Forecasts the 48 half-hours that follow `history`.

        The smoothing starts from the history's first two weeks and runs over all of
        it: give it all the history there is (the card's figures smooth from 5 June).

        Args:
            history: past demand in MW, one value per half-hour, oldest first;
                at least `history_needed` values (768 for the committed model),
                each above 0, none missing (NaN).
            start: date and time of the first half-hour to forecast
                (`numpy.datetime64`, `datetime` or ISO string).

        Returns:
            A `Forecast` with `times`, `median`, `lower`, `upper` (48 values each).

        Raises:
            ValueError: a history too short or not 1-D, or holding a value that is
                not a positive number (its position is named); a `start` string that
                is not a date and time. TypeError: a `start` of another type.
        """
        history = demand_history(history, self.history_needed, self.config["window"])
        start = to_datetime64(start)
        times = start + HALF_HOUR * np.arange(-len(history), HORIZON)
        result = self.forecast_origins(history, times, [len(history)])
        return Forecast(times[len(history):], *(part[0] for part in result))

    def forecast_origins(self, series, times, origins, batch_size=256):
        """Median, lower and upper forecasts (n, 48) starting at each of `origins`, each
        from series[:origin] alone (the smoothing is a causal recursion)."""
        origins = np.asarray(origins)
        if origins.min() < self.history_needed or origins.max() > len(series):
            raise ValueError(
                f"origins run from {origins.min()} to {origins.max()}; expected {self.history_needed} "
                f"(two weeks to start the smoothing, then the window) to len(series) = {len(series)}"
            )
        states = smooth(series[: origins.max()], self.config)
        quantiles = self.model.predict(windows(states, times, origins, self.config), batch_size=batch_size, verbose=0)
        return to_demand(quantiles, smoothed_forecasts(states, origins, self.config), self.config)


def series_times(length):
    return SERIES_START + HALF_HOUR * np.arange(length)


def test_origins(series):
    """Rolling origins over the test weeks: every half-hour whose next day is in the split."""
    return np.arange(len(series) - TEST_SIZE, len(series) - HORIZON + 1)


def outside_band(zoo_model, series, times, origins):
    """How far (normalised units) each value of the days from `origins` lies outside the
    network's raw 0.1-0.9 band, negative inside: conformalized quantile regression's score."""
    states = smooth(series[: max(origins)], zoo_model.config)
    predicted = np.asarray(zoo_model.model.predict(windows(states, times, origins, zoo_model.config), verbose=0))
    target = misses(series, states, origins, zoo_model.config) / zoo_model.config["miss_std"]
    return np.maximum(predicted[..., 0] - target, target - predicted[..., 2]).ravel()


def week_origins(start):
    """The origins whose day ahead lies in the week from `start`."""
    return np.arange(start, start + WEEK - HORIZON + 1)


def smoothing_and_scales(series, train_end, fit_end, config):
    """The smoothing fitted on series[:train_end] by Taylor's criterion ("one-step"), its
    states there, and `config` with its parameters and the scales of the network's inputs
    and targets (from the origins whose day ends by `fit_end`)."""
    parameters = double_seasonal.fit(series[:train_end], "one-step")
    states = double_seasonal.smooth(series[:train_end], parameters)
    config = {**DEFAULT_CONFIG, **(config or {}), "smoothing": dataclasses.asdict(parameters)}
    config["error_std"] = float(states.error[WARMUP:fit_end].std())
    origins = np.arange(WARMUP + config["window"], fit_end - HORIZON + 1)
    config["miss_std"] = float(misses(series, states, origins, config).std())
    return states, config


def fit_network(series, states, config, end, *, epochs, seed, batch_size, checkpoint_dir, distribution=None,
                callbacks=(), verbose=1):
    """A fresh network fitted on the origins from the third week (the first two start the
    smoothing) whose day ahead ends by `end`: (Model, Keras history)."""
    keras.utils.set_random_seed(seed)
    origins = np.arange(WARMUP + config["window"], end - HORIZON + 1)
    times = series_times(len(series))
    x = windows(states, times, origins, config)
    y = (misses(series, states, origins, config) / config["miss_std"]).astype("float32")
    x, y = training.divisible([x, y], distribution)
    with training.distribution_scope(distribution):
        model = Model.build_model(config)
        steps = epochs * int(np.ceil(len(x) / batch_size))
        schedule = keras.optimizers.schedules.CosineDecay(3e-3, steps, alpha=0.05)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=pinball_loss(config["quantiles"]))
        history, _ = training.fit(
            model, x, y, checkpoint_dir=checkpoint_dir,
            epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose, callbacks=callbacks,
        )
    return Model(model, config), history


CALIBRATION_WEEKS = 4  # the interval's margin comes from the last four training weeks


def train(
    output=None, *, epochs=10, seed=0, batch_size=64, checkpoint_dir=None, data_parallel=False, config=None,
    train_end=None, callbacks=(),
):
    """The recipe: fits the smoothing and a fresh network on the training split and writes
    them to `output`.

    - The smoothing's four parameters are fitted on all the training weeks by Taylor's
      criterion (`double_seasonal.fit`, "one-step").
    - The network is fitted on the origins from the third week to the ninth.
    - The interval's margin is cross-conformal: each of the last four training weeks is
      forecast by a network fitted on the weeks before it (the model's own network for
      the tenth), and the margin makes the band cover 80% of those four weeks.

    `train_end` (default: the start of the test split) lets a development run hold out more.
    Each network keeps its own checkpoint folder (`checkpoint_dir`, then `-fold-1`...),
    so an interrupted run resumes where it stopped.
    """
    began = time.perf_counter()
    series = load_series()
    train_end = len(series) - TEST_SIZE if train_end is None else train_end
    fit_end = train_end - WEEK
    states, config = smoothing_and_scales(series, train_end, fit_end, config)
    distribution = training.data_parallel() if data_parallel else None
    training.check_batch_size(batch_size, distribution)
    checkpoint_dir = Path(checkpoint_dir or training.default_checkpoint_dir(NAME))
    options = dict(epochs=epochs, seed=seed, batch_size=batch_size)
    print(f"{NAME}: training days-ahead from {WARMUP + config['window']} to {fit_end - HORIZON}, "
          f"backend {keras.backend.backend()}")
    zoo_model, history = fit_network(
        series, states, config, fit_end, checkpoint_dir=checkpoint_dir, distribution=distribution,
        callbacks=callbacks, **options,
    )
    times = series_times(len(series))
    scores = [outside_band(zoo_model, series, times, week_origins(fit_end))]
    for weeks_back in range(1, CALIBRATION_WEEKS):
        start = fit_end - weeks_back * WEEK
        fold, _ = fit_network(
            series, states, config, start, checkpoint_dir=f"{checkpoint_dir}-fold-{weeks_back}", verbose=0, **options
        )
        scores.append(outside_band(fold, series, times, week_origins(start)))
    zoo_model.config["interval_margin"] = float(np.quantile(np.concatenate(scores), 0.8))
    trained = {
        **options,
        "backend": keras.backend.backend(),
        "seconds": round(time.perf_counter() - began, 1),  # the whole recipe: smoothing, network, folds
        "final_loss": float(history.history["loss"][-1]),
        "data_parallel_devices": training.device_count(distribution),
    }
    if output is not None:
        zoo_model.save(output, training=trained)
    return zoo_model, trained


VALIDATION_WEEKS = (7, 8, 9, 10)  # the training weeks the design was chosen on


def validation_gain(config=None, *, epochs=10, seed=0, batch_size=64, weeks=VALIDATION_WEEKS):
    """How the design was chosen: for each training week v, a network fitted on the weeks
    before it forecasts week v. Returns {"gain": the mean % by which the hybrid's MAPE is
    below the smoothing's over the weeks, "weeks": {v: (hybrid MAPE, smoothing MAPE)}}.
    The smoothing is the model's (fitted on all ten training weeks); the test weeks are
    not read."""
    import tempfile

    series = load_series()
    train_end = len(series) - TEST_SIZE
    states, config = smoothing_and_scales(series, train_end, train_end - WEEK, config)
    times = series_times(len(series))
    scores = {}
    for week in weeks:
        start = (week - 1) * WEEK
        with tempfile.TemporaryDirectory() as folder:
            network, _ = fit_network(series, states, config, start, epochs=epochs, seed=seed,
                                     batch_size=batch_size, checkpoint_dir=folder, verbose=0)
        origins = week_origins(start)
        actual = series[origins[:, None] + np.arange(HORIZON)]
        median, _, _ = network.forecast_origins(series, times, origins)
        scores[week] = (mape(median, actual), mape(smoothed_forecasts(states, origins, config), actual))
    gain = float(np.mean([100 * (1 - hybrid / smoothing) for hybrid, smoothing in scores.values()]))
    return {"gain": gain, "weeks": scores}


# --- evaluation ------------------------------------------------------------


def _same_shape(predicted, actual):
    # numpy would broadcast one day's forecast against many days and score that.
    predicted, actual = np.asarray(predicted, "float64"), np.asarray(actual, "float64")
    if predicted.shape != actual.shape:
        raise ValueError(f"predicted has shape {predicted.shape} and actual {actual.shape}; expected the same shape")
    return predicted, actual


def mape(predicted, actual):
    """Mean absolute percentage error: |predicted - actual| / actual, averaged, in %."""
    predicted, actual = _same_shape(predicted, actual)
    return float(np.mean(np.abs(predicted - actual) / actual) * 100)


def rmse(predicted, actual):
    predicted, actual = _same_shape(predicted, actual)
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def interval_coverage(actual, lower, upper):
    """The share of actual values inside their interval, ends included, in %."""
    actual, lower, upper = np.asarray(actual), np.asarray(lower), np.asarray(upper)
    return float(np.mean((actual >= lower) & (actual <= upper)) * 100)


def interval_width(lower, upper):
    """The mean width of the intervals, in MW."""
    return float(np.mean(np.asarray(upper) - np.asarray(lower)))


def mape_by_lead(predicted, actual):
    """MAPE (%) at each lead time: the mean over origins of each of the 48 columns."""
    predicted, actual = _same_shape(predicted, actual)
    return (np.mean(np.abs(predicted - actual) / actual, axis=0) * 100).tolist()


REPORTED_LEADS = (1, 12, 24, 48)  # half-hours ahead, in the card's table
MODEL_ROW = "hybrid: Taylor's smoothing + keras_lstm.LSTM"  # the model's row in it


def evaluate(zoo_model, *, baselines=True, origins=None):
    """The card's metrics on the test weeks: {name: {mape, rmse, mape_by_lead[, coverage_80,
    interval_width]}}, the model first, then every baseline (`electricity_baselines`)."""
    from keras_lstm.zoo import electricity_baselines

    series = load_series()
    origins = test_origins(series) if origins is None else np.asarray(origins)
    times = series_times(len(series))
    actual = series[origins[:, None] + np.arange(HORIZON)]
    median, lower, upper = zoo_model.forecast_origins(series, times, origins)
    predictions = {MODEL_ROW: median}
    if baselines:
        predictions.update(electricity_baselines.forecasts(series, origins))
    results = {
        name: {"mape": mape(predicted, actual), "rmse": rmse(predicted, actual),
               "mape_by_lead": mape_by_lead(predicted, actual)}
        for name, predicted in predictions.items()
    }
    results[MODEL_ROW].update(
        coverage_80=interval_coverage(actual, lower, upper), interval_width=interval_width(lower, upper)
    )
    return results


def metrics_table(results):
    leads = " | ".join(f"lead {lead}" for lead in REPORTED_LEADS)
    lines = [
        f"| model | day-ahead MAPE | {leads} | RMSE (MW) | 80% interval coverage |",
        "|---|---|" + "---|" * len(REPORTED_LEADS) + "---|---|",
    ]
    for name, values in results.items():
        coverage = f"{values['coverage_80']:.1f}%" if "coverage_80" in values else "n/a"
        by_lead = " | ".join(f"{values['mape_by_lead'][lead - 1]:.2f}%" for lead in REPORTED_LEADS)
        lines.append(f"| {name} | {values['mape']:.2f}% | {by_lead} | {values['rmse']:.0f} | {coverage} |")
    return "\n".join(lines)


def plot_mape_by_lead(results, path):
    """MAPE against lead time (1-48 half-hours), one line per model in `results`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.2))
    leads = np.arange(1, HORIZON + 1)
    for name, values in results.items():
        if values["mape"] < 3.0:  # the day-earlier naive, at 6 %, would flatten the rest
            axis.plot(leads, values["mape_by_lead"], lw=2.2 if name == MODEL_ROW else 1.0, label=name)
    axis.set_xlabel("lead time (half-hours ahead)")
    axis.set_ylabel("MAPE (%), test weeks")
    axis.set_xlim(1, HORIZON)
    axis.set_ylim(bottom=0)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot(zoo_model, path):
    """Forecast vs truth over the test weeks: each day forecast at midnight, with the 80% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = load_series()
    times = series_times(len(series))
    origins = np.arange(len(series) - TEST_SIZE, len(series), DAY)
    median, lower, upper = zoo_model.forecast_origins(series, times, origins)
    test = slice(len(series) - TEST_SIZE, len(series))
    seasonal = series[test.start - WEEK : test.stop - WEEK]
    figure, axis = plt.subplots(figsize=(11, 3.8))
    axis.plot(times[test], series[test] / 1000, color="black", lw=1.2, label="actual")
    axis.plot(times[test], seasonal / 1000, color="tab:gray", lw=0.8, ls="--", label="a week earlier (seasonal naive)")
    axis.plot(times[test], median.ravel() / 1000, color="tab:blue", lw=1.0, label="hybrid (smoothing + LSTM), forecast at midnight")
    axis.fill_between(times[test], lower.ravel() / 1000, upper.ravel() / 1000, color="tab:blue", alpha=0.25, label="80% interval")
    axis.set_ylabel("demand (GW)")
    axis.set_title("England and Wales demand, 14-27 Aug 2000 (test weeks): day-ahead forecasts")
    axis.legend(loc="upper left", fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_figures(zoo_model, results, directory):
    """The card's two figures, beside it: the test fortnight's forecasts and MAPE by lead time."""
    plot(zoo_model, Path(directory) / "forecast.png")
    plot_mape_by_lead(results, Path(directory) / "mape-by-lead.png")


# --- `keras-lstm zoo run electricity-forecaster` ---------------------------


def read_history_csv(path, zoo_model):
    """The demand history in a text file, one value a line (or comma-separated), checked
    as `forecast` checks it: an OSError or ValueError naming the file otherwise."""
    import warnings

    expected = "expected half-hourly demand in MW, one value a line"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # numpy only warns about an empty file
            values = np.loadtxt(path, delimiter=",", ndmin=1)
    except FileNotFoundError:  # numpy's own message repeats the path
        raise FileNotFoundError(f"--csv {path}: No such file or directory; {expected}") from None
    except OSError as error:  # a folder, not readable
        raise type(error)(f"--csv {path}: {error.strerror or error}; {expected}") from None
    except (UserWarning, ValueError) as error:
        raise ValueError(f"--csv {path}: {error}; {expected}") from None
    try:
        return demand_history(values, zoo_model.history_needed, zoo_model.config["window"])
    except ValueError as error:
        raise ValueError(f"--csv {path}: {error}") from None


def run(zoo_model, argv):
    parser = argparse.ArgumentParser(
        prog=f"keras-lstm zoo run {NAME}",
        description="Forecast the next day. Without --csv, forecasts from a day of the test weeks.",
    )
    parser.add_argument("--csv", help="past demand, one value per line (MW, half-hourly, oldest first)")
    parser.add_argument("--start", help="date and time of the first half-hour to forecast (with --csv)")
    parser.add_argument("--day", type=int, default=0, help="test day to forecast from (0-13) without --csv")
    args = parser.parse_args(argv)
    if args.csv:
        if not args.start:
            parser.error("--csv needs --start (the time of the first forecast half-hour)")
        history = read_history_csv(args.csv, zoo_model)
        actual = None
        start = to_datetime64(args.start, argument="--start")
    else:
        if not 0 <= args.day < TEST_SIZE // DAY:
            parser.error(f"--day={args.day}: the test split has days 0-{TEST_SIZE // DAY - 1}")
        series = load_series()
        origin = len(series) - TEST_SIZE + args.day * DAY
        history, actual = series[:origin], series[origin : origin + HORIZON]
        start = series_times(len(series))[origin]
    result = zoo_model.forecast(history, start)
    print(f"{'time':<17} {'forecast':>9} {'80% interval':>17}" + (f" {'actual':>8}" if actual is not None else ""))
    for k in range(HORIZON):
        row = f"{str(result.times[k]):<17} {result.median[k]:9.0f} {result.lower[k]:8.0f}-{result.upper[k]:<8.0f}"
        if actual is not None:
            row += f" {actual[k]:8.0f}"
        print(row)
    if actual is not None:
        print(f"MAPE for this day: {mape(result.median, actual):.2f}%")
    return 0
