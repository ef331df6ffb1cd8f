"""Bootstrap confidence intervals over seeds for the diagnostics' per-seed numbers."""

from __future__ import annotations

import numpy as np

from rlcheck.stats import Estimate, interval_estimates

REPS = 10_000


def over_seeds(values: np.ndarray, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """The mean over seeds (axis 0) of each column and its percentile-bootstrap interval.

    NaN entries (a seed where the number is not defined) are left out of their column; a
    column with no finite value is NaN, one with a single seed has an interval of zero width.

    Args:
        values: (seeds,) or (seeds, …).
        confidence: coverage of the two-sided intervals.
        seed: seed of the resampling.

    Returns:
        An :class:`rlcheck.stats.Estimate` of arrays shaped ``values.shape[1:]`` (floats for a
        1-d input).
    """
    array = np.asarray(values, dtype=float)
    flat = array.reshape(array.shape[0], -1)
    points, lows, highs = (np.full(flat.shape[1], np.nan) for _ in range(3))
    for j in range(flat.shape[1]):
        column = flat[np.isfinite(flat[:, j]), j]
        if column.size == 0:
            continue
        estimate = interval_estimates(
            {"x": column[:, None]}, ("mean",), reps=REPS, confidence=confidence, seed=seed
        )["x"]["mean"]
        points[j], lows[j], highs[j] = estimate.point, estimate.low, estimate.high
    shape = array.shape[1:]
    if not shape:
        return Estimate(float(points[0]), float(lows[0]), float(highs[0]))
    return Estimate(points.reshape(shape), lows.reshape(shape), highs.reshape(shape))
