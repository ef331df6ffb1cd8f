"""A Gymnasium env whose ``step`` raises: a user env that breaks, for failed-unit tests."""

import gymnasium as gym
import numpy as np


class BrokenEnv(gym.Env):
    """Resets and steps fine for a while (long enough to pass Gymnasium's check_env, which
    rlcheck runs on user envs before training), then fails mid-run like a buggy simulator."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    healthy_steps = 50

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._steps = getattr(self, "_steps", 0)
        return np.zeros(2, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._steps += 1
        if self._steps > self.healthy_steps:
            raise RuntimeError("simulator <crashed> & burned")
        return np.zeros(2, np.float32), 0.0, False, False, {}


def make_broken() -> gym.Env:
    return BrokenEnv()
