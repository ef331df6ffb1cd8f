"""Host (Python) environments: every seed's copies stepped together in one Gymnasium vector env."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from rlcheck.envs.jax_env import PERFORMANCE
from rlcheck.envs.spec import Box, Discrete, EnvSpec
from rlcheck.errors import UserError


class HostStep(NamedTuple):
    """A batched transition as numpy arrays; same fields as :class:`rlcheck.envs.jax_env.Step`,
    plus the hidden performance each env reported in ``info["performance"]``
    (``rlcheck.envs.jax_env.PERFORMANCE``; 0 for an env that did not report it this step),
    None when none did."""

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray
    performance: np.ndarray | None = None


class HostEnv:
    """A factory of Gymnasium envs plus their :class:`EnvSpec`."""

    def __init__(self, make_one: Callable[[], gym.Env], spec: EnvSpec):
        self.make_one = make_one
        self.spec = spec

    def vector(self, seeds: Sequence[int]) -> HostVector:
        """One vector env holding ``len(seeds)`` copies, copy i reset with ``seeds[i]``."""
        return HostVector(self, seeds)


class HostVector:
    """A Gymnasium sync vector env with same-step autoreset, so the final observation of an
    episode is available in the step that ends it (needed to bootstrap truncated episodes)."""

    def __init__(self, env: HostEnv, seeds: Sequence[int]):
        self.spec = env.spec
        self.num_envs = len(seeds)
        self._seeds = [int(s) for s in seeds]
        self._vec = SyncVectorEnv(
            [env.make_one] * self.num_envs, autoreset_mode=AutoresetMode.SAME_STEP
        )
        if isinstance(self.spec.action_space, Box):
            self._low = np.asarray(self.spec.action_space.low, np.float32)
            self._high = np.asarray(self.spec.action_space.high, np.float32)

    def reset(self, seeds: Sequence[int] | None = None) -> np.ndarray:
        """Reset every env with its seed (new ``seeds``, one per env, replace the old ones)."""
        if seeds is not None:
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} envs")
            self._seeds = [int(s) for s in seeds]
        obs, _ = self._vec.reset(seed=self._seeds)
        return np.asarray(obs, np.float32)

    def step(self, actions: np.ndarray) -> HostStep:
        if isinstance(self.spec.action_space, Box):
            actions = np.clip(actions, self._low, self._high)
        obs, reward, terminated, truncated, info = self._vec.step(actions)
        obs = np.asarray(obs, np.float32)
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool) & ~terminated
        final_obs = obs
        if "final_obs" in info:
            final_obs = obs.copy()
            for i in np.flatnonzero(info["_final_obs"]):
                final_obs[i] = info["final_obs"][i]
        return HostStep(
            obs,
            np.asarray(reward, np.float32),
            terminated,
            truncated,
            final_obs,
            _performance(info, self.num_envs),
        )

    def close(self) -> None:
        self._vec.close()


def _performance(info: dict[str, Any], num_envs: int) -> np.ndarray | None:
    """Each env's ``info["performance"]`` of this step (0 where it reported none), or None when
    none did. An env whose episode just ended was reset in the same step: its step's info is
    the vector env's ``final_info``, and the reset's info is the one on top."""
    performance = np.zeros(num_envs)
    found = False
    final = info.get("final_info", {})
    ended = np.asarray(info.get("_final_info", np.zeros(num_envs, bool)), bool)
    for source, where in ((info, ~ended), (final, ended)):
        if PERFORMANCE in source:
            reported = np.asarray(source[f"_{PERFORMANCE}"], bool) & where
            performance = np.where(reported, np.asarray(source[PERFORMANCE], float), performance)
            found = True
    return performance if found else None


def spec_from_gymnasium(env_id: str, env: gym.Env) -> EnvSpec:
    """Read a Gymnasium env's spaces, time limit and reward threshold into an :class:`EnvSpec`."""
    space: Any = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        if int(space.start) != 0:
            raise UserError(f"env {env_id}: Discrete action spaces must start at 0")
        action_space: Discrete | Box = Discrete(int(space.n))
    elif isinstance(space, gym.spaces.Box):
        low = np.broadcast_to(space.low, space.shape).reshape(-1)
        high = np.broadcast_to(space.high, space.shape).reshape(-1)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise UserError(f"env {env_id}: continuous actions need finite bounds, got {space}")
        action_space = Box(tuple(map(float, low)), tuple(map(float, high)))
    else:
        raise UserError(
            f"env {env_id}: action space {type(space).__name__} is not supported "
            "(use Discrete or Box)"
        )
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise UserError(
            f"env {env_id}: observation space {type(env.observation_space).__name__} "
            "is not supported (use Box)"
        )
    env_spec = env.spec
    return EnvSpec(
        id=env_id,
        kind="host",
        obs_shape=tuple(env.observation_space.shape),
        action_space=action_space,
        time_limit=env_spec.max_episode_steps if env_spec is not None else None,
        solve_threshold=env_spec.reward_threshold if env_spec is not None else None,
    )
