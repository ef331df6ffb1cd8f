"""Performance profiles: the fraction of runs scoring above each threshold, with bootstrap bands."""

from collections.abc import Mapping
from functools import partial

import numpy as np

from rlcheck.stats.aggregates import weighted_task_means
from rlcheck.stats.bootstrap import (
    Estimate,
    bootstrap_replicates,
    check_scores,
    percentile_interval,
)


def tau_grid(scores: Mapping[str, np.ndarray], points: int = 101) -> np.ndarray:
    """Evenly spaced thresholds covering every algorithm's scores, shared by all profiles.

    Args:
      scores: {algorithm: array (runs, tasks)}.
      points: number of thresholds.

    Returns:
      Array (points,) from the lowest to the highest score.
    """
    pooled = np.concatenate([np.ravel(s) for s in scores.values()])
    return np.linspace(pooled.min(), pooled.max(), points)


def performance_profile(
    scores: Mapping[str, np.ndarray],
    taus: np.ndarray,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    per_run: bool = True,
) -> dict[str, Estimate]:
    """Score distributions (performance profiles) with stratified-bootstrap confidence bands.

    Args:
      scores: {algorithm: array (runs, tasks)}.
      taus: thresholds (K,).
      reps: number of bootstrap replicates (rliable's default for profiles).
      confidence: coverage of the pointwise two-sided bands.
      seed: seed of the random generator; each algorithm gets a fresh
        ``np.random.default_rng(seed)``.
      per_run: True for the fraction of all runs × tasks with score > tau (rliable's default,
        less variance); False for the fraction of tasks whose mean score > tau.

    Returns:
      {algorithm: Estimate(point, low, high)}, each an array (K,).

    References:
      Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021, sec. 4.2
      (``rliable.library.create_performance_profile``); Dolan & Moré, "Benchmarking
      optimization software with performance profiles", Math. Programming 2002.
    """
    taus = np.asarray(taus, dtype=float)
    profiles = {}
    for name, raw in scores.items():
        array = check_scores(raw, name)
        pooled = array.ravel() if per_run else np.mean(array, axis=0)
        point = np.mean(pooled[:, None] > taus, axis=0)
        statistic = partial(_weighted_profile, array, taus=taus, per_run=per_run)
        replicates = bootstrap_replicates(
            statistic, [array.shape], reps, np.random.default_rng(seed)
        )
        profiles[name] = Estimate(point, *percentile_interval(replicates, confidence))
    return profiles


def _weighted_profile(
    scores: np.ndarray, weights: np.ndarray, taus: np.ndarray, per_run: bool
) -> np.ndarray:
    if per_run:
        flat = weights.reshape(len(weights), -1)
        above = (scores.ravel()[:, None] > taus).astype(float)
        return (flat @ above) / flat.sum(axis=-1, keepdims=True)
    return np.mean(weighted_task_means(scores, weights)[..., None] > taus, axis=-2)
