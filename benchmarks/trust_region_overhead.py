"""What the trust-region monitor (issue 16, D4) costs PPO's training, in the same run.

PPO on gymnax CartPole-v1 with CleanRL's defaults, fused driver, 8 seeds. Two contenders, the
same program but for the monitor:

- ``monitor``: ``trust_region_monitor = true``: after every update, the ratio and KL of the new
  policy against the one that collected the batch (``ratio_max``, ``ratio_p99``,
  ``ratio_mean``, ``kl_mean``, ``kl_max``; ``agents/common/trust_region.py``).
- ``none``: the default, without it; nothing else differs. The returns must come out
  identical, and the script checks that they do.

Runs as rlcheck's CPU workers do (pinned to core 0, the workers' XLA flags), one process for
both contenders, in alternating order within each repetition; quotes the medians of the run
time (compilation excluded, measured apart) and their ratio, and the ratio of the fastest runs.

    python benchmarks/trust_region_overhead.py [--repeats 5] [--seeds 8] [--budget 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
CHECKPOINTS = 10
EPISODES = 4


def child(repeats: int, seeds: int, budget: int) -> dict:
    import numpy as np

    from rlcheck import envs
    from rlcheck.drivers.common import EvalPlan, make_schedule
    from rlcheck.drivers.fused import FusedDriver
    from rlcheck.registry import make_agent

    env = envs.make("CartPole-v1")
    plan = EvalPlan(CHECKPOINTS, EPISODES, EPISODES)
    drivers = {}
    for name, on in (("monitor", True), ("none", False)):
        agent = make_agent("ppo", env.spec, {"trust_region_monitor": on}, budget)
        schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, CHECKPOINTS, "ppo")
        drivers[name] = FusedDriver(agent, env, schedule, plan)
    times: dict = {name: {"run_s": [], "compile_s": []} for name in drivers}
    finals: dict = {}
    for r in range(repeats):
        for name in ("monitor", "none") if r % 2 == 0 else ("none", "monitor"):
            results, timing = drivers[name].run(list(range(seeds)))
            times[name]["run_s"].append(timing["run_s"])
            times[name]["compile_s"].append(timing["compile_s"])
            finals.setdefault(name, np.asarray(results["final_returns"]).tolist())
    return {
        "times": times,
        "same_returns": finals["monitor"] == finals["none"],
        "final_return_mean": float(np.mean(finals["monitor"])),
        "updates": int(schedule.num_updates),
    }


def report(out: dict, args: argparse.Namespace, machine: dict) -> str:
    t = out["times"]
    on = statistics.median(t["monitor"]["run_s"])
    off = statistics.median(t["none"]["run_s"])
    lines = [
        f"Machine: {machine}; one core (pinned, rlcheck's worker XLA flags); "
        f"{args.repeats} repetitions, alternating, medians.",
        f"PPO CartPole-v1, CleanRL defaults, {args.budget:,} env steps × {args.seeds} seeds "
        f"({out['updates']:,} updates), {CHECKPOINTS} checkpoints × {EPISODES} episodes, "
        "fused driver.",
        "",
        "| trust-region monitor | run s | compile s |",
        "|---|---|---|",
        f"| on | {on:.2f} | {statistics.median(t['monitor']['compile_s']):.1f} |",
        f"| off (default) | {off:.2f} | {statistics.median(t['none']['compile_s']):.1f} |",
        "",
        f"Overhead of the monitor: {100 * (on / off - 1):+.1f}% of the run time (ratio of "
        f"medians {on / off:.3f}; of the fastest runs, the least disturbed on a shared machine, "
        f"{min(t['monitor']['run_s']) / min(t['none']['run_s']):.3f}; runs: on "
        f"{[round(x, 2) for x in t['monitor']['run_s']]}, off "
        f"{[round(x, 2) for x in t['none']['run_s']]}). "
        f"Same final returns in both: {'yes' if out['same_returns'] else 'NO'} "
        f"(mean {out['final_return_mean']:.1f}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = (args.repeats, args.seeds, args.budget)
    if args.child:
        print(json.dumps(child(*sizes)))
        return

    from rlcheck import PINNED_WORKER_ENV
    from rlcheck.experiment.provenance import machine
    from rlcheck.experiment.workers import worker_xla_flags

    env = {**os.environ, PINNED_WORKER_ENV: "1"}
    env["XLA_FLAGS"] = worker_xla_flags(os.environ.get("XLA_FLAGS"), pinned=True)
    command = ["taskset", "-c", "0", sys.executable, __file__, "--child"]
    command += ["--repeats", str(args.repeats), "--seeds", str(args.seeds)]
    command += ["--budget", str(args.budget)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    text = report(out, args, machine())
    print(text)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"trust_region_overhead-{stamp}.json").write_text(json.dumps(out))
    (OUT / f"trust_region_overhead-{stamp}.md").write_text(text)
    if not out["same_returns"]:
        sys.exit("training with and without the monitor gave different returns")


if __name__ == "__main__":
    main()
