"""Generalized advantage estimation with terminations and truncations kept apart."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: jax.Array | float,
    lam: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets for a rollout, time on the leading axis.

    Args:
        rewards, values: r_t and V(s_t), shape (T, ...).
        next_values: V of the state reached at step t — the *final* observation of an episode
            that ended at t, not the first observation of the next one.
        terminated: the episode ended in a terminal state at t: V(s_{t+1}) counts as 0.
        truncated: the episode was cut at t (time limit): V(s_{t+1}) is bootstrapped, but the
            advantage recursion stops there, as at any episode boundary.
        gamma, lam: discount and GAE λ.

    Returns:
        (advantages, returns) with returns = advantages + values.

    References:
        Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage
        Estimation"; Pardo et al. 2018, "Time Limits in Reinforcement Learning" (bootstrapping
        on truncation).
    """
    not_terminated = 1.0 - terminated.astype(rewards.dtype)
    continues = not_terminated * (1.0 - truncated.astype(rewards.dtype))
    deltas = rewards + gamma * next_values * not_terminated - values

    def backward(carry, x):
        delta, cont = x
        advantage = delta + gamma * lam * cont * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(values[0]), (deltas, continues), reverse=True
    )
    return advantages, advantages + values
