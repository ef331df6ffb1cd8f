import numpy as np
import pyarrow.parquet as pq
import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.export import COLUMNS, export
from rlcheck.experiment.store import Store, UnitRecord


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "results")
    run = store.start_run({}, {})
    unit = UnitRecord(
        key="k",
        env="gymnax:CartPole-v1",
        env_label="CartPole-v1",
        algo="ppo",
        algo_label="ppo-fast",
        config={},
        overrides={"learning_rate": 0.001},
        seeds=[0, 1],
        budget=100,
        eval={},
        status="done",
        meta={"metric_names": ["approx_kl", "entropy"]},
    )
    store.write_unit(
        run,
        unit,
        seeds=[(0, "ok", 9.0, None), (1, "diverged", 2.0, "nan")],
        scalars=[(s, 50, "eval_return", 1.0 + s) for s in (0, 1)]
        + [(s, 100, "final_return", 9.0 - 7 * s) for s in (0, 1)],
        arrays=[(-1, "update_env_steps", np.array([50, 100]))]
        + [(s, "internals", np.ones((2, 2)) * s) for s in (0, 1)],
    )
    failed = UnitRecord(
        key="f",
        env="x",
        env_label="x",
        algo="ppo",
        algo_label="ppo",
        config={},
        overrides={},
        seeds=[0],
        budget=100,
        eval={},
        status="failed",
        reason="boom",
    )
    store.write_failure(run, failed, None)
    return store


def test_csv_parquet_npz_hold_the_same_tidy_rows(store, tmp_path):
    assert export(store, "csv", tmp_path / "r.csv") == 4
    assert export(store, "parquet", tmp_path / "r.parquet") == 4
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.column_names == list(COLUMNS)
    rows = table.to_pylist()
    assert rows[0] == {
        "algo": "ppo-fast",
        "env": "CartPole-v1",
        "config": '{"learning_rate": 0.001}',
        "seed": 0,
        "step": 50,
        "metric": "eval_return",
        "value": 1.0,
        "algo_name": "ppo",
        "env_id": "gymnax:CartPole-v1",
        "unit": "k",
        "seed_status": "ok",
    }
    assert [r["seed_status"] for r in rows if r["metric"] == "final_return"] == ["ok", "diverged"]
    export(store, "npz", tmp_path / "r.npz")
    npz = np.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(npz["value"], [1.0, 2.0, 9.0, 2.0])
    header = (tmp_path / "r.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)


def test_internals_on_request(store, tmp_path):
    assert export(store, "csv", tmp_path / "i.csv", internals=True) == 4 + 2 * 2 * 2
    text = (tmp_path / "i.csv").read_text()
    assert "internals/approx_kl" in text and "internals/entropy" in text


def test_unknown_format(store, tmp_path):
    with pytest.raises(UserError, match="unknown format 'xml'"):
        export(store, "xml", tmp_path / "r.xml")
