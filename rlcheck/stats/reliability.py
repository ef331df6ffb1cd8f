"""Reliability metrics of Chan et al. 2020: dispersion and risk across time, runs and rollouts.

Curves are arrays (runs, T) of evaluation scores at shared ``timepoints`` (T,), e.g. env steps;
rollouts are arrays (sets, R) of the returns of R episodes of a fixed policy per set. Dispersion
is the interquartile range (``scipy.stats.iqr``); risk is the conditional value at risk (CVaR):
with VaR = ``scipy.stats.scoreatpercentile(x, 100·alpha)``, the lower CVaR is the mean of the
values <= VaR. All follow the reference library google-research/rl-reliability-metrics.

References:
  Chan, Fishman, Canny, Korattikara & Guadarrama, "Measuring the Reliability of Reinforcement
  Learning Algorithms", ICLR 2020.
"""

from typing import Literal

import numpy as np
import scipy.signal
import scipy.stats


def cvar(
    values: np.ndarray, alpha: float = 0.05, tail: Literal["lower", "upper"] = "lower"
) -> np.ndarray:
    """Conditional value at risk along the last axis.

    Args:
      values: array (..., n).
      alpha: the tail probability, in (0, 1).
      tail: "lower": mean of the values <= the alpha-quantile; "upper": mean of the values >=
        the (1 - alpha)-quantile.

    Returns:
      Array values.shape[:-1].

    References:
      Rockafellar & Uryasev, "Optimization of conditional value-at-risk", J. Risk 2000;
      ``rl_reliability_metrics.metrics.metric_utils.compute_cvar``.
    """
    values = np.asarray(values, dtype=float)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    if tail == "lower":
        var = np.percentile(values, 100 * alpha, axis=-1, keepdims=True)
        in_tail = values <= var
    elif tail == "upper":
        var = np.percentile(values, 100 * (1 - alpha), axis=-1, keepdims=True)
        in_tail = values >= var
    else:
        raise ValueError(f"tail must be 'lower' or 'upper', got {tail!r}")
    return np.sum(values * in_tail, axis=-1) / np.sum(in_tail, axis=-1)


