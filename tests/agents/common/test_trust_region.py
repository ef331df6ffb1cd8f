import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck.agents.common.trust_region import (
    backtracking_line_search,
    categorical_kl,
    fisher_vector_product,
    gaussian_kl,
)

STATES = jnp.array([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2], [0.0, 1.0]])


def test_categorical_kl_by_hand():
    # p = (1/4, 3/4), q = (1/2, 1/2)
    kl = categorical_kl(jnp.array([0.0, math.log(3.0)]), jnp.zeros(2))
    assert float(kl) == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel=1e-5)
    assert float(categorical_kl(jnp.array([0.3, -1.0]), jnp.array([0.3, -1.0]))) == 0.0


def test_gaussian_kl_by_hand():
    # KL(N(1, 1) ‖ N(0, 2²)) = ln 2 + (1 + 1) / 8 − ½, plus a second, identical dimension (0)
    kl = gaussian_kl(
        jnp.array([1.0, 0.0]),
        jnp.array([0.0, 0.3]),
        jnp.array([0.0, 0.0]),
        jnp.array([math.log(2.0), 0.3]),
    )
    assert float(kl) == pytest.approx(math.log(2.0) + 0.25 - 0.5, rel=1e-5)


def _categorical_policy(theta):
    return STATES @ theta.reshape(2, 3)  # logits of 3 actions


def test_fisher_vector_product_matches_the_explicit_fisher_of_a_categorical_policy():
    theta = jnp.array([0.2, -0.1, 0.4, 0.3, 0.0, -0.5])
    old = _categorical_policy(theta)

    def mean_kl(t):
        return jnp.mean(categorical_kl(old, _categorical_policy(t)))

    # F = E_s Σ_a π(a|s) ∇log π(a|s) ∇log π(a|s)ᵀ, from the Jacobian of every log-probability.
    jac = jax.jacobian(lambda t: jax.nn.log_softmax(_categorical_policy(t)))(theta)  # (4, 3, 6)
    probs = jax.nn.softmax(old)
    fisher = jnp.einsum("sa,sai,saj->ij", probs, jac, jac) / STATES.shape[0]

    v = jnp.array([1.0, -2.0, 0.5, 0.0, 3.0, -1.0])
    np.testing.assert_allclose(
        fisher_vector_product(mean_kl, theta, v, 0.0), fisher @ v, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        fisher_vector_product(mean_kl, theta, v, 0.1), fisher @ v + 0.1 * v, rtol=1e-4, atol=1e-6
    )


def test_fisher_vector_product_matches_the_explicit_fisher_of_a_gaussian_policy():
    # mean = s·w (one action dim), log-std a free parameter: θ = (w1, w2, log_std).
    theta = jnp.array([0.5, -0.2, -0.7])

    def gaussian(t):
        return STATES @ t[:2], jnp.full((STATES.shape[0],), t[2])

    old_mean, old_log_std = gaussian(theta)

    def mean_kl(t):
        mean, log_std = gaussian(t)
        # one action dimension: a trailing axis of size 1
        kl = gaussian_kl(old_mean[:, None], old_log_std[:, None], mean[:, None], log_std[:, None])
        return jnp.mean(kl)

    # The Fisher of a Gaussian in (mean, log-std) is diag(1/σ², 2); in θ it is Jᵀ diag Jacobian.
    sigma2 = math.exp(2 * -0.7)
    fisher = np.zeros((3, 3))
    for s in np.asarray(STATES):
        j = np.array([[s[0], s[1], 0.0], [0.0, 0.0, 1.0]])
        fisher += j.T @ np.diag([1 / sigma2, 2.0]) @ j
    fisher /= STATES.shape[0]
    v = jnp.array([0.3, 1.0, -2.0])
    np.testing.assert_allclose(
        fisher_vector_product(mean_kl, theta, v, 0.0), fisher @ np.asarray(v), rtol=1e-4
    )


def test_line_search_takes_the_largest_step_inside_the_kl_bound():
    # kl(f) = 0.04 f², bound 0.01: fractions 1, 0.8, 0.64, 0.512 are too far, 0.4096 is not.
    search = backtracking_line_search(lambda f: (f, 0.04 * f**2), jnp.asarray(0.0), 0.01, 0.8, 10)
    assert bool(search.accepted)
    assert int(search.steps) == 5
    assert float(search.fraction) == pytest.approx(0.8**4)
    assert float(search.kl) == pytest.approx(0.04 * 0.8**8, rel=1e-5)
    assert float(search.kl) < 0.01


def test_line_search_needs_an_improvement_of_the_surrogate():
    # surrogate(f) = f − 2f² improves on 0 only for f < ½: fractions 1, ½ fail, ¼ passes.
    search = backtracking_line_search(
        lambda f: (f - 2 * f**2, 0.0 * f), jnp.asarray(0.0), 0.01, 0.5, 10
    )
    assert int(search.steps) == 3
    assert float(search.fraction) == pytest.approx(0.25)
    assert float(search.surrogate) == pytest.approx(0.125)


def test_line_search_rejects_when_no_step_improves():
    search = backtracking_line_search(lambda f: (-f, 0.0 * f), jnp.asarray(0.0), 0.01, 0.8, 10)
    assert not bool(search.accepted)
    assert float(search.fraction) == 0.0
    assert int(search.steps) == 10
    assert float(search.kl) == 0.0
    assert float(search.surrogate) == 0.0
