import jax.numpy as jnp
import numpy as np

from rlcheck.agents.common.nstep import n_step_returns

F, T = False, True


def test_returns_stop_at_episode_ends_and_missing_transitions():
    # γ = 0.5 and rewards 1, 2, 4 in every row; rows differ in where the window is cut.
    rewards = jnp.tile(jnp.array([1.0, 2.0, 4.0]), (5, 1))
    terminal = jnp.array([[F, F, F], [F, T, F], [F, F, F], [F, F, F], [F, F, T]])
    ended = jnp.array([[F, F, F], [F, T, F], [T, F, F], [F, F, F], [F, F, T]])
    available = jnp.array([[T, T, T], [T, T, T], [T, T, T], [T, T, F], [T, T, T]])
    returns, discount, last = n_step_returns(rewards, terminal, ended, available, 0.5)
    # full window: 1 + .5·2 + .25·4 = 3, bootstrap with .5³
    # terminated at the 2nd step: 1 + .5·2 = 2, nothing to bootstrap
    # truncated at the 1st step: 1, bootstrap from its final observation with .5
    # 3rd transition not collected yet: 1 + .5·2 = 2, bootstrap with .5²
    # terminated at the last step: 3, nothing to bootstrap
    np.testing.assert_allclose(returns, [3.0, 2.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(discount, [0.125, 0.0, 0.5, 0.25, 0.0])
    np.testing.assert_array_equal(last, [2, 1, 0, 1, 2])


def test_one_step_is_the_plain_td_target():
    returns, discount, last = n_step_returns(
        jnp.array([[2.0], [3.0]]),
        jnp.array([[F], [T]]),
        jnp.array([[F], [T]]),
        jnp.array([[T], [T]]),
        0.9,
    )
    np.testing.assert_allclose(returns, [2.0, 3.0])
    np.testing.assert_allclose(discount, [0.9, 0.0])
    np.testing.assert_array_equal(last, [0, 0])
