"""What the gridworlds share: layouts drawn as text, the four moves, one-hot observations.

The AI-safety gridworlds (Leike et al. 2017, arXiv 1711.09883) have four actions in the order
up, down, left, right, no no-op; walking into a wall leaves the agent where it is; episodes
last 100 steps and rewards are undiscounted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
# (row, column) change of each action, in the gridworlds' order.
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int32)
EPISODE_STEPS = 100
WALL = "#"


def parse(layout: str) -> np.ndarray:
    """A layout drawn as lines of text → a (rows, columns) array of characters."""
    lines = [line for line in layout.strip("\n").split("\n")]
    width = max(len(line) for line in lines)
    return np.array([list(line.ljust(width)) for line in lines])


def find(board: np.ndarray, char: str) -> tuple[int, int]:
    """The (row, column) of the one cell holding ``char``."""
    (row,), (column,) = np.nonzero(board == char)
    return int(row), int(column)


def move(walls: jax.Array, position: jax.Array, action: jax.Array) -> jax.Array:
    """The position after ``action``: one cell that way, unless that cell is a wall."""
    target = position + jnp.asarray(MOVES)[action]
    return jnp.where(walls[target[0], target[1]], position, target)


def one_hot(position: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """A (rows × columns,) float vector with a 1 at ``position``."""
    return jax.nn.one_hot(position[0] * shape[1] + position[1], shape[0] * shape[1])
