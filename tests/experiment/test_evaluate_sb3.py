"""rlcheck evaluate on Stable-Baselines3 model zips, saved by SB3 itself (tiny trainings)."""

import base64
import hashlib
import json
import pickle
import zipfile
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from rlcheck.cli import main
from rlcheck.drivers.common import env_seeds
from rlcheck.experiment.evaluate import (
    HOST_STREAM,
    TRAINING_RUNS,
    evaluate_policies,
    sb3_algorithm,
)
from rlcheck.experiment.store import Store

sb3 = pytest.importorskip("stable_baselines3")

GYM_CARTPOLE = "gymnasium:CartPole-v1"


def _train(algo: str, env: str, seed: int, path: Path) -> Path:
    """A few dozen steps of SB3 training, saved as SB3 saves: enough to be a real model zip."""
    cls = getattr(sb3, algo)
    if algo in ("PPO", "A2C"):
        options = {"n_steps": 32} | ({"batch_size": 32} if algo == "PPO" else {})
    else:
        options = {"learning_starts": 10, "buffer_size": 100}
    model = cls("MlpPolicy", env, seed=seed, device="cpu", **options)
    # SB3 otherwise makes a log folder in the system's temp directory on every learn().
    model.set_logger(sb3.common.logger.configure(str(path.parent / "sb3-log"), []))
    model.learn(64)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sb3")
    return [_train("PPO", "CartPole-v1", s, folder / f"ppo_{s}.zip") for s in (0, 1)]


@pytest.mark.parametrize(
    ("algo", "env"),
    [
        ("PPO", "CartPole-v1"),
        ("A2C", "CartPole-v1"),
        ("DQN", "CartPole-v1"),
        ("SAC", "Pendulum-v1"),
        ("TD3", "Pendulum-v1"),
        ("DDPG", "Pendulum-v1"),
    ],
)
def test_the_algorithm_is_read_from_the_zip_without_unpickling(tmp_path, algo, env):
    assert sb3_algorithm(_train(algo, env, 0, tmp_path / "model.zip")) == algo


def _sb3_returns(path: Path, seed: int, episodes: int, stats: Path | None = None) -> np.ndarray:
    """The model played in a plain Gymnasium loop, each episode reset with the seed rlcheck's
    evaluation of seed ``seed`` uses: SB3's own predict, nothing of rlcheck's loop; with
    ``stats``, on observations normalized by SB3's own VecNormalize (loaded the way RL Zoo's
    enjoy script loads it)."""
    model = sb3.PPO.load(path, device="cpu")
    normalize = None
    if stats is not None:
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import VecNormalize

        normalize = VecNormalize.load(str(stats), make_vec_env("CartPole-v1", n_envs=1))
        normalize.training = False
    env = gymnasium.make("CartPole-v1")
    returns = []
    for reset_seed in env_seeds(seed, HOST_STREAM, episodes):
        obs, _ = env.reset(seed=reset_seed)
        total, done = 0.0, False
        while not done:
            seen = obs if normalize is None else normalize.normalize_obs(obs)
            action, _ = model.predict(seen, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return np.array(returns)


def test_two_zips_are_two_training_runs_with_sb3s_own_returns(zips, tmp_path):
    done = evaluate_policies(
        [str(z) for z in zips], GYM_CARTPOLE, tmp_path, episodes=3, trust_pickle=True
    )
    assert done.label == "SB3 PPO" and done.seeds_are == TRAINING_RUNS
    assert done.seeds == [0, 1]
    for row, (seed, path) in zip(done.returns, enumerate(zips), strict=True):
        np.testing.assert_array_equal(row, _sb3_returns(path, seed, 3))
    store = Store(tmp_path, create=False)
    (unit,) = store.units()
    stored = unit["meta"]["evaluate"]["policies"]
    assert [p["sha256"] for p in stored] == [
        hashlib.sha256(z.read_bytes()).hexdigest() for z in zips
    ]
    store.close()


def test_the_cli_writes_the_report_of_a_zip(zips, tmp_path, capsys):
    out = tmp_path / "one"
    code = main(
        [
            *("evaluate", str(zips[0]), "--env", GYM_CARTPOLE, "--trust-pickle"),
            *("--episodes", "2", "--seeds", "3", "--out", str(out)),
        ]
    )
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    (algo,) = summary["envs"][0]["algos"]
    assert algo["label"] == "SB3 PPO" and algo["seeds"] == 3
    assert "3 (evaluation)" in (out / "report.html").read_text()


class _Touch:
    """Unpickling this creates a file: what any pickled object in a zip could do instead."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _planted_zip(real: Path, marker: Path, out: Path) -> Path:
    """A copy of a real SB3 zip whose pickled policy class touches ``marker`` when loaded."""
    with zipfile.ZipFile(real) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(files["data"])
    payload = base64.b64encode(pickle.dumps(_Touch(marker))).decode()
    data["policy_class"][":serialized:"] = payload
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out


def test_without_trust_pickle_a_zip_is_never_opened(zips, tmp_path, capsys):
    marker = tmp_path / "ran"
    planted = _planted_zip(zips[0], marker, tmp_path / "planted.zip")
    code = main(["evaluate", str(planted), "--env", GYM_CARTPOLE, "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 2 and "--trust-pickle" in err and err.count("\n") == 1, err
    assert not marker.exists()
    # Trusted, SB3's loader runs what the file names: the reason for the flag.
    code = main(
        [
            *("evaluate", str(planted), "--env", GYM_CARTPOLE, "--trust-pickle"),
            *("--out", str(tmp_path / "b")),
        ]
    )
    err = capsys.readouterr().err
    assert marker.exists()
    assert code == 2 and "could not load it as PPO" in err and err.count("\n") == 1, err


def test_a_truncated_zip_is_one_line_naming_it(zips, tmp_path, capsys):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(zips[0].read_bytes()[:300])
    code = main(
        ["evaluate", str(broken), "--env", GYM_CARTPOLE, "--trust-pickle", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and str(broken) in err and "not a Stable-Baselines3 model zip" in err, err
    assert err.count("\n") == 1, err


@pytest.fixture(scope="module")
def normalized(tmp_path_factory):
    """A PPO zip trained inside SB3's VecNormalize, and the statistics saved beside it (RL Zoo's
    layout: ``vecnormalize.pkl``)."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    folder = tmp_path_factory.mktemp("sb3-normalized")
    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=0))
    model = sb3.PPO("MlpPolicy", venv, seed=0, device="cpu", n_steps=32, batch_size=32)
    model.set_logger(sb3.common.logger.configure(str(folder / "sb3-log"), []))
    model.learn(64)
    model.save(folder / "CartPole-v1.zip")
    venv.save(folder / "vecnormalize.pkl")
    return folder / "CartPole-v1.zip", folder / "vecnormalize.pkl"


