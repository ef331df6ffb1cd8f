"""Failure rates: the fraction of seeds whose final score misses a threshold, with Wilson CIs."""

from typing import NamedTuple

import numpy as np
import scipy.stats


class FailureRate(NamedTuple):
    """How many seeds failed, out of how many, and by which criterion."""

    rate: float
    low: float
    high: float
    failures: int
    seeds: int
    threshold: float
    criterion: str


def wilson_interval(failures: int, seeds: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not collapse to a point
    when no seed, or every seed, failed — the usual case with 16–32 seeds.

    Args:
      failures: number of failed seeds.
      seeds: number of seeds.
      confidence: coverage of the two-sided interval.

    Returns:
      (low, high).

    References:
      Wilson, "Probable inference, the law of succession, and statistical inference",
      JASA 1927; Brown, Cai & DasGupta, "Interval Estimation for a Binomial Proportion",
      Statistical Science 2001.
    """
    if seeds < 1 or not 0 <= failures <= seeds:
        raise ValueError(f"need 0 <= failures <= seeds and seeds >= 1, got {failures}/{seeds}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    z2 = scipy.stats.norm.ppf(0.5 + confidence / 2) ** 2
    p = failures / seeds
    scale = 1 + z2 / seeds
    center = (p + z2 / (2 * seeds)) / scale
    half = np.sqrt(z2 * (p * (1 - p) / seeds + z2 / (4 * seeds**2))) / scale
    return max(0.0, float(center - half)), min(1.0, float(center + half))


def failure_rate(
    final_scores: np.ndarray,
    threshold: float,
    *,
    inclusive: bool = False,
    confidence: float = 0.95,
    criterion: str | None = None,
) -> FailureRate:
    """Fraction of seeds whose final score is below ``threshold``, with a Wilson interval.

    A NaN final score (a diverged or crashed seed) counts as a failure.

    Args:
      final_scores: one final score per seed (seeds,).
      threshold: the score a seed must beat.
      inclusive: if True a score equal to ``threshold`` also fails.
      confidence: coverage of the Wilson interval.
      criterion: words for the report; defaults to the comparison made.

    Returns:
      FailureRate(rate, low, high, failures, seeds, threshold, criterion).
    """
    final = np.ravel(np.asarray(final_scores, dtype=float))
    below = final <= threshold if inclusive else final < threshold
    failures = int(np.sum(below | np.isnan(final)))
    low, high = wilson_interval(failures, final.size, confidence)
    if criterion is None:
        criterion = f"final score {'<=' if inclusive else '<'} {threshold:g}"
    return FailureRate(failures / final.size, low, high, failures, final.size, threshold, criterion)


def unsolved_rate(
    final_scores: np.ndarray, solve_threshold: float, confidence: float = 0.95
) -> FailureRate:
    """Fraction of seeds that end below a known solve threshold (reaching it counts as solved).

    Args:
      final_scores: one final score per seed (seeds,).
      solve_threshold: e.g. Gymnasium's ``reward_threshold`` (475 for CartPole-v1).
      confidence: coverage of the Wilson interval.

    Returns:
      FailureRate with criterion "final score < T (solve threshold)".
    """
    return failure_rate(
        final_scores,
        solve_threshold,
        confidence=confidence,
        criterion=f"final score < {solve_threshold:g} (solve threshold)",
    )


def random_upper_bound(random_scores: np.ndarray, confidence: float = 0.95) -> float:
    """Upper end of the two-sided Student-t confidence interval of the random policy's mean.

    ``mean + t_{(1+confidence)/2, n-1} · s / sqrt(n)`` over the random policy's episode
    returns (s: sample standard deviation). It bounds what the random *mean* plausibly is,
    which is what a trained policy's mean evaluation return should be compared with.

    Args:
      random_scores: returns of a uniformly random policy, at least two episodes.
      confidence: coverage of the two-sided t interval.

    Returns:
      The upper bound.
    """
    scores = np.ravel(np.asarray(random_scores, dtype=float))
    if scores.size < 2:
        raise ValueError("random_upper_bound needs the returns of at least 2 random episodes")
    t = scipy.stats.t.ppf(0.5 + confidence / 2, df=scores.size - 1)
    return float(scores.mean() + t * scores.std(ddof=1) / np.sqrt(scores.size))


def no_better_than_random_rate(
    final_scores: np.ndarray,
    random_scores: np.ndarray,
    confidence: float = 0.95,
    random_confidence: float = 0.95,
) -> FailureRate:
    """Fraction of seeds whose final score is not above the random baseline's upper bound.

    A seed fails when its final score is <= ``random_upper_bound(random_scores,
    random_confidence)``, i.e. when it cannot be told apart from, or is worse than, a random
    policy.

    Args:
      final_scores: one final score per seed (seeds,).
      random_scores: episode returns of the random policy.
      confidence: coverage of the Wilson interval on the failure rate.
      random_confidence: coverage of the t interval of the random policy's mean.

    Returns:
      FailureRate whose criterion names the bound and how it was computed.
    """
    bound = random_upper_bound(random_scores, random_confidence)
    episodes = np.size(random_scores)
    criterion = (
        f"final score <= {bound:.6g}, the upper end of the {random_confidence:.0%} t interval "
        f"of the random policy's mean return ({episodes} episodes)"
    )
    return failure_rate(
        final_scores, bound, inclusive=True, confidence=confidence, criterion=criterion
    )
