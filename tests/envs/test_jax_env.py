import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs
from rlcheck.envs import JaxEnv


def _short_cartpole(limit: int) -> JaxEnv:
    env = envs.make("CartPole-v1")
    return JaxEnv(env.env, env.params.replace(max_steps_in_episode=limit), env.spec)


def _balance(obs: jax.Array) -> jax.Array:
    return (obs[2] + obs[3] > 0).astype(jnp.int32)  # push towards the pole's lean


def test_time_limit_truncates_and_keeps_the_final_observation():
    env = _short_cartpole(5)
    obs, state = env.reset(jax.random.PRNGKey(0), env.params)
    for t in range(5):
        step = env.step(jax.random.PRNGKey(t + 1), state, _balance(obs), env.params)
        if t < 4:
            assert not step.truncated and not step.terminated
            np.testing.assert_array_equal(step.obs, step.final_obs)
        obs, state = step.obs, step.state
    assert bool(step.truncated) and not bool(step.terminated)
    assert int(step.state.time) == 0  # reset after the cut
    assert not np.array_equal(step.obs, step.final_obs)
    assert abs(float(step.final_obs[0])) > 0 and abs(float(step.obs[0])) <= 0.05


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
