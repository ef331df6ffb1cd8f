"""Probability of improvement on hand-counted examples."""

import numpy as np
import pytest

from rlcheck.stats import probability_of_improvement, probability_of_improvement_interval


def test_counts_wins_and_half_ties_per_task_then_averages_tasks():
    x = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
    y = np.array([[2.0, 0.0], [2.0, 9.0]])
    # Task 0: 1<2 twice (0), 2=2 twice (0.5 each), 3>2 twice → 3/6. Task 1: each x beats 0 and
    # loses to 9 → 3/6.
    assert probability_of_improvement(x, y) == pytest.approx(0.5)
    assert probability_of_improvement(x[:, :1] + 10, y[:, :1]) == 1.0
    assert probability_of_improvement(y[:, 1:], x[:, 1:]) == pytest.approx(3 / 6)


def test_is_antisymmetric():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4)).round(1), rng.normal(size=(9, 4)).round(1)
    assert probability_of_improvement(x, y) + probability_of_improvement(y, x) == pytest.approx(1)


def test_interval_brackets_the_point_and_excludes_half_for_a_clear_winner():
    rng = np.random.default_rng(1)
    x, y = rng.normal(1.0, 1.0, size=(10, 5)), rng.normal(0.0, 1.0, size=(10, 5))
    estimate = probability_of_improvement_interval(x, y, reps=2000)
    assert estimate.low < estimate.point < estimate.high
    assert estimate.low > 0.5


def test_rejects_different_tasks():
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement(np.ones((3, 2)), np.ones((3, 4)))
