"""A Gymnasium env whose ``step`` raises: a user env that breaks, for failed-unit tests."""

import gymnasium as gym
import numpy as np


class BrokenEnv(gym.Env):
    """Resets fine, then fails on the first step like a buggy user simulator."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        raise RuntimeError("simulator <crashed> & burned")


def make_broken() -> gym.Env:
    return BrokenEnv()
