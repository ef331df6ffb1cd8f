import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.envs.params import replace_params, stack_params
from rlcheck.errors import UserError

LINE = "tests.helpers.envs:make_line"


def _balance(obs: jax.Array) -> jax.Array:
    return (obs[2] + obs[3] > 0).astype(jnp.int32)  # push towards the pole's lean


def test_time_limit_truncates_and_keeps_the_final_observation():
    env = envs.make("CartPole-v1")
    # The limit comes from the params given, not from the env's own (500).
    params = replace_params(env.params, max_steps_in_episode=5)
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    for t in range(5):
        step = env.step(jax.random.PRNGKey(t + 1), state, _balance(obs), params)
        if t < 4:
            assert not step.truncated and not step.terminated
            np.testing.assert_array_equal(step.obs, step.final_obs)
        obs, state = step.obs, step.state
    assert bool(step.truncated) and not bool(step.terminated)
    assert int(step.state.time) == 0  # reset after the cut
    assert not np.array_equal(step.obs, step.final_obs)
    assert abs(float(step.final_obs[0])) > 0 and abs(float(step.obs[0])) <= 0.05


def test_a_batch_of_params_in_one_program_equals_each_value_alone():
    env = envs.make("CartPole-v1")
    values = [replace_params(env.params, length=x) for x in (0.25, 0.5, 2.0)]

    def first_episode(key: jax.Array, params) -> tuple[jax.Array, jax.Array]:
        """Observations of 200 steps of a random policy, and the first episode's length."""
        _, state = env.reset(key, params)

        def step(carry, key):
            state, alive = carry
            key_act, key_env = jax.random.split(key)
            out = env.step(key_env, state, jax.random.randint(key_act, (), 0, 2), params)
            alive = alive & ~(out.terminated | out.truncated)
            return (out.state, alive), (out.final_obs, alive)

        keys = jax.random.split(key, 200)
        _, (observations, alive) = jax.lax.scan(step, (state, jnp.asarray(True)), keys)
        return observations, alive.sum()

    traces = []

    def traced(key, params):
        traces.append(None)
        return first_episode(key, params)

    program = jax.jit(jax.vmap(traced, in_axes=(None, 0)))
    key = jax.random.PRNGKey(0)
    batch = program(key, stack_params(values))
    for i, params in enumerate(values):
        alone = program(key, stack_params([params]))
        for got, want in zip(batch, alone, strict=True):
            np.testing.assert_array_equal(got[i], want[0])
    assert len(traces) == 2  # one trace per batch size, none per params value
    # The same random actions keep a longer pole up for longer.
    lengths = batch[1].tolist()
    assert lengths == sorted(lengths) and len(set(lengths)) == 3, lengths


def test_falling_over_terminates_without_truncation():
    env = envs.make("CartPole-v1")
    _, state = env.reset(jax.random.PRNGKey(0), env.params)
    for t in range(200):
        step = env.step(jax.random.PRNGKey(t), state, jnp.int32(1), env.params)  # push right
        state = step.state
        if step.terminated:
            break
    assert bool(step.terminated) and not bool(step.truncated)
    assert abs(float(step.final_obs[2])) > 0.2 or abs(float(step.final_obs[0])) > 2.4


def test_continuous_actions_are_clipped_to_the_box():
    env = envs.make("Pendulum-v1")
    _, state = env.reset(jax.random.PRNGKey(0), env.params)
    big = env.step_no_reset(jax.random.PRNGKey(1), state, jnp.array([100.0]), env.params)
    edge = env.step_no_reset(jax.random.PRNGKey(1), state, jnp.array([2.0]), env.params)
    np.testing.assert_allclose(big[0], edge[0])


def test_an_env_reporting_performance_passes_it_out_of_the_step():
    env = envs.make(LINE, performance=True)
    assert env.reports_performance
    _, state = env.reset(jax.random.PRNGKey(0), env.params)
    *step, performance = env.step_with_performance(
        jax.random.PRNGKey(1), state, jnp.int32(1), env.params
    )
    obs, _, reward, *_ = step
    assert float(performance) == -float(reward) == pytest.approx(abs(float(obs[0]) * 5))
    # The plain step is unchanged: five values, the same ones.
    plain = env.step_no_reset(jax.random.PRNGKey(1), state, jnp.int32(1), env.params)
    assert len(plain) == 5 and float(plain[2]) == float(reward)


def test_an_env_without_performance_reports_none():
    assert not envs.make(LINE).reports_performance


def test_a_performance_that_is_not_one_number_per_step_is_a_one_line_error():
    env = envs.make(LINE, performance=True, performance_shape=[3])
    with pytest.raises(UserError, match=r"info\['performance'\] must be one number per step"):
        _ = env.reports_performance
