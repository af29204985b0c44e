"""Double seasonal Holt-Winters with an AR(1) error adjustment (Taylor 2003).

J. W. Taylor (2003), "Short-term electricity demand forecasting using double
seasonal exponential smoothing", JORS 54, 799-805: the method made for the
half-hourly England and Wales series the electricity forecaster reads. A
level l, a daily index d (period s1 = 48) and a weekly index w (period
s2 = 336), all additive, each corrected by the one-step error e:

    e_t = y_t - (l_{t-1} + d_{t-s1} + w_{t-s2})
    l_t = l_{t-1} + alpha e_t
    d_t = d_{t-s1} + delta e_t
    w_t = w_{t-s2} + omega e_t

and the k-step forecast from time t, with the AR(1) adjustment phi^k e_t
(the one-step errors are autocorrelated):

    l_t + d_{t-s1+k} + w_{t-s2+k} + phi^k e_t        (k <= s1)

An *origin* o is the index of the first half-hour forecast: the forecast from
o reads y[:o] only, once o is past the two weeks the initial state is
estimated from (or the initial state is given). The four parameters are fitted by Nelder-Mead on a
training series; how they are fitted (`CRITERIA`) matters more than anything
else about the method.
"""

from dataclasses import dataclass

import numpy as np

DAILY, WEEKLY = 48, 336
WARMUP = 2 * WEEKLY  # the initial state is estimated from the first two weeks

# How the parameters are fitted, each on the training series only:
# - "one-step": the mean squared one-step error after the AR(1) adjustment,
#   e_t - phi e_{t-1}, after the warm-up weeks (Taylor's criterion);
# - "day-ahead": the mean absolute percentage error of the 48-step forecasts from
#   every 7th half-hour after two warm-up weeks (the metric the card reports).
CRITERIA = ("one-step", "day-ahead")


@dataclass(frozen=True)
class Parameters:
    alpha: float  # level
    delta: float  # daily index
    omega: float  # weekly index
    phi: float  # AR(1) of the one-step error


@dataclass
class States:
    """The filter's states, laid out so that a forecast from origin o reads index o:
    level[o] = l_{o-1} (level[0] the initial level); daily[s1 + t] = d_t and
    weekly[s2 + t] = w_t (the first s1 / s2 entries the initial indices); error[t] = e_t."""

    level: np.ndarray
    daily: np.ndarray
    weekly: np.ndarray
    error: np.ndarray
    periods: tuple


def initial_state(y, periods=(DAILY, WEEKLY), weeks=WARMUP // WEEKLY):
    """Initial level and indices from the first `weeks` long periods of `y`: the level is
    their mean; the daily index of each half-hour its mean there less the level; the weekly
    index of each half-hour of the week its mean there less the level and the daily index.
    Index 0 of `y` is the first half-hour of both periods."""
    s1, s2 = periods
    first = np.asarray(y[: weeks * s2], "float64")
    if len(first) < weeks * s2:
        raise ValueError(f"y has {len(y)} values; expected at least {weeks * s2} ({weeks} periods of {s2})")
    level = first.mean()
    daily = first.reshape(-1, s1).mean(axis=0) - level
    weekly = first.reshape(weeks, s2).mean(axis=0) - level - np.tile(daily, s2 // s1)
    return level, daily, weekly


def smooth(y, parameters, periods=(DAILY, WEEKLY), initial=None):
    """Runs the recursion over `y` (from `initial`, or `initial_state(y)`): `States`.
    A plain Python loop over floats, about 3 ms per 4,000 values: faster here than numpy,
    whose per-element calls cost more than the arithmetic."""
    s1, s2 = periods
    level0, daily0, weekly0 = initial_state(y, periods) if initial is None else initial
    alpha, delta, omega = parameters.alpha, parameters.delta, parameters.omega
    n = len(y)
    y = [float(v) for v in y]
    level = [float(level0)] + [0.0] * n
    daily = [float(v) for v in daily0] + [0.0] * n
    weekly = [float(v) for v in weekly0] + [0.0] * n
    error = [0.0] * n
    for t in range(n):
        d, w = daily[t], weekly[t]  # d_{t-s1}, w_{t-s2}
        e = y[t] - (level[t] + d + w)
        error[t] = e
        level[t + 1] = level[t] + alpha * e
        daily[t + s1] = d + delta * e
        weekly[t + s2] = w + omega * e
    return States(np.array(level), np.array(daily), np.array(weekly), np.array(error), periods)


def forecasts(states, origins, phi, horizon=DAILY):
    """k-step forecasts, k = 1..horizon, from each origin: (len(origins), horizon). Past the
    short period the indices repeat their latest cycle (k - 1 mod s1, mod s2)."""
    s1, s2 = states.periods
    o = np.asarray(origins)[:, None]
    if o.size and (o.min() < 1 or o.max() > len(states.error)):
        raise ValueError(f"origins run from {o.min()} to {o.max()}; expected 1 to {len(states.error)}")
    k = np.arange(1, horizon + 1)[None, :]
    return (
        states.level[o] + states.daily[o + (k - 1) % s1] + states.weekly[o + (k - 1) % s2]
        + phi**k * states.error[o - 1]
    )


def _parameters(theta):
    """Unconstrained Nelder-Mead coordinates -> alpha, delta, omega in (0, 1), phi in (-1, 1)."""
    alpha, delta, omega = 1.0 / (1.0 + np.exp(-np.asarray(theta[:3], "float64")))
    return Parameters(float(alpha), float(delta), float(omega), float(np.tanh(theta[3])))


def criterion(parameters, y, name, warmup=WARMUP, horizon=DAILY):
    """The fitting criterion `name` (see `CRITERIA`) of `parameters` on series `y`."""
    states = smooth(y, parameters)
    if name == "one-step":
        e = states.error
        return float(np.mean((e[warmup:] - parameters.phi * e[warmup - 1 : -1]) ** 2))
    if name == "day-ahead":
        origins = np.arange(warmup, len(y) - horizon + 1, 7)
        actual = np.asarray(y)[origins[:, None] + np.arange(horizon)]
        return float(np.mean(np.abs(forecasts(states, origins, parameters.phi, horizon) - actual) / actual) * 100)
    raise ValueError(f"criterion={name!r}; expected one of {CRITERIA}")


def fit(y, name="one-step"):
    """Parameters minimising criterion `name` on `y`: Nelder-Mead from three starting
    points (the best end point wins), in coordinates that keep them in range."""
    from scipy.optimize import minimize

    if name not in CRITERIA:
        raise ValueError(f"criterion={name!r}; expected one of {CRITERIA}")
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    starts = [(0.05, 0.10, 0.10, 0.9), (0.01, 0.30, 0.30, 0.9), (0.2, 0.05, 0.2, 0.5)]
    best = None
    for alpha, delta, omega, phi in starts:
        result = minimize(
            lambda theta: criterion(_parameters(theta), y, name),
            [logit(alpha), logit(delta), logit(omega), np.arctanh(phi)],
            method="Nelder-Mead", options={"maxiter": 600, "xatol": 1e-4, "fatol": 1e-5},
        )
        if best is None or result.fun < best.fun:
            best = result
    return _parameters(best.x)
