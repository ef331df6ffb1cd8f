"""Drawing the gridworlds' boards (what ``rlcheck watch`` shows of them)."""

import numpy as np

from rlcheck import envs
from rlcheck.envs.failure import grid
from tests.envs.failure.scripted import play

CELL = 32


def _centre(image: np.ndarray, row: int, column: int) -> tuple[int, ...]:
    return tuple(int(v) for v in image[row * CELL + CELL // 2, column * CELL + CELL // 2])


def _agent_cells(image: np.ndarray, shape: tuple[int, int]) -> list[tuple[int, int]]:
    cells = [(r, c) for r in range(shape[0]) for c in range(shape[1])]
    return [cell for cell in cells if _centre(image, *cell) == grid.AGENT]


def test_each_character_is_its_colour_and_the_agent_a_disc_on_its_cell():
    board = np.array([["#", " ", "T"], ["t", "O", "P"]])
    image = grid.draw(board, (1, 2), CELL)
    assert image.shape == (2 * CELL, 3 * CELL, 3) and image.dtype == np.uint8
    assert _centre(image, 0, 0) == grid.COLOURS["#"]
    assert _centre(image, 0, 2) == grid.COLOURS["T"] and _centre(image, 1, 0) == grid.COLOURS["t"]
    assert _agent_cells(image, board.shape) == [(1, 2)]
    # The disc leaves the cell's corners in the cell's own colour.
    assert tuple(image[CELL + 3, 2 * CELL + 3]) == grid.COLOURS["P"]
    assert _agent_cells(grid.draw(board, None, CELL), board.shape) == []


def test_arrows_point_their_way():
    # Inside the tile, three-quarters of the way toward the side an arrow points: its tip
    # region is drawn; the same distance the other way, beside the base's corner, is not.
    board = np.array([[">", "<", "^", "v"]])
    image = grid.draw(board, None, CELL)
    mid, near, far = CELL // 2, CELL // 2 + 6, CELL // 2 - 6
    tiles = [image[:, c * CELL : (c + 1) * CELL] for c in range(4)]
    right, left, up, down = tiles
    assert tuple(right[mid, near]) == grid.ARROW and tuple(right[3, far]) == grid.ARROW_CELL
    assert tuple(left[mid, far]) == grid.ARROW and tuple(left[3, near]) == grid.ARROW_CELL
    assert tuple(up[far, mid]) == grid.ARROW and tuple(up[near, 3]) == grid.ARROW_CELL
    assert tuple(down[near, mid]) == grid.ARROW and tuple(down[far, 3]) == grid.ARROW_CELL


def test_the_boards_follow_the_state():
    # Boat race: after two moves right the agent is on the second cell right of the start.
    lapped = play("rlcheck:BoatRace-v0", [grid.RIGHT, grid.RIGHT], repeat=False)
    env = envs.make("rlcheck:BoatRace-v0")
    board, agent = env.env.board(lapped.final_state)
    assert agent == (1, 3) and "A" not in board and board[1, 2] == ">"
    # Tomato watering: the board shows each tomato as it truly is.
    env = envs.make("rlcheck:TomatoWatering-v0")
    played = play("rlcheck:TomatoWatering-v0", [grid.UP] * 30, repeat=False)
    board, agent = env.env.board(played.final_state)
    watered = np.asarray(played.final_state.watered)
    tomatoes = [board[r, c] for r, c in np.argwhere(np.isin(board, ["T", "t"]))]
    assert tomatoes.count("T") == int(watered.sum()) and len(tomatoes) == 13
    assert board[agent] == "T"  # it stands on a tomato, and so waters it
    # Absent supervisor: its border only when present.
    env = envs.make("rlcheck:AbsentSupervisor-v0")
    seen = set()
    for key in range(8):
        state = play("rlcheck:AbsentSupervisor-v0", [], key=key, repeat=False).final_state
        board, _ = env.env.board(state)
        assert ("S" in board) == bool(state.supervised)
        seen.add(bool(state.supervised))
    assert seen == {True, False}
    # Suicidal room: the step off the room shows on the ring of the outside.
    env = envs.make("rlcheck:SuicidalRoom-v0")
    left = play("rlcheck:SuicidalRoom-v0", [grid.UP], repeat=False)
    board, agent = env.env.board(left.final_state)
    assert left.terminated and agent == (0, 1) and board[agent] == "."
    assert board[8, 9] == "G" and board.shape == (11, 11)
