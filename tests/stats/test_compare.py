"""Tests and adjustments against scipy, statsmodels and hand computations (Colas et al. data)."""

from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from rlcheck.stats import (
    compare_algorithms,
    holm_bonferroni,
    iqm_difference_interval,
    mann_whitney,
    mean_difference_interval,
    paired_iqm_difference_interval,
    welch_test,
)

from .atari100k import DATA_DIR

COLAS = DATA_DIR.parent / "colas"


def _load(name: str) -> np.ndarray:
    path = Path(COLAS / name)
    if not path.exists():
        pytest.skip(f"reference data {path} not found")
    return np.loadtxt(path)


@pytest.fixture(scope="module")
def halfcheetah():
    return _load("sac_hc_final_perfs.txt"), _load("td3_hc_final_perfs.txt")


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_matches_scipy(halfcheetah, alternative):
    sac, td3 = halfcheetah
    ours = welch_test(sac, td3, alternative)
    expected = scipy.stats.ttest_ind(sac, td3, equal_var=False, alternative=alternative)
    assert (ours.t, ours.p, ours.df) == pytest.approx(
        (expected.statistic, expected.pvalue, expected.df), rel=1e-10
    )


def test_welch_by_hand():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0])
    # var_a/n = (5/3)/4, var_b/m = 4/3; t = (2.5 - 4) / sqrt(5/12 + 4/3).
    t = -1.5 / np.sqrt(5 / 12 + 4 / 3)
    df = (5 / 12 + 4 / 3) ** 2 / ((5 / 12) ** 2 / 3 + (4 / 3) ** 2 / 2)
    result = welch_test(a, b)
    assert (result.t, result.df) == pytest.approx((t, df))
    assert result.p == pytest.approx(2 * scipy.stats.t.sf(abs(t), df))


def test_mann_whitney_matches_scipy(halfcheetah):
    sac, td3 = halfcheetah
    expected = scipy.stats.mannwhitneyu(sac, td3)
    assert tuple(mann_whitney(sac, td3)) == pytest.approx((expected.statistic, expected.pvalue))
    assert mann_whitney(np.array([3.0, 4.0]), np.array([1.0, 2.0, 3.0])).u == 5.5


def test_mean_difference_interval_has_the_bootstrap_width(halfcheetah):
    sac, td3 = halfcheetah
    estimate = mean_difference_interval(sac, td3, reps=20000)
    assert estimate.point == pytest.approx(sac.mean() - td3.mean())
    # ~190 seeds each: the bootstrap distribution is close to normal with this sd.
    sd = np.sqrt(sac.var() / sac.size + td3.var() / td3.size)
    assert estimate.high - estimate.low == pytest.approx(2 * 1.959964 * sd, rel=0.05)
    assert estimate.low < estimate.point < estimate.high


def test_iqm_difference_interval_matches_resampling_by_hand():
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 3, 12), rng.normal(8, 2, 9)
    estimate = iqm_difference_interval(a, b, reps=4000, seed=3)
    assert estimate.point == pytest.approx(
        scipy.stats.trim_mean(a, 0.25) - scipy.stats.trim_mean(b, 0.25)
    )
    # The same statistic on explicit resamples (each sample apart, percentile interval).
    draws = np.random.default_rng(7)
    by_hand = [
        scipy.stats.trim_mean(draws.choice(a, a.size), 0.25)
        - scipy.stats.trim_mean(draws.choice(b, b.size), 0.25)
        for _ in range(4000)
    ]
    low, high = np.percentile(by_hand, [2.5, 97.5])
    assert estimate.low == pytest.approx(low, abs=0.25)
    assert estimate.high == pytest.approx(high, abs=0.25)
    with pytest.raises(ValueError, match="at least 2 finite scores"):
        iqm_difference_interval(a, b[:1])


def test_holm_by_hand():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 → 0.02, 0.03, 0.06, 0.04; running max
    # → 0.02, 0.03, 0.06, 0.06.
    adjusted = holm_bonferroni(np.array([0.01, 0.04, 0.03, 0.005]))
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm_bonferroni(np.array([0.4, 0.6])), [0.8, 0.8])
    np.testing.assert_allclose(holm_bonferroni(np.array([0.9, 0.6])), [1.0, 1.0])


def test_holm_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    pvalues = np.random.default_rng(0).uniform(0, 0.2, size=12)
    expected = multitest.multipletests(pvalues, method="holm")[1]
    np.testing.assert_allclose(holm_bonferroni(pvalues), expected)


def test_compare_algorithms_adjusts_every_pair(halfcheetah):
    sac, td3 = halfcheetah
    scores = {"sac": sac, "td3": td3, "sac_shifted": sac + 300.0}
    results = compare_algorithms(scores)
    assert list(results) == [("sac", "td3"), ("sac", "sac_shifted"), ("td3", "sac_shifted")]
    raw = [welch_test(scores[a], scores[b]).p for a, b in results]
    np.testing.assert_allclose([r.p for r in results.values()], raw)
    np.testing.assert_allclose([r.p_adjusted for r in results.values()], holm_bonferroni(raw))
    assert results[("sac", "td3")].statistic == welch_test(sac, td3).t


def test_paired_iqm_difference_keeps_the_pairs_together():
    rng = np.random.default_rng(2)
    a = rng.normal(100, 30, 10)
    # b is a shifted by 7 run for run: paired, the difference is exactly 7 in every resample.
    estimate = paired_iqm_difference_interval(a, a - 7.0, reps=2000)
    assert (estimate.point, estimate.low, estimate.high) == pytest.approx((7.0, 7.0, 7.0))
    # Resampled apart, the runs' spread of 30 widens the interval far beyond that.
    apart = iqm_difference_interval(a, a - 7.0, reps=2000)
    assert apart.high - apart.low > 20
    # The point is the difference of the IQMs, also when the pairs' differences vary.
    b = a - rng.normal(5, 2, 10)
    paired = paired_iqm_difference_interval(a, b, reps=4000, seed=1)
    assert paired.point == pytest.approx(
        scipy.stats.trim_mean(a, 0.25) - scipy.stats.trim_mean(b, 0.25)
    )
    # The same statistic on explicit resamples of the runs (pairs kept), percentile interval.
    draws = np.random.default_rng(5)
    by_hand = []
    for _ in range(4000):
        i = draws.integers(0, 10, 10)
        by_hand.append(scipy.stats.trim_mean(a[i], 0.25) - scipy.stats.trim_mean(b[i], 0.25))
    low, high = np.percentile(by_hand, [2.5, 97.5])
    assert paired.low == pytest.approx(low, abs=0.3)
    assert paired.high == pytest.approx(high, abs=0.3)
    with pytest.raises(ValueError, match="paired samples differ in length"):
        paired_iqm_difference_interval(a, b[:5])
