"""The readers of `rlcheck import` on files written by the real writers: SB3's Monitor, EvalCallback
and logger and PyTorch's SummaryWriter as CleanRL calls it (tests/data/import, written by its
make_fixtures.py), tensorboardX's SummaryWriter, pandas and numpy (written here)."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.readers import Options, read_sources

DATA = Path(__file__).parents[1] / "data" / "import"
EXPECTED = json.loads((DATA / "expected.json").read_text())
ZOO = DATA / "zoo" / "logs"
CLEANRL = DATA / "cleanrl" / "runs"


def _by_seed(runs):
    return {(r.algo, r.env, r.seed): r for r in runs}


def test_rl_zoo_folders_read_as_sb3_reads_its_monitor_files():
    runs = _by_seed(read_sources([ZOO / "ppo", ZOO / "a2c"], Options()))
    assert set(runs) == {(a, "CartPole-v1", s) for a in ("ppo", "a2c") for s in (1, 2)}
    for expected in EXPECTED.values():
        if "monitor_steps" not in expected:
            continue
        run = runs[(expected["algo"], expected["env"], expected["seed"])]
        assert run.format == "sb3-monitor" and run.metric == "train_return"
        # SB3's load_results + ts2xy(…, "timesteps") on the same files.
        np.testing.assert_array_equal(run.steps, expected["monitor_steps"])
        np.testing.assert_array_equal(run.returns, expected["monitor_returns"])
        np.testing.assert_array_equal(run.eval_steps, expected["eval_steps"])
        np.testing.assert_array_equal(run.eval_episodes, expected["eval_returns"])
        assert [f.name for f in run.files] == ["0.monitor.csv", "1.monitor.csv", "evaluations.npz"]
        assert run.inferred["algo"] == "RL Zoo's folder layout logs/ALGO/ENV_N"
        assert run.inferred["env"] == "the Monitor header's env_id"
        assert "experiment number" in run.inferred["seed"]


def test_cleanrl_tensorboard_runs_give_every_episode_as_logged():
    runs = _by_seed(read_sources([CLEANRL], Options()))
    assert set(runs) == {("ppo", "CartPole-v1", s) for s in (1, 2, 3)}
    for name, expected in EXPECTED.items():
        if not name.startswith("cleanrl/"):
            continue
        run = runs[("ppo", "CartPole-v1", expected["seed"])]
        np.testing.assert_array_equal(run.steps, expected["steps"])
        np.testing.assert_array_equal(run.returns, expected["values"])
        assert run.metric == "train_return"
        assert set(run.metrics) == {"charts/episodic_length", "charts/SPS"}
        assert run.inferred["seed"] == "CleanRL's run name ENV__EXP__SEED__TIME"


def test_sb3_tensorboard_runs_take_the_env_from_rl_zoos_folder():
    runs = _by_seed(read_sources([ZOO / "tensorboard"], Options()))
    for name, expected in EXPECTED.items():
        if "tensorboard" not in name:
            continue
        run = runs[(expected["algo"], "CartPole-v1", expected["seed"])]
        # SB3's logger writes at every log_interval-th rollout (PPO 1, A2C 100), in float32.
        written = dict(zip(expected["steps"], expected["values"], strict=True))
        assert len(run.steps) >= 4
        np.testing.assert_allclose(run.returns, [written[s] for s in run.steps], rtol=1e-6)
        assert run.inferred["return"] == "TensorBoard scalar 'rollout/ep_rew_mean'"
        assert "time/fps" in run.metrics


def test_tensorboardx_writer_and_tags(tmp_path):
    from tensorboardX import SummaryWriter

    run = tmp_path / "my_run_seed7"
    writer = SummaryWriter(str(run))
    for i in range(50):
        writer.add_scalar("eval/return", 0.5 * i, 100 * i)
        writer.add_scalar("loss", 1.0 / (i + 1), 100 * i)
    writer.close()
    with pytest.raises(UserError, match=r"my_run_seed7.*: no scalar charts/episodic_return or "):
        read_sources([run], Options())
    (read,) = read_sources([run], Options(tag="eval/return", env="Pendulum-v1", algo="sac"))
    assert (read.algo, read.env, read.seed) == ("sac", "Pendulum-v1", 7)
    assert read.inferred == {
        "seed": "'seed7' in the path",
        "return": "TensorBoard scalar 'eval/return'",
    }
    np.testing.assert_array_equal(read.steps, 100 * np.arange(50))
    np.testing.assert_array_equal(read.returns, 0.5 * np.arange(50))
    assert read.metric == "eval_return"
    np.testing.assert_allclose(read.metrics["loss"][1], 1.0 / np.arange(1, 51), rtol=1e-7)


def _tidy() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"algo": a, "env": "CartPole-v1", "seed": s, "step": t, "return": rng.normal(), "kl": 0.1}
        for a in ("ppo", "dqn")
        for s in (3, 5)
        for t in (300, 100, 200)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tidy_tables(tmp_path, suffix):
    frame = _tidy()
    path = tmp_path / f"runs{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    runs = _by_seed(read_sources([path], Options()))
    assert set(runs) == {(a, "CartPole-v1", s) for a in ("ppo", "dqn") for s in (3, 5)}
    for (algo, _, seed), run in runs.items():
        rows = frame[(frame.algo == algo) & (frame.seed == seed)].sort_values("step")
        np.testing.assert_array_equal(run.steps, rows.step)
        np.testing.assert_array_equal(run.returns, rows["return"])
        np.testing.assert_array_equal(run.metrics["kl"][1], rows.kl)
        assert run.inferred == {}


def test_a_table_without_an_env_column_takes_env(tmp_path):
    path = tmp_path / "runs.csv"
    _tidy().drop(columns="env").to_csv(path, index=False)
    with pytest.raises(UserError, match=r"runs.csv: column 'env' missing \(or pass --env\)"):
        read_sources([path], Options())
    assert {r.env for r in read_sources([path], Options(env="Acrobot-v1"))} == {"Acrobot-v1"}


def test_rliable_score_arrays(tmp_path):
    rng = np.random.default_rng(1)
    finals, curves = rng.normal(size=(5, 3)), rng.normal(size=(4, 3, 6))
    np.savez(tmp_path / "scores.npz", DER=finals, SPR=curves)
    runs = _by_seed(read_sources([tmp_path / "scores.npz"], Options(env="Pong,Breakout,Qbert")))
    assert len(runs) == 5 * 3 + 4 * 3
    assert runs[("DER", "Breakout", 4)].final == finals[4, 1]
    np.testing.assert_array_equal(runs[("SPR", "Qbert", 2)].returns, curves[2, 2])
    assert not runs[("SPR", "Qbert", 2)].env_steps
    np.save(tmp_path / "CURL.npy", finals)
    (first, *_) = read_sources([tmp_path / "CURL.npy"], Options())
    assert (first.algo, first.env, first.seed) == ("CURL", "task-1", 0)
    with pytest.raises(UserError, match=r"scores.npz: --env names 2 task\(s\), and the scores"):
        read_sources([tmp_path / "scores.npz"], Options(env="Pong,Breakout"))


def _broken(tmp_path: Path, source: Path, cut: int | None = None, text: bytes | None = None):
    target = tmp_path / source.relative_to(DATA)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    data = source.read_bytes()
    target.write_bytes(text if text is not None else data[:cut])
    return target


def _first_event_file(folder: Path) -> Path:
    return next(folder.rglob("events.out.tfevents.*"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda tmp: _broken(tmp, _first_event_file(CLEANRL), cut=-7),
            r"events.out.tfevents.*: not a complete TensorBoard event file \(truncated\)$",
        ),
        (
            lambda tmp: _broken(tmp, _first_event_file(CLEANRL), text=b"0123456789abcdef" * 4),
            r"events.out.tfevents.*: not a complete TensorBoard event file \(a record fails",
        ),
        (
            lambda tmp: _broken(
                tmp, ZOO / "ppo" / "CartPole-v1_1" / "0.monitor.csv", text=b"r,l,t\n1,1,1\n"
            ),
            r"0.monitor.csv: not an SB3 Monitor file",
        ),
        (
            lambda tmp: _broken(
                tmp,
                ZOO / "ppo" / "CartPole-v1_1" / "0.monitor.csv",
                text=(ZOO / "ppo" / "CartPole-v1_1" / "0.monitor.csv").read_bytes() + b"12.0,1",
            ),
            r"0.monitor.csv: malformed Monitor CSV: .*",
        ),
        (
            lambda tmp: (tmp / "a.npy").write_bytes(pickle.dumps({"x": 1})) and tmp / "a.npy",
            r"a.npy: holds pickled Python objects, which rlcheck never unpickles",
        ),
    ],
)
def test_damaged_files_are_one_line_errors_naming_them(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(UserError, match=message) as error:
        read_sources([path], Options(algo="ppo", seed_from=r"(\d+)"))
    assert "\n" not in str(error.value)


def test_pickled_numpy_is_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "scores.npy", np.array([{"DER": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match=r"scores.npy: holds pickled Python objects, which rlcheck"):
        read_sources([tmp_path / "scores.npy"], Options())


def test_a_run_without_a_seed_asks_for_one(tmp_path):
    monitor = _broken(tmp_path, ZOO / "ppo" / "CartPole-v1_1" / "0.monitor.csv", cut=None)
    lone = tmp_path / "0.monitor.csv"
    monitor.rename(lone)
    with pytest.raises(UserError) as error:
        read_sources([lone], Options())
    assert str(error.value) == (
        f"{lone}: cannot tell the algorithm (pass --algo NAME); the seed (pass --seed-from "
        "REGEX, its first group matching the seed)"
    )
    (run,) = read_sources([lone], Options(algo="ppo", seed_from=r"(\d)\.monitor"))
    assert (run.algo, run.env, run.seed) == ("ppo", "CartPole-v1", 0)


def test_tensor_scalars_as_tf_summary_writes_them(tmp_path):
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    run = tmp_path / "HalfCheetah-v5__td3__4__1700000000"
    writer = EventFileWriter(str(run))
    for i in range(5):
        writer.add_event(Event(step=10 * i, summary=scalar_pb("charts/episodic_return", i / 3)))
    writer.close()
    (read,) = read_sources([run], Options())
    assert (read.algo, read.env, read.seed) == ("td3", "HalfCheetah-v5", 4)
    np.testing.assert_array_equal(read.steps, 10 * np.arange(5))
    np.testing.assert_allclose(read.returns, np.arange(5) / 3, rtol=1e-7)
