"""Tiny gymnax-style envs whose costs can be counted by hand."""

from __future__ import annotations

import gymnasium as gym
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces


@struct.dataclass
class CountdownState(environment.EnvState):
    time: int


@struct.dataclass
class CountdownParams(environment.EnvParams):
    length: int = 7
    max_steps_in_episode: int = 100


class Countdown(environment.Environment):
    """Every episode lasts exactly ``length`` steps whatever the actions; reward 1 per step."""

    def __init__(self, length: int = 7):
        super().__init__()
        self._params = CountdownParams(length=length)

    @property
    def default_params(self) -> CountdownParams:
        return self._params

    def step_env(self, key, state, action, params):
        state = CountdownState(time=state.time + 1)
        done = state.time >= params.length
        return self.get_obs(state, params), state, jnp.asarray(1.0), done, {}

    def reset_env(self, key, params):
        state = CountdownState(time=0)
        return self.get_obs(state, params), state

    def get_obs(self, state, params=None, key=None):
        return jnp.array([state.time / params.length], jnp.float32)

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (1,), jnp.float32)


def make_countdown(length: int = 7) -> Countdown:
    return Countdown(length)


class Stateless(gym.Env):
    """A Gymnasium env that keeps its state where rlcheck cannot reach it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._hidden = np.zeros(1, np.float32)
        return self._hidden, {}

    def step(self, action):
        return self._hidden, 0.0, False, False, {}


def make_stateless() -> gym.Env:
    return Stateless()
