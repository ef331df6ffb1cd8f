"""Wall time of a robustness evaluation: 16 stored PPO CartPole-v1 policies over a 32-point
pole-length grid × 32 episodes (issue 15's target: seconds, not minutes).

First trains the policies (``rlcheck quick CartPole-v1 --algos ppo``, PPO's defaults) into a
temporary directory, or reuses ``--results DIR``. Then, in separate processes:

- ``rlcheck robustness DIR --vary length=…`` with an empty compilation cache (cold) and again
  with it filled (warm), each into a fresh copy of the results (nothing reused); the whole
  command is timed, from process start to exit;
- the evaluation program alone, in this process: its compilation, then its runs (the store's
  read of the policies is outside the timing).

    python benchmarks/robustness_speed.py [--seeds 16] [--steps 100000] [--values 32]
        [--episodes 32] [--repeats 3] [--results DIR]

A tiny configuration checks that the script runs: ``--seeds 2 --steps 2048 --values 3
--episodes 2 --repeats 1``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def rlcheck(*args: str, env: dict[str, str] | None = None) -> float:
    """Run the rlcheck command; returns its wall seconds."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rlcheck.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"rlcheck {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return wall


def in_process(results: Path, vary: str, episodes: int, repeats: int) -> dict[str, float]:
    """Compile-and-run, then run-only seconds of the evaluation program of the PPO unit."""
    import jax

    from rlcheck.experiment.policies import read_policies
    from rlcheck.experiment.robustness import request_from_spec, robustness_program
    from rlcheck.experiment.spec import RobustnessSpec
    from rlcheck.experiment.store import Store

    name, values = vary.split("=", 1)
    request = request_from_spec(RobustnessSpec(vary={name: values}, episodes=episodes), "benchmark")
    store = Store(results, create=False)
    (row,) = [r for r in store.units() if r["algo"] == "ppo"]
    policies = read_policies(store, row)
    store.close()
    program, program_args = robustness_program(policies, request, deterministic=True)
    start = time.perf_counter()
    compiled = program.lower(*program_args).compile()
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        returns = jax.block_until_ready(compiled(*program_args))
        times.append(time.perf_counter() - start)
    returns = np.asarray(returns)
    return {
        "compile_s": compile_s,
        "run_s": min(times),
        "shape": list(returns.shape),
        "mean_return_per_value": returns.mean(axis=(0, 2)).round(1).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--values", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, help="reuse this results directory")
    args = parser.parse_args()
    vary = f"length=0.05:2.0:{args.values}"
    with tempfile.TemporaryDirectory(prefix="rlcheck-robustness-speed-") as work:
        work_dir = Path(work)
        results = args.results
        if results is None:
            results = work_dir / "trained"
            train_s = rlcheck(
                "quick",
                "CartPole-v1",
                "--algos",
                "ppo",
                "--seeds",
                str(args.seeds),
                "--steps",
                str(args.steps),
                "--out",
                str(results),
            )
            print(f"trained {args.seeds} PPO seeds × {args.steps:,} steps in {train_s:.1f} s")
        cache = work_dir / "cache"
        cache.mkdir()
        env = {**os.environ, "RLCHECK_CACHE_DIR": str(cache)}
        command = {}
        for run in ("cold", "warm"):
            copy = work_dir / f"copy-{run}"
            shutil.copytree(results, copy)
            command[run] = rlcheck(
                "robustness", str(copy), "--vary", vary, "--episodes", str(args.episodes), env=env
            )
        program = in_process(results, vary, args.episodes, args.repeats)
    record = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "seeds": args.seeds,
        "values": args.values,
        "episodes": args.episodes,
        "vary": vary,
        "command_cold_s": command["cold"],
        "command_warm_s": command["warm"],
        **program,
    }
    print(
        f"{args.seeds} policies × {args.values} pole lengths × {args.episodes} episodes "
        f"(returns {program['shape']}); {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}\n"
    )
    print("| what | seconds |\n|---|---|")
    print(
        f"| `rlcheck robustness`, cold compilation cache (whole command) | {command['cold']:.1f} |"
    )
    print(f"| `rlcheck robustness`, warm cache (whole command) | {command['warm']:.1f} |")
    print(f"| evaluation program: compile | {program['compile_s']:.2f} |")
    print(f"| evaluation program: run (best of {args.repeats}) | {program['run_s']:.2f} |")
    OUT.mkdir(exist_ok=True)
    path = OUT / f"robustness_speed-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\n{path}")


if __name__ == "__main__":
    main()
