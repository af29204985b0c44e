"""electricity-forecaster: loads and forecasts on every backend; the card's numbers reproduce."""

import numpy as np
import pytest
from reference import numpy_lstm

from keras_lstm import zoo
from keras_lstm.zoo import electricity_forecaster as ef


@pytest.fixture(scope="module")
def forecaster():
    return zoo.load("electricity-forecaster")


@pytest.fixture(scope="module")
def series():
    return ef.load_series()


def test_data_is_the_taylor_series_with_a_two_week_test_split(series):
    train, test = ef.split(series)
    assert series.shape == (4032,) and len(test) == 672 and len(train) == 3360
    # 5 June 2000 was a Monday; the weekday one-hot must say so.
    assert ef.calendar(ef.series_times(1))[0, 2:].argmax() == 0


def test_model_computes_an_independent_numpy_lstm_with_the_loaded_weights(forecaster, series):
    """The loaded Keras model equals numpy's LSTM -> dense -> ordered quantiles on its weights."""
    times = ef.series_times(len(series))
    origins = ef.test_origins(series)[::97]
    inputs = ef.windows(series, times, origins, forecaster.config)
    kernel, recurrent, bias, dense_kernel, dense_bias = forecaster.model.get_weights()
    _, last, _, _ = numpy_lstm(inputs, kernel, recurrent, bias)
    raw = (last @ dense_kernel + dense_bias).reshape(len(origins), ef.HORIZON, 3)
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    expected = np.stack([raw[..., 1] - softplus(raw[..., 0]), raw[..., 1], raw[..., 1] + softplus(raw[..., 2])], -1)
    predicted = np.asarray(forecaster.model.predict(inputs, verbose=0), "float64")
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)


def test_forecast_one_day_with_ordered_interval(forecaster, series):
    origin = len(series) - ef.TEST_SIZE
    result = forecaster.forecast(series[:origin], start=ef.series_times(len(series))[origin])
    assert result.median.shape == result.lower.shape == result.upper.shape == (48,)
    assert np.all(result.lower < result.median) and np.all(result.median < result.upper)
    assert str(result.times[0]) == "2000-08-14T00:00" and str(result.times[-1]) == "2000-08-14T23:30"
    assert ef.mape(result.median, series[origin : origin + 48]) < 5.0


def test_evaluate_reproduces_the_card(forecaster):
    """Every number in the card's table, recomputed on this backend (baselines included)."""
    recorded = forecaster.manifest["metrics"]
    results = ef.evaluate(forecaster)
    assert results.keys() == recorded.keys()
    for name, values in recorded.items():
        for metric, value in values.items():
            assert results[name][metric] == pytest.approx(value, rel=1e-4), (name, metric)
    lstm = results["LSTM (keras_lstm)"]
    for name, values in results.items():
        if name != "LSTM (keras_lstm)":
            assert lstm["mape"] < values["mape"], f"the LSTM must beat {name}"


@pytest.mark.parametrize(
    "history, start, error, match",
    [
        (np.ones(100), "2000-08-14T00:00", ValueError, r"history has shape \(100,\).*at least 432"),
        (np.ones((2, 500)), "2000-08-14T00:00", ValueError, r"history has shape \(2, 500\)"),
        (np.r_[np.ones(499), np.nan], "2000-08-14T00:00", ValueError, "NaN"),
        (np.ones(500), "next monday", TypeError, "start='next monday' is not a date"),
    ],
)
def test_forecast_rejects_bad_input(forecaster, history, start, error, match):
    with pytest.raises(error, match=match):
        forecaster.forecast(history, start)


def test_run_command_prints_a_test_day(capsys):
    from keras_lstm import cli

    assert cli.main(["zoo", "run", "electricity-forecaster", "--day", "2"]) == 0
    out = capsys.readouterr().out
    assert "2000-08-16T00:00" in out and "MAPE for this day" in out


def test_recipe_is_deterministic_for_a_seed(tmp_path):
    first, _ = ef.train(None, epochs=1, checkpoint_dir=tmp_path / "a")
    second, _ = ef.train(None, epochs=1, checkpoint_dir=tmp_path / "b")
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert first.config["interval_margin"] == second.config["interval_margin"]


class Interrupt(Exception):
    pass


def test_recipe_resumes_from_its_checkpoint(tmp_path):
    import keras

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Interrupt

    with pytest.raises(Interrupt):
        ef.train(None, epochs=2, checkpoint_dir=tmp_path, callbacks=[StopAfterFirstEpoch()])
    assert (tmp_path / "training_metadata.json").exists()

    class Epochs(keras.callbacks.Callback):
        seen = []

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append(epoch)

    ef.train(tmp_path / "out", epochs=2, checkpoint_dir=tmp_path, callbacks=[Epochs()])
    assert Epochs.seen == [1], "the second run trains only the epoch the first did not finish"
    assert not tmp_path.joinpath("training_metadata.json").exists(), "the checkpoint is removed when done"
    assert zoo.load("electricity-forecaster", tmp_path / "out").config["window"] == 96


@pytest.mark.slow
def test_full_recipe_beats_every_baseline(tmp_path):
    trained, _ = ef.train(tmp_path / "model", checkpoint_dir=tmp_path / "checkpoint")
    results = ef.evaluate(zoo.load("electricity-forecaster", tmp_path / "model"))
    lstm = results.pop("LSTM (keras_lstm)")
    assert all(lstm["mape"] < baseline["mape"] for baseline in results.values()), results
