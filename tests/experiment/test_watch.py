"""rlcheck watch: one episode of a stored policy, a frame per step, as MP4 or GIF."""

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image, ImageSequence

from rlcheck.cli import main
from rlcheck.experiment.evaluate import evaluate_policies
from rlcheck.experiment.policies import find_unit
from rlcheck.experiment.store import Store
from rlcheck.experiment.watch import pick_seed, watch_episode, write_video
from tests.helpers.trained import shared_copy, train

# imageio's reader starts ffmpeg with subprocess, whose fork JAX warns about (ffmpeg runs no JAX).
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return shared_copy(tmp_path_factory)


def _episode(directory, unit, which):
    store = Store(directory, create=False)
    try:
        row = find_unit(store, unit)
        return watch_episode(store, row, pick_seed(store, row, which))
    finally:
        store.close()


def test_the_mp4_has_a_frame_per_step(trained, tmp_path, capsys):
    target = tmp_path / "ppo.mp4"
    assert main(["watch", str(trained), "--unit", "ppo", "--seed", "best", "-o", str(target)]) == 0
    episode = _episode(trained, "ppo", "best")
    printed = capsys.readouterr().out
    assert f"one episode, {episode.steps} steps" in printed
    reader = imageio.get_reader(target)
    try:
        frames = reader.count_frames()
        meta = reader.get_meta_data()
    finally:
        reader.close()
    assert frames == episode.steps == len(episode.frames)
    # CartPole pays 1 a step: the episode's return is its length.
    assert episode.episode_return == episode.steps
    assert meta["codec"] == "h264" and meta["fps"] == 50 and meta["size"] == (600, 400)


def test_the_gif_plays_a_frame_time_per_step(trained, tmp_path):
    episode = _episode(trained, "dqn", "worst")
    target = write_video(episode, tmp_path / "dqn.gif")
    # Pillow folds a frame identical to the one before into it (shown twice as long): the
    # GIF's play time is the episode's steps at the env's 50 frames a second.
    with Image.open(target) as gif:
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
        assert gif.size == (600, 400)
    assert sum(durations) == episode.steps * 20 and len(durations) <= episode.steps


def test_best_median_worst_follow_the_final_returns(trained):
    store = Store(trained, create=False)
    row = find_unit(store, "ars")
    finals = {s: f for s, _, f, _ in store.seed_rows(row["key"])}
    picks = {which: pick_seed(store, row, which) for which in ("best", "median", "worst")}
    store.close()
    low, high = sorted(finals, key=finals.get)
    assert picks == {"best": high, "median": low, "worst": low}
    # The pole is drawn where the state puts it: frames of one episode differ.
    episode = _episode(trained, "ars", str(high))
    assert not np.array_equal(episode.frames[0], episode.frames[-1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "ppo", "--seed", "middle"], "--seed: 'middle' is not best"),
        (["--unit", "ppo", "--seed", "7"], "has no seed 7"),
        (["--unit", "ppo", "-o", "clip.avi"], "write .mp4 or .gif"),
        (["--unit", "nosuch"], "no unit 'nosuch'"),
        ([], "holds 4 units; name one"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys, args, message):
    args = [str(tmp_path / a) if a.endswith(".avi") else a for a in args]
    assert main(["watch", str(trained), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_an_evaluated_policy_is_not_stored_to_watch(tmp_path, capsys):
    module = "tests.experiment.evaluate_policies:lean_jax"
    evaluate_policies([module], "CartPole-v1", tmp_path, 2, "2", jit=True)
    assert main(["watch", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "evaluated by rlcheck evaluate" in err and err.count("\n") == 1, err


def _train_random(directory, env):
    """The random policy on ``env``, 2 seeds, stored like any trained policy."""
    spec = {
        "seeds": [0, 1],
        "budget": 256,
        "eval": {"checkpoints": 1, "episodes": 1, "final_episodes": 2},
        "env": [{"id": env}],
        "algo": [{"name": "random", "config": {"num_envs": 2, "num_steps": 16}}],
    }
    train(directory, spec)


def test_a_gymnasium_env_draws_itself(tmp_path):
    _train_random(tmp_path, "gymnasium:CartPole-v1")
    episode = _episode(tmp_path, "random", "worst")
    target = write_video(episode, tmp_path / "random.mp4")
    reader = imageio.get_reader(target)
    try:
        assert reader.count_frames() == episode.steps == episode.episode_return
    finally:
        reader.close()


@pytest.mark.parametrize("env", ["rlcheck:BoatRace-v0", "rlcheck:SuicidalRoom-v0"])
def test_a_gridworld_draws_its_board(tmp_path, env):
    from rlcheck.envs.failure import grid

    _train_random(tmp_path, env)
    episode = _episode(tmp_path, "random", "worst")
    target = write_video(episode, tmp_path / "grid.mp4")
    reader = imageio.get_reader(target)
    try:
        assert reader.count_frames() == episode.steps == len(episode.frames)
    finally:
        reader.close()
    # The first frame: the agent at its start, and nowhere else.
    start = (1, 1)  # the boat's start; the room's corner (0, 0), drawn inside a ring
    cell = episode.frames[0].shape[0] // (5 if "Boat" in env else 11)
    centres = {
        (r, c)
        for r in range(episode.frames[0].shape[0] // cell)
        for c in range(episode.frames[0].shape[1] // cell)
        if tuple(episode.frames[0][r * cell + cell // 2, c * cell + cell // 2]) == grid.AGENT
    }
    assert centres == {start}
    if "Boat" in env:  # no end but the time limit, and every frame a picture of the board
        assert episode.steps == 100 and episode.fps == 8
    else:  # -1 a step, and the episode ends on the step off the room (or the goal)
        assert episode.episode_return in (-episode.steps, 100 - episode.steps)
