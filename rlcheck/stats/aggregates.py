"""Aggregates over runs and tasks: mean, median, IQM, optimality gap (rliable's definitions).

Scores follow rliable's layout: an array of shape (runs, tasks), usually normalised so that 0
is a random policy and 1 a reference (human, or a solved task).

Each aggregate also has a *weighted* form, used by the bootstrap: ``weights`` (..., runs, tasks)
are non-negative integers saying how many times each run is counted within its task, and the
weighted aggregate equals the plain aggregate of the sample in which every score is repeated
that many times. Every task must carry the same total weight (a stratified bootstrap resample
has ``runs`` per task, a leave-one-run-out jackknife sample ``runs - 1``). Working on weights
instead of resampled copies is what makes 50,000 bootstrap replicates cost a fraction of a
second: one pre-sort of the scores serves every replicate.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.stats


def mean(scores: np.ndarray) -> float:
    """Mean over tasks of the per-task mean score.

    Args:
      scores: array (runs, tasks).

    Returns:
      The mean score.

    References:
      Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021
      (``rliable.metrics.aggregate_mean``).
    """
    return float(np.mean(np.mean(scores, axis=0)))


def median(scores: np.ndarray) -> float:
    """Median over tasks of the per-task mean score.

    Args:
      scores: array (runs, tasks).

    Returns:
      The median of the task means.

    References:
      Agarwal et al. 2021 (``rliable.metrics.aggregate_median``).
    """
    return float(np.median(np.mean(scores, axis=0)))


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean: the 25% trimmed mean of all runs × tasks scores pooled.

    Args:
      scores: array (runs, tasks).

    Returns:
      The mean of the middle 50% of the pooled scores (``scipy.stats.trim_mean(·, 0.25)``).

    References:
      Agarwal et al. 2021 (``rliable.metrics.aggregate_iqm``).
    """
    return float(scipy.stats.trim_mean(scores, proportiontocut=0.25, axis=None))


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    """How far the pooled scores fall short of ``gamma``, scores above it counting as ``gamma``.

    Args:
      scores: array (runs, tasks).
      gamma: the score regarded as optimal.

    Returns:
      ``gamma - mean(min(scores, gamma))``; lower is better.

    References:
      Agarwal et al. 2021 (``rliable.metrics.aggregate_optimality_gap``).
    """
    return float(gamma - np.mean(np.minimum(scores, gamma)))


def _flat(weights: np.ndarray) -> np.ndarray:
    return weights.reshape(*weights.shape[:-2], -1)


def weighted_mean(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``mean`` of each weighted sample; weights (..., runs, tasks) → (...)."""
    flat = _flat(weights)
    return flat @ scores.ravel() / flat.sum(axis=-1)


def weighted_task_means(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-task mean score of each weighted sample; weights (..., runs, tasks) → (..., tasks)."""
    return np.einsum("...rt,rt->...t", weights, scores) / weights.sum(axis=-2)


def weighted_median(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``median`` of each weighted sample; weights (..., runs, tasks) → (...)."""
    return np.median(weighted_task_means(scores, weights), axis=-1)


def weighted_iqm(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``iqm`` of each weighted sample; weights (..., runs, tasks) → (...).

    All samples must have the same total weight, as bootstrap and jackknife samples do.
    """
    order = np.argsort(scores, axis=None, kind="stable")
    ordered = scores.ravel()[order]
    # Copies of the j-th smallest score occupy ranks [ranks[j-1], ranks[j]) of the weighted
    # sample, and trim_mean keeps ranks [cut, n - cut) with cut = int(0.25 n). Summing by parts,
    # sum_j ordered[j] * |kept ranks of j| needs only clip(ranks, cut, n - cut): three passes
    # over the weights instead of a sort per sample.
    ranks = np.cumsum(np.take(_flat(weights), order, axis=-1), axis=-1)
    n = int(ranks.flat[ranks.shape[-1] - 1])
    cut = n // 4
    steps = np.append(np.diff(ordered), 0.0)
    kept_sum = (n - cut) * ordered[-1] - cut * ordered[0] - np.clip(ranks, cut, n - cut) @ steps
    return kept_sum / (n - 2 * cut)


def weighted_optimality_gap(
    scores: np.ndarray, weights: np.ndarray, gamma: float = 1.0
) -> np.ndarray:
    """``optimality_gap`` of each weighted sample; weights (..., runs, tasks) → (...)."""
    return gamma - weighted_mean(np.minimum(scores, gamma), weights)


class Aggregate(NamedTuple):
    """An aggregate in its two forms: on the scores, and on weighted samples of them."""

    point: Callable[[np.ndarray], float]
    weighted: Callable[[np.ndarray, np.ndarray], np.ndarray]


AGGREGATES: dict[str, Aggregate] = {
    "mean": Aggregate(mean, weighted_mean),
    "median": Aggregate(median, weighted_median),
    "iqm": Aggregate(iqm, weighted_iqm),
    "optimality_gap": Aggregate(optimality_gap, weighted_optimality_gap),
}
