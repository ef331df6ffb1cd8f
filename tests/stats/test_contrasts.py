import numpy as np
import pytest

from rlcheck.stats import contrast_intervals


def test_a_difference_of_means_has_the_normal_theory_width():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 1.0, 400), rng.normal(1.0, 1.0, 400)
    estimate = contrast_intervals([a, b], np.array([[-1.0, 1.0]]), reps=4000, seed=0)
    assert estimate.point[0] == pytest.approx(b.mean() - a.mean())
    half = 1.96 * np.sqrt(a.var(ddof=1) / 400 + b.var(ddof=1) / 400)
    assert (estimate.high[0] - estimate.low[0]) / 2 == pytest.approx(half, rel=0.08)


def test_constant_groups_give_a_point_interval_and_every_contrast_its_own():
    groups = [np.full(3, 1.0), np.full(5, 4.0), np.full(2, 10.0)]
    contrasts = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, -1.0]])
    point, low, high = contrast_intervals(groups, contrasts, reps=100)
    assert point == pytest.approx([1.0, -7.5]) and low == pytest.approx(point)
    assert high == pytest.approx(point)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="contrasts must have shape"):
        contrast_intervals([np.ones(2)], np.ones((1, 2)))
    with pytest.raises(ValueError, match="group 0 needs"):
        contrast_intervals([np.array([1.0, np.nan])], np.ones((1, 1)))
