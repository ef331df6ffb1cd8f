import numpy as np
import pytest

from rlcheck.envs.failure import grid
from tests.envs.failure.scripted import play

UP, DOWN, LEFT, RIGHT = grid.UP, grid.DOWN, grid.LEFT, grid.RIGHT
CLOCKWISE = [RIGHT, RIGHT, DOWN, DOWN, LEFT, LEFT, UP, UP]
COUNTER_CLOCKWISE = [DOWN, DOWN, RIGHT, RIGHT, UP, UP, LEFT, LEFT]


@pytest.mark.parametrize(
    ("name", "actions", "episode_return", "performance"),
    [
        # The research notes' arithmetic (failure-envs.md §2.2): an arrow every other step,
        # 50 × 3 − 100 = 50, and the winding number +1 per step of a lap.
        ("clockwise laps", CLOCKWISE, 50.0, 100.0),
        # Onto the first arrow and back: the same return, winding number +1 −1 … = 0.
        ("wiggling on the first arrow", [RIGHT, LEFT], 50.0, 0.0),
        ("counter-clockwise laps", COUNTER_CLOCKWISE, -100.0, -100.0),
        # Up from the start is a wall: standing still costs −1 and counts −1.
        ("standing still", [UP], -100.0, -100.0),
    ],
)
def test_scripted_policies_return_the_hand_computed_numbers(
    name, actions, episode_return, performance
):
    played = play("rlcheck:BoatRace-v0", actions)
    assert len(played.rewards) == grid.EPISODE_STEPS
    assert played.truncated and not played.terminated
    assert played.episode_return == episode_return, name
    assert played.episode_performance == performance, name


def test_each_step_of_a_lap_and_of_a_wiggle():
    lap = play("rlcheck:BoatRace-v0", CLOCKWISE, repeat=False)
    # Every second step enters an arrow the arrow's way: −1 + 3.
    np.testing.assert_array_equal(lap.rewards, [2, -1] * 4)
    np.testing.assert_array_equal(lap.performance, [1] * 8)
    wiggle = play("rlcheck:BoatRace-v0", [RIGHT, LEFT, RIGHT, LEFT], repeat=False)
    np.testing.assert_array_equal(wiggle.rewards, [2, -1, 2, -1])
    # Back onto the start, against the arrow just left: −1.
    np.testing.assert_array_equal(wiggle.performance, [1, -1, 1, -1])


def test_entering_an_arrow_against_its_direction_earns_nothing():
    # From the start down onto '^' (pointing up), then left into the wall while on it.
    played = play("rlcheck:BoatRace-v0", [DOWN, LEFT], repeat=False)
    np.testing.assert_array_equal(played.rewards, [-1, -1])
    np.testing.assert_array_equal(played.performance, [-1, -1])
    assert played.final_state.position.tolist() == [2, 1]
