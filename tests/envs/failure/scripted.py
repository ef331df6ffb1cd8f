"""Play a scripted sequence of actions in one of rlcheck's gridworlds, step by step."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs


class Played(NamedTuple):
    """One episode: per-step rewards and performance up to and including its last step."""

    rewards: np.ndarray
    performance: np.ndarray
    terminated: bool
    truncated: bool
    final_state: Any

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())

    @property
    def episode_performance(self) -> float:
        return float(self.performance.sum())


def play(
    env_id: str,
    actions: list[int],
    key: int = 0,
    params: Any = None,
    repeat: bool = True,
    **kwargs: Any,
) -> Played:
    """Play ``actions`` (cycled when ``repeat``) from a reset until the episode ends."""
    env = envs.make(env_id, **kwargs)
    params = env.params if params is None else params
    _, state = env.reset(jax.random.PRNGKey(key), params)
    step = jax.jit(env.step_with_performance)
    rewards, performance = [], []
    terminated = truncated = False
    t = 0
    while not (terminated or truncated):
        if not repeat and t >= len(actions):
            break
        action = jnp.int32(actions[t % len(actions)])
        _, state, reward, term, trunc, perf = step(
            jax.random.fold_in(jax.random.PRNGKey(key), t), state, action, params
        )
        rewards.append(float(reward))
        performance.append(float(perf))
        terminated, truncated = bool(term), bool(trunc)
        t += 1
    return Played(np.array(rewards), np.array(performance), terminated, truncated, state)
