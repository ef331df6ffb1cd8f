import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import trim_mean

from rlcheck import envs
from rlcheck.agents import reinforce
from rlcheck.agents.reinforce import complete_episode_mask, monte_carlo_returns
from rlcheck.core import Trajectory
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.fused import FusedDriver
from rlcheck.drivers.host import HostDriver
from rlcheck.registry import make_agent


def test_defaults_are_spinning_up_vpg():
    c = reinforce.default_config(envs.make("CartPole-v1").spec)
    assert (c.num_envs, c.num_steps, c.value_iters) == (1, 4000, 80)
    assert (c.learning_rate, c.vf_learning_rate, c.gamma) == (3e-4, 1e-3, 0.99)
    assert c.baseline and c.norm_adv and c.cut_episodes == "skip"


def test_every_config_field_is_documented_and_marked():
    for field in dataclasses.fields(reinforce.Config):
        assert field.metadata.get("help"), field.name
        assert "traced" in field.metadata, field.name


def test_monte_carlo_returns_by_hand():
    # Two envs, γ = 0.5. Env 0: an episode ends at step 1, the next is cut by the rollout's end
    # (tail value 8). Env 1: one episode running throughout (tail value 0).
    rewards = jnp.array([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]])
    ended = jnp.array([[False, False], [True, False], [False, False]])
    returns = monte_carlo_returns(rewards, ended, jnp.array([8.0, 0.0]), 0.5)
    # env 0: G1 = 2, G0 = 1 + 0.5·2 = 2, G2 = 4 + 0.5·8 = 8
    # env 1: G2 = 4, G1 = 2 + 2 = 4, G0 = 1 + 2 = 3
    np.testing.assert_allclose(returns, [[2.0, 3.0], [2.0, 4.0], [8.0, 4.0]])


def test_only_episodes_certain_to_end_are_used():
    # Rollout of 6 steps, time limit 3: episodes starting at step ≤ 3 always end inside it.
    ended = jnp.array(
        [
            [False, True, False],
            [True, False, False],
            [False, False, False],
            [False, False, True],
            [True, True, False],
            [False, False, False],
        ]
    )
    mask = complete_episode_mask(ended, 3)
    # env 0: running episode 0–1, next starts at 2 (≤ 3, used, ends at 4), next starts at 5
    # (skipped). env 1: 0, then 1–4, then starts at 5 (skipped). env 2: 0–3, then starts at 4
    # (skipped even though nothing says whether it would end).
    expected = np.array(
        [
            [1, 1, 1],
            [1, 1, 1],
            [1, 1, 1],
            [1, 1, 1],
            [1, 1, 0],
            [0, 0, 0],
        ],
        bool,
    )
    np.testing.assert_array_equal(mask, expected)


def _agent(**overrides):
    overrides = {"num_envs": 2, "num_steps": 600, "value_iters": 2, **overrides}
    agent = make_agent("reinforce", envs.make("CartPole-v1").spec, overrides, 100_000)
    state = jax.jit(agent.init)(jax.random.PRNGKey(0), agent.hparams())
    return agent, state


def _one_episode_rollout(agent, state):
    """Rewards of 1; each env's first episode ends at step 100, so the next one starts at step
    101, after num_steps − time limit = 600 − 500, and the skip rule drops it."""
    steps, n = agent.rollout_len, agent.num_envs
    obs = jax.random.normal(jax.random.PRNGKey(3), (steps, n, 4))
    _, action, aux = jax.vmap(agent.act, in_axes=(None, 0, 0))(
        state, obs, jax.random.split(jax.random.PRNGKey(4), steps)
    )
    ended = jnp.zeros((steps, n), bool).at[LENGTH - 1].set(True)
    traj = Trajectory(
        aux=aux,
        action=action,
        reward=jnp.ones((steps, n)),
        terminated=ended,
        truncated=jnp.zeros((steps, n), bool),
        final_obs=obs,
        last_obs=obs[-1],
    )
    return traj, obs


LENGTH = 101
# G_t = Σ_{k < LENGTH − t} 0.9^k for t = 0 … 100
RETURNS = (1 - 0.9 ** (LENGTH - np.arange(LENGTH))) / 0.1


def _log_prob(agent, state, traj, obs):
    d = agent.net.dist(state.params["actor"], obs[:LENGTH].reshape(-1, 4))
    return np.asarray(agent.net.log_prob(d, traj.action[:LENGTH].reshape(-1)))


