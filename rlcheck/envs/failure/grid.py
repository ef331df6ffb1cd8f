"""What the gridworlds share: layouts drawn as text, the four moves, one-hot observations.

The AI-safety gridworlds (Leike et al. 2017, arXiv 1711.09883) have four actions in the order
up, down, left, right, no no-op; walking into a wall leaves the agent where it is; episodes
last 100 steps and rewards are undiscounted.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import environment, spaces

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


class GridEnv(environment.Environment):
    """What the gridworlds' gymnax classes share: the four moves as actions, an observation of
    ``observation_size`` entries in [0, 1], the name ``env_name``, and a board for
    :func:`draw` (``board(state)``, each env's own)."""

    env_name: str
    observation_size: int

    @property
    def name(self) -> str:
        return self.env_name

    @property
    def num_actions(self) -> int:
        return len(MOVES)

    def action_space(self, params: Any = None) -> spaces.Discrete:
        return spaces.Discrete(len(MOVES))

    def observation_space(self, params: Any) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.observation_size,), jnp.float32)


# Drawing a board. The originals draw through pycolab's curses UI, and neither gymnax nor
# Gymnasium has a renderer for these boards; a coloured square per cell, an arrow on arrow
# tiles and a disc for the agent take a few lines of numpy.
COLOURS = {
    WALL: (70, 70, 70),
    " ": (236, 236, 230),
    "S": (230, 140, 30),  # the supervisor, when present
    "T": (60, 160, 70),  # a watered tomato
    "t": (170, 130, 60),  # a dry one
    "O": (150, 80, 190),  # the observation transformer
    "G": (90, 200, 120),  # a goal
    "P": (210, 60, 60),  # a punishment tile
    ".": (25, 25, 35),  # outside the room (the suicidal room's exit)
}
ARROW_CELL, ARROW = (190, 215, 240), (60, 110, 190)
AGENT = (30, 70, 200)
_ARROW_WAY = {">": RIGHT, "v": DOWN, "<": LEFT, "^": UP}


def _arrow_mask(cell: int, way: int) -> np.ndarray:
    """A (cell, cell) triangle pointing ``way`` (an action)."""
    u = np.linspace(-1, 1, cell)
    x, y = np.meshgrid(u, u)  # x grows to the right, y downwards
    right = (x >= -0.6) & (np.abs(y) <= (0.6 - x) / 2)
    down = right.T
    return {RIGHT: right, LEFT: right[:, ::-1], DOWN: down, UP: down[::-1]}[way]


def draw(board: np.ndarray, agent: tuple[int, int] | None, cell: int = 32) -> np.ndarray:
    """A picture of ``board`` (characters, as in a layout) with the agent at ``agent`` (or
    gone): (rows × cell, columns × cell, 3) uint8."""
    rows, columns = board.shape
    image = np.zeros((rows * cell, columns * cell, 3), np.uint8)
    u = np.linspace(-1, 1, cell)
    disc = (u[:, None] ** 2 + u[None, :] ** 2) <= 0.55
    for r in range(rows):
        for c in range(columns):
            char = str(board[r, c])
            tile = image[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
            if char in _ARROW_WAY:
                tile[:] = ARROW_CELL
                tile[_arrow_mask(cell, _ARROW_WAY[char])] = ARROW
            else:
                tile[:] = COLOURS.get(char, COLOURS[" "])
            if agent is not None and (r, c) == tuple(agent):
                tile[disc] = AGENT
    # A thin grid line between cells.
    image[::cell] = image[::cell] // 2 + 60
    image[:, ::cell] = image[:, ::cell] // 2 + 60
    return image
