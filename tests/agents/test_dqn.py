import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import trim_mean

from rlcheck import envs
from rlcheck.agents import dqn
from rlcheck.core import Trajectory
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.fused import FusedDriver
from rlcheck.drivers.host import HostDriver
from rlcheck.envs.spec import Discrete, EnvSpec
from rlcheck.registry import ALGORITHMS, make_agent, resolve_preset
from rlcheck.stats import mann_whitney

CARTPOLE = envs.make("CartPole-v1").spec


# ---- configuration ---------------------------------------------------------------------------


def test_defaults_are_cleanrl_dqn_py():
    c = dqn.default_config(CARTPOLE)
    assert (c.num_envs, c.train_frequency, c.gradient_steps, c.batch_size) == (1, 10, 1, 128)
    assert (c.buffer_size, c.learning_starts, c.target_update_interval, c.tau) == (
        10_000,
        10_000,
        500,
        1.0,
    )
    assert (c.learning_rate, c.start_e, c.end_e, c.exploration_fraction) == (2.5e-4, 1, 0.05, 0.5)
    assert c.hidden_sizes == (120, 84) and c.loss == "mse" and c.max_grad_norm is None
    assert not (c.double_q or c.dueling or c.prioritized or c.distributional) and c.n_step == 1


def test_minatar_defaults_are_the_minatar_papers_dqn():
    c = dqn.default_config(envs.make("Breakout-MinAtar").spec)
    assert (c.batch_size, c.buffer_size, c.train_frequency, c.target_update_interval) == (
        32,
        100_000,
        1,
        1_000,
    )
    assert (c.optimizer, c.rmsprop_centered, c.optimizer_eps, c.loss) == (
        "rmsprop",
        True,
        0.01,
        "huber",
    )
    assert c.hidden_sizes == (128,) and c.store_obs_as_uint8


def test_every_config_field_is_documented_and_marked():
    for field in dataclasses.fields(dqn.Config):
        assert field.metadata.get("help"), field.name
        assert "traced" in field.metadata, field.name


def test_presets_resolve_and_build():
    info = ALGORITHMS["dqn"]
    assert info.action_spaces == frozenset({"discrete"})
    zoo = resolve_preset(info.presets, "dqn", "rl-zoo", "gymnax:CartPole-v1", "spec")
    assert (zoo["train_frequency"], zoo["gradient_steps"], zoo["learning_rate"]) == (
        256,
        128,
        2.3e-3,
    )
    # LunarLander needs Box2D, which the test environment may lack; its spec is enough here.
    lunar = EnvSpec("gymnasium:LunarLander-v3", "host", (8,), Discrete(4), 1000)
    for source, table in info.presets.items():
        for env_id, fields in table.items():
            spec = lunar if "Lunar" in env_id else envs.make(env_id).spec
            agent = make_agent("dqn", spec, fields, 100_000)
            assert agent.config.hidden_sizes, (source, env_id)


def test_continuous_actions_are_refused():
    with pytest.raises(ValueError, match="discrete"):
        make_agent("dqn", envs.make("Pendulum-v1").spec, {}, 10_000)


# ---- small pure pieces -------------------------------------------------------------------------


