"""What the worker layout buys: one process training PPO on gymnax CartPole-v1, pinned to one
core or not, compiled with LLVM -O1 or -O3. Each configuration runs in a fresh process with a
fresh compilation cache; configurations alternate within each repetition.

    python benchmarks/fused_layout.py --seeds 8 --steps 500000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CONFIGS = {
    "pinned, -O1 (rlcheck's workers)": (True, "--xla_backend_optimization_level=1"),
    "pinned, -O3 (XLA default)": (True, ""),
    "unpinned, -O1": (False, "--xla_backend_optimization_level=1"),
}

CHILD = """
import json, sys
from rlcheck import envs
from rlcheck.registry import make_agent
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.fused import FusedDriver
from rlcheck.experiment.workers import configure_jax
configure_jax()
seeds, steps = int(sys.argv[1]), int(sys.argv[2])
env = envs.make("CartPole-v1")
agent = make_agent("ppo", env.spec, {}, steps)
schedule = make_schedule(steps, agent.num_envs * agent.rollout_len, 20, "ppo")
_, timings = FusedDriver(agent, env, schedule, EvalPlan()).run(list(range(seeds)))
print(json.dumps(timings))
"""


def run(pinned: bool, flags: str, seeds: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XLA_FLAGS": flags, "RLCHECK_CACHE_DIR": cache}
        prefix = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] if pinned else []
        out = subprocess.run(
            [*prefix, sys.executable, "-c", CHILD, str(seeds), str(steps)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    for r in range(args.repeats):
        names = list(CONFIGS) if r % 2 == 0 else list(CONFIGS)[::-1]
        for name in names:
            rows[name].append(run(*CONFIGS[name], args.seeds, args.steps))
            print(name, rows[name][-1], flush=True)
    print(
        f"\n| PPO, CartPole-v1, {args.seeds} seeds × {args.steps:,} steps, one process | "
        "compile s (median) | run s (median) |\n|---|---|---|"
    )
    for name, results in rows.items():
        compile_s = statistics.median(t["compile_s"] for t in results)
        run_s = statistics.median(t["run_s"] for t in results)
        print(f"| {name} | {compile_s:.1f} | {run_s:.1f} |")


if __name__ == "__main__":
    main()
