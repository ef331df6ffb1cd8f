"""Trust-region pieces: KL divergences, Fisher-vector products, TRPO's backtracking line search,
and the trust-region internals PPO, TRPO and A2C log after every update."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


def categorical_kl(logits_p: jax.Array, logits_q: jax.Array) -> jax.Array:
    """KL(p ‖ q) between categorical distributions given by logits (last axis)."""
    log_p = jax.nn.log_softmax(logits_p)
    log_q = jax.nn.log_softmax(logits_q)
    return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)


def gaussian_kl(
    mean_p: jax.Array, log_std_p: jax.Array, mean_q: jax.Array, log_std_q: jax.Array
) -> jax.Array:
    """KL(p ‖ q) between diagonal Gaussians, summed over the last (action) axis."""
    var_p = jnp.exp(2.0 * log_std_p)
    var_q = jnp.exp(2.0 * log_std_q)
    per_dim = log_std_q - log_std_p + (var_p + (mean_p - mean_q) ** 2) / (2.0 * var_q) - 0.5
    return jnp.sum(per_dim, axis=-1)


# The internals of :func:`trust_region_internals`, in the order agents log them.
TRUST_REGION_INTERNALS = ("ratio_max", "ratio_p99", "ratio_mean", "kl_mean", "kl_max")


def trust_region_internals(log_ratio: jax.Array, kl: jax.Array) -> dict[str, jax.Array]:
    """How far an update moved the policy, on the batch it learned from.

    Measured after the whole update (every epoch and minibatch), as MadryLab's
    ``paper_constraints_logging`` does: the probability ratio π_new(a|s)/π_old(a|s) of each
    sampled pair, with π_old the policy that collected the batch, and KL(π_old(·|s) ‖
    π_new(·|s)) of each sampled state.

    Args:
        log_ratio: log π_new(a|s) − log π_old(a|s) per sample.
        kl: KL(π_old ‖ π_new) per sample (analytic).

    Returns:
        {"ratio_max", "ratio_p99" (linear interpolation, as numpy's default), "ratio_mean",
        "kl_mean", "kl_max"}: PPO's clipping keeps ratio_max ≤ 1 + ε only if it is a trust
        region; Engstrom et al. find it is not.

    References:
        Engstrom et al. 2020, "Implementation Matters in Deep Policy Gradients", §4 (maximum
        ratio and mean KL per iteration).
    """
    ratio = jnp.exp(log_ratio)
    return {
        "ratio_max": jnp.max(ratio),
        "ratio_p99": jnp.percentile(ratio, 99.0),
        "ratio_mean": jnp.mean(ratio),
        "kl_mean": jnp.mean(kl),
        "kl_max": jnp.max(kl),
    }


def fisher_vector_product(
    mean_kl: Callable[[jax.Array], jax.Array],
    theta: jax.Array,
    vector: jax.Array,
    damping: jax.Array | float,
) -> jax.Array:
    """(F + damping·I) v, with F the Hessian of the mean KL at ``theta``.

    ``mean_kl(θ')`` must be E_s[KL(π_θ(·|s) ‖ π_θ'(·|s))] with the first policy held fixed at
    ``theta``; its Hessian at θ' = θ is the Fisher information matrix of the policy, so this is
    the matrix the natural gradient inverts. Computed forward-over-reverse (``jax.jvp`` of
    ``jax.grad``): one extra pass, never the matrix itself.

    Args:
        mean_kl: θ' ↦ mean KL from the policy at ``theta`` to the policy at θ' (flat vectors).
        theta: where F is taken, a flat parameter vector.
        vector: v.
        damping: added multiple of the identity; keeps conjugate gradient stable where F is
            nearly singular (Schulman et al. 2015, appendix C; SB3-contrib ``cg_damping``).

    Returns:
        (F + damping·I) v, shaped like ``theta``.
    """
    _, fv = jax.jvp(jax.grad(mean_kl), (theta,), (vector,))
    return fv + damping * vector


class LineSearch(NamedTuple):
    """Outcome of a backtracking line search (scalars)."""

    fraction: jax.Array  # of the full step taken; 0 when no candidate was accepted
    accepted: jax.Array  # whether a candidate was accepted
    steps: jax.Array  # candidates tried up to and including the accepted one (all if none)
    surrogate: jax.Array  # surrogate objective where the search ends
    kl: jax.Array  # mean KL from the old policy where the search ends


def backtracking_line_search(
    surrogate_and_kl: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    old_surrogate: jax.Array,
    max_kl: jax.Array | float,
    shrink: jax.Array | float,
    max_iter: int,
) -> LineSearch:
    """The largest of the step fractions 1, shrink, shrink², … that stays within the KL bound
    and improves the surrogate; no step at all when none does.

    Every candidate is evaluated at once (``vmap`` over fractions) and the first acceptable one
    chosen: the same answer as trying them in turn, as a branch-free program whose cost is that
    of a search that tries them all.

    Args:
        surrogate_and_kl: fraction ↦ (surrogate objective, mean KL from the old policy) of the
            policy moved by that fraction of the full step.
        old_surrogate: the surrogate before the step.
        max_kl: the trust region δ: a candidate needs mean KL < δ (SB3-contrib's test).
        shrink: factor between successive fractions (SB3-contrib: 0.8).
        max_iter: number of candidates (SB3-contrib: 10).

    Returns:
        A :class:`LineSearch`; with no acceptable candidate, fraction 0, the old surrogate and
        KL 0 (the policy stays where it was).

    References:
        Schulman et al. 2015, "Trust Region Policy Optimization", appendix C.
    """
    fractions = shrink ** jnp.arange(max_iter, dtype=jnp.float32)
    surrogates, kls = jax.vmap(surrogate_and_kl)(fractions)
    ok = (kls < max_kl) & (surrogates > old_surrogate) & jnp.isfinite(surrogates + kls)
    first = jnp.argmax(ok)
    accepted = jnp.any(ok)
    return LineSearch(
        fraction=jnp.where(accepted, fractions[first], 0.0),
        accepted=accepted,
        steps=jnp.where(accepted, first + 1, max_iter),
        surrogate=jnp.where(accepted, surrogates[first], old_surrogate),
        kl=jnp.where(accepted, kls[first], 0.0),
    )
