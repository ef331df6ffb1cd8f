import gymnasium as gym
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.baselines import host_model
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.errors import UserError
from rlcheck.registry import make_agent
from tests.baselines.envs import make_stateless


@pytest.mark.parametrize(("env_id", "action"), [("CartPole-v1", 1), ("Pendulum-v1", [0.7])])
def test_save_and_restore_round_trip(env_id, action):
    env = gym.make(env_id)
    env.reset(seed=3)
    for _ in range(3):
        env.step(action)
    saved = host_model.save_state(env)
    first = [env.step(action)[:2] for _ in range(4)]
    host_model.restore_state(env, saved)
    again = [env.step(action)[:2] for _ in range(4)]
    for (obs_a, r_a), (obs_b, r_b) in zip(first, again, strict=True):
        np.testing.assert_array_equal(obs_a, obs_b)
        assert r_a == r_b


def test_model_returns_replay_from_the_real_state():
    real = gym.make("CartPole-v1")
    real.reset(seed=0)
    model = host_model.HostModel(gym.make("CartPole-v1"), "CartPole-v1")
    model.copy_state_from(real)
    sequences = np.array([[0] * 30, [1] * 30])
    returns = model.returns(sequences, 1.0)
    # Pushing one way tips the pole over within 30 steps; the same from the same state.
    assert 0 < returns[0] < 30 and 0 < returns[1] < 30
    np.testing.assert_array_equal(model.returns(sequences, 1.0), returns)
    # Playing the first sequence on the real env gives the same return.
    total = 0.0
    for a in sequences[0]:
        _, r, terminated, _, _ = real.step(int(a))
        total += r
        if terminated:
            break
    assert total == returns[0]


def test_an_env_without_reachable_state_is_a_clear_error():
    assert not host_model.supports(make_stateless())
    with pytest.raises(UserError, match="does not let rlcheck save and restore its state"):
        host_model.HostModel(make_stateless(), "tests.baselines.envs:make_stateless")


def test_cem_plans_on_a_gymnasium_env():
    env = envs.make("gymnasium:CartPole-v1")
    config = {"num_candidates": 8, "horizon": 10, "iterations": 1, "num_elites": 2}
    planner = make_agent("cem", env.spec, config, 1000)
    results, _ = planner.run(env, make_schedule(1000, 1, 1, "cem"), EvalPlan(final_episodes=1), [0])
    steps = int(results["final_returns"][0, 0])  # CartPole: reward 1 per step
    assert steps > 30
    assert results["simulator_calls"].tolist() == [steps * 8 * 10]
