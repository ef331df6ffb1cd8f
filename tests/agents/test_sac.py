import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import trim_mean

from rlcheck import envs
from rlcheck.agents import sac
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.host import HostDriver
from rlcheck.registry import make_agent
from tests.agents.test_td3 import PENDULUM, _critics_returning, _one_step, _train

TINY = {"hidden_sizes": (8, 8), "batch_size": 256, "learning_starts": 0}


def test_defaults_are_cleanrl_defaults():
    c = sac.default_config(PENDULUM)
    assert (c.actor_learning_rate, c.critic_learning_rate, c.alpha_learning_rate) == (
        3e-4,
        1e-3,
        1e-3,
    )
    assert (c.learning_starts, c.batch_size, c.gamma, c.tau) == (5000, 256, 0.99, 0.005)
    assert (c.actor_update_interval, c.target_delay, c.n_critics) == (2, 1, 2)
    assert c.autotune and c.alpha_init == 1.0 and c.target_entropy is None
    assert (c.log_std_mode, c.log_std_min, c.log_std_max) == ("tanh", -5.0, 2.0)
    assert (c.alpha_loss, c.action_units, c.squash_epsilon) == ("alpha", "env", 1e-6)


def test_critic_target_includes_the_discounted_entropy_term():
    """r + γ·(min_i Q'_i − α·log π(a'|s')) with a near-deterministic policy of known density.

    Actor weights 0 → mean 0; log-std pinned at log 1e-3, so u = 1e-3·z and
    log π = −z²/2 − log(1e-3) − log(2π)/2 (tanh's correction is ~1e-6 here). With r = 1,
    γ = 0.9, α = 0.5, target critics 10 and −10: target = −8 − 0.45·log π, and the loss
    2·E[target²] = 2·(10.695² − 2·10.695·0.225 + 3·0.225²) = 219.45.
    """
    overrides = {
        **TINY,
        "gamma": 0.9,
        "autotune": False,
        "alpha": 0.5,
        "action_units": "unit",
        "log_std_mode": "clip",
        "log_std_min": math.log(1e-3),
        "log_std_max": math.log(1e-3),
    }
    agent = make_agent("sac", PENDULUM, overrides, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    state = _critics_returning(agent, state, [10.0, -10.0]).replace(env_steps=jnp.int32(1))
    actor = jax.tree.map(jnp.zeros_like, state.learner.actor)
    state = state.replace(learner=state.learner.replace(actor=actor))
    _, metrics = jax.jit(agent.update)(
        state, _one_step([0.1, 0.2, 0.3], [1.0], 1.0), jax.random.PRNGKey(3)
    )
    # 256 samples: the estimate's standard error is about 0.85.
    assert float(metrics["critic_loss"]) == pytest.approx(219.45, abs=3.0)


@pytest.mark.parametrize("form", ["alpha", "log_alpha"])
def test_alpha_rises_when_entropy_is_below_target_and_falls_above(form):
    grad = jax.grad(sac.alpha_loss)
    # Entropy −E[log π] = −1 below a target of 0: ∂loss/∂log α < 0, so descent raises α.
    assert float(grad(0.3, jnp.array([1.0, 1.0]), 0.0, form)) < 0
    assert float(grad(0.3, jnp.array([-2.0, -2.0]), 0.0, form)) > 0
    # The 'alpha' form is the 'log_alpha' one scaled by α = e^0.3.
    assert float(sac.alpha_loss(0.3, jnp.array([1.0]), 0.0, form)) == pytest.approx(
        -(math.exp(0.3) if form == "alpha" else 0.3)
    )


@pytest.mark.parametrize(("target_entropy", "direction"), [(5.0, 1), (-5.0, -1)])
def test_autotuned_alpha_moves_toward_the_target_entropy(target_entropy, direction):
    overrides = {**TINY, "target_entropy": target_entropy, "actor_update_interval": 1}
    agent = make_agent("sac", PENDULUM, overrides, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams()).replace(env_steps=jnp.int32(1))
    state, metrics = jax.jit(agent.update)(
        state, _one_step([0.1, 0.2, 0.3], [1.0], -1.0), jax.random.PRNGKey(1)
    )
    # One Adam step moves log α by about the learning rate (1e-3), in the right direction.
    assert float(state.learner.log_alpha) == pytest.approx(direction * 1e-3, rel=0.05)
    assert float(metrics["alpha"]) == 1.0  # α used in that step: alpha_init


@pytest.mark.parametrize("order", ["critic_first", "actor_first"])
def test_delayed_policy_updates_are_compensated(order):
    """CleanRL: every 2nd gradient step, 2 actor steps; the counts match after even steps."""
    overrides = {**TINY, "gradient_steps": 3, "update_order": order}
    agent = make_agent("sac", PENDULUM, overrides, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams()).replace(env_steps=jnp.int32(1))
    traj = _one_step([0.1, 0.2, 0.3], [1.0], -1.0)
    update = jax.jit(agent.update)
    state, metrics = update(state, traj, jax.random.PRNGKey(1))
    assert (metrics["critic_updates"], metrics["actor_updates"]) == (3, 2)
    state, metrics = update(state, traj, jax.random.PRNGKey(2))
    assert (metrics["critic_updates"], metrics["actor_updates"]) == (6, 6)


@functools.cache  # the test below asks for some of these twice; each is a fresh compile
def _after_one_step(order, **learning_rates):
    """The learner after one gradient step of a tiny SAC in ``order`` with these step sizes."""
    overrides = {**TINY, "actor_update_interval": 1, "update_order": order, **learning_rates}
    agent = make_agent("sac", PENDULUM, overrides, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams()).replace(env_steps=jnp.int32(1))
    state, _ = jax.jit(agent.update)(
        state, _one_step([0.1, 0.2, 0.3], [1.0], -1.0), jax.random.PRNGKey(1)
    )
    return state.learner


def _same(a, b):
    return all(jax.tree.leaves(jax.tree.map(lambda x, y: bool(jnp.array_equal(x, y)), a, b)))


def test_actor_first_steps_the_actor_on_the_old_critic_and_the_critic_on_the_new_actor():
    """rejax's order: actor (on the critic before this step), then the critic (its target
    sampling the stepped actor, with α from before α's step). CleanRL's is the reverse."""
    frozen_critic = {"critic_learning_rate": 0.0}
    frozen_actor = {"actor_learning_rate": 0.0, "alpha_learning_rate": 0.0}
    # actor_first: the actor's step does not see this step's critic update …
    assert _same(
        _after_one_step("actor_first").actor,
        _after_one_step("critic_first", **frozen_critic).actor,
    )
    # … which critic_first's actor does.
    assert not _same(
        _after_one_step("critic_first").actor,
        _after_one_step("critic_first", **frozen_critic).actor,
    )
    # actor_first: the critic's target depends on the actor's step, but not on α's step.
    assert not _same(
        _after_one_step("actor_first").critic, _after_one_step("actor_first", **frozen_actor).critic
    )
    assert _same(
        _after_one_step("actor_first", alpha_learning_rate=0.0).critic,
        _after_one_step("actor_first", alpha_learning_rate=0.5).critic,
    )
    # critic_first: the critic steps before the actor moves.
    assert _same(
        _after_one_step("critic_first").critic,
        _after_one_step("critic_first", **frozen_actor).critic,
    )


def test_env_units_shift_log_pi_by_the_log_half_range():
    """Pendulum's box is ±2: CleanRL's log π is SB3's minus log 2, entropy plus log 2."""
    obs = jnp.ones((1000, 3))
    entropies = {}
    for units in ("env", "unit"):
        agent = make_agent("sac", PENDULUM, {**TINY, "action_units": units}, 1000)
        state = agent.init(jax.random.PRNGKey(0), agent.hparams())
        _, log_prob = agent._sample(state.learner.actor, obs, jax.random.PRNGKey(1), state.hparams)
        entropies[units] = -float(jnp.mean(log_prob))
    assert entropies["env"] - entropies["unit"] == pytest.approx(math.log(2), abs=1e-5)


def test_gsde_noise_is_a_function_of_the_state_within_a_rollout():
    overrides = {**TINY, "use_sde": True, "num_envs": 4000, "sde_log_std_init": -2.0}
    agent = make_agent("sac", PENDULUM, overrides, 8000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams()).replace(env_steps=jnp.int32(1))
    obs = jnp.tile(jnp.array([[0.5, -0.2, 1.0]]), (4000, 1))
    act = jax.jit(agent.act)
    _, first, _ = act(state, obs, jax.random.PRNGKey(1))
    _, again, _ = act(state, obs, jax.random.PRNGKey(2))
    np.testing.assert_array_equal(first, again)  # each env's matrix is fixed: same s, same a
    # Across envs (independent matrices) the pre-tanh noise is N(0, Σ_f φ_f²·σ²), σ = e^−2.
    features, _ = agent.actor.apply(state.learner.actor["net"], obs[:1])
    expected = math.sqrt(float(jnp.sum(features**2))) * math.exp(-2.0)
    u = jnp.arctanh(first[:, 0] / 2)
    assert float(jnp.std(u)) == pytest.approx(expected, rel=0.05)
    state, _ = jax.jit(agent.update)(
        state, _one_step(obs[0], first[0], -1.0), jax.random.PRNGKey(3)
    )
    _, redrawn, _ = act(state, obs, jax.random.PRNGKey(1))
    assert not np.allclose(first, redrawn)  # the next rollout draws new matrices


FAST = {
    "hidden_sizes": (64, 64),
    "batch_size": 64,
    "learning_starts": 500,
    "actor_learning_rate": 1e-3,
    "critic_learning_rate": 1e-3,
    "alpha_learning_rate": 1e-3,
    "actor_update_interval": 1,
}


@pytest.mark.slow
def test_sac_learns_pendulum():
    """Uniformly random play scores about −1200 on Pendulum; SAC swings up within 6k steps."""
    results, agent = _train("sac", 6000, [0, 1, 2, 3], FAST)
    finals = results["final_returns"].mean(axis=1)
    assert trim_mean(finals, 0.25) > -600, finals
    internals = dict(zip(agent.metric_names, results["internals"][0].T, strict=True))
    assert internals["critic_updates"][-1] == 5500
    assert np.isfinite(results["internals"]).all()


def test_host_driver_trains_gymnasium_pendulum():
    env = envs.make("gymnasium:Pendulum-v1")
    overrides = {**FAST, "hidden_sizes": (16, 16), "learning_starts": 100}
    agent = make_agent("sac", env.spec, overrides, 400)
    schedule = make_schedule(400, 1, 2, "sac")
    plan = EvalPlan(checkpoints=2, episodes=2, final_episodes=2)
    results, _ = HostDriver(agent, env, schedule, plan).run([0, 1])
    internals = dict(zip(agent.metric_names, results["internals"].transpose(2, 0, 1), strict=True))
    np.testing.assert_array_equal(internals["critic_updates"][:, -1], [300, 300])
    np.testing.assert_array_equal(internals["critic_updates"][:, 99], [0, 0])
    assert results["params_finite"].all() and np.isfinite(results["internals"]).all()
    assert results["final_returns"].shape == (2, 2)
    assert (results["final_returns"] < 0).all()  # Pendulum's rewards are never positive
