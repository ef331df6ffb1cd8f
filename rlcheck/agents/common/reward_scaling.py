"""Reward scaling by the running std of the discounted return, step by step over a rollout.

What the numbers equal (tests/agents/common/test_reward_scaling.py checks each relation to
float32 rounding):

- SB3's ``VecNormalize`` (its reward part), exactly. At step t, over all envs of a seed at
  once: ``ret ← γ·ret + r_t``; the statistics (mean 0, var 1, count 1e-4 to start; Chan et
  al.'s parallel update) absorb every env's ``ret``; ``r_t`` is divided by ``sqrt(var + 1e-8)``,
  then clipped when ``clip``; ``ret`` restarts at 0 after a step that ended an episode
  (terminated or truncated).
- Gymnasium 1.x's ``NormalizeReward`` only up to the first episode end. The statistics, ε inside
  the square root, the initial count, γ and the order (update, then scale) are the same; the
  tracker at episode ends is not. Gymnasium computes ``ret ← γ·(1 − terminated_t)·ret + r_t``:
  it drops the history *at* the terminating step (that step's tracked value is ``r_T`` alone,
  and the next episode starts from ``γ·r_T``), and a truncation does not reset it. Ours equals
  Gymnasium's told of each episode end (terminated or truncated) as a termination one step
  later; from the step an episode ends the two scales differ by a few percent (2–9 % on the
  test's sequence). Besides, ``gymnasium.wrappers.NormalizeReward`` (the one CleanRL wraps each
  env in) keeps statistics per env where ours pools a seed's envs, as VecNormalize and
  ``gymnasium.wrappers.vector.NormalizeReward`` do; the vector wrapper expects next-step
  autoreset and leaves each env's reset step out of the statistics, a step rlcheck's same-step
  autoreset does not have, so it equals ours only while no episode ends. Gymnasium's wrappers
  do not clip (CleanRL clips after them, as ``clip`` does here).

We keep SB3's tracker: each episode's tracked return starts at 0, where Gymnasium's carries the
last reward of one episode into the next; and the stored golden returns (PPO on Pendulum-v1
scales rewards, and its episodes end by truncation) pin these numbers.
"""

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

    The same numbers as SB3's ``VecNormalize`` (reward part) applied while the rollout was
    collected (for Gymnasium's ``NormalizeReward``, see the module docstring): at step t the
    return tracker is ``ret ← γ·ret + r_t``, the statistics absorb ``ret`` of every env, ``r_t``
    is divided by ``sqrt(var + 1e-8)``, and ``ret`` restarts at 0 where an episode ended.

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