def test_epsilon_schedule():
    eps = dqn.linear_schedule(1.0, 0.05, 1000, jnp.array([0, 500, 1000, 2000]))
    np.testing.assert_allclose(eps, [1.0, 0.525, 0.05, 0.05], rtol=1e-6)
    # In the agent: over exploration_fraction × budget, ε = 1 while acting randomly before
    # learning starts, or over exploration_steps whatever the budget.
    agent = make_agent("dqn", CARTPOLE, {"learning_starts": 300}, 10_000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    at = [float(agent.epsilon(state.replace(env_steps=jnp.int32(s)))) for s in (0, 2500, 6000)]
    np.testing.assert_allclose(at, [1.0, 0.525, 0.05], rtol=1e-6)
    agent = make_agent(
        "dqn",
        CARTPOLE,
        {"learning_starts": 300, "random_until_learning_starts": True, "exploration_steps": 100},
        10_000,
    )
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    at = [float(agent.epsilon(state.replace(env_steps=jnp.int32(s)))) for s in (50, 299, 300)]
    np.testing.assert_allclose(at, [1.0, 1.0, 0.05], rtol=1e-6)


def test_acting_counts_env_steps_and_is_greedy_at_epsilon_zero():
    agent = make_agent("dqn", CARTPOLE, {"num_envs": 3, "start_e": 0.0, "end_e": 0.0}, 10_000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    obs = jax.random.normal(jax.random.PRNGKey(1), (3, 4))
    state, action, aux = agent.act(state, obs, jax.random.PRNGKey(2))
    assert int(state.env_steps) == 3
    greedy = agent.policy_apply(
        agent.policy_params(state), obs, jax.random.PRNGKey(3), deterministic=True
    )
    np.testing.assert_array_equal(action, greedy)
    np.testing.assert_array_equal(aux["obs"], obs)


def test_huber_and_mse():
    td = jnp.array([0.5, 2.0, -3.0])
    np.testing.assert_allclose(dqn.td_loss(td, "mse", 1.0), [0.25, 4.0, 9.0])
    np.testing.assert_allclose(dqn.td_loss(td, "huber", 1.0), [0.125, 1.5, 2.5])
    np.testing.assert_allclose(dqn.td_loss(td, "huber", 2.0), [0.125, 2.0, 4.0])


def test_target_updates_copy_or_average():
    online, target = {"w": jnp.array(1.0)}, {"w": jnp.array(0.0)}
    assert float(dqn.target_update(online, target, 1.0, 0)["w"]) == 0.0
    assert float(dqn.target_update(online, target, 1.0, 3)["w"]) == 1.0
    # Two Polyak steps with τ = 0.1: 0.1, then 0.1 + 0.9·0.1 = 0.19.
    assert float(dqn.target_update(online, target, 0.1, 2)["w"]) == pytest.approx(0.19)


class _TableQ:
    """A Q-table standing in for the network: observation [s] → params["q"][s]."""

    def apply(self, params, obs):
        return params["q"][obs[..., 0].astype(jnp.int32)]


def _table_loss(double_q, loss="mse"):
    agent = make_agent("dqn", CARTPOLE, {"double_q": double_q, "loss": loss}, 10_000)
    agent.network = _TableQ()
    online = {"q": jnp.array([[0.0, 0.0], [1.0, 3.0]])}
    target = {"q": jnp.array([[0.0, 0.0], [5.0, 2.0]])}
    batch = {
        "obs": jnp.zeros((1, 4)),
        "action": jnp.array([0]),
        "returns": jnp.array([1.0]),
        "discount": jnp.array([0.5]),
        "next_obs": jnp.ones((1, 4)),
    }
    loss, aux = agent._loss(online, target, agent.hparams(), batch, jnp.ones(1))
    return float(loss), float(aux["td_error"])


def test_double_dqn_target():
    # Next state: online Q = (1, 3), target Q = (5, 2); Q(s, a) = 0, r = 1, discount 0.5.
    # DQN bootstraps from max target Q = 5: y = 3.5. Double DQN from the target's value of the
    # online argmax (action 1) = 2: y = 2.
    assert _table_loss(double_q=False) == (pytest.approx(12.25), pytest.approx(3.5))
    assert _table_loss(double_q=True) == (pytest.approx(4.0), pytest.approx(2.0))
    assert _table_loss(double_q=True, loss="huber")[0] == pytest.approx(1.5)


def _trajectory(rewards, terminated, num_envs):
    """A rollout (time, env) whose observations and final observations encode (t, env)."""
    rewards = jnp.asarray(rewards, jnp.float32)
    steps = rewards.shape[0]
    tags = jnp.arange(steps)[:, None] * 10.0 + jnp.arange(num_envs)[None]
    obs = jnp.broadcast_to(tags[..., None], (steps, num_envs, 4))
    return Trajectory(
        aux={"obs": obs},
        action=jnp.zeros((steps, num_envs), jnp.int32),
        reward=rewards,
        terminated=jnp.asarray(terminated),
        truncated=jnp.zeros((steps, num_envs), bool),
        final_obs=obs + 0.5,
        last_obs=obs[-1],
    )


def test_n_step_windows_follow_each_env_through_the_buffer():
    agent = make_agent(
        "dqn", CARTPOLE, {"num_envs": 2, "train_frequency": 3, "n_step": 3, "gamma": 0.5}, 10_000
    )
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    # env 0 earns 1, 2, 4; env 1 earns 10, 20 and terminates at t = 1. Slots are time-major:
    # slot = 2t + env.
    traj = _trajectory(
        [[1, 10], [2, 20], [4, 40]], [[False, False], [False, True], [False, False]], 2
    )
    state = agent._store(state, traj)
    batch = agent._n_step_batch(state.replay, jnp.array([0, 1, 2, 4]), state.hparams)
    # (t0, env 0): 1 + .5·2 + .25·4 = 3, bootstrap .125 from t2's final obs.
    # (t0, env 1): 10 + .5·20 = 20, terminated: no bootstrap.
    # (t1, env 0): only t1, t2 collected: 2 + .5·4 = 4, bootstrap .25 from t2.
    # (t2, env 0): 4, bootstrap .5 from t2.
    np.testing.assert_allclose(batch["returns"], [3.0, 20.0, 4.0, 4.0])
    np.testing.assert_allclose(batch["discount"], [0.125, 0.0, 0.25, 0.5])
    np.testing.assert_allclose(batch["next_obs"][:, 0], [20.5, 11.5, 20.5, 20.5])
    np.testing.assert_allclose(batch["obs"][:, 0], [0.0, 1.0, 10.0, 20.0])


def test_target_network_moves_every_target_update_interval_env_steps():
    agent = make_agent(
        "dqn",
        CARTPOLE,
        {"train_frequency": 10, "learning_starts": 0, "target_update_interval": 30},
        10_000,
    )
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    traj = _trajectory(np.ones((10, 1)), np.zeros((10, 1), bool), 1)
    update = jax.jit(agent.update)
    synced = []
    for u in range(6):
        state = state.replace(env_steps=state.env_steps + 10)  # what acting would have counted
        state, metrics = update(state, traj, jax.random.PRNGKey(u))
        same = jax.tree.map(jnp.array_equal, state.params, state.target_params)
        synced.append(all(jax.tree.leaves(same)))
        assert float(metrics["gradient_steps"]) == 1.0
    assert synced == [False, False, True, False, False, True]  # after env steps 30 and 60


def _seed_vmapped_update(agent, shared_counter):
    """``update`` vmapped over 2 seeds as a driver runs it: the fused driver's step counter and
    hparams are one value for all seeds (in_axes None), the host driver's are batched."""
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    axes = jax.tree.map(lambda _: 0, state)
    if shared_counter:
        axes = axes.replace(env_steps=None, hparams=jax.tree.map(lambda _: None, state.hparams))
    update = jax.vmap(agent.update, in_axes=(axes, 0, 0), out_axes=(axes, 0))
    batched = jax.vmap(agent.init, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(1), 2), agent.hparams()
    )
    if shared_counter:
        batched = batched.replace(env_steps=state.env_steps, hparams=state.hparams)
    return update, batched


def test_warm_up_takes_no_gradient_steps_when_the_seeds_share_the_step_counter():
    agent = make_agent(
        "dqn", CARTPOLE, {"train_frequency": 10, "learning_starts": 25, "hidden_sizes": (8,)}, 1000
    )
    traj = jax.tree.map(
        lambda x: jnp.stack([x, x]), _trajectory(np.ones((10, 1)), np.zeros((10, 1), bool), 1)
    )
    keys = jax.random.split(jax.random.PRNGKey(2), 2)
    results = {}
    for shared in (True, False):
        update, state = _seed_vmapped_update(agent, shared)
        program = jax.make_jaxpr(update)(state, traj, keys)
        # A shared counter keeps learning_starts' test a branch (a cond: the warm-up skips the
        # steps); a batched one turns it into a select of both branches' results.
        has_branch = any(eqn.primitive.name == "cond" for eqn in program.eqns)
        assert has_branch == shared
        update = jax.jit(update)
        for _ in range(4):  # env steps 10, 20 (warm-up), 30, 40 (learning)
            state = state.replace(env_steps=state.env_steps + 10)
            state, metrics = update(state, traj, keys)
        assert metrics["gradient_steps"].tolist() == [1.0, 1.0]
        results[shared] = jax.tree.leaves(state.params)
    for a, b in zip(results[True], results[False], strict=True):
        np.testing.assert_array_equal(a, b)  # the same numbers either way


def test_conv_network_for_minatar_matches_the_papers_size():
    spec = envs.make("Breakout-MinAtar").spec
    agent = make_agent("dqn", spec, {}, 100_000)
    params = agent.init(jax.random.PRNGKey(0), agent.hparams()).params
    # 3×3×4×16 + 16 conv, (8·8·16)×128 + 128 hidden, 128×3 + 3 output (Young & Tian 2019).
    assert sum(x.size for x in jax.tree.leaves(params)) == 592 + 131_200 + 387
    q = agent.network.apply(params, jnp.zeros((5, *spec.obs_shape)))
    assert q.shape == (5, 3)


# ---- whole runs ----------------------------------------------------------------------------------


def _fused(env_id, budget, seeds, checkpoints=5, **overrides):
    env = envs.make(env_id)
    agent = make_agent("dqn", env.spec, overrides, budget)
    schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, checkpoints, "dqn")
    plan = EvalPlan(checkpoints=checkpoints, episodes=4, final_episodes=16)
    results, _ = FusedDriver(agent, env, schedule, plan).run(seeds)
    return results, agent


