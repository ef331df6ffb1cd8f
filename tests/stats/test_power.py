"""Seeds needed for a claim, against the numbers of Colas et al.'s example data."""

import numpy as np
import pytest
import scipy.stats

from rlcheck.stats import seeds_needed
from rlcheck.stats.power import type_two_error

from .atari100k import DATA_DIR

COLAS = DATA_DIR.parent / "colas"


@pytest.fixture(scope="module")
def pilot():
    if not COLAS.is_dir():
        pytest.skip(f"reference data {COLAS} not found")
    return np.loadtxt(COLAS / "data1"), np.loadtxt(COLAS / "data2")


def test_seeds_needed_reproduces_the_rl_difference_testing_example(pilot):
    data1, data2 = pilot
    base = min(data1.mean(), data2.mean())
    needed = [seeds_needed(data1, data2, k / 10 * base) for k in range(1, 11)]
    assert needed == [None, 34, 16, 10, 7, 5, 4, 4, 3, 3]


def test_type_two_error_by_hand():
    # s1 = 1, s2 = 2, N = 10: nu = 25 * 9 / 17, shift = 2 / sqrt(5 / 10).
    nu = 25 * 9 / 17
    expected = scipy.stats.t.cdf(scipy.stats.t.ppf(0.95, nu) - 2 / np.sqrt(0.5), nu)
    assert type_two_error(1.0, 2.0, effect=2.0, seeds=10, alpha=0.05) == pytest.approx(expected)


def test_more_seeds_for_more_power(pilot):
    data1, data2 = pilot
    effect = 0.3 * data1.mean()
    assert seeds_needed(data1, data2, effect, power=0.95) > seeds_needed(data1, data2, effect)
    assert seeds_needed(data1, data2, effect, max_seeds=5) is None
