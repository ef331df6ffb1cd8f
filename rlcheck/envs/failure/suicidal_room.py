"""The suicidal room: a living cost, a far goal, and an exit that ends the episode for free.

Irpan's essay (2018) retells a navigation task where "the episode terminates if the agent walks
out of bounds", without a penalty, and the learned policy "was suicidal, because negative
reward was plentiful, positive reward was too hard to achieve". No environment was published;
this one follows the minimal design in the project's research notes (failure-envs.md §2.3):

* An N × N room (N = 9); the agent starts in the corner (0, 0), the goal is at (N − 2, N − 1),
  15 moves away.
* −1 every step (``living_cost``), the exit step and the goal step included; reaching the goal
  adds ``goal_reward`` (100) and ends the episode; stepping off the room ends it too, with
  nothing added.
* Hidden performance: 1 on the step the goal is reached, else 0 (the designer wanted the
  goal), so an episode's performance says whether it got there.

Walking straight to the goal returns 100 − 15 = 85; leaving at once returns −1; wandering for
the whole 100 steps returns −100. While exploration rarely finds the goal, leaving looks like
the best thing to do. With ``goal_reward = 10`` (return −5 at the goal) leaving is optimal,
the control case.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment

from rlcheck.envs.failure import grid


@struct.dataclass
class EnvState(environment.EnvState):
    position: jax.Array  # (row, column); off the room once the agent has left
    time: int


@struct.dataclass
class EnvParams(environment.EnvParams):
    goal_reward: float = 100.0
    living_cost: float = 1.0
    max_steps_in_episode: int = grid.EPISODE_STEPS


class SuicidalRoom(grid.GridEnv):
    """The suicidal room; observation: the agent's cell, one-hot over the N × N room (all zeros
    once it has left).

    Args:
        size: the room's side N (the observation has N² entries).
        goal_reward: the default params' ``goal_reward``.
    """

    env_name = "SuicidalRoom-v0"

    def __init__(self, size: int = 9, goal_reward: float = 100.0):
        super().__init__()
        if size < 2:
            raise ValueError(f"size must be at least 2, got {size}")
        self.size = size
        self.observation_size = size * size
        self.goal = (size - 2, size - 1)
        self._goal_reward = float(goal_reward)

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(goal_reward=self._goal_reward)

    def step_env(
        self, key: jax.Array, state: EnvState, action: Any, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, Any]]:
        del key
        position = state.position + jnp.asarray(grid.MOVES)[action]
        left = ~self._inside(position)
        at_goal = jnp.all(position == jnp.asarray(self.goal))
        reward = -params.living_cost + jnp.where(at_goal, params.goal_reward, 0.0)
        terminated = left | at_goal
        state = EnvState(position=position, time=state.time + 1)
        info = {
            "performance": at_goal.astype(jnp.float32),
            "discount": jnp.where(terminated, 0.0, 1.0),
        }
        return self.get_obs(state), state, reward, terminated, info

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        del key
        state = EnvState(position=jnp.zeros(2, jnp.int32), time=0)
        return self.get_obs(state), state

    def _inside(self, position: jax.Array) -> jax.Array:
        return jnp.all((position >= 0) & (position < self.size))

    def get_obs(self, state: EnvState, params: Any = None, key: Any = None) -> jax.Array:
        inside = self._inside(state.position)
        return grid.one_hot(state.position, (self.size, self.size)) * inside

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return ~self._inside(state.position) | jnp.all(state.position == jnp.asarray(self.goal))

    def board(self, state: EnvState) -> tuple[np.ndarray, tuple[int, int] | None]:
        """The room as drawn (:func:`grid.draw`) with a ring of the outside (``.``) round it,
        where the agent shows on the step it leaves, and the goal."""
        board = np.full((self.size + 2, self.size + 2), ".")
        board[1:-1, 1:-1] = " "
        board[self.goal[0] + 1, self.goal[1] + 1] = "G"
        row, column = (int(v) + 1 for v in np.asarray(state.position))
        shown = 0 <= row < self.size + 2 and 0 <= column < self.size + 2
        return board, (row, column) if shown else None
