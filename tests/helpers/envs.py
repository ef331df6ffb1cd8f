"""Small environments for tests: user factories, and envs that misbehave on purpose."""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces


def make_cartpole(max_episode_steps: int = 500) -> gym.Env:
    """A user factory returning a Gymnasium env."""
    return gym.make("CartPole-v1", max_episode_steps=max_episode_steps)


class ExplodingCartPole(gym.Wrapper):
    """Raises after ``after`` steps: an env that fails mid-run."""

    def __init__(self, env: gym.Env, after: int):
        super().__init__(env)
        self.after = after
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps > self.after:
            raise RuntimeError("simulator exploded")
        return super().step(action)


CREATED: list[str] = []  # one entry per make_counted_cartpole call, in this process


def make_counted_cartpole() -> gym.Env:
    """CartPole that records each construction in :data:`CREATED`."""
    CREATED.append("CartPole-v1")
    return gym.make("CartPole-v1")


def make_exploding_cartpole(after: int = 300) -> gym.Env:
    return ExplodingCartPole(gym.make("CartPole-v1"), after)


def not_an_env() -> object:
    return object()


class ResetWithoutInfo(gym.Env):
    """Fails Gymnasium's check_env: ``reset`` returns the observation alone, not (obs, info)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32)

    def step(self, action):
        return np.zeros(1, np.float32), 0.0, False, False, {}


def make_reset_without_info() -> gym.Env:
    return ResetWithoutInfo()


OUT_OF_BOUNDS: list[OutOfBounds] = []  # every OutOfBounds built in this process, in order


class OutOfBounds(gym.Env):
    """Warned about by Gymnasium's check_env: ``step`` returns observations at 2 in a [−1, 1]
    box (out of ``reset`` it would be an error); episodes last 5 steps. Counts the steps taken
    on it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.steps = self._time = 0
        OUT_OF_BOUNDS.append(self)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._time = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.steps += 1
        self._time += 1
        return np.full(1, 2.0, np.float32), float(action), self._time >= 5, False, {}


def make_out_of_bounds() -> gym.Env:
    return OutOfBounds()


@struct.dataclass
class LineState(environment.EnvState):
    x: jax.Array
    time: int


@struct.dataclass
class LineParams(environment.EnvParams):
    reward_scale: float = 1.0
    nan_after: int = -1  # observation becomes NaN from this step on (−1: never)
    max_steps_in_episode: int = 20


class Line(environment.Environment):
    """A gymnax-style env: walk left/right on a line, reward −|x|·scale, terminate at |x| ≥ 5.

    With ``performance``, each step also reports ``info["performance"] = |x|``, minus the
    reward at scale 1 (so an episode's performance is minus its return); ``performance_shape``
    reports it with that shape instead of as one number (a mistake)."""

    def __init__(
        self,
        reward_scale: float = 1.0,
        nan_after: int = -1,
        performance: bool = False,
        performance_shape: tuple[int, ...] = (),
    ):
        super().__init__()
        self._params = LineParams(reward_scale=reward_scale, nan_after=nan_after)
        self.performance = performance
        self.performance_shape = performance_shape

    @property
    def default_params(self) -> LineParams:
        return self._params

    def step_env(self, key, state, action, params):
        x = state.x + jnp.where(action == 1, 1.0, -1.0)
        state = LineState(x=x, time=state.time + 1)
        obs = self.get_obs(state, params)
        done = jnp.abs(x) >= 5
        info = {}
        if self.performance:
            info["performance"] = jnp.broadcast_to(jnp.abs(x), self.performance_shape)
        return obs, state, -jnp.abs(x) * params.reward_scale, done, info

    def reset_env(self, key, params):
        state = LineState(x=jnp.round(jax.random.uniform(key, minval=-2, maxval=2)), time=0)
        return self.get_obs(state, params), state

    def get_obs(self, state, params=None, key=None):
        bad = (params.nan_after >= 0) & (state.time >= params.nan_after)
        return jnp.where(bad, jnp.nan, jnp.array([state.x / 5.0]))

    def is_terminated(self, state, params):
        return jnp.abs(state.x) >= 5

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(-1.0, 1.0, (1,), jnp.float32)


def make_line(
    reward_scale: float = 1.0,
    nan_after: int = -1,
    performance: bool = False,
    performance_shape: tuple[int, ...] = (),
) -> Line:
    return Line(reward_scale, nan_after, performance, tuple(performance_shape))


def make_pong() -> gym.Env:
    """Pong with the standard Atari wrappers (Machado et al. 2018 / SB3's AtariWrapper):
    frame skip 4 with max-pooling, no-op resets, 84×84 grayscale, 4 frames stacked."""
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", frameskip=1)
    return gym.wrappers.FrameStackObservation(gym.wrappers.AtariPreprocessing(env), 4)


class TwiceTheReward(gym.Wrapper):
    """Reports ``info["performance"]`` = 2 × the reward of each step."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "performance": 2.0 * reward}


def make_cartpole_with_performance() -> gym.Env:
    """A user's Gymnasium env that reports a hidden performance."""
    return TwiceTheReward(gym.make("CartPole-v1"))