@pytest.mark.parametrize("baseline", [False, True])
def test_the_policy_gradient_weights_are_returns_minus_baseline(baseline):
    """Without normalization the loss is −mean over used steps of log π(a|s)·(G − b(s)), with
    b = V when there is a baseline and 0 otherwise."""
    agent, state = _agent(baseline=baseline, norm_adv=False, gamma=0.9)
    traj, obs = _one_episode_rollout(agent, state)
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(5))
    assert float(metrics["used_fraction"]) == pytest.approx(LENGTH / 600)
    assert float(metrics["mean_return"]) == pytest.approx(RETURNS.mean(), rel=1e-5)
    values = np.asarray(traj.aux["value"][:LENGTH]).reshape(-1) if baseline else 0.0
    weights = np.repeat(RETURNS, 2) - values
    log_prob = _log_prob(agent, state, traj, obs)
    assert float(metrics["policy_loss"]) == pytest.approx(-np.mean(log_prob * weights), rel=1e-4)
    assert ("value_loss" in agent.metric_names) == baseline


def test_normalized_weights_without_baseline_are_centred_returns():
    agent, state = _agent(baseline=False, norm_adv=True, gamma=0.9)
    traj, obs = _one_episode_rollout(agent, state)
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(5))
    returns = np.repeat(RETURNS, 2)
    weights = (returns - returns.mean()) / returns.std()
    log_prob = _log_prob(agent, state, traj, obs)
    assert float(metrics["policy_loss"]) == pytest.approx(-np.mean(log_prob * weights), rel=1e-4)


def test_bootstrap_mode_completes_cut_episodes_with_the_baseline():
    agent, state = _agent(cut_episodes="bootstrap", norm_adv=False, gamma=0.9)
    traj, _ = _one_episode_rollout(agent, state)
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(5))
    assert float(metrics["used_fraction"]) == 1.0
    # The second episode (steps 101…599) is cut: G = Σ_{k<m} 0.9^k + 0.9^m·V(last obs), with
    # m the steps left in the rollout.
    tail = np.asarray(agent.net.value(state.params["critic"], traj.last_obs))
    m = np.arange(1, 600 - LENGTH + 1)
    cut = [(1 - 0.9**m) / 0.1 + 0.9**m * tail[e] for e in range(2)]
    expected = (2 * RETURNS.sum() + cut[0].sum() + cut[1].sum()) / 1200
    assert float(metrics["mean_return"]) == pytest.approx(expected, rel=1e-4)


def test_configurations_that_cannot_work_are_refused():
    spec = envs.make("CartPole-v1").spec
    with pytest.raises(ValueError, match="needs a baseline"):
        make_agent("reinforce", spec, {"baseline": False, "cut_episodes": "bootstrap"}, 10_000)
    with pytest.raises(ValueError, match="shorter than the time limit"):
        make_agent("reinforce", spec, {"num_steps": 400}, 10_000)


def _train(env_id, budget, seeds, **overrides):
    env = envs.make(env_id)
    agent = make_agent("reinforce", env.spec, overrides, budget)
    plan = EvalPlan(checkpoints=4, episodes=4, final_episodes=16)
    schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, 4, "reinforce")
    driver = FusedDriver if env.spec.kind == "jax" else HostDriver
    results, _ = driver(agent, env, schedule, plan).run(seeds)
    return results, agent


def test_host_driver_on_gymnasium_cartpole():
    results, agent = _train(
        "gymnasium:CartPole-v1", 2000, [0, 1], num_envs=2, num_steps=500, value_iters=2
    )
    assert results["internals"].shape == (2, 2, len(agent.metric_names))
    assert np.all(np.isfinite(results["internals"]))
    assert results["params_finite"].all()


@pytest.mark.slow
def test_reinforce_learns_cartpole():
    """Spinning Up's learning rates, shorter rollouts (4 envs × 1000 steps, so a quarter to a
    half of each is skipped) to keep the test short: 4 seeds far above random play (≈ 22)."""
    results, agent = _train("CartPole-v1", 100_000, [0, 1, 2, 3], num_envs=4, num_steps=1000)
    finals = results["final_returns"].mean(axis=1)
    assert trim_mean(finals, 0.25) > 100, finals
    internals = dict(zip(agent.metric_names, results["internals"].transpose(2, 0, 1), strict=True))
    assert np.all((0.5 <= internals["used_fraction"]) & (internals["used_fraction"] <= 1))
