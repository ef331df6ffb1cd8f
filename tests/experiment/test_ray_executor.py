"""The Ray executor on a real Ray instance with 2 CPUs that this module starts: the same stored
numbers as the local executor, seed shards joined into the unsharded unit, and nothing lost or
stored twice when a worker process or the driver is killed.

Every test here shares one Ray instance (``xdist_group``: one pytest worker runs them all);
it inherits this test process's single core (tests/conftest.py), so it competes with nothing
but itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.ray_executor import RayExecutor, StallWatch
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store
from tests.helpers.cli import TINY_PPO, rlcheck, spec_text

pytestmark = pytest.mark.xdist_group("ray")

TINY = {"num_envs": 2, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1}


@pytest.fixture(scope="module")
def ray_address():
    """A Ray instance with 2 CPUs, this process its first driver; its GCS address."""
    import ray

    temp = tempfile.mkdtemp(prefix="rlcheck-ray-", dir="/tmp")  # short: Ray's socket paths
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        context = ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=temp,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    yield context.address_info["gcs_address"]
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def _spec(units: int = 1, seeds: int = 2, budget: int = 320):
    return parse_spec(
        {
            "seeds": seeds,
            "budget": budget,
            "eval": {"checkpoints": 2, "episodes": 2, "final_episodes": 2},
            "env": [{"id": "CartPole-v1"}],
            "algo": [
                {"name": "ppo", "label": f"ppo-{i}", "config": {**TINY, "gamma": 0.9 + i / 100}}
                for i in range(units)
            ],
        },
        "spec",
    )


def _numbers(directory: Path) -> dict[str, list]:
    """Every stored number of a results directory, in an order that does not depend on the
    order units finished in."""
    db = sqlite3.connect(directory / "results.sqlite")
    queries = {
        "seeds": "SELECT * FROM seeds ORDER BY unit_key, seed",
        "scalars": "SELECT * FROM scalars ORDER BY unit_key, seed, metric, step",
        "arrays": "SELECT * FROM arrays ORDER BY unit_key, seed, name",
        "units": "SELECT key, status, env_steps FROM units ORDER BY key",
        "sweep_units": "SELECT * FROM sweep_units ORDER BY sweep_id, unit_key, role",
    }
    numbers = {name: db.execute(query).fetchall() for name, query in queries.items()}
    db.close()
    return numbers


def test_ray_and_local_executors_store_identical_numbers(tmp_path):
    # A sweep: a plain unit (the random policy), tuning configurations vmapped as groups, then
    # the chosen and the default configuration on fresh seeds (the shapes of
    # tests/test_cli.py's sweeps, so the compiled programs are shared). The spec chooses Ray;
    # without an address the command starts a Ray instance of its own and stops it at the end.
    sweep = "[sweep]\nbatch = 2\nfresh_seeds = 2\n[sweep.vary]\ngamma = [0.9, 0.95, 0.97, 0.99]\n"
    random = '[[algo]]\nname = "random"\n[algo.config]\nnum_envs = 2\nnum_steps = 16\n'
    text = spec_text(algos='[[algo]]\nname = "ppo"\n' + TINY_PPO + random) + sweep
    local_spec, ray_spec = tmp_path / "local.toml", tmp_path / "ray.toml"
    local_spec.write_text(text)
    ray_spec.write_text('executor = "ray"\n' + text)
    for spec, out in ((local_spec, "local"), (ray_spec, "ray")):
        result = rlcheck("sweep", str(spec), "--out", str(tmp_path / out), "--workers", "1")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    expected, got = _numbers(tmp_path / "local"), _numbers(tmp_path / "ray")
    # random (a plain unit), 4 configurations, the chosen and the default (one unit when the
    # default was the best)
    assert len(expected["units"]) >= 6
    assert len(expected["sweep_units"]) == 6
    assert got == expected
    db = sqlite3.connect(tmp_path / "ray" / "results.sqlite")
    assert {m for (m,) in db.execute("SELECT json_extract(meta, '$.executor') FROM units")} == {
        "ray"
    }


def test_seed_shards_join_into_the_unsharded_unit(ray_address, tmp_path):
    (unit,) = plan_units(_spec(), "spec")
    stores = {}
    for shards in (1, 2):
        store = stores[shards] = Store(tmp_path / str(shards))
        with RayExecutor(store, store.start_run({}, {}), workers=shards) as executor:
            (outcome,) = executor.run([unit])
        assert outcome.status == "done", outcome.reason
        assert store.units()[0]["meta"]["workers"] == shards
    one, two = stores[1], stores[2]
    assert one.seed_rows(unit.key) == two.seed_rows(unit.key)
    assert list(one.scalars(unit.key)) == list(two.scalars(unit.key))
    for seed in unit.seeds:
        for name in ("eval_episode_returns", "final_episode_returns", "train_episodes"):
            np.testing.assert_array_equal(
                one.array(unit.key, seed, name), two.array(unit.key, seed, name)
            )
        # A seed's internals depend on the batch it trained in only through summation order
        # (README, Reproducibility), as with the local executor's workers.
        np.testing.assert_allclose(
            one.array(unit.key, seed, "internals"),
            two.array(unit.key, seed, "internals"),
            rtol=1e-4,
            atol=1e-5,
        )


def _task_processes() -> list[int]:
    """Ray worker processes of this machine now running one of rlcheck's tasks, by the title
    Ray gives them (``ray::`` and the task's name), that descend from this process."""
    mine, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "cmdline").read_bytes().startswith(b"ray::rlcheck:"):
                pid, parent = int(entry.name), int(entry.name)
                while parent > 1:
                    stat = (Path("/proc") / str(parent) / "stat").read_text()
                    parent = int(stat.rsplit(")", 1)[1].split()[1])
                    if parent == mine:
                        found.append(pid)
                        break
    return found


