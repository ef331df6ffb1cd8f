"""Linear contrasts of group means (main effects and interactions of a factorial design) with
percentile bootstrap intervals, each group's runs resampled apart."""

from collections.abc import Sequence

import numpy as np

from rlcheck.stats.bootstrap import Estimate, percentile_interval

# Replicates drawn per chunk, so that many groups × many replicates stay small in memory.
_CHUNK = 4096


def contrast_intervals(
    groups: Sequence[np.ndarray],
    contrasts: np.ndarray,
    reps: int = 50000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Σ_g c_g · mean(group g) for each row c of ``contrasts``, with percentile bootstrap
    intervals in which every group's runs are resampled with replacement, independently of
    the other groups (the groups are treated as independent samples).

    Args:
      groups: one 1-D array of scores per group (e.g. the final returns of one cell's seeds);
        every group needs at least one finite score.
      contrasts: array (contrasts, groups) of weights; a main effect of a two-level factor has
        +1/n_on on the groups where it is on and −1/n_off where it is off.
      reps: bootstrap replicates.
      confidence: coverage of the two-sided intervals.
      seed: seed of ``np.random.default_rng``.

    Returns:
      Estimate(point, low, high), each an array (contrasts,).

    References:
      Box, Hunter & Hunter, "Statistics for Experimenters", 2nd ed. 2005, ch. 5 (effects of
      two-level factorial designs as contrasts of cell means); Efron & Tibshirani, "An
      Introduction to the Bootstrap", 1993 (percentile intervals).
    """
    samples = [np.asarray(g, dtype=float) for g in groups]
    weights = np.asarray(contrasts, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != len(samples):
        raise ValueError(
            f"contrasts must have shape (contrasts, {len(samples)}), got {weights.shape}"
        )
    for i, sample in enumerate(samples):
        if sample.ndim != 1 or not sample.size or not np.all(np.isfinite(sample)):
            raise ValueError(f"group {i} needs a 1-D array of finite scores, got {sample!r}")
    if reps < 1:
        raise ValueError(f"reps must be at least 1, got {reps}")
    point = weights @ np.array([s.mean() for s in samples])
    rng = np.random.default_rng(seed)
    replicates = []
    for start in range(0, reps, _CHUNK):
        size = min(_CHUNK, reps - start)
        means = np.stack(
            [s[rng.integers(0, s.size, size=(size, s.size))].mean(axis=1) for s in samples],
            axis=1,
        )
        replicates.append(means @ weights.T)
    low, high = percentile_interval(np.concatenate(replicates), confidence)
    return Estimate(point, low, high)
