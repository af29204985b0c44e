"""Taylor's double seasonal Holt-Winters, against a hand-worked example and a series it made."""

import numpy as np
import pytest

from keras_lstm.zoo import double_seasonal as ds

# A hand-worked example with periods 2 and 4 instead of 48 and 336.
# alpha 0.5, delta 0.25, omega 0.5, phi 0.5; l_{-1} = 10; d_{-2}, d_{-1} = 1, -1;
# w_{-4..-1} = 2, 0, -2, 0.
#
# t  prediction l + d_{t-2} + w_{t-4}   y       e      l      d_t      w_t
# 0  10    + 1     + 2    = 13          14      1      10.5   1.25     2.5
# 1  10.5  - 1     + 0    = 9.5         8      -1.5    9.75  -1.375   -0.75
# 2  9.75  + 1.25  - 2    = 9           9       0      9.75   1.25    -2
# 3  9.75  - 1.375 + 0    = 8.375       10.375  2      10.75 -0.875    1
# 4  10.75 + 1.25  + 2.5  = 14.5        14     -0.5    10.5   1.125    2.25
# 5  10.5  - 0.875 - 0.75 = 8.875       9.875   1      11    -0.625   -0.25
#
# From t = 5 (origin 6), with phi^k e_5:
#   k=1: 11 + d_4 + w_2 + 0.5   = 11 + 1.125 - 2 + 0.5     = 10.625
#   k=2: 11 + d_5 + w_3 + 0.25  = 11 - 0.625 + 1 + 0.25    = 11.625
#   k=3: past the short period d_4 again: 11 + 1.125 + w_4 + 0.125 = 14.5
# From t = 3 (origin 4): 10.75 + d_2 + w_0 + 0.5 * 2 = 15.5; 10.75 + d_3 + w_1 + 0.25 * 2 = 9.625
Y = [14, 8, 9, 10.375, 14, 9.875]
INITIAL = (10.0, [1.0, -1.0], [2.0, 0.0, -2.0, 0.0])
HAND = ds.Parameters(alpha=0.5, delta=0.25, omega=0.5, phi=0.5)


def test_smoothing_follows_the_hand_worked_recursion():
    states = ds.smooth(Y, HAND, periods=(2, 4), initial=INITIAL)
    np.testing.assert_allclose(states.error, [1, -1.5, 0, 2, -0.5, 1])
    np.testing.assert_allclose(states.level, [10, 10.5, 9.75, 9.75, 10.75, 10.5, 11])
    np.testing.assert_allclose(states.daily[2:], [1.25, -1.375, 1.25, -0.875, 1.125, -0.625])
    np.testing.assert_allclose(states.weekly[4:], [2.5, -0.75, -2, 1, 2.25, -0.25])


def test_forecasts_follow_the_hand_worked_example():
    states = ds.smooth(Y, HAND, periods=(2, 4), initial=INITIAL)
    np.testing.assert_allclose(ds.forecasts(states, [6], HAND.phi, horizon=3), [[10.625, 11.625, 14.5]])
    np.testing.assert_allclose(ds.forecasts(states, [4], HAND.phi, horizon=2), [[15.5, 9.625]])
    with pytest.raises(ValueError, match="origins run from 0 to 6; expected 1 to 6"):
        ds.forecasts(states, [0, 6], HAND.phi)


def test_initial_state_recovers_exact_seasons():
    # y = 10 + daily (1, -1) + weekly (2, 0, -2, 0), two long periods: recovered exactly.
    y = np.tile(10 + np.array([1, -1, 1, -1]) + np.array([2, 0, -2, 0]), 2).astype(float)
    level, daily, weekly = ds.initial_state(y, (2, 4))
    assert level == 10
    np.testing.assert_allclose(daily, [1, -1])
    np.testing.assert_allclose(weekly, [2, 0, -2, 0])
    with pytest.raises(ValueError, match="y has 7 values; expected at least 8"):
        ds.initial_state(y[:7], (2, 4))


def simulated(parameters, weeks=5, seed=0):
    """A series the method itself generates: the recursion run forward with random errors."""
    rng = np.random.default_rng(seed)
    hours = np.arange(ds.DAILY) / ds.DAILY
    level, daily = 30000.0, list(3000 * np.sin(2 * np.pi * hours))
    weekly = list(np.repeat([500.0, 600, 600, 550, 300, -1200, -1350], ds.DAILY))
    y = []
    for _ in range(weeks * ds.WEEKLY):
        d, w = daily[-ds.DAILY], weekly[-ds.WEEKLY]
        error = rng.normal(0, 150)
        y.append(level + d + w + error)
        level += parameters.alpha * error
        daily.append(d + parameters.delta * error)
        weekly.append(w + parameters.omega * error)
    return np.array(y)


def test_fit_recovers_the_parameters_of_a_series_it_generated():
    # Errors are white here, so the AR(1) coefficient fitted should be near 0.
    truth = ds.Parameters(alpha=0.1, delta=0.2, omega=0.3, phi=0.0)
    fitted = ds.fit(simulated(truth), "one-step")
    assert fitted.alpha == pytest.approx(0.1, abs=0.05)
    assert fitted.delta == pytest.approx(0.2, abs=0.1)
    assert fitted.omega == pytest.approx(0.3, abs=0.1)
    assert abs(fitted.phi) < 0.1


def test_criteria_score_the_method_as_documented():
    y = simulated(ds.Parameters(0.1, 0.2, 0.3, 0.0), weeks=3)
    parameters = ds.Parameters(0.1, 0.2, 0.3, 0.5)
    states = ds.smooth(y, parameters)
    e = states.error
    expected = np.mean((e[672:] - 0.5 * e[671:-1]) ** 2)
    assert ds.criterion(parameters, y, "one-step") == pytest.approx(expected)
    origins = np.arange(672, len(y) - 47, 7)
    actual = y[origins[:, None] + np.arange(48)]
    expected = np.mean(np.abs(ds.forecasts(states, origins, 0.5) - actual) / actual) * 100
    assert ds.criterion(parameters, y, "day-ahead") == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"criterion='weekly'; expected one of \('one-step', 'day-ahead'\)"):
        ds.fit(y, "weekly")
