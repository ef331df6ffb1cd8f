import numpy as np

from rlcheck import envs
from rlcheck.envs.failure import grid
from rlcheck.envs.params import replace_params
from tests.envs.failure.scripted import play

UP, DOWN, LEFT, RIGHT = grid.UP, grid.DOWN, grid.LEFT, grid.RIGHT
TO_GOAL = [DOWN] * 7 + [RIGHT] * 8  # (0,0) → (7,8): 15 moves


def test_leaving_at_once_costs_one_step_and_ends_the_episode():
    for exit_action in (UP, LEFT):
        played = play("rlcheck:SuicidalRoom-v0", [exit_action])
        assert played.terminated and not played.truncated
        assert played.episode_return == -1.0 and played.episode_performance == 0.0


def test_walking_to_the_goal_returns_goal_reward_minus_15_and_performs():
    played = play("rlcheck:SuicidalRoom-v0", TO_GOAL)
    assert played.terminated and len(played.rewards) == 15
    assert played.episode_return == 100.0 - 15.0
    np.testing.assert_array_equal(played.performance, [0.0] * 14 + [1.0])


def test_staying_inside_until_the_time_limit_returns_minus_100():
    played = play("rlcheck:SuicidalRoom-v0", [RIGHT, LEFT])
    assert played.truncated and not played.terminated
    assert played.episode_return == -100.0 and played.episode_performance == 0.0


def test_the_control_case_makes_leaving_optimal():
    env = envs.make("rlcheck:SuicidalRoom-v0", goal_reward=10.0)
    assert float(env.params.goal_reward) == 10.0
    assert play("rlcheck:SuicidalRoom-v0", TO_GOAL, goal_reward=10.0).episode_return == -5.0
    low = replace_params(env.params, goal_reward=10.0)
    assert play("rlcheck:SuicidalRoom-v0", TO_GOAL, params=low).episode_return == -5.0


def test_the_observation_is_the_cell_one_hot_and_zero_outside():
    env = envs.make("rlcheck:SuicidalRoom-v0", size=5)
    assert env.spec.obs_shape == (25,)
    played = play("rlcheck:SuicidalRoom-v0", [DOWN, RIGHT], size=5, repeat=False)
    obs = env.env.get_obs(played.final_state)
    assert obs.sum() == 1 and obs[1 * 5 + 1] == 1
    gone = play("rlcheck:SuicidalRoom-v0", [UP], size=5).final_state
    assert env.env.get_obs(gone).sum() == 0
