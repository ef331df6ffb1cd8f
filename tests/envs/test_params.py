import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments.classic_control import cartpole

from rlcheck import envs
from rlcheck.envs.params import derived_fields, replace_params, stack_params
from rlcheck.errors import UserError


def test_changing_a_primary_field_recomputes_the_derived_ones():
    params = replace_params(envs.make("CartPole-v1").params, masspole=0.2, length=1.5)
    assert (params.masspole, params.length) == (0.2, 1.5)
    assert params.total_mass == pytest.approx(1.2)
    assert params.polemass_length == pytest.approx(0.3)
    assert params.gravity == 9.8


def test_envs_without_derived_fields_get_only_the_change():
    default = envs.make("Pendulum-v1").params
    params = replace_params(default, l=2.0)
    assert derived_fields(default) == {}
    assert params == default.replace(l=2.0)


def test_unknown_and_derived_fields_are_one_line_errors():
    params = envs.make("CartPole-v1").params
    with pytest.raises(UserError, match=r"unknown env parameter 'lenght'.*did you mean 'length'"):
        replace_params(params, lenght=1.0)
    with pytest.raises(UserError, match=r"'total_mass' .* is derived \(total_mass = masscart"):
        replace_params(params, total_mass=2.0)
    for bad in ({"lenght": 1.0}, {"total_mass": 2.0}):
        with pytest.raises(UserError) as info:
            replace_params(params, **bad)
        assert "\n" not in str(info.value)


def test_perturbed_cartpole_steps_like_gymnax_with_the_same_params():
    env = envs.make("CartPole-v1")
    ours = replace_params(env.params, length=1.5, masspole=0.3, gravity=11.0)
    # What gymnax users write by hand (cartpole.py's comments give the formulas).
    theirs = cartpole.EnvParams(
        length=1.5, masspole=0.3, gravity=11.0, total_mass=1.0 + 0.3, polemass_length=0.3 * 1.5
    )
    n = 256
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    x, x_dot, theta, theta_dot = jax.random.uniform(
        jax.random.PRNGKey(1), (4, n), minval=-0.2, maxval=0.2
    )
    states = cartpole.EnvState(
        x=x, x_dot=x_dot, theta=theta, theta_dot=theta_dot, time=jnp.zeros(n, jnp.int32)
    )
    actions = jax.random.randint(jax.random.PRNGKey(2), (n,), 0, 2)
    step = jax.jit(jax.vmap(env.step_no_reset, in_axes=(0, 0, 0, None)))
    reference = jax.jit(jax.vmap(cartpole.CartPole().step_env, in_axes=(0, 0, 0, None)))
    obs, _, reward, terminated, _ = step(keys, states, actions, ours)
    want_obs, _, want_reward, want_done, _ = reference(keys, states, actions, theirs)
    np.testing.assert_array_equal(obs, want_obs)
    np.testing.assert_array_equal(reward, want_reward)
    np.testing.assert_array_equal(terminated, want_done)
    # The change is visible: the default physics move the pole differently.
    default_obs = step(keys, states, actions, env.params)[0]
    assert np.abs(np.asarray(default_obs - obs)[:, 3]).min() > 1e-4


def test_stacked_params_have_a_leading_axis_per_field():
    default = envs.make("CartPole-v1").params
    batch = stack_params([replace_params(default, length=x) for x in (0.5, 1.0, 2.0)])
    np.testing.assert_allclose(batch.length, [0.5, 1.0, 2.0])
    np.testing.assert_allclose(batch.polemass_length, [0.05, 0.1, 0.2])
    assert batch.max_steps_in_episode.shape == (3,)
