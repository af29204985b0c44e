"""The electricity forecaster's baselines: what each reads, worked out by hand or by statsmodels."""

import warnings

import numpy as np
import pytest

from keras_lstm.zoo import electricity_baselines as eb
from keras_lstm.zoo import electricity_forecaster as ef


@pytest.fixture(scope="module")
def series():
    return ef.load_series()


def test_lag_features_read_the_documented_half_hours():
    # series[i] = i, origin 700 (so the last value known is index 699), lead 5:
    # a week before the target 699 + 5 = 704 is 704 - 336 = 368, two weeks 32;
    # the last change on the week 699 - 363 = 336, the one before it 698 - 362 = 336.
    series = np.arange(1000.0)
    np.testing.assert_allclose(eb.lag_features(series, [700], 5), [[1, 368, 32, 336, 336]])


def test_naive_baselines_repeat_the_same_half_hour_a_week_and_a_day_earlier(monkeypatch):
    for fitted in ("double_seasonal_forecasts", "mstl_arima_forecasts", "lag_regression_forecasts", "holt_winters_forecasts"):
        monkeypatch.setattr(eb, fitted, lambda *args: None)  # each fits to real demand: not this test's
    series = np.arange(1000.0)  # each value is its own index
    forecasts = eb.forecasts(series, [400, 401])
    # From origin 400, the next 48 half-hours are 400..447: a week (336) earlier they were
    # 64..111, a day (48) earlier 352..399. From 401: one later each.
    seasonal = forecasts["seasonal naive (same half-hour a week earlier)"]
    daily = forecasts["naive (same half-hour a day earlier)"]
    np.testing.assert_array_equal(seasonal, [np.arange(64, 112), np.arange(65, 113)])
    np.testing.assert_array_equal(daily, [np.arange(352, 400), np.arange(353, 401)])


def test_arima_day_ahead_equals_statsmodels_dynamic_predictions(series):
    from statsmodels.tsa.arima.model import ARIMA

    part = series[: 4 * eb.WEEK] - series[: 4 * eb.WEEK].mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = ARIMA(part[: 3 * eb.WEEK], order=(2, 0, 1), trend="c").fit().apply(part)
        origins = [3 * eb.WEEK + 7, 3 * eb.WEEK + 200]
        expected = [results.get_prediction(start=o, end=o + 47, dynamic=0).predicted_mean for o in origins]
    np.testing.assert_allclose(eb.arima_day_ahead(results, origins), np.asarray(expected), rtol=1e-9)


def test_every_baseline_forecasts_from_the_past_alone(series):
    """Changing the demand from an origin on changes none of the forecasts made at it."""
    origin = len(series) - eb.TEST_SIZE + 3 * eb.DAY + 17  # mid-day, so MSTL's cut is the midnight before
    changed = series.copy()
    changed[origin:] *= 1.1
    before, after = eb.forecasts(series, [origin]), eb.forecasts(changed, [origin])
    assert list(before) == list(after) and len(before) == 7
    for name in before:
        assert before[name].shape == (1, 48), name
        np.testing.assert_allclose(before[name], after[name], rtol=1e-9, err_msg=name)
        # ...and they are forecasts of this series: within 10 % of what came.
        assert ef.mape(before[name], series[origin : origin + 48][None]) < 10, name
