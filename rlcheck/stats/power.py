"""How many seeds a claim needs: power analysis of Welch's t-test (Colas et al. 2018)."""

import numpy as np
import scipy.stats


def type_two_error(std_a: float, std_b: float, effect: float, seeds: int, alpha: float) -> float:
    """Probability β of missing a true difference ``effect`` with ``seeds`` seeds per algorithm.

    One-sided Welch test at level ``alpha`` with equal sample sizes N:
    β = F_ν(t_{1−α,ν} − ε / sqrt((s1² + s2²) / N)),
    ν = (s1² + s2²)² (N − 1) / (s1⁴ + s2⁴), F_ν the Student-t CDF.

    Args:
      std_a: sample standard deviation of algorithm A's scores.
      std_b: sample standard deviation of algorithm B's scores.
      effect: the difference of means to detect (same units as the scores).
      seeds: N, seeds per algorithm.
      alpha: significance level (type-I error).

    Returns:
      β in [0, 1].

    References:
      Colas, Sigaud & Oudeyer, "How Many Random Seeds? Statistical Power Analysis in Deep
      Reinforcement Learning Experiments", 2018, sec. 4.
    """
    var_sum = std_a**2 + std_b**2
    df = var_sum**2 * (seeds - 1) / (std_a**4 + std_b**4)
    critical = scipy.stats.t.ppf(1 - alpha, df)
    return float(scipy.stats.t.cdf(critical - effect / np.sqrt(var_sum / seeds), df))


def seeds_needed(
    a: np.ndarray,
    b: np.ndarray,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    max_seeds: int = 49,
) -> int | None:
    """Smallest number of seeds per algorithm that detects ``effect`` with the given power.

    The standard deviations are estimated from pilot runs ``a`` and ``b``; the answer is the
    smallest N in 2..max_seeds with β(effect, N) < 1 − power (see ``type_two_error``).

    Args:
      a: pilot final scores of algorithm A.
      b: pilot final scores of algorithm B.
      effect: the difference of means the claim is about, e.g. 0.2 × mean of A.
      alpha: significance level of the one-sided Welch test.
      power: required probability of detecting the effect.
      max_seeds: largest N considered.

    Returns:
      N, or None if even ``max_seeds`` seeds are not enough.

    References:
      Colas, Sigaud & Oudeyer 2018, sec. 4 and their rl-difference-testing example.
    """
    if effect <= 0:
        raise ValueError(f"effect must be positive, got {effect}")
    std_a = float(np.std(np.asarray(a, dtype=float), ddof=1))
    std_b = float(np.std(np.asarray(b, dtype=float), ddof=1))
    for seeds in range(2, max_seeds + 1):
        if type_two_error(std_a, std_b, effect, seeds, alpha) < 1 - power:
            return seeds
    return None
