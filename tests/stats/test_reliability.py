"""Reliability metrics of Chan et al. 2020 on small hand-computed curves."""

import numpy as np
import pytest
import scipy.stats

from rlcheck.stats import (
    dispersion_across_rollouts,
    dispersion_across_runs,
    dispersion_across_time,
    long_term_risk,
    risk_across_rollouts,
    risk_across_runs,
    short_term_risk,
)
from rlcheck.stats.reliability import cvar, differences, drawdown

# Uneven evaluation grid: slopes Δy/Δt of the first curve are 1, 1, -1, 2 at t = 1, 3, 4, 6.
TIMEPOINTS = np.array([0.0, 1.0, 3.0, 4.0, 6.0])
CURVES = np.array([[0.0, 1.0, 3.0, 2.0, 6.0], [0.0, 2.0, 2.0, 2.0, 2.0]])


def test_differences_divide_by_the_time_step():
    slopes, times = differences(CURVES, TIMEPOINTS)
    np.testing.assert_allclose(slopes, [[1, 1, -1, 2], [2, 0, 0, 0]])
    np.testing.assert_allclose(times, [1, 3, 4, 6])


def test_cvar_matches_scoreatpercentile_definition():
    values = np.random.default_rng(0).normal(size=(3, 37))
    for row, lower, upper in zip(
        values, cvar(values, 0.1), cvar(values, 0.1, "upper"), strict=True
    ):
        var_low = scipy.stats.scoreatpercentile(row, 10)
        var_high = scipy.stats.scoreatpercentile(row, 90)
        assert lower == pytest.approx(row[row <= var_low].mean())
        assert upper == pytest.approx(row[row >= var_high].mean())


def test_dispersion_across_time_is_the_iqr_in_a_trailing_window():
    # Window 4 ending at t=4 holds slopes at t = 1, 3, 4: [1, 1, -1] → IQR 1 - 0 = 1;
    # ending at t=6: [1, -1, 2] → 1.5 - 0 = 1.5. Second curve: [2, 0, 0] → 1, [0, 0, 0] → 0.
    expected = [[1.0, 1.5], [1.0, 0.0]]
    np.testing.assert_allclose(dispersion_across_time(CURVES, TIMEPOINTS, window=4), expected)
    got = dispersion_across_time(CURVES, TIMEPOINTS, window=4, eval_points=[6])
    np.testing.assert_allclose(got, [[1.5], [0.0]])


def test_short_term_risk_is_the_lower_cvar_of_slopes():
    # alpha 0.5: VaR is the median slope 1; slopes <= 1 are 1, 1, -1 → 1/3.
    np.testing.assert_allclose(short_term_risk(CURVES, TIMEPOINTS, alpha=0.5), [1 / 3, 0.0])
    # alpha 0.05: only the steepest drop.
    assert short_term_risk(CURVES[:1], TIMEPOINTS)[0] == pytest.approx(-1.0)


def test_long_term_risk_averages_the_worst_drawdowns():
    curve = np.array([0.0, 4.0, 1.0, 3.0, 5.0, 2.0])
    np.testing.assert_allclose(drawdown(curve), [0, 0, 3, 1, 0, 3])
    # alpha 0.5: VaR is the median drawdown, 0.5; drawdowns >= 0.5 are 3, 1, 3 → 7/3.
    assert long_term_risk(curve, alpha=0.5)[0] == pytest.approx(7 / 3)
    assert long_term_risk(curve)[0] == pytest.approx(3.0)
    # The lower tail, as in the reference library's example config, would report no risk.
    assert cvar(drawdown(curve), 0.05, "lower") == pytest.approx(0.0)


RUNS = np.array([[0.0, 1.0, 2.0], [1.0, 3.0, 5.0], [2.0, 5.0, 8.0], [3.0, 7.0, 20.0]])
RUN_TIMES = np.array([0.0, 10.0, 20.0])


def test_dispersion_across_runs_is_the_iqr_at_each_eval_point():
    # At t=0: [0, 1, 2, 3] → 2.25 - 0.75; at t=20: [2, 5, 8, 20] → 11 - 4.25.
    got = dispersion_across_runs(RUNS, RUN_TIMES, eval_points=[0.0, 20.0])
    np.testing.assert_allclose(got, [1.5, 6.75])
    assert dispersion_across_runs(RUNS, RUN_TIMES).shape == (3,)


def test_risk_across_runs_is_the_lower_cvar_at_each_eval_point():
    # alpha 0.5 at t=20: median 6.5, runs below are 2 and 5 → 3.5.
    np.testing.assert_allclose(risk_across_runs(RUNS, RUN_TIMES, [20.0], alpha=0.5), [3.5])
    np.testing.assert_allclose(risk_across_runs(RUNS, RUN_TIMES, [0.0, 20.0]), [0.0, 2.0])


def test_eval_points_must_be_timepoints():
    with pytest.raises(ValueError, match="not among the timepoints"):
        dispersion_across_runs(RUNS, RUN_TIMES, eval_points=[5.0])


def test_lowpass_filter_removes_evaluation_noise_before_dispersion():
    t = np.arange(100.0)
    offsets = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    curves = t / 10 + offsets * (-1.0) ** t  # runs differ only by alternating noise
    raw = dispersion_across_runs(curves, t, eval_points=[50.0])[0]
    filtered = dispersion_across_runs(curves, t, eval_points=[50.0], lowpass=0.2)[0]
    assert raw == pytest.approx(2.5)
    assert filtered < 0.01


def test_rollout_metrics():
    rollouts = np.array([[1.0, 2.0, 3.0, 4.0, 100.0], [5.0, 5.0, 5.0, 5.0, 5.0]])
    np.testing.assert_allclose(dispersion_across_rollouts(rollouts), [2.0, 0.0])
    # alpha 0.25: VaR = 2, so the mean of 1 and 2.
    np.testing.assert_allclose(risk_across_rollouts(rollouts, alpha=0.25), [1.5, 5.0])
