import jax.numpy as jnp
import numpy as np

from rlcheck.agents.common.distributional import categorical_projection

SUPPORT = jnp.array([-1.0, 0.0, 1.0])


def _project(probs, returns, discount):
    return categorical_projection(
        jnp.asarray(probs), jnp.asarray(returns), jnp.asarray(discount), SUPPORT
    )


def test_mass_splits_between_neighbouring_atoms():
    # Atoms move to −0.5, 0.5 and 1.5 (clipped to 1): 0.2 splits 0.1/0.1 onto −1 and 0,
    # 0.3 splits 0.15/0.15 onto 0 and 1, and 0.5 lands on 1.
    np.testing.assert_allclose(_project([0.2, 0.3, 0.5], 0.5, 1.0), [0.1, 0.25, 0.65], atol=1e-6)


def test_terminal_transition_collapses_onto_the_reward():
    # discount 0: every atom goes to 0.25, three quarters of the way from 0 towards 1.
    np.testing.assert_allclose(_project([0.2, 0.3, 0.5], 0.25, 0.0), [0.0, 0.75, 0.25], atol=1e-6)


def test_exact_landing_and_clipping():
    np.testing.assert_allclose(_project([0.2, 0.3, 0.5], 0.0, 1.0), [0.2, 0.3, 0.5], atol=1e-6)
    np.testing.assert_allclose(_project([0.2, 0.3, 0.5], -5.0, 1.0), [1.0, 0.0, 0.0], atol=1e-6)


def test_batches_keep_their_shape_and_mass():
    probs = jnp.full((2, 4, 3), 1.0 / 3.0)
    out = categorical_projection(probs, jnp.full((2, 4), 0.3), jnp.full((2, 4), 0.9), SUPPORT)
    assert out.shape == (2, 4, 3)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-6)
