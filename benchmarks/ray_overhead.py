"""Ray executor overhead: the same 16-unit spec run by ``rlcheck run --executor local`` and by
``rlcheck run --executor ray`` (a Ray instance the command starts on this machine and stops at
the end), whole command each, warm compilation cache.

The spec: PPO on CartPole-v1 with 16 values of gamma (16 units, one compiled program), 8 seeds
× 100k env steps each, default worker count (one per usable core; with Ray, the shards of each
unit). A first run of each compiles and warms up (reported as "cold"); then each repetition
runs both, in alternating order, each into a fresh results directory, and the table quotes
medians. Target (issue 18): Ray's wall time ≤ 1.15 × the local executor's. The stored numbers of
the two are compared too (they must be identical).

Part 2 (``--only costs``), what limits scale (docs/DESIGN-NOTES.md extrapolates it to 100
nodes), measured per unit on the driver: the size of what a task carries (a unit's plan and
its shard of seeds) and of what it returns (a shard's results), the time to turn a unit's
results into rows and store them in one transaction (SQLite, WAL, synchronous=FULL), and Ray's
own cost per task (round trip of an empty task with rlcheck's options, and the rate of many).
The unit is ``rlcheck quick``'s default: PPO on CartPole-v1, 16 seeds × 100k env steps, 20
checkpoints × 8 episodes, 32 final episodes, in 2 shards of 8 seeds.

    python benchmarks/ray_overhead.py [--repeats 3] [--seeds 8] [--steps 100000] [--quick]
    python benchmarks/ray_overhead.py --only costs

``--quick``: 4 units × 2 seeds × 2,048 env steps, one repetition (and a smaller unit for the
costs): checks that the script works, not a measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"


def spec_text(units: int, seeds: int, steps: int) -> str:
    algos = "".join(
        f'[[algo]]\nname = "ppo"\nlabel = "ppo-gamma-{i}"\n[algo.config]\ngamma = {0.9 + i / 200}\n'
        for i in range(units)
    )
    return (
        f"seeds = {seeds}\nbudget = {steps}\n[eval]\ncheckpoints = 10\nepisodes = 8\n"
        f'[[env]]\nid = "CartPole-v1"\n{algos}'
    )


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, str, float]]:
    """pid → (parent pid, command line, CPU seconds so far) of every process of this machine
    (also benchmarks/ray_cluster.py's)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
                found[int(entry.name)] = (int(fields[1]), cmdline, cpu)
    return found


def tree(roots: set[int], table: dict[int, tuple[int, str, float]]) -> set[int]:
    """``roots`` and every process under them in ``table`` (see :func:`processes`)."""
    out, grew = set(roots), True
    while grew:
        more = {pid for pid, (parent, _, _) in table.items() if parent in out} - out
        out |= more
        grew = bool(more)
    return out


def _kind(cmdline: str, is_driver: bool) -> str:
    """Which part of the run a process is: the driver, a worker, or one of Ray's own."""
    if is_driver:
        return "driver (rlcheck run)"
    for needle, kind in (
        ("gcs_server", "ray: gcs_server"),
        ("raylet", "ray: raylet"),
        ("dashboard", "ray: dashboard/agents"),
        ("runtime_env", "ray: dashboard/agents"),
        ("log_monitor", "ray: log_monitor"),
        ("monitor.py", "ray: monitor"),
        ("ray::", "workers"),
        ("default_worker", "workers"),
        ("multiprocessing", "workers"),
    ):
        if needle in cmdline:
            return kind
    return "other: " + cmdline[:40]


class CpuAccounting:
    """CPU seconds of every process under one pid, by kind, sampled every ``every`` seconds
    (a process's last sample counts; one that lives shorter than a sample is missed)."""

    def __init__(self, root: int, every: float = 0.5):
        self.root, self.every = root, every
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> None:
        table = processes()
        for pid in tree({self.root}, table) & set(table):
            _, cmdline, cpu = table[pid]
            self.last[pid] = (_kind(cmdline, pid == self.root), cpu)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        totals: dict[str, float] = {}
        for kind, cpu in self.last.values():
            totals[kind] = round(totals.get(kind, 0.0) + cpu, 2)
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def counts(self) -> dict[str, int]:
        """How many processes of each kind were seen."""
        found: dict[str, int] = {}
        for kind, _ in self.last.values():
            found[kind] = found.get(kind, 0) + 1
        return found


# CPU seconds by process kind of every run(), in order.
CPU: list[dict[str, Any]] = []


def run(spec: Path, out: Path, executor: str) -> float:
    """Wall seconds of the whole command; its processes' CPU seconds go to :data:`CPU`."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "rlcheck.cli", "run", str(spec), "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--executor", executor],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    accounting = CpuAccounting(process.pid)
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    cpu = accounting.stop()
    CPU.append(
        {
            "executor": executor,
            "out": out.name,
            "wall_s": wall,
            "cpu_s": cpu,
            "processes": accounting.counts(),
        }
    )
    if process.returncode != 0:
        sys.exit(f"rlcheck run --executor {executor} failed:\n{stderr[-3000:]}")
    return wall


def numbers(directory: Path) -> list[Any]:
    db = sqlite3.connect(directory / "results.sqlite")
    rows = db.execute("SELECT * FROM scalars ORDER BY unit_key, seed, metric, step").fetchall()
    rows += db.execute("SELECT * FROM arrays ORDER BY unit_key, seed, name").fetchall()
    db.close()
    return rows


def unit_seconds(directory: Path) -> float:
    db = sqlite3.connect(directory / "results.sqlite")
    (total,) = db.execute("SELECT SUM(wall_s) FROM units").fetchone()
    db.close()
    return float(total)


def driver_costs(quick: bool) -> dict[str, Any]:
    """Part 2: per-unit costs on the driver, and Ray's per-task cost."""
    import logging
    import pickle

    import ray

    from rlcheck.experiment.execute import seed_chunks, store_unit
    from rlcheck.experiment.plan import plan_units
    from rlcheck.experiment.provenance import provenance
    from rlcheck.experiment.ray_executor import RayExecutor
    from rlcheck.experiment.spec import parse_spec
    from rlcheck.experiment.store import Store
    from rlcheck.experiment.train import train_seeds
    from rlcheck.experiment.workers import configure_jax

    configure_jax()  # the compilation cache, as workers use it
    seeds, steps = (4, 4096) if quick else (16, 100_000)
    spec = parse_spec(
        {
            "seeds": seeds,
            "budget": steps,
            "env": [{"id": "CartPole-v1"}],
            "algo": [{"name": "ppo"}],
        },
        "costs",
    )
    (unit,) = plan_units(spec, "costs")
    shards = seed_chunks(unit, 2)
    train_seeds(unit, shards[0])  # compiled (or loaded from the cache) once
    parts, shard_s = [], []
    for shard in shards:
        start = time.perf_counter()
        parts.append(train_seeds(unit, shard))
        shard_s.append(time.perf_counter() - start)
    carried = len(pickle.dumps((unit, shards[0]), protocol=5))
    returned = [len(pickle.dumps(part, protocol=5)) for part in parts]
    work = Path(tempfile.mkdtemp(prefix="ray-costs-"))
    store = Store(work / "store")
    run_id, about = store.start_run({}, {}), provenance()
    writes = []
    for _ in range(5 if quick else 30):
        start = time.perf_counter()
        outcome = store_unit(store, run_id, unit, parts, 1.0, 1, about)
        writes.append(time.perf_counter() - start)
        assert outcome.status == "done", outcome.reason
    store.close()
    db = sqlite3.connect(work / "store" / "results.sqlite")
    (rows,) = db.execute("SELECT COUNT(*) FROM scalars").fetchone()
    (blobs,) = db.execute("SELECT SUM(LENGTH(data)) FROM arrays").fetchone()
    db.close()

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)  # Ray's fork and exec
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    probe = Store(work / "probe")
    options = RayExecutor(probe, probe.start_run({}, {}), 1)._task_options()

    @ray.remote
    def empty() -> None:
        return None

    task = empty.options(**options)
    ray.get([task.remote() for _ in range(4)])  # workers started
    trips = []
    for _ in range(20):
        start = time.perf_counter()
        ray.get(task.remote())
        trips.append(time.perf_counter() - start)
    many = 200 if quick else 2000
    start = time.perf_counter()
    ray.get([task.remote() for _ in range(many)])
    rate = many / (time.perf_counter() - start)
    ray.shutdown()
    costs = {
        "unit": {"seeds": seeds, "steps": steps, "shards": len(shards)},
        "shard_wall_s": shard_s,
        "shard_timings": [part.timings for part in parts],
        "task_carries_bytes": carried,
        "task_returns_bytes": returned,
        "store_write_s": {"median": statistics.median(writes), "max": max(writes)},
        "scalar_rows_per_unit": rows,
        "array_bytes_per_unit": blobs,
        "ray_round_trip_s": statistics.median(trips),
        "ray_empty_tasks_per_s": rate,
    }
    print(
        f"a shard of {len(shards[0])} seeds trains in {statistics.median(shard_s):.1f} s "
        "(compilation cache warm; in this process)"
    )
    print(
        f"a task carries {carried / 1e3:.1f} kB (plan + {len(shards[0])} seeds); returns "
        f"{', '.join(f'{b / 1e3:.0f}' for b in returned)} kB"
    )
    print(
        f"storing a unit ({seeds} seeds, {rows} scalar rows, {blobs / 1e3:.0f} kB of arrays, "
        "1 transaction): median "
        f"{statistics.median(writes) * 1e3:.1f} ms, max {max(writes) * 1e3:.1f} ms"
    )
    print(
        f"Ray: empty-task round trip {statistics.median(trips) * 1e3:.2f} ms (median of 20); "
        f"{rate:.0f} empty tasks/s ({many} at once, 2 CPUs)"
    )
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--only", choices=("overhead", "costs"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.units, args.seeds, args.steps = 1, 4, 2, 2048
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if args.only != "costs":
        overhead(args, stamp)
    if args.only != "overhead":
        costs = driver_costs(args.quick)
        if not args.quick:
            OUT.mkdir(exist_ok=True)
            (OUT / f"ray_costs-{stamp}.json").write_text(json.dumps(costs, indent=1) + "\n")


