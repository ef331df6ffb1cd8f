"""The shared evaluation loop: perturbations of size 0 change nothing, others change returns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.drivers.evaluation import Perturbation, _delayed, play_grid, play_policy
from rlcheck.envs.params import replace_params, stack_params

EPISODES = 8


def linear_policy(weights, obs, key, deterministic):
    """Push right when obs · weights > 0 (discrete), or act obs · weights (continuous)."""
    del key, deterministic
    out = obs @ weights
    return (out[..., 0] > 0).astype(jnp.int32) if weights.shape[1] == 1 else out[..., 1:]


@pytest.fixture(scope="module")
def cartpole():
    """CartPole and the textbook heuristic: push toward where the pole falls (angle plus
    angular velocity), which balances for a long while, so noise and delay matter."""
    return envs.make("CartPole-v1"), jnp.array([[0.0], [0.0], [1.0], [1.0]])


def _play(cartpole, perturbation=None, max_delay=0, env_params=None):
    env, params = cartpole
    play = jax.jit(
        lambda p, key, perturbation: (
            play_policy(
                env,
                linear_policy,
                p,
                key,
                EPISODES,
                env.params if env_params is None else env_params,
                deterministic=True,
                step_cap=500,
                perturbation=perturbation,
                max_delay=max_delay,
            ).returns
        )
    )
    return np.asarray(play(params, jax.random.PRNGKey(0), perturbation))


def test_observation_noise_of_zero_is_no_noise(cartpole):
    plain = _play(cartpole)
    assert plain.std() > 0  # episodes differ, so equality below is not trivial
    zero = _play(cartpole, Perturbation(obs_noise=jnp.float32(0.0)))
    np.testing.assert_array_equal(zero, plain)
    noisy = _play(cartpole, Perturbation(obs_noise=jnp.float32(0.5)))
    assert not np.array_equal(noisy, plain)


def test_action_delay_of_zero_is_no_delay(cartpole):
    plain = _play(cartpole)
    zero = _play(cartpole, Perturbation(action_delay=jnp.int32(0)), max_delay=3)
    np.testing.assert_array_equal(zero, plain)
    delayed = _play(cartpole, Perturbation(action_delay=jnp.int32(3)), max_delay=3)
    assert not np.array_equal(delayed, plain)


def test_action_noise_of_zero_is_no_noise_and_one_is_a_random_policy(cartpole):
    plain = _play(cartpole)
    np.testing.assert_array_equal(
        _play(cartpole, Perturbation(action_noise=jnp.float32(0.0))), plain
    )
    # ε = 1: every action uniformly random, so the policy no longer matters: a random
    # CartPole policy lasts about 22 steps (Gymnasium docs).
    random = _play(cartpole, Perturbation(action_noise=jnp.float32(1.0)))
    assert 10 < random.mean() < 40


def test_gaussian_action_noise_of_zero_is_no_noise_on_continuous_actions():
    env = envs.make("Pendulum-v1")
    # Column 0 is unused (it is the discrete policy's); torque −2·sin θ − 0.5·θ̇.
    params = jnp.array([[0.0, 0.0], [0.0, -2.0], [0.0, -0.5]])

    @jax.jit
    def play(size):
        return play_policy(
            env,
            linear_policy,
            params,
            jax.random.PRNGKey(0),
            2,
            env.params,
            deterministic=True,
            step_cap=200,
            perturbation=Perturbation(action_noise=size),
        ).returns

    plain = jax.jit(
        lambda: (
            play_policy(
                env,
                linear_policy,
                params,
                jax.random.PRNGKey(0),
                2,
                env.params,
                deterministic=True,
                step_cap=200,
            ).returns
        )
    )()
    np.testing.assert_array_equal(play(jnp.float32(0.0)), plain)
    assert not np.array_equal(play(jnp.float32(0.5)), plain)


def test_a_delay_applies_the_action_chosen_k_steps_earlier():
    pending = jnp.zeros((4, 1), jnp.int32)  # room for delays up to 3
    applied = []
    for t in range(6):
        pending, action = _delayed(pending, jnp.array([10 + t]), jnp.int32(t), jnp.int32(2))
        applied.append(int(action[0]))
    # The first action until two have passed, then each one two steps late.
    assert applied == [10, 10, 10, 11, 12, 13]


def test_a_grid_is_each_condition_played_alone(cartpole):
    env, params = cartpole
    lengths = [0.25, 0.5, 2.0]
    batch = stack_params([replace_params(env.params, length=x) for x in lengths])
    policies = jax.tree.map(lambda x: jnp.stack([x, x]), params)
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    grid = jax.jit(
        lambda: play_grid(
            env,
            linear_policy,
            policies,
            keys,
            EPISODES,
            batch,
            Perturbation(),
            deterministic=True,
            step_cap=500,
        )
    )()
    assert grid.shape == (2, 3, EPISODES)
    for j, length in enumerate(lengths):
        alone = _play(cartpole, env_params=replace_params(env.params, length=length))
        # A batch of params against one params value: equal up to float rounding, which
        # CartPole's integer returns hide unless an action flips.
        np.testing.assert_array_equal(grid[0, j], alone)
    assert not np.array_equal(grid[0, 0], grid[0, 2])
