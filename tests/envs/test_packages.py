"""Envs that third-party packages register when imported (MiniGrid, ALE's Atari), and
observation spaces that are not a Box."""

import gymnasium as gym
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.envs import Discrete, registry
from rlcheck.errors import EnvWarning, UserError

MINIGRID = "minigrid:MiniGrid-Empty-5x5-v0"


def test_module_env_id_imports_the_package_and_makes_the_registered_env():
    pytest.importorskip("minigrid")
    with pytest.warns(EnvWarning, match=r"entries dropped.*mission \(MissionSpace\)"):
        env = envs.make(MINIGRID)
    assert isinstance(env, envs.HostEnv)
    # MiniGrid's Dict: direction Discrete(4) one-hot, image 7×7×3, the mission text dropped.
    assert env.spec.obs_shape == (4 + 7 * 7 * 3,)
    assert env.spec.action_space == Discrete(7)
    vector = env.vector([0, 1])
    obs = vector.reset()
    assert obs.shape == (2, 151)
    raw, _ = gym.make("MiniGrid-Empty-5x5-v0").reset(seed=0)
    direction = np.eye(4)[raw["direction"]]
    np.testing.assert_array_equal(obs[0], np.concatenate([direction, raw["image"].ravel()]))
    vector.close()


def test_env_packages_make_bare_and_gymnasium_ids_known():
    pytest.importorskip("minigrid")
    envs.import_packages(["minigrid"])
    with pytest.warns(EnvWarning):
        assert envs.make("MiniGrid-Empty-5x5-v0").spec.obs_shape == (151,)
    with pytest.raises(UserError, match=r"^--env-packages: cannot import 'no_such_pkg_xyz'"):
        envs.import_packages(["no_such_pkg_xyz"])


def test_module_factory_reading_still_wins_and_the_error_names_both_readings():
    assert envs.make("tests.helpers.envs:make_cartpole").spec.obs_shape == (4,)
    with pytest.raises(UserError) as error:
        envs.make("gymnasium.envs:NoSuchEnv-v0")
    assert str(error.value) == (
        "env gymnasium.envs:NoSuchEnv-v0: module 'gymnasium.envs' has no callable "
        "'NoSuchEnv-v0' (read as module:factory) and registers no Gymnasium env "
        "'NoSuchEnv-v0' (read as module:EnvId)"
    )


def test_discrete_observations_are_one_hot():
    env = envs.make("gymnasium:FrozenLake-v1")
    assert env.spec.obs_shape == (16,)
    vector = env.vector([0])
    np.testing.assert_array_equal(vector.reset()[0], np.eye(16)[0])
    vector.close()


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (gym.spaces.Text(8), r"observation space Text is not supported"),
        (
            gym.spaces.Dict({"mission": gym.spaces.Text(8)}),
            r"observation space Dict has no entry of numbers \(only mission: Text\)",
        ),
    ],
)
def test_observations_without_numbers_are_refused_naming_the_space(space, message):
    with pytest.raises(UserError, match=message):
        registry.observation_wrapper("my-env", space)


def test_pong_with_the_standard_atari_wrappers():
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    env = envs.make("tests.helpers.envs:make_pong")
    assert env.spec.obs_shape == (4, 84, 84)
    assert env.spec.action_space == Discrete(6)
    vector = env.vector([0])
    vector.reset()
    step = vector.step(np.array([0]))
    assert step.obs.shape == (1, 4, 84, 84) and step.reward.shape == (1,)
    vector.close()


def test_raw_atari_frames_by_module_env_id():
    pytest.importorskip("ale_py")
    env = envs.make("ale_py:ALE/Pong-v5")
    assert env.spec.obs_shape == (210, 160, 3)


def test_rlcheck_quick_on_a_minigrid_env(tmp_path, capsys):
    import json

    from rlcheck.cli import main

    pytest.importorskip("minigrid")
    args = ["quick", MINIGRID, "--algos", "random", "--seeds", "2", "--steps", "1024"]
    args += ["--checkpoints", "2", "--eval-episodes", "2", "--out", str(tmp_path), "--workers", "0"]
    assert main(args) == 0
    (env,) = json.loads((tmp_path / "summary.json").read_text())["envs"]
    assert env["env"] == MINIGRID
    (random,) = env["algos"]
    assert random["seeds"] == 2 and random["iqm"] is not None
