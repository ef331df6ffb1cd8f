import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments.classic_control import cartpole

from rlcheck import envs
from rlcheck.envs.randomize import RandomizedEnv, randomized
from rlcheck.errors import UserError

LOW, HIGH = 0.05, 2.0


@pytest.fixture(scope="module")
def env() -> RandomizedEnv:
    return randomized(envs.make("CartPole-v1"), {"length": [LOW, HIGH]}, "env[0].randomize")


def test_each_reset_draws_the_field_uniformly_from_its_range(env):
    n = 4096
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(
        jax.random.split(jax.random.PRNGKey(0), n), env.params
    )
    length = np.asarray(states.params.length)
    assert ((length >= LOW) & (length <= HIGH)).all()
    # Uniform on [0.05, 2.0]: mean 1.025, sd 0.563; the mean of 4096 draws is within 4 standard
    # errors (0.035) and the extremes reach the ends of the range.
    assert abs(length.mean() - (LOW + HIGH) / 2) < 0.035
    assert length.min() < LOW + 0.01 and length.max() > HIGH - 0.01
    assert len(np.unique(length)) > n * 0.99
    # The fields computed from the length follow it; the rest stay the env's.
    np.testing.assert_allclose(states.params.polemass_length, 0.1 * length, rtol=1e-6)
    assert (np.asarray(states.params.gravity) == env.params.gravity).all()
    assert (np.asarray(states.params.masspole) == env.params.masspole).all()


def test_params_stay_for_an_episode_and_change_at_its_end(env):
    step = jax.jit(env.step)
    key = jax.random.PRNGKey(1)
    _, state = env.reset(key, env.params)
    lengths, ends = [float(state.params.length)], []
    for t in range(300):
        key, k = jax.random.split(key)
        out = step(k, state, jnp.asarray(t % 2), env.params)
        ends.append(bool(out.terminated | out.truncated))
        state = out.state
        lengths.append(float(state.params.length))
    ends = np.array(ends)
    changed = np.diff(lengths) != 0
    assert ends.sum() >= 3  # alternating pushes end CartPole episodes within ~10-60 steps
    np.testing.assert_array_equal(changed, ends)


def test_a_step_is_gymnax_under_the_drawn_params(env):
    n = 64
    keys = jax.random.split(jax.random.PRNGKey(2), n)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, env.params)
    actions = jax.random.randint(jax.random.PRNGKey(3), (n,), 0, 2)
    obs, _, reward, terminated, _ = jax.vmap(env.step_no_reset, in_axes=(0, 0, 0, None))(
        keys, states, actions, env.params
    )
    # gymnax's own step, with params built by hand from the drawn length.
    reference = cartpole.CartPole()
    for i in range(n):
        length = float(states.params.length[i])
        theirs = cartpole.EnvParams(length=length, polemass_length=0.1 * length)
        state_i = jax.tree.map(lambda x, i=i: x[i], states.inner)
        want_obs, _, want_reward, want_done, _ = reference.step_env(
            keys[i], state_i, actions[i], theirs
        )
        np.testing.assert_allclose(obs[i], want_obs, rtol=1e-6, atol=1e-7)
        assert float(reward[i]) == float(want_reward)
        assert bool(terminated[i]) == bool(want_done)


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"lenght": [0.1, 1.0]}, r"env\[0\]\.randomize: unknown env parameter 'lenght'"),
        ({"total_mass": [1.0, 2.0]}, r"'total_mass' .* is derived"),
        ({"length": [2.0, 0.1]}, r"env\[0\]\.randomize\.length: low \(2\) is above high"),
        ({"length": [0.1]}, r"env\[0\]\.randomize\.length: give a range as two numbers"),
        ({"length": "0.1:2"}, r"give a range as two numbers"),
    ],
)
def test_bad_ranges_are_one_line_errors(ranges, message):
    with pytest.raises(UserError, match=message) as info:
        randomized(envs.make("CartPole-v1"), ranges, "env[0].randomize")
    assert "\n" not in str(info.value)


def test_gymnasium_envs_cannot_be_randomized():
    with pytest.raises(UserError, match="needs a JAX-native env"):
        randomized(envs.make("gymnasium:CartPole-v1"), {"length": [0.1, 1.0]}, "env[0].randomize")
