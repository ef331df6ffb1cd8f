"""A simulated Ray cluster on this machine: a head node and two worker nodes, each its own
``ray start`` with its own CPU count; ``rlcheck run --address`` spreads a spec's units over them,
and one worker node is killed mid-run (its raylet and every process under it, as when a machine
leaves). What to see: units ran on every node, the units cut off on the killed node ran again
elsewhere (``meta.attempts`` 2), every unit is stored exactly once, and the stored numbers equal
a local run's of the same spec.

    python benchmarks/ray_cluster.py [--units 12] [--seeds 4] [--steps 50000] [--quick]

Every Ray process it starts is found by its temp directory or port and killed at the end
(``ray stop`` would stop every Ray instance of this machine's user). ``--quick``: 6 small units.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# benchmarks/ is this script's first import path: the process table is ray_overhead.py's.
from ray_overhead import processes, tree

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def raylet_of(port: int) -> set[int]:
    table = processes()
    roots = {
        pid
        for pid, (_, cmd, _) in table.items()
        if "raylet" in cmd.split(" ")[0] and f"--node_manager_port={port}" in cmd
    }
    return tree(roots, table)


def start_cluster(temp: Path, env: dict[str, str], cpus: list[int]) -> tuple[str, list[int]]:
    """A head node and worker nodes, one per entry of ``cpus`` (the head first); returns the
    address and each node's node manager port."""
    port = free_port()
    ports = [free_port() for _ in cpus]
    common = ["--disable-usage-stats"]
    head = [RAY, "start", "--head", f"--port={port}", f"--num-cpus={cpus[0]}"]
    head += [f"--temp-dir={temp}", "--include-dashboard=false", f"--node-manager-port={ports[0]}"]
    subprocess.run([*head, *common], env=env, check=True, capture_output=True)
    address = f"127.0.0.1:{port}"
    for n, node_port in zip(cpus[1:], ports[1:], strict=True):
        worker = [RAY, "start", f"--address={address}", f"--num-cpus={n}"]
        worker += [f"--node-manager-port={node_port}"]
        subprocess.run([*worker, *common], env=env, check=True, capture_output=True)
    return address, ports


def stop_cluster(temp: Path, port: str) -> None:
    table = processes()
    roots = {pid for pid, (_, cmd, _) in table.items() if str(temp) in cmd or f":{port}" in cmd}
    kill(tree(roots, table) - {os.getpid()})


def node_names(address: str, ports: list[int], env: dict[str, str]) -> dict[str, str]:
    """Node id → "head", "worker 1", … (by node manager port)."""
    code = (
        f"import json, ray; ray.init(address={address!r}, logging_level='ERROR'); "
        "print(json.dumps({n['NodeID']: n['NodeManagerPort'] for n in ray.nodes()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    by_port = {p: ("head" if i == 0 else f"worker {i}") for i, p in enumerate(ports)}
    return {node: by_port[p] for node, p in json.loads(out.stdout.splitlines()[-1]).items()}


def stored(out: Path) -> int:
    if not (out / "results.sqlite").exists():
        return 0
    with contextlib.suppress(sqlite3.OperationalError):
        db = sqlite3.connect(out / "results.sqlite")
        (n,) = db.execute("SELECT COUNT(*) FROM units").fetchone()
        db.close()
        return n
    return 0


def numbers(directory: Path) -> list[Any]:
    db = sqlite3.connect(directory / "results.sqlite")
    rows = db.execute("SELECT * FROM scalars ORDER BY unit_key, seed, metric, step").fetchall()
    rows += db.execute("SELECT * FROM arrays ORDER BY unit_key, seed, name").fetchall()
    db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--kill-after", type=int, default=3, help="units stored before the kill")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.units, args.seeds, args.steps, args.kill_after = 6, 2, 4096, 1
    temp = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))  # short: Ray's socket paths
    work = Path(tempfile.mkdtemp(prefix="ray-cluster-"))
    algos = "".join(
        f'[[algo]]\nname = "ppo"\nlabel = "ppo-{i}"\n[algo.config]\ngamma = {0.9 + i / 200}\n'
        for i in range(args.units)
    )
    spec = work / "spec.toml"
    spec.write_text(
        f"seeds = {args.seeds}\nbudget = {args.steps}\n[eval]\ncheckpoints = 5\nepisodes = 4\n"
        f'[[env]]\nid = "CartPole-v1"\n{algos}'
    )
    rlcheck_run = [sys.executable, "-m", "rlcheck.cli", "run", str(spec)]
    # A cluster of this machine only: no token authentication between its nodes.
    # Idle workers kept 5 minutes, as the README tells cluster users to start their nodes.
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "RAY_idle_worker_killing_time_threshold_ms": "300000",
    }
    cpus = [1, 1, 1]
    address, ports = start_cluster(temp, env, cpus)
    port = address.rsplit(":", 1)[1]
    events: list[str] = [f"cluster: head + 2 worker nodes, CPUs {cpus}, address {address}"]
    try:
        names = node_names(address, ports, env)
        out = work / "ray"
        start = time.perf_counter()
        driver = subprocess.Popen(
            [*rlcheck_run, "--out", str(out), "--address", address, "--workers", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while stored(out) < args.kill_after and driver.poll() is None:
            time.sleep(0.2)
        victim = raylet_of(ports[2])
        kill(victim)
        killed_at = time.perf_counter() - start
        events.append(
            f"{killed_at:.1f} s: killed worker 2 ({len(victim)} processes: its raylet, agents "
            f"and workers) with {stored(out)} of {args.units} units stored"
        )
        stdout, stderr = driver.communicate(timeout=3600)
        wall = time.perf_counter() - start
        events.append(f"{wall:.1f} s: rlcheck run exited {driver.returncode}")
        if driver.returncode != 0:
            print(stdout[-3000:], stderr[-3000:])
    finally:
        stop_cluster(temp, port)
    db = sqlite3.connect(out / "results.sqlite")
    units = [
        (label, status, json.loads(meta))
        for label, status, meta in db.execute("SELECT algo_label, status, meta FROM units")
    ]
    failures = db.execute("SELECT unit_key, reason FROM failures").fetchall()
    db.close()
    per_node: dict[str, int] = {}
    rows = []
    for label, status, meta in sorted(units):
        where = [names.get(n, "?") for n in meta.get("nodes", [])]
        for name in where:
            per_node[name] = per_node.get(name, 0) + 1
        rows.append({"unit": label, "status": status, "nodes": where, "attempts": meta["attempts"]})
    local = work / "local"
    subprocess.run(
        [*rlcheck_run, "--out", str(local), "--workers", "1"],
        capture_output=True,
        check=True,
    )
    identical = numbers(local) == numbers(out)
    result = {
        "spec": {"units": args.units, "seeds": args.seeds, "steps": args.steps},
        "events": events,
        "units": rows,
        "stored": len(units),
        "done": sum(status == "done" for _, status, _ in units),
        "failures": failures,
        "shards_per_node": per_node,
        "identical_to_local": identical,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    for line in events:
        print(line)
    print("| unit | status | node (last attempt) | attempts |")
    print("|---|---|---|---|")
    for row in rows:
        nodes = ", ".join(row["nodes"])
        print(f"| {row['unit']} | {row['status']} | {nodes} | {row['attempts']} |")
    print(f"stored {len(units)} of {args.units} units, each once; failures logged: {len(failures)}")
    print(f"shards per node: {per_node}; numbers identical to a local run: {identical}")
    if not args.quick:
        OUT.mkdir(exist_ok=True)
        path = OUT / f"ray_cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"raw: {path}")


if __name__ == "__main__":
    main()
