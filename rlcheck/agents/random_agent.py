"""The uniformly random policy: the first bar any learner must clear, run by the same harness."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from rlcheck.core import Trajectory, static
from rlcheck.envs.spec import Box, EnvSpec


@dataclass(frozen=True)
class Config:
    """Only how the random policy's env steps are batched; it learns nothing."""

    num_envs: int = static(4, "parallel envs per seed", unit="count")
    num_steps: int = static(128, "steps per env between (empty) updates", unit="env steps per env")


@struct.dataclass
class State:
    hparams: dict


class RandomAgent:
    """Uniform over the discrete actions, or uniform in the action box."""

    name = "random"
    metric_names: tuple[str, ...] = ()

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        del budget
        self.spec = spec
        self.config = config
        self.num_envs = config.num_envs
        self.rollout_len = config.num_steps

    def hparams(self) -> dict[str, jax.Array]:
        return {}

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        del key
        return State(hparams=hparams)

    def _sample(self, obs: jax.Array, key: jax.Array) -> jax.Array:
        batch = obs.shape[: obs.ndim - len(self.spec.obs_shape)]
        space = self.spec.action_space
        if isinstance(space, Box):
            return jax.random.uniform(
                key,
                (*batch, *space.shape),
                minval=jnp.asarray(space.low),
                maxval=jnp.asarray(space.high),
            )
        return jax.random.randint(key, batch, 0, space.n)

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        return state, self._sample(obs, key), {}

    def policy_params(self, state: State) -> dict:
        """Nothing: the random policy has no parameters."""
        del state
        return {}

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        del params, deterministic
        return self._sample(obs, key)

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        del traj, key
        return state, {}

    def params_finite(self, state: State) -> jax.Array:
        del state
        return jnp.asarray(True)
