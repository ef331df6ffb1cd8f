import sqlite3

import numpy as np
import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.store import Store, UnitRecord


def _record(key="u1", status="done", reason=None):
    return UnitRecord(
        key=key,
        env="gymnax:CartPole-v1",
        env_label="CartPole-v1",
        algo="ppo",
        algo_label="ppo",
        config={"gamma": 0.99},
        overrides={},
        seeds=[0, 1],
        budget=100,
        eval={"checkpoints": 2},
        status=status,
        reason=reason,
    )


def _write(store, run, key="u1"):
    store.write_unit(
        run,
        _record(key),
        seeds=[(0, "ok", 10.0, None), (1, "diverged", 1.0, "x")],
        scalars=[(0, 50, "eval_return", 5.0), (0, 100, "final_return", 10.0)],
        arrays=[(0, "internals", np.arange(6.0).reshape(3, 2))],
    )


def test_round_trip(tmp_path):
    store = Store(tmp_path)
    run = store.start_run({"seeds": 2}, {"machine": "x"})
    _write(store, run)
    (unit,) = store.units()
    assert unit["status"] == "done" and unit["config"] == {"gamma": 0.99}
    assert store.seed_rows("u1") == [(0, "ok", 10.0, None), (1, "diverged", 1.0, "x")]
    assert [r[2:] for r in store.scalars("u1")] == [
        (50, "eval_return", 5.0),
        (100, "final_return", 10.0),
    ]
    np.testing.assert_array_equal(store.array("u1", 0, "internals"), np.arange(6.0).reshape(3, 2))
    assert store.done_keys() == {"u1"}
    journal = sqlite3.connect(tmp_path / "results.sqlite").execute("PRAGMA journal_mode")
    assert journal.fetchone()[0] == "wal"


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = Store(tmp_path)
    run = store.start_run({}, {})
    with pytest.raises(sqlite3.IntegrityError):
        store.write_unit(
            run,
            _record(),
            seeds=[(0, "ok", 1.0, None), (0, "ok", 1.0, None)],
            scalars=[],
            arrays=[],
        )  # duplicate seed: the transaction aborts
    assert store.units() == [] and list(store.scalars()) == []


def test_failures_are_kept_and_never_replace_a_done_unit(tmp_path):
    store = Store(tmp_path)
    run = store.start_run({}, {})
    store.write_failure(run, _record(status="failed", reason="boom"), "traceback…")
    assert store.units()[0]["status"] == "failed"
    _write(store, run)  # a later attempt succeeds: it replaces the failed row
    assert store.units()[0]["status"] == "done"
    store.write_failure(run, _record(status="failed", reason="again"), None)
    assert store.units()[0]["status"] == "done"
    assert [f[2] for f in store.failures()] == ["boom", "again"]


def test_opening_a_directory_without_results(tmp_path):
    with pytest.raises(UserError, match="no rlcheck results here"):
        Store(tmp_path / "empty", create=False)


def test_a_store_written_before_the_renames_reports_and_exports_todays_names(tmp_path):
    import csv

    from rlcheck.experiment.export import export
    from rlcheck.report.analysis import analyze
    from tests.report.synthetic import open_store, write_unit

    # Written as rlcheck stored units before the Config vocabulary was unified (issue 14).
    old_ppo = {"ortho_init": False, "adam_eps": 1e-5, "gamma": 0.99}
    old_sac = {"target_update_interval": 2, "log_std_init": -3.0, "train_freq": 1}
    spec = {"seeds": 4, "algo": [{"name": "ppo", "config": {"ortho_init": False}}]}
    store, run = open_store(tmp_path, spec)
    write_unit(
        store,
        run,
        "CartPole-v1",
        "ppo",
        [1, 2, 3, 4],
        config=old_ppo,
        overrides={"ortho_init": False},
    )
    write_unit(store, run, "Pendulum-v1", "sac", [1, 2, 3, 4], config=old_sac, overrides=old_sac)
    # DQN's target_update_interval (env steps) kept its name.
    write_unit(
        store, run, "CartPole-v1", "dqn", [1, 2, 3, 4], overrides={"target_update_interval": 9}
    )

    new_ppo = {"weight_init": "lecun", "optimizer_eps": 1e-5, "gamma": 0.99}
    new_sac = {"target_delay": 2, "sde_log_std_init": -3.0, "train_frequency": 1}
    ppo, sac, dqn = store.units()
    assert (ppo["config"], ppo["overrides"]) == (new_ppo, {"weight_init": "lecun"})
    assert (sac["config"], sac["overrides"]) == (new_sac, new_sac)
    assert dqn["overrides"] == {"target_update_interval": 9}

    analysis = analyze(store, reps=200, band_reps=100)
    algos = {a["algo"]: a for env in analysis["envs"] for a in env["algos"]}
    assert algos["ppo"]["config"] == new_ppo and algos["sac"]["overrides"] == new_sac
    assert analysis["runs"][0]["spec"]["algo"] == [
        {"name": "ppo", "config": {"weight_init": "lecun"}}
    ]

    export(store, "csv", tmp_path / "r.csv")
    with (tmp_path / "r.csv").open() as f:
        configs = {(r["algo"], r["config"]) for r in csv.DictReader(f)}
    assert configs == {
        ("ppo", '{"weight_init": "lecun"}'),
        ("sac", '{"sde_log_std_init": -3.0, "target_delay": 2, "train_frequency": 1}'),
        ("dqn", '{"target_update_interval": 9}'),
    }
