import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import trim_mean

from rlcheck import envs
from rlcheck.agents import td3
from rlcheck.core import Trajectory
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.fused import FusedDriver
from rlcheck.experiment.plan import validate_overrides
from rlcheck.registry import ALGORITHMS, make_agent

PENDULUM = envs.make("Pendulum-v1").spec
TINY = {"hidden_sizes": (8, 8), "batch_size": 4, "learning_starts": 0}


def test_defaults_are_cleanrl_defaults():
    c = td3.default_config(PENDULUM)
    assert (c.actor_learning_rate, c.critic_learning_rate, c.batch_size) == (3e-4, 3e-4, 256)
    assert (c.learning_starts, c.buffer_size, c.hidden_sizes) == (25_000, 1_000_000, (256, 256))
    assert (c.gamma, c.tau, c.policy_delay, c.n_critics) == (0.99, 0.005, 2, 2)
    assert (c.noise_std, c.target_policy_noise, c.target_noise_clip) == (0.1, 0.2, 0.5)
    assert c.bootstrap_on_truncation and c.weight_init == "torch" and c.action_units == "env"


@pytest.mark.parametrize("algo", ["td3", "ddpg", "sac"])
def test_every_field_is_documented_and_every_preset_validates(algo):
    info = ALGORITHMS[algo]
    for field in dataclasses.fields(info.config_cls):
        assert field.metadata.get("help"), field.name
        assert "traced" in field.metadata, field.name
    for source, table in info.presets.items():
        for env, fields in table.items():
            overrides = validate_overrides(algo, fields, f"{source}/{env}")
            make_agent(algo, PENDULUM, overrides, 20_000)


def _one_step(obs, action, reward, terminated=False, truncated=False):
    """A rollout of one step of one env, as the drivers hand it to update."""
    as_array = lambda x: jnp.asarray(x, jnp.float32).reshape(1, 1, -1)  # noqa: E731
    return Trajectory(
        aux={"obs": as_array(obs)},
        action=as_array(action),
        reward=jnp.full((1, 1), reward),
        terminated=jnp.full((1, 1), terminated),
        truncated=jnp.full((1, 1), truncated),
        final_obs=as_array([0.0, 1.0, 0.0]),
        last_obs=as_array([0.0, 1.0, 0.0])[0],
    )


def _critics_returning(agent, state, values):
    """Online critics all zero; target critic i outputs values[i] everywhere."""
    zero = jax.tree.map(jnp.zeros_like, state.learner.critic)
    target = jax.tree.map(jnp.zeros_like, zero)
    last = f"Dense_{len(agent.config.hidden_sizes)}"
    target["params"][last]["bias"] = jnp.asarray(values, jnp.float32).reshape(-1, 1)
    return state.replace(learner=state.learner.replace(critic=zero, critic_target=target))


@pytest.mark.parametrize(
    ("terminated", "truncated", "loss"),
    [
        (False, False, 2 * (1 + 0.9 * -10) ** 2),  # min(10, −10) bootstraps: target −8
        (False, True, 2 * (1 + 0.9 * -10) ** 2),  # a time-limit cut bootstraps too
        (True, False, 2 * 1.0**2),  # terminal: target = r
    ],
)
def test_critic_target_is_the_clipped_double_q(terminated, truncated, loss):
    agent = make_agent("td3", PENDULUM, {**TINY, "gamma": 0.9}, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    state = _critics_returning(agent, state, [10.0, -10.0]).replace(env_steps=jnp.int32(1))
    traj = _one_step([0.1, 0.2, 0.3], [1.0], 1.0, terminated, truncated)
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(1))
    # Both online critics predict 0: loss = Σ_critics mean((0 − target)²).
    assert float(metrics["critic_loss"]) == pytest.approx(loss, rel=1e-5)
    assert float(metrics["q_mean"]) == 0.0


def _run_updates(algo, n, **overrides):
    agent = make_agent(algo, PENDULUM, {**TINY, **overrides}, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams()).replace(env_steps=jnp.int32(10))
    traj = _one_step([0.1, 0.2, 0.3], [1.0], -1.0)
    update = jax.jit(agent.update)
    history = []
    for i in range(n):
        old = state.learner
        state, metrics = update(state, traj, jax.random.PRNGKey(i))
        changed = {
            name: not all(
                np.array_equal(a, b)
                for a, b in zip(
                    jax.tree.leaves(getattr(old, name)),
                    jax.tree.leaves(getattr(state.learner, name)),
                    strict=True,
                )
            )
            for name in ("actor", "actor_target", "critic", "critic_target")
        }
        history.append((changed, {k: float(v) for k, v in metrics.items()}))
    return history


def test_actor_and_targets_move_every_policy_delay_critic_steps():
    history = _run_updates("td3", 6, policy_delay=3)
    for i, (changed, metrics) in enumerate(history, start=1):
        actor_due = i % 3 == 0
        assert changed["critic"]
        assert changed["actor"] == changed["actor_target"] == changed["critic_target"] == actor_due
        assert metrics["critic_updates"] == i and metrics["actor_updates"] == i // 3
    # Between actor steps the logged actor loss is the latest one, not a fake zero.
    assert history[0][1]["actor_loss"] == 0.0  # none yet
    assert history[3][1]["actor_loss"] == history[4][1]["actor_loss"] == history[2][1]["actor_loss"]


def test_several_gradient_steps_per_update():
    ((_changed, metrics),) = _run_updates("td3", 1, gradient_steps=5, policy_delay=2)
    assert metrics["critic_updates"] == 5 and metrics["actor_updates"] == 2


def test_nothing_is_learned_before_learning_starts():
    agent = make_agent("td3", PENDULUM, {**TINY, "learning_starts": 3}, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    obs = jnp.array([[0.1, 0.2, 0.3]])
    act, update = jax.jit(agent.act), jax.jit(agent.update)
    for step in range(4):
        state, action, _ = act(state, obs, jax.random.PRNGKey(step))
        assert float(jnp.abs(action).max()) <= 2.0
        state, metrics = update(state, _one_step(obs, action, -1.0), jax.random.PRNGKey(9))
        # SB3/CleanRL: the first gradient step once more than learning_starts are stored.
        assert metrics["critic_updates"] == max(0, step + 1 - 3)
    assert int(state.buffer.size) == 4


def _train(algo, budget, seeds, overrides, env_id="Pendulum-v1"):
    env = envs.make(env_id)
    agent = make_agent(algo, env.spec, overrides, budget)
    schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, 4, algo)
    plan = EvalPlan(checkpoints=4, episodes=4, final_episodes=8)
    results, _ = FusedDriver(agent, env, schedule, plan).run(seeds)
    return results, agent


# Small and fast, still TD3: what a learning test can afford in CI.
FAST = {
    "hidden_sizes": (64, 64),
    "batch_size": 64,
    "learning_starts": 1000,
    "actor_learning_rate": 1e-3,
    "critic_learning_rate": 1e-3,
    "tau": 0.01,
}


@pytest.mark.slow
def test_td3_learns_pendulum():
    """Uniformly random play scores about −1200 on Pendulum; TD3 swings up within 8k steps."""
    results, agent = _train("td3", 8000, [0, 1, 2, 3], FAST)
    finals = results["final_returns"].mean(axis=1)
    assert trim_mean(finals, 0.25) > -600, finals
    internals = dict(zip(agent.metric_names, results["internals"][0].T, strict=True))
    assert internals["critic_updates"][-1] == 7000 and internals["actor_updates"][-1] == 3500
    assert np.isfinite(results["internals"]).all()
