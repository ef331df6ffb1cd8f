import numpy as np
import pytest

from rlcheck.agents.common.advantages import gae

REWARDS = np.array([1.0, 1.0, 1.0])
VALUES = np.array([0.5, 0.6, 0.7])
GAMMA, LAM = 0.9, 0.8


def _gae(next_values, terminated, truncated):
    adv, ret = gae(
        REWARDS,
        VALUES,
        np.array(next_values),
        np.array(terminated, bool),
        np.array(truncated, bool),
        GAMMA,
        LAM,
    )
    return np.asarray(adv), np.asarray(ret)


def test_gae_without_episode_ends_matches_hand_computation():
    # δ = [1.04, 1.03, 1.02]; A2 = 1.02, A1 = 1.03 + 0.72·1.02, A0 = 1.04 + 0.72·A1
    adv, ret = _gae([0.6, 0.7, 0.8], [0, 0, 0], [0, 0, 0])
    np.testing.assert_allclose(adv, [2.310368, 1.7644, 1.02], rtol=1e-6)
    np.testing.assert_allclose(ret, adv + VALUES, rtol=1e-6)


def test_termination_zeroes_the_next_value_and_stops_the_recursion():
    # δ1 = 1 + 0 − 0.6 = 0.4; A1 = 0.4; A0 = 1.04 + 0.72·0.4
    adv, _ = _gae([0.6, 0.7, 0.8], [0, 1, 0], [0, 0, 0])
    np.testing.assert_allclose(adv, [1.328, 0.4, 1.02], rtol=1e-6)


def test_truncation_bootstraps_from_the_final_observation_but_stops_the_recursion():
    # next value at t=1 is V(final obs) = 0.9: δ1 = 1 + 0.9·0.9 − 0.6 = 1.21; A0 = 1.04 + 0.72·1.21
    adv, _ = _gae([0.6, 0.9, 0.8], [0, 0, 0], [0, 1, 0])
    np.testing.assert_allclose(adv, [1.9112, 1.21, 1.02], rtol=1e-6)


@pytest.mark.parametrize("num_envs", [1, 3])
def test_envs_are_independent_columns(num_envs):
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(5, num_envs))
    values = rng.normal(size=(5, num_envs))
    next_values = rng.normal(size=(5, num_envs))
    term = rng.random((5, num_envs)) < 0.2
    trunc = (rng.random((5, num_envs)) < 0.2) & ~term
    adv, _ = gae(rewards, values, next_values, term, trunc, GAMMA, LAM)
    for e in range(num_envs):
        col, _ = gae(
            rewards[:, e], values[:, e], next_values[:, e], term[:, e], trunc[:, e], GAMMA, LAM
        )
        np.testing.assert_allclose(np.asarray(adv)[:, e], col, rtol=1e-6)