class _Killer:
    """Kills (SIGKILL) the first ``times`` worker processes seen running a task, mid-unit."""

    def __init__(self, times: int):
        self.times = times
        self.killed: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._kill, daemon=True)

    def __enter__(self) -> _Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _kill(self) -> None:
        while len(self.killed) < self.times and not self._stop.wait(0.05):
            for pid in _task_processes():
                if pid not in self.killed and len(self.killed) < self.times:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        self.killed.append(pid)


def test_a_worker_killed_mid_unit_is_retried_or_failed_never_lost_or_stored_twice(
    ray_address, tmp_path
):
    units = plan_units(_spec(units=2), "spec")
    store = Store(tmp_path)
    # No retries: the unit whose worker was killed fails with the reason, the other is stored.
    with (
        RayExecutor(store, store.start_run({}, {}), workers=1, retries=0) as executor,
        _Killer(times=1) as killer,
    ):
        outcomes = executor.run(units)
    assert len(killer.killed) == 1
    assert sorted(o.status for o in outcomes) == ["done", "failed"]
    (failed,) = [o for o in outcomes if o.status == "failed"]
    assert "its Ray worker process died (1 attempt, retries 0): WorkerCrashedError" in failed.reason
    assert [reason for _, _, reason, _ in store.failures()] == [failed.reason]
    # Run again with a retry and kill the rerun's worker too: Ray runs it once more and it is
    # stored; the unit stored before is skipped.
    with (
        RayExecutor(store, store.start_run({}, {}), workers=1, retries=1) as executor,
        _Killer(times=1) as killer,
    ):
        outcomes = executor.run(units)
    assert len(killer.killed) == 1
    statuses = {o.unit.key: o.status for o in outcomes}
    assert statuses == {
        failed.unit.key: "done",
        (set(statuses) - {failed.unit.key}).pop(): "stored",
    }
    rows = {u["key"]: u for u in store.units()}
    assert set(rows) == {u.key for u in units}
    assert all(row["status"] == "done" for row in rows.values())
    assert rows[failed.unit.key]["meta"]["attempts"] == 2
    assert len(store.failures()) == 1
    for unit in units:  # 2 seeds × (2 checkpoints + the final return), once each
        finals = [r for r in store.scalars(unit.key) if r[3] in ("eval_return", "final_return")]
        assert len(finals) == 6


def test_kill_9_of_the_driver_then_rerun_stores_every_unit_once(ray_address, tmp_path):
    # The driver connects to a cluster (this module's Ray instance), which outlives it.
    algos = "".join(
        f'[[algo]]\nname = "ppo"\nlabel = "ppo-{i}"\n'
        + TINY_PPO.replace("[algo.config]\n", f"[algo.config]\ngamma = 0.9{i}\n")
        for i in range(4)
    )
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text(algos=algos))
    out = tmp_path / "out"
    ray_options = ["--address", ray_address, "--workers", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "rlcheck.cli", "run", str(spec), "--out", str(out), *ray_options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    stored = 0
    while time.monotonic() < deadline and stored < 1:
        time.sleep(0.2)
        if (out / "results.sqlite").exists():
            with contextlib.suppress(sqlite3.OperationalError):  # schema not created yet
                db = sqlite3.connect(out / "results.sqlite")
                stored = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
                db.close()
    assert stored >= 1, "no unit was stored in time"
    os.killpg(process.pid, signal.SIGKILL)  # the driver; Ray ends the tasks it left
    process.wait()
    deadline = time.monotonic() + 60
    while _task_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _task_processes() == [], "the dead driver's tasks go on"
    db = sqlite3.connect(out / "results.sqlite")
    stored = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
    db.close()
    assert stored < 4, "every unit was stored before the kill"

    resumed = rlcheck("run", str(spec), "--out", str(out), *ray_options)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("already stored, skipped") == stored
    db = sqlite3.connect(out / "results.sqlite")
    keys = [k for (k,) in db.execute("SELECT key FROM units WHERE status = 'done'")]
    assert len(keys) == len(set(keys)) == 4
    for key in keys:
        counts = dict(
            db.execute(
                "SELECT metric, COUNT(*) FROM scalars WHERE unit_key = ? GROUP BY metric", (key,)
            )
        )
        assert counts["eval_return"] == 4 and counts["final_return"] == 2
    assert db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 0


def test_a_node_with_another_rlcheck_version_fails_the_unit(ray_address):
    import ray

    import rlcheck
    from rlcheck.experiment.ray_executor import train_shard

    (unit,) = plan_units(_spec(), "spec")
    task = ray.remote(train_shard)
    result, _, _ = ray.get(task.remote(unit, [0], None, (0, 0), 90.0, "0.0.1-driver"))
    assert result.results is None
    assert f"has rlcheck {rlcheck.__version__}, the driver 0.0.1-driver: install" in result.error


def test_the_stall_watch_sees_a_process_whose_cpu_time_stands_still():
    # A window of 1 s: a busy process on a machine loaded ~15 deep on 2 cores still gains more
    # than the watch's 0.05 s of CPU time in it (0.3 s did not, once, under such load).
    stalls = []
    with StallWatch(1.0, lambda: stalls.append(time.monotonic()), every=0.05):
        time.sleep(2.5)
    assert len(stalls) == 1  # once, then it stops watching
    stalls.clear()
    with StallWatch(1.0, lambda: stalls.append(time.monotonic()), every=0.05):
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            sum(range(1000))
    assert stalls == []
