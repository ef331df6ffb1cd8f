"""Categorical return distributions (C51, Bellemare et al. 2017) on a fixed support of atoms."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def categorical_projection(
    probs: jax.Array, returns: jax.Array, discounts: jax.Array, support: jax.Array
) -> jax.Array:
    """Project the distribution of ``returns + discounts · Z`` back onto ``support``.

    Z puts mass ``probs[j]`` on atom ``support[j]``; each shifted atom is clipped to
    [v_min, v_max] and its mass split between the two neighbouring atoms in proportion to
    closeness, all of it to one atom when it lands exactly on it (Algorithm 1, with CleanRL's
    fix for that case). A scatter-add, not the equivalent dense N×N form: inside our compiled
    update the dense form cost 40× more on CPU (101 atoms, batch 128).

    Args:
        probs: (..., N) masses of the next-state distribution (rows sum to 1).
        returns: (...) rewards (n-step returns) to shift by.
        discounts: (...) factor on the atoms: γ^n, or 0 after a terminal state.
        support: (N,) evenly spaced atoms from v_min to v_max.

    Returns:
        (..., N) the projected masses; rows still sum to 1.

    References:
        Bellemare, Dabney & Munos 2017, "A Distributional Perspective on Reinforcement
        Learning", Algorithm 1.
    """
    num_atoms = support.shape[0]
    v_min, v_max = support[0], support[-1]
    delta = (v_max - v_min) / (num_atoms - 1)
    shifted = jnp.clip(returns[..., None] + discounts[..., None] * support, v_min, v_max)
    position = (shifted - v_min) / delta
    lower = jnp.clip(jnp.floor(position), 0, num_atoms - 1)
    upper = jnp.clip(jnp.ceil(position), 0, num_atoms - 1)
    to_lower = (upper - position + (lower == upper)) * probs
    to_upper = (position - lower) * probs

    def project_row(to_lower: jax.Array, to_upper: jax.Array, lower: jax.Array, upper: jax.Array):
        row = jnp.zeros(num_atoms, probs.dtype)
        return (
            row.at[lower.astype(jnp.int32)].add(to_lower).at[upper.astype(jnp.int32)].add(to_upper)
        )

    rows = [x.reshape(-1, num_atoms) for x in (to_lower, to_upper, lower, upper)]
    return jax.vmap(project_row)(*rows).reshape(probs.shape)
