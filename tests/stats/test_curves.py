"""Sample-efficiency curves and steps to threshold."""

import numpy as np
import pytest

from rlcheck.stats import interval_estimates, sample_efficiency_curve, steps_to_threshold
from rlcheck.stats.aggregates import iqm


def test_curve_is_the_metric_at_each_checkpoint_with_the_final_interval():
    rng = np.random.default_rng(0)
    curves = rng.normal(size=(6, 4, 3)).cumsum(axis=-1)
    curve = sample_efficiency_curve({"a": curves}, reps=500, seed=3)["a"]
    np.testing.assert_allclose(curve.point, [iqm(curves[..., k]) for k in range(3)])
    # Whole runs are resampled with the same stream as interval_estimates, so the last
    # checkpoint's band is exactly the final-score interval.
    final = interval_estimates({"a": curves[..., -1]}, ["iqm"], reps=500, seed=3)["a"]["iqm"]
    assert (curve.low[-1], curve.high[-1]) == (final.low, final.high)


def test_curve_rejects_final_scores():
    with pytest.raises(ValueError, match="checkpoints"):
        sample_efficiency_curve({"a": np.ones((3, 2))})


def test_steps_to_threshold_is_the_first_checkpoint_at_or_above_it():
    curves = np.array([[0.0, 5.0, 10.0, 4.0], [0.0, 1.0, 2.0, 3.0], [7.0, 8.0, 9.0, 9.0]])
    steps = np.array([0, 1000, 2000, 3000])
    result = steps_to_threshold(curves, steps, threshold=5.0)
    np.testing.assert_array_equal(result.steps, [1000, np.inf, 0])
    np.testing.assert_array_equal(result.reached, [True, False, True])


def test_steps_to_threshold_checks_the_grid():
    with pytest.raises(ValueError, match="checkpoints"):
        steps_to_threshold(np.ones((2, 3)), np.arange(4), 1.0)
