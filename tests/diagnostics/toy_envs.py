"""Envs whose answers are known in closed form, for the diagnostics' tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from rlcheck.envs.jax_env import JaxEnv, spec_from_gymnax


@struct.dataclass
class BanditState(environment.EnvState):
    x: jax.Array
    time: int


@struct.dataclass
class BanditParams(environment.EnvParams):
    u: jax.Array = struct.field(default_factory=lambda: jnp.array([1.0, 0.5]))
    b: float = 0.5
    max_steps_in_episode: int = 1


class GaussianBandit(environment.Environment):
    """One-step episodes: context x ~ N(0, I₂), action a ∈ ℝ, reward −(a − u·x − b)².

    For a linear-Gaussian policy a ~ N(w·x + c, σ²) the expected reward is
    J = −‖w − u‖² − (c − b)² − σ² (E[xxᵀ] = I), so its gradient is known exactly.
    """

    @property
    def default_params(self) -> BanditParams:
        return BanditParams()

    def step_env(self, key, state, action, params):
        reward = -((action[0] - state.x @ params.u - params.b) ** 2)
        state = BanditState(x=state.x, time=state.time + 1)
        return self.get_obs(state), state, reward, jnp.asarray(True), {}

    def reset_env(self, key, params):
        state = BanditState(x=jax.random.normal(key, (2,)), time=0)
        return self.get_obs(state), state

    def get_obs(self, state, params=None, key=None):
        return state.x

    def action_space(self, params=None):
        return spaces.Box(-1e6, 1e6, (1,), jnp.float32)

    def observation_space(self, params):
        return spaces.Box(-jnp.inf, jnp.inf, (2,), jnp.float32)


def bandit_return(w: np.ndarray, c: float, log_std: float, params: BanditParams) -> float:
    """J(θ) of the linear-Gaussian policy, exactly."""
    u = np.asarray(params.u, np.float64)
    return float(-np.sum((w - u) ** 2) - (c - params.b) ** 2 - np.exp(2 * log_std))


def bandit_gradient(w: np.ndarray, c: float, log_std: float, params: BanditParams) -> dict:
    """∇J as a pytree shaped like the actor's parameters (``ActorCritic``, no hidden layer)."""
    u = np.asarray(params.u, np.float64)
    return {
        "net": {
            "params": {
                "Dense_0": {
                    "kernel": (-2 * (w - u))[:, None],
                    "bias": np.array([-2 * (c - params.b)]),
                }
            }
        },
        "log_std": np.array([-2 * np.exp(2 * log_std)]),
    }


def make_bandit() -> JaxEnv:
    env = GaussianBandit()
    params = env.default_params
    return JaxEnv(env, params, spec_from_gymnax("test:GaussianBandit", env, params))


# A 5-state MDP with 2 actions: from s under a, the episode ends with probability TERMINATE[s, a]
# (reward REWARD[s, a] is received either way), else the next state is drawn from NEXT[s, a].
REWARD = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0], [3.0, -2.0], [0.5, 0.5]])
TERMINATE = np.array([[0.2, 0.3], [0.25, 0.2], [0.3, 0.2], [0.2, 0.5], [0.4, 0.2]])
NEXT = np.array(
    [
        [[0.0, 0.7, 0.3, 0.0, 0.0], [0.5, 0.0, 0.0, 0.5, 0.0]],
        [[0.2, 0.0, 0.8, 0.0, 0.0], [0.0, 0.1, 0.0, 0.0, 0.9]],
        [[0.0, 0.0, 0.0, 1.0, 0.0], [0.3, 0.3, 0.4, 0.0, 0.0]],
        [[0.0, 0.0, 0.0, 0.0, 1.0], [0.6, 0.0, 0.0, 0.2, 0.2]],
        [[0.5, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5, 0.0]],
    ]
)


@struct.dataclass
class ChainState(environment.EnvState):
    s: jax.Array
    time: int


@struct.dataclass
class ChainParams(environment.EnvParams):
    max_steps_in_episode: int = 200


class TabularMDP(environment.Environment):
    """The 5-state MDP above; observations are one-hot states, episodes start uniformly.

    Every step ends the episode with probability ≥ 0.2, so the 200-step time limit is reached
    with probability < 1e-19: V^π is the solution of the Bellman equation.
    """

    @property
    def default_params(self) -> ChainParams:
        return ChainParams()

    def step_env(self, key, state, action, params):
        key_end, key_next = jax.random.split(key)
        ended = jax.random.uniform(key_end) < jnp.asarray(TERMINATE)[state.s, action]
        s = jax.random.choice(key_next, 5, p=jnp.asarray(NEXT)[state.s, action])
        reward = jnp.asarray(REWARD, jnp.float32)[state.s, action]
        state = ChainState(s=s, time=state.time + 1)
        return self.get_obs(state), state, reward, ended, {}

    def reset_env(self, key, params):
        state = ChainState(s=jax.random.randint(key, (), 0, 5), time=0)
        return self.get_obs(state), state

    def get_obs(self, state, params=None, key=None):
        return jax.nn.one_hot(state.s, 5)

    def action_space(self, params=None):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (5,), jnp.float32)


def make_tabular() -> JaxEnv:
    env = TabularMDP()
    params = env.default_params
    return JaxEnv(env, params, spec_from_gymnax("test:TabularMDP", env, params))


def exact_values(policy: np.ndarray, gamma: float) -> np.ndarray:
    """V^π of the tabular MDP for action probabilities ``policy`` (5, 2): solves
    V = r_π + γ P_π V, where P_π carries the probability of going on."""
    r = np.sum(policy * REWARD, axis=1)
    going_on = (1 - TERMINATE)[:, :, None] * NEXT  # (s, a, s')
    p = np.einsum("sa,sat->st", policy, going_on)
    return np.linalg.solve(np.eye(5) - gamma * p, r)