def test_every_switch_at_once_runs_and_logs_its_internals():
    results, agent = _fused(
        "CartPole-v1",
        3_000,
        [0],
        checkpoints=2,
        learning_starts=1_000,
        double_q=True,
        dueling=True,
        n_step=3,
        prioritized=True,
        distributional=True,
        num_atoms=11,
        v_min=-10.0,
        v_max=10.0,
    )
    internals = dict(zip(agent.metric_names, results["internals"][0].T, strict=True))
    learning = internals["gradient_steps"] > 0
    assert learning.sum() == 200  # updates after env step 1000, of 300
    assert np.isfinite(results["internals"]).all() and results["params_finite"].all()
    assert (internals["loss"][learning] > 0).all() and (internals["loss"][~learning] == 0).all()
    assert (internals["is_weight_mean"][learning] <= 1).all()
    assert (internals["priority_max"] >= 1).all()
    assert internals["per_beta"][0] == pytest.approx(0.4 + 0.6 * 10 / 3000)


def test_host_driver_trains_on_gymnasium_cartpole():
    env = envs.make("gymnasium:CartPole-v1")
    agent = make_agent("dqn", env.spec, {"learning_starts": 500, "buffer_size": 2_000}, 2_000)
    schedule = make_schedule(2_000, agent.rollout_len, 2, "dqn")
    plan = EvalPlan(checkpoints=2, episodes=2, final_episodes=4)
    results, _ = HostDriver(agent, env, schedule, plan).run([0, 1])
    internals = dict(zip(agent.metric_names, results["internals"].transpose(2, 0, 1), strict=True))
    assert (internals["gradient_steps"][:, 50:] == 1).all()  # from env step 510 on
    assert (internals["gradient_steps"][:, :50] == 0).all()
    assert np.isfinite(results["internals"]).all() and results["params_finite"].all()
    assert results["final_returns"].shape == (2, 4)
    assert internals["epsilon"][0, -1] == pytest.approx(0.05)


@pytest.mark.slow
def test_dqn_learns_cartpole():
    """CleanRL's defaults, 50k steps: every seed clearly above random play (≈ 22), tested
    with a one-sided Mann–Whitney U against the random policy's seeds."""
    seeds = list(range(4))
    learned, _ = _fused("CartPole-v1", 50_000, seeds)
    env = envs.make("CartPole-v1")
    agent = make_agent("random", env.spec, {}, 50_000)
    schedule = make_schedule(50_000, agent.num_envs * agent.rollout_len, 5, "random")
    random, _ = FusedDriver(agent, env, schedule, EvalPlan(5, 4, 16)).run(seeds)
    a, b = learned["final_returns"].mean(axis=1), random["final_returns"].mean(axis=1)
    _, p = mann_whitney(a, b, alternative="greater")
    assert p < 0.05 and trim_mean(a, 0.25) > 100, (a, b)
