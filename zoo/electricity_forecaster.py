"""electricity-forecaster: next-day half-hourly electricity demand, with intervals.

Data: half-hourly demand (MW) in England and Wales, Monday 2000-06-05 to
Sunday 2000-08-27, 4,032 values (Taylor 2003), shipped in `pmdarima`
(`pmdarima.datasets.load_taylor`, MIT licence). The last two weeks (672
values) are the test split; nothing from them is used in training.

The model forecasts the next 48 half-hours from the past week and a half.
Demand repeats weekly, so the same half-hour a week earlier is a strong
forecast (the seasonal-naive baseline). The LSTM reads the recent past
(level, the change against the week before, time of day, weekday) and
predicts, for each of the next 48 half-hours, quantiles 0.1, 0.5 and 0.9 of
the change against a week earlier; adding those to last week's values gives
the forecast and an 80% prediction interval.

The network fits its training days closely, so its raw 0.1-0.9 band covers
far fewer than 80% of new days. The recipe therefore holds the last training
week out of the fit and widens the band by the margin that makes it cover 80%
of that week (conformalized quantile regression, Romano et al. 2019).
"""

import argparse
import datetime
from dataclasses import dataclass

import keras
import numpy as np

import keras_lstm
from keras_lstm.zoo import training
from keras_lstm.zoo.base import ZooModel

NAME = "electricity-forecaster"
SERIES_START = np.datetime64("2000-06-05T00:00")
HALF_HOUR = np.timedelta64(30, "m")
DAY = 48
WEEK = 7 * DAY
HORIZON = DAY
TEST_SIZE = 2 * WEEK
QUANTILES = (0.1, 0.5, 0.9)
FEATURES = 11  # level, change on the week, sin/cos of the time of day, weekday one-hot

