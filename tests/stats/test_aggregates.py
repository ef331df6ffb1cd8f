"""Aggregates on hand-computed examples, and their weighted forms against explicit resamples."""

import numpy as np
import pytest

from rlcheck.stats.aggregates import (
    AGGREGATES,
    iqm,
    mean,
    median,
    optimality_gap,
    weighted_iqm,
    weighted_task_means,
)

# 4 runs × 2 tasks; task means 2.5 and 25.
SCORES = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])


def test_mean_and_median_use_task_means():
    assert mean(SCORES) == pytest.approx(13.75)
    # The median of two task means is their average.
    assert median(SCORES) == pytest.approx(13.75)
    assert median(np.array([[0.0, 1.0, 5.0], [2.0, 3.0, 7.0]])) == pytest.approx(2.0)


def test_iqm_drops_the_lowest_and_highest_quarter_of_all_scores():
    # Pooled sorted: 1 2 3 4 10 20 30 40; trim 2 from each end → mean(3, 4, 10, 20).
    assert iqm(SCORES) == pytest.approx(9.25)


def test_optimality_gap_clips_at_gamma():
    scores = np.array([[0.5, 2.0], [0.0, 1.0]])
    # min(scores, 1) = 0.5, 1, 0, 1 → mean 0.625.
    assert optimality_gap(scores) == pytest.approx(0.375)
    assert optimality_gap(scores, gamma=2.0) == pytest.approx(2.0 - 3.5 / 4)


@pytest.mark.parametrize("name", sorted(AGGREGATES))
def test_weighted_forms_equal_the_aggregate_of_the_repeated_sample(name):
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(7, 5)).round(1)  # rounding creates ties
    aggregate = AGGREGATES[name]
    for _ in range(20):
        draws = rng.integers(0, 7, size=(7, 5))
        weights = np.stack([np.bincount(draws[:, t], minlength=7) for t in range(5)], axis=1)
        resample = scores[draws, np.arange(5)]
        got = aggregate.weighted(scores, weights[None])[0]
        assert got == pytest.approx(aggregate.point(resample), abs=1e-12)


def test_weighted_iqm_of_unit_weights_is_the_iqm():
    scores = np.random.default_rng(0).exponential(size=(10, 26))
    weights = np.ones((3, 10, 26), dtype=np.int64)
    np.testing.assert_allclose(weighted_iqm(scores, weights), iqm(scores), rtol=1e-13)


def test_weighted_task_means_ignore_zero_weight_runs():
    weights = np.array([[[0, 1], [2, 1], [2, 1], [0, 1]]])
    np.testing.assert_allclose(weighted_task_means(SCORES, weights), [[2.5, 25.0]])
