import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.agents import ddpg, td3
from rlcheck.registry import make_agent
from tests.agents.test_td3 import PENDULUM, TINY, _one_step


def test_defaults_are_cleanrl_ddpg_continuous_action():
    c = ddpg.default_config(PENDULUM)
    assert (c.n_critics, c.policy_delay, c.target_policy_noise) == (1, 2, 0.0)
    assert (c.actor_learning_rate, c.critic_learning_rate, c.batch_size) == (3e-4, 3e-4, 256)
    assert (c.learning_starts, c.buffer_size, c.gamma, c.tau, c.noise_std) == (
        25_000,
        1_000_000,
        0.99,
        0.005,
        0.1,
    )


def test_config_has_td3s_fields_in_td3s_order_with_only_three_defaults_changed():
    ours, theirs = dataclasses.fields(ddpg.Config), dataclasses.fields(td3.Config)
    assert [f.name for f in ours] == [f.name for f in theirs]
    changed = {f.name for f, g in zip(ours, theirs, strict=True) if f.default != g.default}
    assert changed == {"n_critics", "target_policy_noise"}  # CleanRL's DDPG keeps the delay
    for f, g in zip(ours, theirs, strict=True):
        assert (f.metadata["unit"], f.metadata["traced"]) == (
            g.metadata["unit"],
            g.metadata["traced"],
        )


def test_rl_zoo_rows_are_td3s_without_the_delay():
    for env, row in ddpg.PRESETS["rl-zoo"].items():
        assert row == {**td3.PRESETS["rl-zoo"][env], "policy_delay": 1}
    assert ddpg.PRESETS["cleanrl"] == td3.PRESETS["cleanrl"]


def test_with_td3s_three_settings_ddpg_takes_td3s_steps():
    """DDPG and TD3 are separate modules composing the same pieces; with n_critics = 2,
    target smoothing 0.2 and policy_delay 2 they are the same algorithm, bit for bit."""
    td3_settings = {"n_critics": 2, "target_policy_noise": 0.2, "policy_delay": 2}
    overrides = {**TINY, "exploration_noise": "ou", "normalize_obs": True, "learning_starts": 2}
    runs = {}
    for algo in ("ddpg", "td3"):
        agent = make_agent(algo, PENDULUM, {**overrides, **td3_settings}, 1000)
        state = agent.init(jax.random.PRNGKey(0), agent.hparams())
        act, update = jax.jit(agent.act), jax.jit(agent.update)
        obs = jnp.array([[0.1, 0.2, 0.3]])
        history = []
        for step in range(6):
            state, action, _ = act(state, obs, jax.random.PRNGKey(step))
            state, metrics = update(state, _one_step(obs, action, -1.0), jax.random.PRNGKey(9))
            history.append((np.asarray(action), {k: float(v) for k, v in metrics.items()}))
            obs = obs + 0.1
        runs[algo] = history, jax.tree.leaves(state)
    (ddpg_history, ddpg_leaves), (td3_history, td3_leaves) = runs["ddpg"], runs["td3"]
    for (a, m), (b, n) in zip(ddpg_history, td3_history, strict=True):
        np.testing.assert_array_equal(a, b)
        assert m == n
    assert td3_history[-1][1]["actor_updates"] == 2  # the actor moved: a test of its steps too
    for x, y in zip(ddpg_leaves, td3_leaves, strict=True):
        np.testing.assert_array_equal(x, y)
