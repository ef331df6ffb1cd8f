import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.baselines import mpc
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.registry import make_agent

COUNTDOWN = "tests.baselines.envs:make_countdown"


def test_cem_weights_put_equal_mass_on_the_elites():
    weights = mpc.cem_weights(jnp.array([3.0, -1.0, 7.0, 0.0, 5.0]), 2)
    np.testing.assert_allclose(weights, [0.0, 0.0, 0.5, 0.0, 0.5])


def test_mppi_weights_are_a_softmax_in_units_of_the_return_spread():
    returns = jnp.array([0.0, 1.0, 2.0])
    # std = √(2/3); λ = 0.5 ⇒ weights ∝ exp(R / (0.5·√(2/3))).
    scale = 0.5 * np.sqrt(2 / 3)
    expected = np.exp(np.array([0.0, 1.0, 2.0]) / scale)
    np.testing.assert_allclose(mpc.mppi_weights(returns, 0.5), expected / expected.sum(), rtol=1e-5)
    # Shifting or scaling every return leaves the weights unchanged.
    np.testing.assert_allclose(
        mpc.mppi_weights(10 * returns - 3, 0.5), mpc.mppi_weights(returns, 0.5), rtol=1e-5
    )


def test_refit_of_a_continuous_plan_is_the_weighted_mean_and_std():
    space = mpc.SequenceSpace(envs.make("Pendulum-v1").spec, horizon=2)
    sequences = jnp.array([[[1.0], [2.0]], [[-1.0], [0.0]], [[0.0], [0.0]]])
    plan, std = space.fit(sequences, jnp.array([0.5, 0.5, 0.0]))
    np.testing.assert_allclose(plan, [[0.0], [1.0]])
    # std in half action ranges (Pendulum: 2).
    np.testing.assert_allclose(std, [[0.5], [0.5]])


def test_refit_of_a_discrete_plan_is_the_weighted_action_frequency():
    space = mpc.SequenceSpace(envs.make("CartPole-v1").spec, horizon=2)
    probs, _ = space.fit(jnp.array([[0, 1], [1, 1], [0, 0]]), jnp.array([0.25, 0.25, 0.5]))
    np.testing.assert_allclose(probs, [[0.75, 0.25], [0.5, 0.5]])


def test_planned_returns_stop_at_the_end_of_the_episode():
    env = envs.make(COUNTDOWN)
    _, state = env.reset(jax.random.PRNGKey(0), env.params)
    state = state.replace(time=4)
    sequences = jnp.zeros((2, 5), jnp.int32)
    # 3 steps left: the horizon of 5 collects 3 rewards of 1; discounted: 1 + 0.5 + 0.25.
    returns = mpc.rollout_returns(env, env.params, state, sequences, jax.random.PRNGKey(1), 1.0)
    np.testing.assert_allclose(returns, [3.0, 3.0])
    returns = mpc.rollout_returns(env, env.params, state, sequences, jax.random.PRNGKey(1), 0.5)
    np.testing.assert_allclose(returns, [1.75, 1.75])


@pytest.mark.parametrize(
    ("name", "config", "per_step"),
    [
        ("random_shooting", {"num_candidates": 6, "horizon": 4}, 24),
        ("cem", {"num_candidates": 6, "horizon": 4, "iterations": 2, "num_elites": 2}, 48),
        ("mppi", {"num_candidates": 5, "horizon": 3, "iterations": 2}, 30),
    ],
)
def test_simulator_calls_and_env_steps_are_counted_exactly(name, config, per_step):
    env = envs.make(COUNTDOWN)
    planner = make_agent(name, env.spec, config, 1000)
    assert planner.calls_per_step == per_step
    results, _ = planner.run(
        env, make_schedule(1000, 1, 1, name), EvalPlan(final_episodes=3), [0, 5]
    )
    # Every episode lasts 7 steps; each step plans with per_step model transitions.
    np.testing.assert_array_equal(results["final_returns"], np.full((2, 3), 7.0))
    assert results["simulator_calls"].tolist() == [3 * 7 * per_step] * 2
    assert results["env_steps"].tolist() == [0, 0]
    assert results["eval_returns"].shape == (2, 0, 3)


@pytest.mark.slow
def test_cem_on_pendulum_clearly_beats_random_without_training():
    env = envs.make("Pendulum-v1")
    config = {"num_candidates": 64, "iterations": 3}
    planner = make_agent("cem", env.spec, config, 1000)
    results, _ = planner.run(
        env, make_schedule(1000, 1, 1, "cem"), EvalPlan(final_episodes=4), [0, 1]
    )
    # The random policy scores about −1200 on Pendulum-v1; swing-up and balance: > −400.
    assert results["final_returns"].mean() > -400


def test_planners_record_hidden_performance_where_the_env_reports_it():
    env = envs.make("tests.helpers.envs:make_line", performance=True)
    config = {"num_candidates": 8, "horizon": 3}
    agent = make_agent("random_shooting", env.spec, config, 1)
    schedule = make_schedule(1, 1, 1, "random_shooting")
    results, _ = agent.run(env, schedule, EvalPlan(1, 1, 3), [0, 1])
    np.testing.assert_array_equal(results["final_performance"], -results["final_returns"])
    plain = envs.make("tests.helpers.envs:make_line")
    results, _ = agent.run(plain, schedule, EvalPlan(1, 1, 3), [0, 1])
    assert "final_performance" not in results
