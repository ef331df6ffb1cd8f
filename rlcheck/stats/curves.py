"""Learning curves: aggregate score per checkpoint with bootstrap bands; steps to a threshold."""

from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import numpy as np

from rlcheck.stats.aggregates import AGGREGATES
from rlcheck.stats.bootstrap import (
    Estimate,
    bootstrap_replicates,
    check_scores,
    percentile_interval,
)


def sample_efficiency_curve(
    scores: Mapping[str, np.ndarray],
    metric: str = "iqm",
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """An aggregate score at every checkpoint, with pointwise stratified-bootstrap bands.

    Whole runs are resampled within each task, so a replicate is a set of complete learning
    curves. rliable resamples every checkpoint independently instead; the band at each
    checkpoint has the same distribution either way, but only whole-run resampling gives
    curves that a run could actually have produced.

    Args:
      scores: {algorithm: array (runs, tasks, checkpoints)}.
      metric: a name from ``rlcheck.stats.aggregates.AGGREGATES``.
      reps: number of bootstrap replicates.
      confidence: coverage of the pointwise two-sided bands.
      seed: seed of ``np.random.default_rng``, fresh for each algorithm.

    Returns:
      {algorithm: Estimate(point, low, high)}, each an array (checkpoints,).

    References:
      Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021, fig. 8.
    """
    if metric not in AGGREGATES:
        raise ValueError(f"unknown metric {metric!r}; choose from {sorted(AGGREGATES)}")
    aggregate = AGGREGATES[metric]
    curves = {}
    for name, raw in scores.items():
        array = check_scores(raw, name, ndim=3)
        point = np.array([aggregate.point(array[..., k]) for k in range(array.shape[-1])])
        statistic = partial(_weighted_curve, array, aggregate.weighted)
        rng = np.random.default_rng(seed)
        replicates = bootstrap_replicates(statistic, [array.shape[:2]], reps, rng)
        curves[name] = Estimate(point, *percentile_interval(replicates, confidence))
    return curves


def _weighted_curve(
    scores: np.ndarray, weighted: Callable[..., np.ndarray], weights: np.ndarray
) -> np.ndarray:
    return np.stack([weighted(scores[..., k], weights) for k in range(scores.shape[-1])], -1)


class StepsToThreshold(NamedTuple):
    """First step at which each curve reached the threshold; ``inf`` where it never did."""

    steps: np.ndarray
    reached: np.ndarray


def steps_to_threshold(curves: np.ndarray, steps: np.ndarray, threshold: float) -> StepsToThreshold:
    """The first evaluation step at which each curve is at or above ``threshold``.

    Curves that never get there are right-censored: their step is ``inf`` and ``reached`` is
    False, so a summary must treat them as "more than the budget", not drop them.

    Args:
      curves: array (..., checkpoints), e.g. (seeds, checkpoints).
      steps: environment steps of the checkpoints (checkpoints,), increasing.
      threshold: the score to reach.

    Returns:
      StepsToThreshold(steps, reached), each of shape curves.shape[:-1].
    """
    curves = np.asarray(curves, dtype=float)
    steps = np.asarray(steps, dtype=float)
    if curves.shape[-1:] != steps.shape:
        raise ValueError(
            f"curves end in {curves.shape[-1:]} checkpoints but steps is {steps.shape}"
        )
    hit = curves >= threshold
    reached = hit.any(axis=-1)
    first = steps[np.argmax(hit, axis=-1)]
    return StepsToThreshold(np.where(reached, first, np.inf), reached)
