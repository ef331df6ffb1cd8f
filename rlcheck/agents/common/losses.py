"""Policy-gradient losses as small pure functions (per-sample inputs, scalar outputs)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def clipped_policy_loss(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    clip_coef: jax.Array | float,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """PPO's clipped surrogate, negated for minimization, plus its diagnostics.

    Returns:
        (loss, {"approx_kl", "clip_fraction"}); approx_kl is the low-variance estimator
        E[(r − 1) − log r] (Schulman 2020, "Approximating KL Divergence"), as CleanRL logs it.

    References:
        Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. 7.
    """
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * jnp.clip(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
    loss = jnp.mean(jnp.maximum(unclipped, clipped))
    diagnostics = {
        "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
        "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > clip_coef).astype(jnp.float32)),
    }
    return loss, diagnostics


def value_loss(
    values: jax.Array,
    old_values: jax.Array,
    returns: jax.Array,
    clip_coef: jax.Array | float,
    clip: bool,
) -> jax.Array:
    """0.5 · mean squared error to the returns, optionally with PPO's value clipping.

    With ``clip`` the loss is the larger of the plain error and the error of the old value moved
    at most ``clip_coef`` (OpenAI baselines' ppo2; Engstrom et al. 2020 find it does not help).
    """
    unclipped = (values - returns) ** 2
    if not clip:
        return 0.5 * jnp.mean(unclipped)
    moved = old_values + jnp.clip(values - old_values, -clip_coef, clip_coef)
    return 0.5 * jnp.mean(jnp.maximum(unclipped, (moved - returns) ** 2))


def normalize_advantages(advantages: jax.Array) -> jax.Array:
    """Zero mean, unit std within the minibatch (std with ε = 1e-8, as CleanRL)."""
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def explained_variance(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """1 − Var[y − ŷ] / Var[y]: 1 is a perfect value function, ≤ 0 is no better than a constant.

    NaN when the targets have no variance.
    """
    var_y = jnp.var(targets)
    return jnp.where(var_y == 0, jnp.nan, 1.0 - jnp.var(targets - predictions) / var_y)
