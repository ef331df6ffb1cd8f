"""Failure rates and Wilson intervals against hand computations."""

import numpy as np
import pytest
import scipy.stats

from rlcheck.stats import (
    failure_rate,
    no_better_than_random_rate,
    random_upper_bound,
    unsolved_rate,
    wilson_interval,
)


def test_wilson_interval_by_hand():
    # 3 of 20, z = 1.959964: centre (0.15 + z²/40) / (1 + z²/20) = 0.206393,
    # half-width z·sqrt(0.15·0.85/20 + z²/1600) / (1 + z²/20) = 0.154025.
    low, high = wilson_interval(3, 20)
    assert (low, high) == pytest.approx((0.0523687, 0.3604189), abs=1e-7)


def test_wilson_interval_at_the_edges():
    # With no failures the upper end is z² / (n + z²).
    z2 = 1.959964**2
    assert wilson_interval(0, 16) == pytest.approx((0.0, z2 / (16 + z2)), abs=1e-7)
    assert wilson_interval(16, 16) == pytest.approx((16 / (16 + z2), 1.0), abs=1e-7)


def test_wilson_interval_matches_statsmodels():
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    for failures, seeds, confidence in [(1, 8, 0.95), (7, 32, 0.9), (30, 32, 0.99)]:
        expected = proportion.proportion_confint(
            failures, seeds, alpha=1 - confidence, method="wilson"
        )
        assert wilson_interval(failures, seeds, confidence) == pytest.approx(expected, 1e-12)


def test_failure_rate_counts_nan_as_failure_and_says_why():
    result = failure_rate(np.array([500.0, 480.0, 100.0, np.nan]), 475.0)
    assert (result.failures, result.seeds, result.rate) == (2, 4, 0.5)
    assert result.criterion == "final score < 475"
    assert (result.low, result.high) == pytest.approx(wilson_interval(2, 4))


def test_unsolved_rate_treats_reaching_the_threshold_as_solved():
    result = unsolved_rate(np.array([475.0, 474.9, 500.0]), 475.0)
    assert result.failures == 1
    assert result.criterion == "final score < 475 (solve threshold)"


def test_random_upper_bound_is_the_upper_end_of_the_t_interval():
    random_returns = np.array([18.0, 22.0, 25.0, 15.0, 30.0])
    # mean 22, s = sqrt(34.5), t_{0.975, 4} = 2.776445.
    expected = 22.0 + 2.776445 * np.sqrt(34.5) / np.sqrt(5)
    assert random_upper_bound(random_returns) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(
        scipy.stats.t.interval(0.95, 4, loc=22.0, scale=scipy.stats.sem(random_returns))[1]
    )


def test_no_better_than_random_fails_seeds_at_or_below_the_bound():
    random_returns = np.array([18.0, 22.0, 25.0, 15.0, 30.0])
    bound = random_upper_bound(random_returns)
    result = no_better_than_random_rate(
        np.array([bound, bound + 1e-9, 400.0, 10.0]), random_returns
    )
    assert result.failures == 2
    assert result.threshold == bound
    assert "upper end of the 95% t interval" in result.criterion
    assert "(5 episodes)" in result.criterion
