"""n-step returns for replayed transitions, cut at episode ends and at the newest data."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def n_step_returns(
    rewards: jax.Array,
    terminal: jax.Array,
    ended: jax.Array,
    available: jax.Array,
    gamma: jax.Array | float,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Discounted sums of up to n rewards, and how to bootstrap after them.

    Row b holds the n consecutive transitions of one env starting at a sampled one. The sum
    runs over the first m of them: it stops after the first transition that ends an episode
    (terminated or truncated) and before the first one that is not ``available`` (not yet
    collected). The target is then ``returns + discount · V(s')``, with s' the next
    observation of transition ``last``.

    Args:
        rewards: (..., n) r_t … r_{t+n−1}.
        terminal: (..., n) the transition reached a terminal state: nothing to bootstrap.
        ended: (..., n) the transition ended its episode (terminal, or truncated by a time
            limit: then s' is the final observation and is bootstrapped from).
        available: (..., n) the transition is in the buffer; the first one always is.
        gamma: discount factor.

    Returns:
        (returns, discount, last): Σ_{k<m} γ^k r_{t+k}; γ^m, or 0 when transition ``last`` is
        terminal; and ``last = m − 1``.

    References:
        Sutton & Barto 2018, §7.1; Hessel et al. 2018, "Rainbow" (multi-step learning).
    """
    n = rewards.shape[-1]
    ended_before = jnp.cumsum(ended, axis=-1) - ended
    used = available & (ended_before == 0)
    powers = gamma ** jnp.arange(n, dtype=rewards.dtype)
    returns = jnp.sum(jnp.where(used, powers * rewards, 0.0), axis=-1)
    steps = jnp.sum(used, axis=-1)
    last = steps - 1
    last_terminal = jnp.take_along_axis(terminal, last[..., None], axis=-1)[..., 0]
    discount = jnp.where(last_terminal, 0.0, gamma ** steps.astype(rewards.dtype))
    return returns, discount, last
