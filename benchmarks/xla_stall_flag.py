"""The XLA:CPU stall workaround (``rlcheck.XLA_CPU_STALL_WORKAROUND``): does it avoid the stall,
and what does it cost on one core?

``--stall``: runs TRPO on CartPole-v1 (128-step rollouts, 2 vmapped seeds) unpinned on every
core, without and with the flag, each under a timeout (without it, jaxlib 0.10.2 stalled here
in every run). Default: the cost — each program pinned to core 0 (as rlcheck's workers are),
without and with the flag in alternating order, run time without compilation and the mean
final return. See docs/DESIGN-NOTES.md and BENCHMARKS.md.

    python benchmarks/xla_stall_flag.py [--rounds 2] [--stall]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from rlcheck import PINNED_WORKER_ENV, XLA_CPU_STALL_WORKAROUND

PROGRAM = r"""
import json, sys
from rlcheck import envs
from rlcheck.registry import make_agent
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.fused import FusedDriver
algo, env_id, budget, seeds, overrides = sys.argv[1:6]
budget, seeds = int(budget), int(seeds)
env = envs.make(env_id)
agent = make_agent(algo, env.spec, json.loads(overrides), budget)
schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, 5, algo)
results, timings = FusedDriver(agent, env, schedule, EvalPlan(5, 4, 8)).run(list(range(seeds)))
print(json.dumps({**timings, "mean_final_return": float(results["final_returns"].mean())}))
"""

COST_CASES = [
    ("ppo", "gymnax:CartPole-v1", 200_000, 8, {}),
    ("a2c", "gymnax:CartPole-v1", 100_000, 8, {}),
    ("trpo", "gymnax:CartPole-v1", 100_000, 8, {}),
    ("dqn", "gymnax:CartPole-v1", 20_000, 8, {}),
    ("sac", "gymnax:Pendulum-v1", 3_000, 8, {}),
]
STALL_CASE = ("trpo", "gymnax:CartPole-v1", 512, 2, {"num_steps": 128})
BASE = "--xla_backend_optimization_level=1"


def run(case: tuple, with_flag: bool, pin: bool, timeout: float) -> dict | str:
    algo, env_id, budget, seeds, overrides = case
    env = {**os.environ, "XLA_FLAGS": f"{BASE} {XLA_CPU_STALL_WORKAROUND}" if with_flag else BASE}
    env[PINNED_WORKER_ENV] = "1"  # importing rlcheck must not add the flag by itself
    command = [sys.executable, "-c", PROGRAM, algo, env_id, str(budget), str(seeds)]
    command.append(json.dumps(overrides))
    every_core = set(range(os.cpu_count() or 1))
    try:
        done = subprocess.run(
            (["taskset", "-c", "0"] if pin else []) + command,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=None if pin else (lambda: os.sched_setaffinity(0, every_core)),
        )
    except subprocess.TimeoutExpired:
        return f"no result after {timeout:.0f} s (stalled)"
    if done.returncode:
        return f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stall", action="store_true", help="check the stall, not the cost")
    args = parser.parse_args()
    if args.stall:
        for rnd in range(args.rounds):
            for with_flag in (False, True):
                result = run(STALL_CASE, with_flag, pin=False, timeout=120)
                print(f"round {rnd} unpinned, flag {'on' if with_flag else 'off'}: {result}")
        return
    for rnd in range(args.rounds):
        for case in COST_CASES:
            order = (False, True) if rnd % 2 == 0 else (True, False)
            for with_flag in order:
                result = run(case, with_flag, pin=True, timeout=600)
                label = f"{case[0]} {case[1]} {case[2]:,} × {case[3]} seeds"
                print(f"round {rnd} {label}, flag {'on' if with_flag else 'off'}: {result}")


if __name__ == "__main__":
    main()
