"""Probability of improvement P(X > Y) between two algorithms, averaged over tasks."""

from functools import partial

import numpy as np

from rlcheck.stats.bootstrap import (
    Estimate,
    bootstrap_replicates,
    check_scores,
    percentile_interval,
)


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y): the chance that a run of X beats a run of Y on the same task, ties counting ½.

    Per task this is the Mann–Whitney U statistic of X against Y divided by n·m; the result
    is its mean over tasks.

    Args:
      scores_x: array (runs_x, tasks).
      scores_y: array (runs_y, tasks), same tasks in the same order.

    Returns:
      A probability in [0, 1]; 0.5 means neither algorithm tends to beat the other.

    References:
      Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021, sec. 4.3
      (``rliable.metrics.probability_of_improvement``).
    """
    x, y = _check_pair(scores_x, scores_y)
    beats = (x[:, None, :] > y[None, :, :]) + 0.5 * (x[:, None, :] == y[None, :, :])
    return float(np.mean(np.mean(beats, axis=(0, 1))))


def probability_of_improvement_interval(
    scores_x: np.ndarray,
    scores_y: np.ndarray,
    reps: int = 50000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """P(X > Y) with a stratified-bootstrap confidence interval.

    X and Y are resampled independently, each within every task (rliable's
    ``StratifiedIndependentBootstrap``).

    Args:
      scores_x: array (runs_x, tasks).
      scores_y: array (runs_y, tasks).
      reps: number of bootstrap replicates.
      confidence: coverage of the two-sided percentile interval.
      seed: seed of ``np.random.default_rng``.

    Returns:
      Estimate(point, low, high).

    References:
      Agarwal et al. 2021, sec. 4.3.
    """
    x, y = _check_pair(scores_x, scores_y)
    statistic = partial(_weighted_probability_of_improvement, x, y)
    rng = np.random.default_rng(seed)
    replicates = bootstrap_replicates(statistic, [x.shape, y.shape], reps, rng)
    low, high = percentile_interval(replicates, confidence)
    return Estimate(probability_of_improvement(x, y), float(low), float(high))


def _weighted_probability_of_improvement(
    x: np.ndarray, y: np.ndarray, weights_x: np.ndarray, weights_y: np.ndarray
) -> np.ndarray:
    # With Y sorted within each task and its weights summed cumulatively, the weight of the
    # Y runs that x_i beats is a lookup, so a replicate costs O(n + m) per task, not O(n·m).
    order = np.argsort(y, axis=0, kind="stable")
    lower = np.sum(y[None, :, :] < x[:, None, :], axis=1)
    lower_or_tied = np.sum(y[None, :, :] <= x[:, None, :], axis=1)
    sorted_weights = np.take_along_axis(weights_y, order[None], axis=1)
    cumulative = np.concatenate(
        [np.zeros_like(weights_y[:, :1]), np.cumsum(sorted_weights, axis=1)], axis=1
    )
    beaten = 0.5 * (
        np.take_along_axis(cumulative, lower[None], axis=1)
        + np.take_along_axis(cumulative, lower_or_tied[None], axis=1)
    )
    per_task = np.sum(weights_x * beaten, axis=1) / (weights_x.sum(axis=1) * weights_y.sum(axis=1))
    return per_task.mean(axis=-1)


def _check_pair(scores_x: np.ndarray, scores_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = check_scores(scores_x, "X"), check_scores(scores_y, "Y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y must cover the same tasks, got {x.shape[1]} and {y.shape[1]}")
    return x, y
