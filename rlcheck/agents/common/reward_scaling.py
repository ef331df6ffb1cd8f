"""Reward scaling by the running std of the discounted return, step by step over a rollout."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rlcheck.agents.common.normalize import RunningMeanStd, rms_update


def scale_rewards(
    rewards: jax.Array,
    episode_ended: jax.Array,
    discounted_return: jax.Array,
    return_rms: RunningMeanStd,
    gamma: jax.Array | float,
) -> tuple[jax.Array, jax.Array, RunningMeanStd]:
    """Divide each reward by the running std of the discounted return, updated step by step.

    The same numbers as Gymnasium's ``NormalizeReward`` and SB3's ``VecNormalize`` (reward
    part) applied while the rollout was collected: at step t the return tracker is
    ``ret ← γ·ret + r_t``, the statistics absorb ``ret`` of every env, ``r_t`` is divided by
    ``sqrt(var + 1e-8)``, and ``ret`` restarts at 0 where an episode ended.

    Args:
        rewards, episode_ended: (T, num_envs), time on the leading axis.
        discounted_return: (num_envs,) the tracker carried over from the previous rollout.
        return_rms: running statistics of the tracked return.
        gamma: discount of the tracked return (the agent's γ).

    Returns:
        (scaled rewards, tracker after the rollout, statistics after the rollout).

    References:
        Engstrom et al. 2020, "Implementation Matters in Deep Policy Gradients" ("reward
        scaling").
    """

    def track(carry: tuple, x: tuple) -> tuple[tuple, jax.Array]:
        ret, rms = carry
        reward, ended = x
        ret = ret * gamma + reward
        rms = rms_update(rms, ret)
        scaled = reward / jnp.sqrt(rms.var + 1e-8)
        return (jnp.where(ended, 0.0, ret), rms), scaled

    (ret, rms), scaled = jax.lax.scan(
        track, (discounted_return, return_rms), (rewards, episode_ended)
    )
    return scaled, ret, rms


def rollout_rewards(
    state: Any, reward: jax.Array, episode_ended: jax.Array, normalize: bool, clip: bool
) -> tuple[Any, jax.Array]:
    """The rewards an on-policy update learns from: scaled by :func:`scale_rewards` when
    ``normalize`` (the tracker and statistics live in ``state.discounted_return`` and
    ``state.return_rms``), then clipped to ±``state.hparams["reward_clip"]`` when ``clip``.
    Shared by PPO, A2C and TRPO, whose states carry those fields."""
    if normalize:
        reward, ret, rms = scale_rewards(
            reward,
            episode_ended,
            state.discounted_return,
            state.return_rms,
            state.hparams["gamma"],
        )
        state = state.replace(discounted_return=ret, return_rms=rms)
    if clip:
        bound = state.hparams["reward_clip"]
        reward = jnp.clip(reward, -bound, bound)
    return state, reward