def test_vecnormalize_statistics_are_applied_as_sb3_applies_them(normalized, tmp_path):
    zip_path, stats = normalized
    done = evaluate_policies(
        [str(zip_path)],
        GYM_CARTPOLE,
        tmp_path,
        episodes=3,
        seeds="2",
        trust_pickle=True,
        vecnormalize=[stats],
    )
    for seed, row in zip(done.seeds, done.returns, strict=True):
        np.testing.assert_array_equal(row, _sb3_returns(zip_path, seed, 3, stats))
    # Without the statistics the same model acts on raw observations: another unit, and
    # returns this model does not get (what the option is for).
    raw = evaluate_policies(
        [str(zip_path)], GYM_CARTPOLE, tmp_path, episodes=3, seeds="2", trust_pickle=True
    )
    assert raw.stored and raw.key != done.key
    assert not np.array_equal(raw.returns, done.returns)
    store = Store(tmp_path, create=False)
    unit = next(u for u in store.units() if u["key"] == done.key)
    (policy,) = unit["meta"]["evaluate"]["policies"]
    assert policy["vecnormalize_sha256"] == hashlib.sha256(stats.read_bytes()).hexdigest()
    store.close()


def test_bad_vecnormalize_files_are_one_line(normalized, zips, tmp_path, capsys):
    zip_path, stats = normalized
    not_stats = tmp_path / "other.pkl"
    not_stats.write_bytes(pickle.dumps({"obs_rms": None}))
    base = ["evaluate", str(zip_path), "--env", GYM_CARTPOLE, "--out", str(tmp_path / "o")]
    twice = ["--vecnormalize", str(stats), "--vecnormalize", str(stats)]
    for argv, expected in (
        ([*base, "--vecnormalize", str(stats)], "--trust-pickle"),
        (
            [*base, "--trust-pickle", "--vecnormalize", str(not_stats)],
            f"--vecnormalize {not_stats}: not a saved VecNormalize (it holds a dict)",
        ),
        (
            [*base, "--trust-pickle", "--vecnormalize", str(tmp_path / "nope.pkl")],
            "nope.pkl: no such file",
        ),
        (
            [*base, str(zips[0]), str(zips[1]), "--trust-pickle", *twice],
            "--vecnormalize: give one file for every policy or one per policy; got 2 for 3",
        ),
        (
            ["evaluate", "math:floor", "--env", GYM_CARTPOLE, "--vecnormalize", str(stats)],
            "--vecnormalize: applies to SB3 .zip models; 'math:floor' is a function",
        ),
    ):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and expected in err and err.count("\n") == 1, (argv, err)
