"""Stratified bootstrap: resampling within tasks, interval rules, reproducibility."""

import numpy as np
import pytest
import scipy.stats

from rlcheck.stats.bootstrap import (
    bca_interval,
    interval_estimates,
    jackknife_weights,
    percentile_interval,
    stratified_weights,
)


def test_stratified_weights_resample_runs_within_each_task():
    weights = stratified_weights(np.random.default_rng(0), runs=5, tasks=3, size=4000)
    assert weights.shape == (4000, 5, 3)
    assert np.all(weights.sum(axis=1) == 5)
    # Each count is Binomial(5, 1/5): mean 1, variance 0.8; tasks are independent.
    assert weights.mean() == pytest.approx(1.0, abs=0.02)
    assert weights.var() == pytest.approx(0.8, abs=0.03)
    assert abs(np.corrcoef(weights[:, 0, 0], weights[:, 0, 1])[0, 1]) < 0.05


def test_percentile_interval_uses_linear_interpolation():
    replicates = np.arange(101.0)
    low, high = percentile_interval(replicates, confidence=0.9)
    assert (low, high) == pytest.approx((5.0, 95.0))


def test_mean_interval_matches_the_bootstrap_standard_error():
    # One task: the bootstrap mean has sd sigma/sqrt(n) (sigma with ddof=0), and with 50
    # runs its distribution is close to normal.
    scores = np.random.default_rng(1).normal(size=(50, 1))
    estimate = interval_estimates({"a": scores}, metrics=("mean",), reps=20000)["a"]["mean"]
    half_width = 1.959964 * scores.std() / np.sqrt(50)
    assert estimate.point == pytest.approx(scores.mean())
    assert estimate.high - estimate.low == pytest.approx(2 * half_width, rel=0.05)


def test_each_algorithm_owns_its_random_stream():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    alone = interval_estimates({"a": a}, reps=500, seed=7)
    together = interval_estimates({"b": b, "a": a}, reps=500, seed=7)
    assert alone["a"] == together["a"]
    assert interval_estimates({"a": a}, reps=500, seed=8)["a"] != alone["a"]


def test_bca_matches_the_textbook_formula():
    replicates = np.random.default_rng(3).normal(loc=1.0, size=4001)
    jackknife = np.array([0.9, 1.0, 1.4, 1.1, 0.6])
    low, high = bca_interval(replicates, point=1.1, jackknife=jackknife)
    bias = scipy.stats.norm.ppf(np.mean(replicates < 1.1))
    u = jackknife.mean() - jackknife
    acceleration = np.sum(u**3) / (6 * np.sum(u**2) ** 1.5)
    z = np.array([-1.959964, 1.959964])
    levels = scipy.stats.norm.cdf(bias + (bias + z) / (1 - acceleration * (bias + z)))
    assert (low, high) == pytest.approx(tuple(np.percentile(replicates, 100 * levels)), rel=1e-5)


def test_jackknife_weights_leave_one_run_out_of_every_task():
    weights = jackknife_weights(runs=3, tasks=2)
    np.testing.assert_array_equal(weights[1], [[1, 1], [0, 0], [1, 1]])


def test_bca_refuses_a_degenerate_bootstrap():
    with pytest.raises(ValueError, match="percentile"):
        interval_estimates({"a": np.ones((4, 3))}, method="bca", reps=100)


@pytest.mark.parametrize(
    ("scores", "message"),
    [(np.ones(5), "shape"), (np.array([[1.0, np.nan]]), "NaN")],
)
def test_bad_scores_get_a_one_line_error(scores, message):
    with pytest.raises(ValueError, match=message):
        interval_estimates({"ppo": scores}, reps=10)


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="'mode'"):
        interval_estimates({"a": np.ones((2, 2))}, metrics=("mode",))
