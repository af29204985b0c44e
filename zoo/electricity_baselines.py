"""The electricity forecaster's baselines: day-ahead forecasts from every origin.

Each is fitted on the training split only (the series before its last two
weeks) and forecasts the 48 half-hours from each origin o reading
series[:o] only, as the network does. `forecasts(series, origins)` gives
every one by name, in the order the card lists them.
"""

import warnings

import numpy as np

from keras_lstm.zoo import double_seasonal
from keras_lstm.zoo.electricity_forecaster import DAY, HORIZON, TEST_SIZE, WEEK


def day_ahead_index(origins):
    """Indices of the 48 half-hours forecast from each origin: (len(origins), 48)."""
    return np.asarray(origins)[:, None] + np.arange(HORIZON)


def double_seasonal_forecasts(series, origins, criterion):
    """Taylor's double seasonal Holt-Winters with AR(1) adjustment (`double_seasonal`),
    its four parameters fitted on the training split by `criterion`."""
    parameters = double_seasonal.fit(series[: len(series) - TEST_SIZE], criterion)
    states = double_seasonal.smooth(series, parameters)
    return double_seasonal.forecasts(states, origins, parameters.phi, HORIZON)


def lag_features(series, origins, lead):
    """The regression's inputs for `lead` (1-48) from each origin o: a constant, the same
    half-hour one and two weeks earlier, and the last two half-hours' change on the week."""
    last = np.asarray(origins) - 1
    return np.column_stack([
        np.ones(len(last)), series[last + lead - WEEK], series[last + lead - 2 * WEEK],
        series[last] - series[last - WEEK], series[last - 1] - series[last - 1 - WEEK],
    ])


def lag_regression_forecasts(series, origins):
    """A least-squares regression per lead time on `lag_features`, fitted on every
    training origin with two weeks behind it."""
    train = series[: len(series) - TEST_SIZE]
    fit_origins = np.arange(2 * WEEK, len(train) - HORIZON + 1)
    columns = []
    for lead in range(1, HORIZON + 1):
        coefficients = np.linalg.lstsq(
            lag_features(train, fit_origins, lead), train[fit_origins + lead - 1], rcond=None
        )[0]
        columns.append(lag_features(series, origins, lead) @ coefficients)
    return np.column_stack(columns)


def mstl_seasonal(series, cut):
    """statsmodels' MSTL (periods 48 and 336) on series[:cut]: its seasonal sum there,
    then its last week repeated up to len(series)."""
    from statsmodels.tsa.seasonal import MSTL

    fitted = np.asarray(MSTL(series[:cut], periods=(DAY, WEEK)).fit().seasonal).sum(axis=1)
    return np.concatenate([fitted, fitted[-WEEK:][np.arange(len(series) - cut) % WEEK]])


def arima_day_ahead(results, origins):
    """48-step forecasts from each origin of a statsmodels state-space ARIMA, all origins at
    once: its one-step predicted state at o, carried forward by the transition matrix. The
    same numbers as `results.get_prediction(start=o, end=o + 47, dynamic=0)` (tested)."""
    ssm = results.model.ssm  # time-invariant: design and transition have a time axis of length 1
    design, transition = ssm.design[:, :, 0], ssm.transition[:, :, 0]
    # The constant trend ("c", the only one used here) is the observation intercept, the same
    # at every step: obs_intercept is (1, steps) with equal columns.
    obs_intercept, state_intercept = ssm.obs_intercept[0, 0], ssm.state_intercept[:, 0]
    state = results.predicted_state[:, np.asarray(origins)]
    columns = []
    for _ in range(HORIZON):
        columns.append((design @ state)[0] + obs_intercept)
        state = transition @ state + state_intercept[:, None]
    return np.column_stack(columns)


def mstl_arima_forecasts(series, origins, order=(2, 0, 1)):
    """MSTL (daily and weekly seasons) with an ARIMA on what is left.

    The ARIMA(2,0,1) with a constant is fitted once, on the deseasonalised training split.
    The decomposition is rerun at each midnight on everything before it (the seasons
    drift), and the origins of that day use its seasons and the ARIMA's filter over the
    series less them, parameters kept."""
    from statsmodels.tsa.arima.model import ARIMA

    origins = np.asarray(origins)
    train_end = len(series) - TEST_SIZE
    predicted = np.empty((len(origins), HORIZON))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence and frequency chatter
        seasonal = mstl_seasonal(series, train_end)
        fitted = ARIMA((series - seasonal)[:train_end], order=order, trend="c").fit()
        midnights = np.unique(origins - (origins - train_end) % DAY)
        for cut in midnights:
            seasonal = mstl_seasonal(series, cut)
            chosen = (origins >= cut) & (origins < cut + DAY)
            filtered = fitted.apply(series - seasonal)
            predicted[chosen] = arima_day_ahead(filtered, origins[chosen]) + seasonal[day_ahead_index(origins[chosen])]
    return predicted


def holt_winters_forecasts(series, origins):
    """statsmodels' Holt-Winters, additive weekly seasonality, fitted on the training split.

    The weekly season (336 half-hours) holds the daily cycle too. Parameters
    are estimated once on the training split; for each origin the smoothing
    runs over the data up to it with those parameters and forecasts 48 steps.
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    train_end = len(series) - TEST_SIZE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(
            series[:train_end], seasonal="add", seasonal_periods=WEEK, initialization_method="estimated"
        ).fit()
        params = fitted.params
        predicted = []
        for origin in origins:
            model = ExponentialSmoothing(
                series[:origin], seasonal="add", seasonal_periods=WEEK, initialization_method="known",
                initial_level=params["initial_level"], initial_seasonal=params["initial_seasons"],
            )
            result = model.fit(
                smoothing_level=params["smoothing_level"], smoothing_seasonal=params["smoothing_seasonal"],
                optimized=False,
            )
            predicted.append(result.forecast(HORIZON))
    return np.asarray(predicted)


def forecasts(series, origins):
    """Every baseline's day-ahead forecasts (len(origins), 48), by name."""
    index = day_ahead_index(origins)
    return {
        "double seasonal Holt-Winters + AR(1), fitted on one-step error (Taylor 2003)":
            double_seasonal_forecasts(series, origins, "one-step"),
        "double seasonal Holt-Winters + AR(1), fitted on day-ahead MAPE":
            double_seasonal_forecasts(series, origins, "day-ahead"),
        "MSTL (daily, weekly) + ARIMA(2,0,1) (statsmodels)": mstl_arima_forecasts(series, origins),
        "linear regression per lead on seasonal lags": lag_regression_forecasts(series, origins),
        "Holt-Winters, weekly season (statsmodels)": holt_winters_forecasts(series, origins),
        "seasonal naive (same half-hour a week earlier)": series[index - WEEK],
        "naive (same half-hour a day earlier)": series[index - DAY],
    }
