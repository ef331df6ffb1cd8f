"""Performance profiles on a hand-counted example."""

import numpy as np
import pytest

from rlcheck.stats import performance_profile, tau_grid

SCORES = {"a": np.array([[0.0, 1.0], [2.0, 3.0]]), "b": np.array([[5.0], [6.0]])}


def test_fraction_of_runs_strictly_above_each_tau():
    profile = performance_profile(SCORES, taus=[-1.0, 0.0, 1.5, 3.0], reps=200)["a"]
    np.testing.assert_allclose(profile.point, [1.0, 0.75, 0.5, 0.0])


def test_per_task_profile_uses_task_means():
    # Task means are 1 and 2.
    profile = performance_profile(SCORES, taus=[0.5, 1.5, 2.5], per_run=False, reps=200)["a"]
    np.testing.assert_allclose(profile.point, [1.0, 0.5, 0.0])


def test_bands_contain_the_profile_and_pin_the_ends():
    rng = np.random.default_rng(0)
    scores = {"a": rng.normal(size=(10, 8))}
    taus = np.linspace(-4, 4, 9)
    profile = performance_profile(scores, taus, reps=1000)["a"]
    assert np.all(profile.low <= profile.point) and np.all(profile.point <= profile.high)
    # Below every score and above every score there is nothing left to resample.
    assert profile.low[0] == profile.high[0] == 1.0
    assert profile.low[-1] == profile.high[-1] == 0.0


def test_tau_grid_spans_all_algorithms():
    grid = tau_grid(SCORES, points=7)
    assert (grid[0], grid[-1], grid.size) == (0.0, 6.0, 7)
    assert grid[1] == pytest.approx(1.0)
