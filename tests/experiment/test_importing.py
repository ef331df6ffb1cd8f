"""`rlcheck import` into a results store: units, the common grid, final returns, provenance, and
importing again."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rlcheck.cli import main
from rlcheck.errors import UserError
from rlcheck.experiment.importing import align, import_runs
from rlcheck.experiment.readers import Options
from rlcheck.experiment.store import Store

DATA = Path(__file__).parents[1] / "data" / "import"
EXPECTED = json.loads((DATA / "expected.json").read_text())
ZOO = DATA / "zoo" / "logs"


def test_align_takes_the_mean_of_each_interval_else_the_last_value():
    steps, values = np.array([10, 20, 30, 55]), np.array([1.0, 2.0, 3.0, 4.0])
    got = align(steps, values, np.array([5, 15, 30, 45, 60]))
    np.testing.assert_array_equal(got, [np.nan, 1.0, 2.5, 3.0, 4.0])


def _interval_means(steps: list[int], values: list[float], grid: list[int]) -> list[float]:
    """The alignment written out the long way, for the test."""
    out, previous = [], -1
    for g in grid:
        inside = [v for s, v in zip(steps, values, strict=True) if previous < s <= g]
        before = [v for s, v in zip(steps, values, strict=True) if s <= g]
        out.append(sum(inside) / len(inside) if inside else before[-1] if before else None)
        previous = g
    return out


def _scalars(store: Store, key: str, metric: str) -> dict[int, dict[int, float]]:
    out: dict[int, dict[int, float]] = {}
    for _, seed, step, name, value in store.scalars(key):
        if name == metric:
            out.setdefault(seed, {})[step] = value
    return out


def test_rl_zoo_runs_become_one_unit_per_algo(tmp_path):
    imported = import_runs([ZOO / "ppo", ZOO / "a2c"], tmp_path, Options(), checkpoints=8)
    assert [(u.algo, u.env, u.seeds, u.stored) for u in imported] == [
        ("ppo", "CartPole-v1", 2, True),
        ("a2c", "CartPole-v1", 2, True),
    ]
    store = Store(tmp_path, create=False)
    for unit in store.units():
        assert unit["meta"]["curve_metric"] == "eval_return"
        assert unit["meta"]["env_spec"]["solve_threshold"] == 475.0
        grid = store.array(unit["key"], -1, "checkpoint_steps").tolist()
        assert len(grid) == 8 and grid[-1] == unit["budget"]
        train = _scalars(store, unit["key"], "train_return")
        finals = {seed: final for seed, _, final, _ in store.seed_rows(unit["key"])}
        for seed in (1, 2):
            expected = EXPECTED[f"zoo/logs/{unit['algo']}/CartPole-v1_{seed}"]
            steps, returns = expected["monitor_steps"], expected["monitor_returns"]
            assert [train[seed][g] for g in grid] == pytest.approx(
                _interval_means(steps, returns, grid), rel=1e-12
            )
            # The final return: the mean of the last evaluation's episodes.
            assert finals[seed] == pytest.approx(np.mean(expected["eval_returns"][-1]), rel=1e-12)
            episodes = store.array(unit["key"], seed, "final_episode_returns")
            np.testing.assert_array_equal(episodes, expected["eval_returns"][-1])
        runs = unit["meta"]["import"]["runs"]
        for run in runs:
            for file in run["files"]:
                digest = hashlib.sha256(Path(file["path"]).read_bytes()).hexdigest()
                assert file["sha256"] == digest
        assert unit["provenance"]["imported"] is True
    store.close()


def test_importing_the_same_files_again_changes_nothing(tmp_path):
    first = import_runs([DATA / "cleanrl"], tmp_path / "a", Options())
    copy = tmp_path / "copy"
    shutil.copytree(DATA / "cleanrl", copy)
    again = import_runs([copy], tmp_path / "a", Options())
    assert [u.key for u in again] == [u.key for u in first]
    assert [u.stored for u in again] == [False]
    store = Store(tmp_path / "a", create=False)
    assert len(store.units()) == 1
    store.close()
    # Another budget gives other numbers, so another unit.
    other = import_runs([copy], tmp_path / "a", Options(), budget=1000)
    assert other[0].key != first[0].key and other[0].stored


def test_cleanrl_curves_are_training_returns_with_the_last_checkpoint_as_final(tmp_path):
    (unit,) = import_runs([DATA / "cleanrl"], tmp_path, Options(), budget=2000, checkpoints=4)
    store = Store(tmp_path, create=False)
    row = store.units()[0]
    assert row["meta"]["curve_metric"] == "train_return"
    assert row["budget"] == 2000 and row["eval"] == {"checkpoints": 4}
    train = _scalars(store, unit.key, "train_return")
    for seed, _, final, _ in store.seed_rows(unit.key):
        expected = EXPECTED[f"cleanrl/runs/CartPole-v1__ppo__{seed}__{1700000000 + seed}"]
        means = _interval_means(expected["steps"], expected["values"], [500, 1000, 1500, 2000])
        assert [train[seed][g] for g in (500, 1000, 1500, 2000)] == pytest.approx(means)
        assert final == pytest.approx(means[-1])
    assert "charts/SPS" in {m for *_, m, _ in store.scalars(unit.key)}
    store.close()


def test_two_runs_with_one_seed_are_an_error(tmp_path):
    with pytest.raises(UserError, match=r"ppo on CartPole-v1 seed 1 is also in .*; name the seeds"):
        import_runs([ZOO / "ppo"], tmp_path, Options(seed_from=r"CartPole-v(\d)"))


def test_rliable_scores_store_every_run_as_a_seed(tmp_path):
    scores = np.random.default_rng(0).normal(size=(5, 2))
    np.savez(tmp_path / "s.npz", DER=scores)
    imported = import_runs([tmp_path / "s.npz"], tmp_path / "out", Options(env="Pong,Qbert"))
    assert [(u.env, u.budget) for u in imported] == [("Pong", 0), ("Qbert", 0)]
    store = Store(tmp_path / "out", create=False)
    for task, unit in enumerate(store.units()):
        finals = [f for _, _, f, _ in store.seed_rows(unit["key"])]
        assert finals == scores[:, task].tolist()
        assert unit["meta"]["import"]["inferred"] == {"seed": "the run's row in the array"}
    store.close()


def test_cli_damaged_file_is_exit_2_and_one_line(tmp_path, capsys):
    broken = tmp_path / "events.out.tfevents.1.host"
    data = next((DATA / "cleanrl").rglob("events.out.tfevents.*")).read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    options = ["--env", "X", "--algo", "y", "--seed-from", r"(1)"]
    code = main(["import", str(broken), "--out", str(tmp_path / "out"), *options])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"rlcheck: error: {broken}: not a complete TensorBoard event file (truncated)\n"


def test_a_whole_rl_zoo_logs_folder_keeps_the_monitor_files_of_each_run(tmp_path):
    imported = import_runs([ZOO], tmp_path, Options())
    assert [(u.algo, u.format, len(u.set_aside)) for u in imported] == [
        ("a2c", "sb3-monitor", 2),
        ("ppo", "sb3-monitor", 2),
    ]
    assert imported[1].set_aside[0].endswith("tensorboard/CartPole-v1/PPO_1")
