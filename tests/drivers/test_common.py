import numpy as np
import pytest

from rlcheck.drivers.common import (
    checkpoint_flags,
    env_seeds,
    make_schedule,
    per_checkpoint,
)
from rlcheck.errors import UserError


def test_schedule_rounds_checkpoints_down_to_whole_updates():
    s = make_schedule(500_000, 512, 20, "ppo")
    assert s.grid[0] == 25_000 and s.grid[-1] == 500_000
    assert s.num_updates == 976  # CleanRL: 500000 // 512
    assert s.env_steps == 976 * 512
    assert s.update_ends[0] == 48  # 25000 // 512
    assert np.all(s.checkpoint_env_steps <= s.grid)
    assert np.all(s.grid - s.checkpoint_env_steps < 512)


def test_budget_smaller_than_one_update_is_a_user_error():
    with pytest.raises(UserError, match="budget 100 is smaller than one update of ppo"):
        make_schedule(100, 512, 20, "ppo")


def test_checkpoints_closer_than_one_update_are_merged_at_the_last_nominal_step():
    s = make_schedule(2048, 1024, 4, "x")  # grid 512, 1024, 1536, 2048 → ends 0, 1, 1, 2
    assert s.requested == 4 and s.merged
    np.testing.assert_array_equal(s.grid, [1536, 2048])
    np.testing.assert_array_equal(s.update_ends, [1, 2])
    np.testing.assert_array_equal(s.checkpoint_env_steps, [1024, 2048])
    flags, index = checkpoint_flags(s)
    assert flags.tolist() == [True, True]
    assert index.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("budget", "steps_per_update", "checkpoints"),
    [(5000, 512, 20), (5000, 1024, 20), (1100, 1024, 50), (3, 1, 50), (20_000, 7, 50), (97, 5, 13)],
)
def test_merged_checkpoints_never_share_an_update(budget, steps_per_update, checkpoints):
    s = make_schedule(budget, steps_per_update, checkpoints, "x")
    assert np.all(np.diff(s.update_ends) > 0) and s.update_ends[0] >= 1
    assert np.all(np.diff(s.checkpoint_env_steps) > 0)
    assert s.grid[-1] == budget and s.num_updates == budget // steps_per_update
    # Every requested checkpoint's update is still evaluated, exactly once.
    nominal = np.round(budget * np.arange(1, checkpoints + 1) / checkpoints)
    wanted = np.unique(np.maximum(nominal // steps_per_update, 1))
    np.testing.assert_array_equal(s.update_ends, wanted)
    assert s.merged == (len(wanted) < checkpoints)
    flags, index = checkpoint_flags(s)
    assert flags.sum() == len(s.grid)
    np.testing.assert_array_equal(index[flags], np.arange(len(s.grid)))


def test_a_schedule_that_needs_no_merging_is_the_requested_grid():
    s = make_schedule(10_000, 512, 5, "ppo")
    assert not s.merged
    np.testing.assert_array_equal(s.grid, [2000, 4000, 6000, 8000, 10_000])
    np.testing.assert_array_equal(s.update_ends, [3, 7, 11, 15, 19])


def test_per_checkpoint_sums_training_episodes_per_interval():
    s = make_schedule(4 * 10, 10, 2, "x")  # 4 updates, checkpoints after updates 2 and 4
    rows = {
        "train_return_sum": np.array([[1.0, 2.0, 3.0, 4.0]]),
        "train_episodes": np.array([[1, 0, 2, 1]]),
        "eval_returns": np.arange(2 * 3, dtype=float).reshape(1, 2, 3),
        "internals": np.zeros((1, 4, 0)),
    }
    out = per_checkpoint(rows, s)
    np.testing.assert_array_equal(out["train_return_sum"], [[3.0, 7.0]])
    np.testing.assert_array_equal(out["train_episodes"], [[1, 3]])
    # Evaluations are per checkpoint already; the internals stay per update.
    np.testing.assert_array_equal(out["eval_returns"], rows["eval_returns"])
    assert out["internals"].shape == (1, 4, 0)


def test_env_seeds_differ_across_seeds_and_streams():
    a, b, c = env_seeds(0, 0, 4), env_seeds(1, 0, 4), env_seeds(0, 1, 4)
    assert len(set(a) | set(b) | set(c)) == 12
    assert env_seeds(0, 0, 4) == a