DEFAULT_CONFIG = {
    "window": 2 * DAY,
    "units": 64,
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


def calendar(times):
    """Time-of-day (sin, cos) and weekday one-hot for datetime64 values: (n, 9)."""
    minutes = (times - times.astype("datetime64[D]")).astype("timedelta64[m]").astype("float64")
    angle = 2 * np.pi * minutes / (24 * 60)
    # 1970-01-01 was a Thursday: day number + 3 mod 7 is 0 on Mondays.
    weekday = (times.astype("datetime64[D]").astype("int64") + 3) % 7
    return np.concatenate([np.sin(angle)[:, None], np.cos(angle)[:, None], np.eye(7)[weekday]], axis=1)


def scales(train):
    """Normalisation constants, from the training split only."""
    change = train[WEEK:] - train[:-WEEK]
    return {"level_mean": float(train.mean()), "level_std": float(train.std()), "change_std": float(change.std())}


def step_features(series, times, config):
    """Inputs for every index from WEEK on: (len(series) - WEEK, FEATURES)."""
    level = (series[WEEK:] - config["level_mean"]) / config["level_std"]
    change = (series[WEEK:] - series[:-WEEK]) / config["change_std"]
    return np.concatenate([level[:, None], change[:, None], calendar(times[WEEK:])], axis=1).astype("float32")


def windows(series, times, origins, config):
    """Model inputs for forecasts starting at each index in `origins`: (n, window, FEATURES)."""
    features = step_features(series, times, config)
    offsets = np.arange(-config["window"], 0)
    return features[np.asarray(origins)[:, None] - WEEK + offsets]


def changes(series, origins, config):
    """Normalised targets: next-day change against a week earlier, (n, HORIZON)."""
    index = np.asarray(origins)[:, None] + np.arange(HORIZON)
    return ((series[index] - series[index - WEEK]) / config["change_std"]).astype("float32")


def demand_history(history, needed, window):
    """`history` as float64 MW, or a ValueError naming what is wrong with it and where.

    Demand is positive: a zero, a negative value or a gap (NaN) is a meter fault or a
    missing reading, and the network, which forecasts the change on the week before,
    would carry it into the forecast.
    """
    try:
        values = np.asarray(history, dtype="float64")
    except (TypeError, ValueError) as error:
        raise ValueError(f"history is not a series of numbers ({error}); expected demand values in MW") from None
    if values.ndim != 1 or len(values) < needed:
        raise ValueError(
            f"history has shape {values.shape}; expected a 1-D series of at least {needed} half-hourly "
            f"values (a week plus the model's {window}-step window)"
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
    """(…, 3) raw outputs -> quantiles that cannot cross: median ∓ softplus spreads."""

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
        return WEEK + self.config["window"]

    def forecast(self, history, start):
        """Forecasts the 48 half-hours that follow `history`.

        Args:
            history: past demand in MW, one value per half-hour, oldest first;
                at least `history_needed` values (432 for the committed model),
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
        extended = np.concatenate([history, np.zeros(HORIZON)])
        result = self.forecast_origins(extended, times, [len(history)])
        return Forecast(times[len(history):], *(part[0] for part in result))

    def forecast_origins(self, series, times, origins, batch_size=256):
        """Median, lower and upper forecasts (n, 48) starting at each of `origins`."""
        inputs = windows(series, times, origins, self.config)
        predicted = np.asarray(self.model.predict(inputs, batch_size=batch_size, verbose=0), "float64")
        index = np.asarray(origins)[:, None] + np.arange(HORIZON)
        last_week = series[index - WEEK]
        margin = self.config.get("interval_margin", 0.0)
        predicted[..., 0] -= margin
        predicted[..., 2] += margin
        lower, median, upper = (last_week + predicted[..., k] * self.config["change_std"] for k in range(3))
        return median, lower, upper


def series_times(length):
    return SERIES_START + HALF_HOUR * np.arange(length)


def test_origins(series):
    """Rolling origins over the test weeks: every half-hour whose next day is in the split."""
    return np.arange(len(series) - TEST_SIZE, len(series) - HORIZON + 1)


def conformal_margin(zoo_model, series, times, origins, coverage=0.8):
    """The widening (normalised units) that makes the band cover `coverage` of these days."""
    index = np.asarray(origins)[:, None] + np.arange(HORIZON)
    predicted = np.asarray(zoo_model.model.predict(windows(series, times, origins, zoo_model.config), verbose=0))
    target = (series[index] - series[index - WEEK]) / zoo_model.config["change_std"]
    outside = np.maximum(predicted[..., 0] - target, target - predicted[..., 2]).ravel()
    return float(np.quantile(outside, coverage))


def train(
    output=None, *, epochs=30, seed=0, batch_size=64, checkpoint_dir=None, data_parallel=False, config=None,
    train_end=None, callbacks=(),
):
    """The recipe: fits a fresh model on the training split and writes it to `output`.

    The last training week is kept out of the fit to calibrate the interval.
    `train_end` (default: the start of the test split) lets a development
    run hold out more.
    """
    keras.utils.set_random_seed(seed)
    series = load_series()
    train_end = len(series) - TEST_SIZE if train_end is None else train_end
    fit_end = train_end - WEEK
    config = {**DEFAULT_CONFIG, **(config or {}), **scales(series[:fit_end])}
    times = series_times(len(series))
    origins = np.arange(WEEK + config["window"], fit_end - HORIZON + 1)
    x, y = windows(series, times, origins, config), changes(series, origins, config)
    distribution = training.data_parallel() if data_parallel else None
    training.check_batch_size(batch_size, distribution)
    x, y = training.divisible([x, y], distribution)
    with training.distribution_scope(distribution):
        model = Model.build_model(config)
        steps = epochs * int(np.ceil(len(x) / batch_size))
        schedule = keras.optimizers.schedules.CosineDecay(3e-3, steps, alpha=0.05)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=pinball_loss(config["quantiles"]))
        print(f"{NAME}: {len(x)} training days-ahead (origins), backend {keras.backend.backend()}")
        history, seconds = training.fit(
            model, x, y,
            checkpoint_dir=checkpoint_dir or training.default_checkpoint_dir(NAME),
            epochs=epochs, batch_size=batch_size, shuffle=True, verbose=1, callbacks=callbacks,
        )
    zoo_model = Model(model, config)
    calibration = np.arange(fit_end, train_end - HORIZON + 1)
    zoo_model.config["interval_margin"] = conformal_margin(zoo_model, series, times, calibration)
    trained = {
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "backend": keras.backend.backend(),
        "seconds": round(seconds, 1),
        "final_loss": float(history.history["loss"][-1]),
        "data_parallel_devices": training.device_count(distribution),
    }
    if output is not None:
        zoo_model.save(output, training=trained)
    return zoo_model, trained


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


def holt_winters_forecasts(series, origins):
    """statsmodels' Holt-Winters, additive weekly seasonality, fitted on the training split.

    The weekly season (336 half-hours) holds the daily cycle too. Parameters
    are estimated once on the training split; for each origin the smoothing
    runs over the data up to it with those parameters and forecasts 48 steps.
    """
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    train_end = len(series) - TEST_SIZE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(
            series[:train_end], seasonal="add", seasonal_periods=WEEK, initialization_method="estimated"
        ).fit()
        params = fitted.params
        forecasts = []
        for origin in origins:
            model = ExponentialSmoothing(
                series[:origin], seasonal="add", seasonal_periods=WEEK, initialization_method="known",
                initial_level=params["initial_level"], initial_seasonal=params["initial_seasons"],
            )
            result = model.fit(
                smoothing_level=params["smoothing_level"], smoothing_seasonal=params["smoothing_seasonal"],
                optimized=False,
            )
            forecasts.append(result.forecast(HORIZON))
    return np.asarray(forecasts)


def baseline_forecasts(series, origins):
    """Every baseline's day-ahead forecasts (n, 48), by name."""
    index = np.asarray(origins)[:, None] + np.arange(HORIZON)
    return {
        "seasonal naive (same half-hour a week earlier)": series[index - WEEK],
        "naive (same half-hour a day earlier)": series[index - DAY],
        "Holt-Winters, weekly season (statsmodels)": holt_winters_forecasts(series, origins),
    }


def evaluate(zoo_model, *, baselines=True, origins=None):
    """The card's metrics on the test weeks: {name: {mape, rmse[, coverage_80]}}."""
    series = load_series()
    origins = test_origins(series) if origins is None else np.asarray(origins)
    times = series_times(len(series))
    actual = series[origins[:, None] + np.arange(HORIZON)]
    median, lower, upper = zoo_model.forecast_origins(series, times, origins)
    results = {
        "LSTM (keras_lstm)": {
            "mape": mape(median, actual),
            "rmse": rmse(median, actual),
            "coverage_80": interval_coverage(actual, lower, upper),
            "interval_width": interval_width(lower, upper),
        }
    }
    if baselines:
        for name, predicted in baseline_forecasts(series, origins).items():
            results[name] = {"mape": mape(predicted, actual), "rmse": rmse(predicted, actual)}
    return results


def metrics_table(results):
    lines = [
        "| model | day-ahead MAPE | RMSE (MW) | 80% interval coverage |",
        "|---|---|---|---|",
    ]
    for name, values in results.items():
        coverage = f"{values['coverage_80']:.1f}%" if "coverage_80" in values else "n/a"
        lines.append(f"| {name} | {values['mape']:.2f}% | {values['rmse']:.0f} | {coverage} |")
    return "\n".join(lines)


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
    axis.plot(times[test], median.ravel() / 1000, color="tab:blue", lw=1.0, label="LSTM, forecast at midnight")
    axis.fill_between(times[test], lower.ravel() / 1000, upper.ravel() / 1000, color="tab:blue", alpha=0.25, label="80% interval")
    axis.set_ylabel("demand (GW)")
    axis.set_title("England and Wales demand, 14-27 Aug 2000 (test weeks): day-ahead forecasts")
    axis.legend(loc="upper left", fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


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
