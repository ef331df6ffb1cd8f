"""Conjugate gradient: solve A x = b for a symmetric positive-definite A seen only through A·v."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def conjugate_gradient(
    matvec: Callable[[jax.Array], jax.Array],
    b: jax.Array,
    max_iter: int,
    residual_tol: float = 1e-10,
) -> tuple[jax.Array, jax.Array]:
    """Approximately solve ``A x = b`` from ``x = 0`` in at most ``max_iter`` iterations.

    Written by hand rather than taken from ``jax.scipy.sparse.linalg.cg``: TRPO's reference
    implementations (Schulman's ``modular_rl``, Spinning Up, SB3-contrib) run a fixed number of
    iterations and stop early once the *squared* residual norm drops below ``residual_tol``,
    and the residual is worth logging, which jax's ``cg`` does not return. Iterations after
    convergence leave ``x`` unchanged, so the program has a fixed shape under ``vmap``.

    Args:
        matvec: v ↦ A v for a symmetric positive-definite A (e.g. a Fisher-vector product).
        b: right-hand side, a flat vector.
        max_iter: iterations at most (TRPO's ``cg_max_steps``).
        residual_tol: stop once ‖b − A x‖² falls below this (SB3-contrib: 1e-10).

    Returns:
        (x, ‖b − A x‖²) — the residual as the recursion tracks it.

    References:
        Hestenes & Stiefel 1952; Nocedal & Wright 2006, "Numerical Optimization", Algorithm 5.2.
    """

    def iterate(carry: tuple, _: None) -> tuple[tuple, None]:
        x, r, p, rr = carry
        active = rr >= residual_tol
        ap = matvec(p)
        p_ap = jnp.vdot(p, ap)
        alpha = jnp.where(active, rr / jnp.where(active, p_ap, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        rr_next = jnp.vdot(r, r)
        beta = rr_next / jnp.where(active, rr, 1.0)
        p = jnp.where(active, r + beta * p, p)
        return (x, r, p, jnp.where(active, rr_next, rr)), None

    init = (jnp.zeros_like(b), b, b, jnp.vdot(b, b))
    (x, _, _, rr), _ = jax.lax.scan(iterate, init, None, length=max_iter)
    return x, rr
