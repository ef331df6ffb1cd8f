import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck.agents.common.conjugate_gradient import conjugate_gradient


def _spd(n: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def test_matches_a_direct_solve():
    a = _spd(5, 0)
    b = np.arange(1.0, 6.0)
    x, residual = conjugate_gradient(lambda v: jnp.asarray(a, jnp.float32) @ v, jnp.asarray(b), 5)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-4)
    assert float(residual) < 1e-6


def test_two_by_two_by_hand():
    # A = [[4, 1], [1, 3]], b = [1, 2]: x = [1/11, 7/11], exact after two iterations.
    a = jnp.array([[4.0, 1.0], [1.0, 3.0]])
    x, _ = conjugate_gradient(lambda v: a @ v, jnp.array([1.0, 2.0]), 2)
    np.testing.assert_allclose(x, [1 / 11, 7 / 11], rtol=1e-5)
    # One iteration is the exact line minimum along b: x = (bᵀb / bᵀAb)·b = 5/20·b.
    x1, residual = conjugate_gradient(lambda v: a @ v, jnp.array([1.0, 2.0]), 1)
    np.testing.assert_allclose(x1, [0.25, 0.5], rtol=1e-6)
    # r = b − A x1 = [1 − 1.5, 2 − 1.75] = [−0.5, 0.25]
    assert float(residual) == pytest.approx(0.25 + 0.0625, rel=1e-5)


def test_iterations_after_convergence_change_nothing():
    a = _spd(3, 1)
    b = np.ones(3)
    x3, _ = conjugate_gradient(lambda v: jnp.asarray(a, jnp.float32) @ v, jnp.asarray(b), 3)
    x20, _ = conjugate_gradient(lambda v: jnp.asarray(a, jnp.float32) @ v, jnp.asarray(b), 20)
    assert np.all(np.isfinite(x20))
    np.testing.assert_allclose(x20, x3, rtol=1e-5)


def test_zero_right_hand_side_gives_zero():
    x, residual = conjugate_gradient(lambda v: 2.0 * v, jnp.zeros(4), 10)
    np.testing.assert_array_equal(x, np.zeros(4))
    assert float(residual) == 0.0
