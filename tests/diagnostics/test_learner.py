import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from rlcheck import envs
from rlcheck.agents.common.normalize import RunningMeanStd
from rlcheck.diagnostics.learner import learner_for
from rlcheck.registry import make_agent

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 4)).astype(np.float32)
ACTION = RNG.integers(0, 2, 64)
OLD_LOG_PROB = np.log(RNG.uniform(0.2, 0.8, 64)).astype(np.float32)
ADV = RNG.normal(1.0, 2.0, 64).astype(np.float32)


def _linear_agent(algo: str, **overrides):
    env = envs.make("CartPole-v1")
    agent = make_agent(algo, env.spec, {"hidden_sizes": (), **overrides}, 10_000)
    state = jax.jit(agent.init)(jax.random.PRNGKey(0), agent.hparams())
    learner = learner_for(agent)
    actor = {
        "net": {
            "params": {
                "Dense_0": {
                    "kernel": jnp.asarray(RNG.normal(size=(4, 2)), jnp.float32),
                    "bias": jnp.asarray([0.3, -0.1], jnp.float32),
                }
            }
        }
    }
    return learner, learner.with_actor(state, actor), actor


def _numpy_log_probs(actor):
    dense = actor["net"]["params"]["Dense_0"]
    logits = X.astype(np.float64) @ np.asarray(dense["kernel"]) + np.asarray(dense["bias"])
    log_p = scipy.special.log_softmax(logits, axis=1)
    return log_p[np.arange(64), ACTION], log_p


def _batch():
    return {
        "x": jnp.asarray(X),
        "action": jnp.asarray(ACTION),
        "log_prob": jnp.asarray(OLD_LOG_PROB),
        "advantages": jnp.asarray(ADV),
    }


def test_ppo_surrogate_is_its_clipped_objective_with_the_entropy_bonus():
    learner, state, actor = _linear_agent("ppo")
    got = learner.surrogate(learner.actor(state), state.hparams, _batch())
    log_prob, log_p = _numpy_log_probs(actor)
    ratio = np.exp(log_prob - OLD_LOG_PROB)
    adv = (ADV - ADV.mean()) / (ADV.std() + 1e-8)
    clipped = np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv).mean()
    entropy = -np.sum(np.exp(log_p) * log_p, axis=1).mean()
    assert float(got) == pytest.approx(clipped + 0.01 * entropy, rel=1e-5)
    assert np.any(np.abs(ratio - 1) > 0.2)  # clipping binds somewhere
    no_bonus = learner.surrogate(learner.actor(state), state.hparams, _batch(), entropy=False)
    assert float(no_bonus) == pytest.approx(clipped, rel=1e-5)


def test_trpo_and_a2c_surrogates():
    learner, state, actor = _linear_agent("trpo")
    log_prob, _ = _numpy_log_probs(actor)
    adv = (ADV - ADV.mean()) / (ADV.std() + 1e-8)
    got = learner.surrogate(learner.actor(state), state.hparams, _batch())
    assert float(got) == pytest.approx(np.mean(adv * np.exp(log_prob - OLD_LOG_PROB)), rel=1e-5)
    learner, state, actor = _linear_agent("a2c")  # no normalization, no entropy bonus (0)
    log_prob, _ = _numpy_log_probs(actor)
    got = learner.surrogate(learner.actor(state), state.hparams, _batch())
    assert float(got) == pytest.approx(np.mean(ADV * log_prob), rel=1e-5)


def test_reinforce_surrogate_uses_only_the_samples_its_update_uses():
    learner, state, actor = _linear_agent("reinforce", baseline=False)
    used = (np.arange(64) < 40).astype(np.float32)
    got = learner.surrogate(learner.actor(state), state.hparams, {**_batch(), "used": used})
    log_prob, _ = _numpy_log_probs(actor)
    adv = ADV[:40]
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    # A mean of terms of either sign (normalized advantages): float32 cancels to ≈ 1e-7.
    assert float(got) == pytest.approx(np.mean(adv * log_prob[:40]), abs=1e-6)


def test_ppo_continuous_actor_round_trips_through_its_layout():
    env = envs.make("Pendulum-v1")
    agent = make_agent("ppo", env.spec, {"hidden_sizes": (4,)}, 10_000)
    state = jax.jit(agent.init)(jax.random.PRNGKey(0), agent.hparams())
    learner = learner_for(agent)
    actor = learner.actor(state)
    assert set(actor) == {"net", "log_std"} and actor["net"] is state.params["actor"]
    moved = jax.tree.map(lambda p: p + 1.0, actor)
    state2 = learner.with_actor(state, moved)
    assert float(state2.params["log_std"][0]) == pytest.approx(1.0)
    assert state2.params["critic"] is state.params["critic"]
    np.testing.assert_allclose(learner.actor(state2)["log_std"], moved["log_std"])


def test_frozen_observation_and_reward_statistics():
    env = envs.make("CartPole-v1")
    overrides = {"normalize_obs": True, "normalize_reward": True, "clip_reward": True}
    agent = make_agent("ppo", env.spec, overrides, 10_000)
    state = jax.jit(agent.init)(jax.random.PRNGKey(0), agent.hparams())
    state = state.replace(
        obs_rms=RunningMeanStd(jnp.ones(4), jnp.full(4, 4.0), jnp.asarray(10.0)),
        return_rms=RunningMeanStd(jnp.zeros(()), jnp.asarray(0.25), jnp.asarray(10.0)),
    )
    learner = learner_for(agent)
    x = learner.observe(state, jnp.array([3.0, 1.0, -1.0, 100.0]))
    np.testing.assert_allclose(x, [1.0, 0.0, -1.0, 10.0], rtol=1e-6)  # (o − 1)/2, clipped ±10
    r = learner.rewards(state, jnp.array([1.0, -2.0, 30.0]))
    np.testing.assert_allclose(r, [2.0, -4.0, 10.0], rtol=1e-6)  # r / 0.5, clipped ±10