def overhead(args: argparse.Namespace, stamp: str) -> None:
    """Part 1: the same spec through both executors, whole commands."""
    work = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    spec = work / "spec.toml"
    spec.write_text(spec_text(args.units, args.seeds, args.steps))
    cold = {name: run(spec, work / f"cold-{name}", name) for name in ("local", "ray")}
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    units: dict[str, list[float]] = {"local": [], "ray": []}
    identical = numbers(work / "cold-local") == numbers(work / "cold-ray")
    for r in range(args.repeats):
        order = ("local", "ray") if r % 2 == 0 else ("ray", "local")
        for name in order:
            out = work / f"{name}-{r}"
            walls[name].append(run(spec, out, name))
            units[name].append(unit_seconds(out))
        identical = identical and numbers(work / f"local-{r}") == numbers(work / f"ray-{r}")
    local, ray = (statistics.median(walls[n]) for n in ("local", "ray"))
    result = {
        "spec": {"units": args.units, "seeds": args.seeds, "steps": args.steps},
        "cold_wall_s": cold,
        "wall_s": walls,
        "unit_wall_s_sum": units,
        "median_wall_s": {"local": local, "ray": ray},
        "ray_over_local": ray / local,
        "identical_numbers": identical,
        "cpu_s_by_process": CPU,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print(f"{args.units} units × {args.seeds} seeds × {args.steps:,} env steps, PPO CartPole-v1")
    print(f"cold (compiling): local {cold['local']:.1f} s, ray {cold['ray']:.1f} s")
    print("| executor | wall s (median) | runs | units' wall s summed (median) |")
    print("|---|---|---|---|")
    for name in ("local", "ray"):
        runs = ", ".join(f"{w:.1f}" for w in walls[name])
        print(
            f"| {name} | {statistics.median(walls[name]):.1f} | {runs} | "
            f"{statistics.median(units[name]):.1f} |"
        )
    print(f"Ray / local: {ray / local:.3f} (target ≤ 1.15); identical numbers: {identical}")
    print("CPU seconds by process (each run):")
    for entry in CPU:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in entry["cpu_s"].items())
        print(f"  {entry['out']}: wall {entry['wall_s']:.1f} s; {parts}")
    if not args.quick:
        OUT.mkdir(exist_ok=True)
        path = OUT / f"ray_overhead-{stamp}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"raw: {path}")


if __name__ == "__main__":
    main()
