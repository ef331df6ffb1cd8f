"""Is B really better than A? Welch and Mann–Whitney tests, bootstrap differences, Holm."""

from collections.abc import Mapping
from functools import partial
from itertools import combinations
from typing import Literal, NamedTuple

import numpy as np
import scipy.stats

from rlcheck.stats.aggregates import iqm, weighted_iqm, weighted_mean
from rlcheck.stats.bootstrap import Estimate, bootstrap_replicates, percentile_interval

Alternative = Literal["two-sided", "greater", "less"]


class WelchResult(NamedTuple):
    """Welch's t statistic, its p-value and the Welch–Satterthwaite degrees of freedom."""

    t: float
    p: float
    df: float


class MannWhitneyResult(NamedTuple):
    """The Mann–Whitney U statistic of the first sample and its p-value."""

    u: float
    p: float


class Comparison(NamedTuple):
    """One pairwise test among several algorithms; ``p_adjusted`` is Holm-corrected."""

    statistic: float
    p: float
    p_adjusted: float


def welch_test(a: np.ndarray, b: np.ndarray, alternative: Alternative = "two-sided") -> WelchResult:
    """Welch's t-test of equal means, not assuming equal variances.

    Args:
      a: final scores of algorithm A, one per seed.
      b: final scores of algorithm B, one per seed.
      alternative: "two-sided", "greater" (mean of A > mean of B) or "less".

    Returns:
      WelchResult(t, p, df).

    References:
      Welch, "The generalization of Student's problem when several different population
      variances are involved", Biometrika 1947; Colas, Sigaud & Oudeyer, "A Hitchhiker's Guide
      to Statistical Comparisons of Reinforcement Learning Algorithms", 2019.
    """
    a, b = _check_sample(a, "a"), _check_sample(b, "b")
    var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = (a.mean() - b.mean()) / np.sqrt(var_a + var_b)
    df = (var_a + var_b) ** 2 / (var_a**2 / (a.size - 1) + var_b**2 / (b.size - 1))
    if alternative == "two-sided":
        p = 2 * scipy.stats.t.sf(abs(t), df)
    elif alternative == "greater":
        p = scipy.stats.t.sf(t, df)
    elif alternative == "less":
        p = scipy.stats.t.cdf(t, df)
    else:
        raise ValueError(f"alternative must be two-sided, greater or less, got {alternative!r}")
    return WelchResult(float(t), float(p), float(df))


def mann_whitney(
    a: np.ndarray, b: np.ndarray, alternative: Alternative = "two-sided"
) -> MannWhitneyResult:
    """Mann–Whitney U rank test (``scipy.stats.mannwhitneyu``, exact or asymptotic by size).

    Robust to outlier seeds; U / (len(a)·len(b)) is the probability that a seed of A beats a
    seed of B.

    Args:
      a: final scores of algorithm A.
      b: final scores of algorithm B.
      alternative: "two-sided", "greater" (A tends to score higher) or "less".

    Returns:
      MannWhitneyResult(u, p).

    References:
      Mann & Whitney, Ann. Math. Statist. 1947; Colas et al. 2019.
    """
    a, b = _check_sample(a, "a"), _check_sample(b, "b")
    result = scipy.stats.mannwhitneyu(a, b, alternative=alternative)
    return MannWhitneyResult(float(result.statistic), float(result.pvalue))


