import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs
from rlcheck.baselines import mcts
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.registry import make_agent

COUNTDOWN = "tests.baselines.envs:make_countdown"


def test_recurrent_fn_has_discount_zero_once_the_episode_ends():
    env = envs.make(COUNTDOWN)
    _, state = env.reset(jax.random.PRNGKey(0), env.params)
    states = jax.tree.map(lambda x: jnp.stack([x, x]), state)
    states = states.replace(time=jnp.array([5, 6]))
    recurrent_fn = mcts.make_recurrent_fn(env, env.params, depth=3)
    params = {"gamma": jnp.asarray(0.9), "pb_c_init": jnp.asarray(1.25)}
    out, next_states = recurrent_fn(params, jax.random.PRNGKey(1), jnp.array([0, 1]), states)
    # time 5 → 6: the episode goes on; time 6 → 7 = length: it has ended.
    np.testing.assert_allclose(out.discount, [0.9, 0.0])
    np.testing.assert_allclose(out.reward, [1.0, 1.0])
    np.testing.assert_array_equal(next_states.time, [6, 7])
    # The leaf at time 6 is valued by a rollout that ends after 1 more step: value 1.
    assert float(out.value[0]) == 1.0
    assert out.prior_logits.shape == (2, 2)


def test_rollout_values_are_discounted_and_stop_at_the_end():
    env = envs.make(COUNTDOWN)
    _, state = env.reset(jax.random.PRNGKey(0), env.params)
    states = jax.tree.map(lambda x: jnp.stack([x, x]), state).replace(time=jnp.array([0, 5]))
    values = mcts.rollout_values(
        env, env.params, states, jax.random.PRNGKey(0), 4, jnp.asarray(0.5)
    )
    np.testing.assert_allclose(values, [1 + 0.5 + 0.25 + 0.125, 1 + 0.5])


def test_mcts_counts_its_simulator_calls():
    env = envs.make(COUNTDOWN)
    config = {"num_simulations": 4, "rollout_depth": 2}
    planner = make_agent("mcts", env.spec, config, 1000)
    # 4 simulations × (1 expansion + 2 rollout steps) + 2 for the root's rollout.
    assert planner.calls_per_step == 14
    results, _ = planner.run(
        env, make_schedule(1000, 1, 1, "mcts"), EvalPlan(final_episodes=2), [3]
    )
    np.testing.assert_array_equal(results["final_returns"], [[7.0, 7.0]])
    assert results["simulator_calls"].tolist() == [2 * 7 * 14]


def test_gumbel_search_runs():
    env = envs.make(COUNTDOWN)
    planner = make_agent("mcts", env.spec, {"num_simulations": 4, "search": "gumbel"}, 1000)
    results, _ = planner.run(
        env, make_schedule(1000, 1, 1, "mcts"), EvalPlan(final_episodes=1), [0]
    )
    assert results["final_returns"].tolist() == [[7.0]]