def differences(curves: np.ndarray, timepoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Detrends curves by first differences per unit time, Δy/Δt.

    Dividing by Δt makes the result independent of how often the curve was evaluated.

    Args:
      curves: array (runs, T).
      timepoints: increasing array (T,).

    Returns:
      (slopes (runs, T-1), timepoints[1:]).
    """
    curves, timepoints = _check_curves(curves, timepoints)
    return np.diff(curves, axis=-1) / np.diff(timepoints), timepoints[1:]


def drawdown(curves: np.ndarray) -> np.ndarray:
    """Drop from the highest value so far: running peak − value, same shape as ``curves``."""
    curves = np.asarray(curves, dtype=float)
    return np.maximum.accumulate(curves, axis=-1) - curves


def dispersion_across_time(
    curves: np.ndarray,
    timepoints: np.ndarray,
    window: float,
    eval_points: np.ndarray | None = None,
) -> np.ndarray:
    """Dispersion across time (DT): IQR of the detrended curve inside a trailing window.

    Args:
      curves: array (runs, T).
      timepoints: increasing array (T,).
      window: window length in the units of ``timepoints``; the window at eval point e holds
        the detrended values at timepoints in [e - window + 1, e].
      eval_points: where to evaluate; default: every detrended timepoint whose window fits.

    Returns:
      Array (runs, eval_points); higher means a noisier curve.

    References:
      Chan et al. 2020, sec. 3 ("Dispersion across Time"); ``IqrWithinRuns``.
    """
    slopes, slope_times = differences(curves, timepoints)
    if eval_points is None:
        eval_points = slope_times[slope_times >= slope_times[0] + window - 1]
    dispersions = []
    for point in np.atleast_1d(eval_points):
        inside = (slope_times >= point - window + 1) & (slope_times <= point)
        if not inside.any():
            raise ValueError(f"no timepoint in the window of length {window} ending at {point}")
        dispersions.append(scipy.stats.iqr(slopes[:, inside], axis=-1))
    return np.stack(dispersions, axis=-1)


def short_term_risk(curves: np.ndarray, timepoints: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Short-term risk across time (SRT): lower CVaR of Δy/Δt, the worst drops between evaluations.

    Args:
      curves: array (runs, T).
      timepoints: increasing array (T,).
      alpha: tail probability.

    Returns:
      Array (runs,); more negative means steeper sudden drops.

    References:
      Chan et al. 2020, sec. 3 ("Short-term Risk across Time"); ``LowerCVaROnDiffs``.
    """
    slopes, _ = differences(curves, timepoints)
    return cvar(slopes, alpha, "lower")


def long_term_risk(curves: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Long-term risk across time (LRT): CVaR of the worst drawdowns.

    The mean of the drawdowns at or above their (1 - alpha)-quantile, as the paper intends
    ("the worst-case expected drawdown"). The reference library's example config
    (``examples/tf_agents_mujoco_subset/params.py``) lists ``LowerCVaROnDrawdown`` instead,
    which averages the *smallest* drawdowns; we do not follow it.

    Args:
      curves: array (runs, T).
      alpha: tail probability.

    Returns:
      Array (runs,) of non-negative values; larger means a bigger lasting fall from a peak.

    References:
      Chan et al. 2020, sec. 3 ("Long-term Risk across Time"); ``UpperCVaROnDrawdown``.
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    return cvar(drawdown(curves), alpha, "upper")


def lowpass_filter(curves: np.ndarray, cutoff: float) -> np.ndarray:
    """Zero-phase 8th-order Butterworth low-pass filter along each curve.

    Args:
      curves: array (runs, T).
      cutoff: -3 dB frequency as a fraction of the Nyquist frequency, in (0, 1).

    Returns:
      The filtered curves, same shape.

    References:
      ``rl_reliability_metrics.metrics.metric_utils.lowpass_filter``.
    """
    b, a = scipy.signal.butter(8, cutoff)
    length = np.shape(curves)[-1]
    return scipy.signal.filtfilt(
        b, a, curves, axis=-1, padlen=min(length - 1, 3 * max(len(a), len(b)))
    )


def dispersion_across_runs(
    curves: np.ndarray,
    timepoints: np.ndarray,
    eval_points: np.ndarray | None = None,
    lowpass: float | None = None,
) -> np.ndarray:
    """Dispersion across runs (DR): IQR over runs at each eval point.

    Args:
      curves: array (runs, T).
      timepoints: increasing array (T,).
      eval_points: timepoints at which to evaluate (each must be one of ``timepoints``);
        default: all.
      lowpass: if given, low-pass filter the curves first (cutoff as in ``lowpass_filter``),
        so that the metric measures runs that stay apart, not evaluation noise.

    Returns:
      Array (eval_points,).

    References:
      Chan et al. 2020, sec. 3 ("Dispersion across Runs"); ``IqrAcrossRuns``.
    """
    return scipy.stats.iqr(_values_at(curves, timepoints, eval_points, lowpass), axis=0)


def risk_across_runs(
    curves: np.ndarray,
    timepoints: np.ndarray,
    eval_points: np.ndarray | None = None,
    alpha: float = 0.05,
    lowpass: float | None = None,
) -> np.ndarray:
    """Risk across runs (RR): lower CVaR over runs at each eval point — how bad the worst runs are.

    Args:
      curves: array (runs, T).
      timepoints: increasing array (T,).
      eval_points: timepoints at which to evaluate; default: all.
      alpha: tail probability.
      lowpass: optional low-pass cutoff, as in ``dispersion_across_runs``.

    Returns:
      Array (eval_points,).

    References:
      Chan et al. 2020, sec. 3 ("Risk across Runs"); ``LowerCVaROnAcross``.
    """
    return cvar(_values_at(curves, timepoints, eval_points, lowpass).T, alpha, "lower")


def dispersion_across_rollouts(rollouts: np.ndarray) -> np.ndarray:
    """Dispersion across fixed-policy rollouts (DF): IQR of each set of episode returns.

    Args:
      rollouts: array (sets, R), e.g. one row per trained policy.

    Returns:
      Array (sets,).

    References:
      Chan et al. 2020, sec. 3 ("Dispersion across Fixed-Policy Rollouts"); ``IqrAcrossRollouts``.
    """
    return scipy.stats.iqr(np.atleast_2d(rollouts), axis=-1)


def risk_across_rollouts(rollouts: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Risk across fixed-policy rollouts (RF): lower CVaR of each set of episode returns.

    Args:
      rollouts: array (sets, R).
      alpha: tail probability.

    Returns:
      Array (sets,).

    References:
      Chan et al. 2020, sec. 3 ("Risk across Fixed-Policy Rollouts"); ``LowerCVaRAcrossRollouts``.
    """
    return cvar(np.atleast_2d(rollouts), alpha, "lower")


def _check_curves(curves: np.ndarray, timepoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    timepoints = np.asarray(timepoints, dtype=float)
    if curves.ndim != 2 or curves.shape[-1:] != timepoints.shape:
        raise ValueError(
            f"curves must be (runs, T) with T = len(timepoints) = {timepoints.size}, "
            f"got {curves.shape}"
        )
    if timepoints.size < 2 or np.any(np.diff(timepoints) <= 0):
        raise ValueError("timepoints must be strictly increasing, with at least 2 of them")
    return curves, timepoints


def _values_at(
    curves: np.ndarray,
    timepoints: np.ndarray,
    eval_points: np.ndarray | None,
    lowpass: float | None,
) -> np.ndarray:
    curves, timepoints = _check_curves(curves, timepoints)
    if lowpass is not None:
        curves = lowpass_filter(curves, lowpass)
    if eval_points is None:
        return curves
    eval_points = np.atleast_1d(np.asarray(eval_points, dtype=float))
    columns = np.minimum(np.searchsorted(timepoints, eval_points), timepoints.size - 1)
    missing = timepoints[columns] != eval_points
    if missing.any():
        raise ValueError(f"eval points {eval_points[missing]} are not among the timepoints")
    return curves[:, columns]