def mean_difference_interval(
    a: np.ndarray, b: np.ndarray, reps: int = 50000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """mean(a) − mean(b) with a percentile bootstrap interval (each sample resampled apart).

    Args:
      a: final scores of algorithm A.
      b: final scores of algorithm B.
      reps: number of bootstrap replicates.
      confidence: coverage of the two-sided interval.
      seed: seed of ``np.random.default_rng``.

    Returns:
      Estimate(point, low, high); an interval excluding 0 supports a difference.

    References:
      Efron & Tibshirani, "An Introduction to the Bootstrap", 1993; Colas et al. 2019.
    """
    a, b = _check_sample(a, "a")[:, None], _check_sample(b, "b")[:, None]
    statistic = partial(_weighted_mean_difference, a, b)
    replicates = bootstrap_replicates(
        statistic, [a.shape, b.shape], reps, np.random.default_rng(seed)
    )
    low, high = percentile_interval(replicates, confidence)
    return Estimate(float(a.mean() - b.mean()), float(low), float(high))


def iqm_difference_interval(
    a: np.ndarray, b: np.ndarray, reps: int = 50000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """IQM(a) − IQM(b) with a percentile bootstrap interval (each sample resampled apart), as
    :func:`mean_difference_interval` for the interquartile mean.

    Args:
      a: final scores of A (e.g. the configuration a sweep chose, on fresh seeds).
      b: final scores of B (e.g. the default configuration on the same fresh seeds).
      reps: number of bootstrap replicates.
      confidence: coverage of the two-sided interval.
      seed: seed of ``np.random.default_rng``.

    Returns:
      Estimate(point, low, high).
    """
    a, b = _check_sample(a, "a")[:, None], _check_sample(b, "b")[:, None]
    statistic = partial(_weighted_iqm_difference, a, b)
    replicates = bootstrap_replicates(
        statistic, [a.shape, b.shape], reps, np.random.default_rng(seed)
    )
    low, high = percentile_interval(replicates, confidence)
    return Estimate(iqm(a) - iqm(b), float(low), float(high))


def paired_iqm_difference_interval(
    a: np.ndarray, b: np.ndarray, reps: int = 50000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """IQM(a) − IQM(b) where ``a[i]`` and ``b[i]`` come from the same run (e.g. one seed's
    policy in two conditions), with a percentile bootstrap interval that resamples the runs,
    keeping each pair together.

    Pairing removes the runs' own spread from the interval: with ``b = a − c`` it is exactly
    [c, c], where :func:`iqm_difference_interval` would resample a and b apart.

    Args:
      a: one score per run (e.g. each seed's return in its training range).
      b: the same runs' other score (e.g. each seed's return in its test range).
      reps: number of bootstrap replicates.
      confidence: coverage of the two-sided interval.
      seed: seed of ``np.random.default_rng``.

    Returns:
      Estimate(point, low, high).
    """
    a, b = _check_sample(a, "a")[:, None], _check_sample(b, "b")[:, None]
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    replicates = bootstrap_replicates(
        lambda w: weighted_iqm(a, w) - weighted_iqm(b, w),
        [a.shape],
        reps,
        np.random.default_rng(seed),
    )
    low, high = percentile_interval(replicates, confidence)
    return Estimate(iqm(a) - iqm(b), float(low), float(high))


def _weighted_iqm_difference(
    a: np.ndarray, b: np.ndarray, weights_a: np.ndarray, weights_b: np.ndarray
) -> np.ndarray:
    return weighted_iqm(a, weights_a) - weighted_iqm(b, weights_b)


def _weighted_mean_difference(
    a: np.ndarray, b: np.ndarray, weights_a: np.ndarray, weights_b: np.ndarray
) -> np.ndarray:
    return weighted_mean(a, weights_a) - weighted_mean(b, weights_b)


def holm_bonferroni(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values for multiple comparisons.

    Controls the family-wise error rate like Bonferroni, but rejects at least as often: the
    k-th smallest p-value is multiplied by (m − k + 1), then running maxima keep the order.

    Args:
      pvalues: the raw p-values (m,).

    Returns:
      Adjusted p-values (m,), in the input order, capped at 1; compare them with alpha.

    References:
      Holm, "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 1979.
    """
    pvalues = np.asarray(pvalues, dtype=float)
    order = np.argsort(pvalues, kind="stable")
    scaled = (pvalues.size - np.arange(pvalues.size)) * pvalues[order]
    adjusted = np.empty_like(pvalues)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def compare_algorithms(
    final_scores: Mapping[str, np.ndarray],
    test: Literal["welch", "mann-whitney"] = "welch",
) -> dict[tuple[str, str], Comparison]:
    """Two-sided tests between every pair of algorithms, Holm-adjusted over all pairs.

    With more than two algorithms, unadjusted p-values overstate the evidence: among 10
    pairs, at least one is "significant" at 0.05 by chance about 40% of the time.

    Args:
      final_scores: {algorithm: final scores (seeds,)}.
      test: "welch" (difference of means) or "mann-whitney" (rank test).

    Returns:
      {(a, b): Comparison(statistic, p, p_adjusted)} for each pair in the order given.
    """
    tests = {"welch": welch_test, "mann-whitney": mann_whitney}
    if test not in tests:
        raise ValueError(f"test must be one of {sorted(tests)}, got {test!r}")
    pairs = list(combinations(final_scores, 2))
    results = [tests[test](final_scores[a], final_scores[b]) for a, b in pairs]
    adjusted = holm_bonferroni(np.array([r.p for r in results]))
    return {
        pair: Comparison(r[0], r.p, float(p))
        for pair, r, p in zip(pairs, results, adjusted, strict=True)
    }


def _check_sample(values: np.ndarray, name: str) -> np.ndarray:
    sample = np.ravel(np.asarray(values, dtype=float))
    if sample.size < 2 or not np.all(np.isfinite(sample)):
        raise ValueError(f"{name} needs at least 2 finite scores, got {sample.size}")
    return sample
