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
