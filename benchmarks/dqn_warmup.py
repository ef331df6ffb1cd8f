"""DQN's warm-up without gradient steps: the fused driver's speed-up over computing and
discarding them, in the same run.

DQN on gymnax CartPole-v1 with CleanRL's defaults (``learning_starts`` 10,000, an update every
10 env steps, one gradient step of batch 128 each) at the verdict battery's DQN budget, 50,000
env steps per seed: a fifth of the updates fall in the warm-up. Two contenders, the same
compiled program but for the warm-up:

- ``skip``: rlcheck as it is. ``dqn.py``'s update puts its gradient steps under
  ``offpolicy.run_if``, a ``lax.cond`` on ``env_steps > learning_starts``; the fused driver's
  step counter and hparams are unbatched under its seed vmap, so the warm-up takes none.
- ``discard``: the behaviour before, every update computes its gradient steps and a select keeps
  the old parameters before ``learning_starts`` (what vmap makes of the cond when the
  predicate is batched, as under the host driver). Made here by replacing ``dqn.run_if`` while
  the program is traced, so nothing else differs; the returns must come out identical, and
  the script checks that they do.

Runs as rlcheck's CPU workers do (pinned to core 0, the workers' XLA flags), one process for
both contenders, in alternating order within each repetition; quotes the medians of the run
time (compilation excluded, measured apart) and their ratio.

    python benchmarks/dqn_warmup.py [--repeats 5] [--seeds 8] [--budget 50000]
        [--learning-starts 10000]
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


def child(repeats: int, seeds: int, budget: int, learning_starts: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from rlcheck import envs
    from rlcheck.agents import dqn
    from rlcheck.drivers.common import EvalPlan, make_schedule
    from rlcheck.drivers.fused import FusedDriver
    from rlcheck.registry import make_agent

    skip = dqn.run_if

    def discard(started, steps, carry, keys):
        new, metrics = steps(carry, keys)
        kept = jax.tree.map(lambda n, o: jnp.where(started, n, o), new, carry)
        return kept, jax.tree.map(lambda m: jnp.where(started, m, 0), metrics)

    env = envs.make("CartPole-v1")
    agent = make_agent("dqn", env.spec, {"learning_starts": learning_starts}, budget)
    schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, CHECKPOINTS, "dqn")
    driver = FusedDriver(agent, env, schedule, EvalPlan(CHECKPOINTS, EPISODES, EPISODES))
    contenders = {"skip": skip, "discard": discard}
    times: dict = {name: {"run_s": [], "compile_s": []} for name in contenders}
    finals: dict = {}
    for r in range(repeats):
        for name in ("skip", "discard") if r % 2 == 0 else ("discard", "skip"):
            dqn.run_if = contenders[name]  # looked up when update is traced, inside run()
            try:
                results, timing = driver.run(list(range(seeds)))
            finally:
                dqn.run_if = skip
            times[name]["run_s"].append(timing["run_s"])
            times[name]["compile_s"].append(timing["compile_s"])
            finals.setdefault(name, np.asarray(results["final_returns"]).tolist())
    return {
        "times": times,
        "same_returns": finals["skip"] == finals["discard"],
        "final_return_mean": float(np.mean(finals["skip"])),
        "updates": int(schedule.num_updates),
        "warm_up_updates": learning_starts // (agent.num_envs * agent.rollout_len),
    }


def report(out: dict, args: argparse.Namespace, machine: dict) -> str:
    t = out["times"]
    skip = statistics.median(t["skip"]["run_s"])
    discard = statistics.median(t["discard"]["run_s"])
    compile_skip = statistics.median(t["skip"]["compile_s"])
    compile_discard = statistics.median(t["discard"]["compile_s"])
    lines = [
        f"Machine: {machine}; one core (pinned, rlcheck's worker XLA flags); "
        f"{args.repeats} repetitions, alternating, medians.",
        f"DQN CartPole-v1, CleanRL defaults, learning_starts {args.learning_starts:,}, "
        f"{args.budget:,} env steps × {args.seeds} seeds ({out['updates']:,} updates, about "
        f"{out['warm_up_updates']:,} of them warm-up), {CHECKPOINTS} checkpoints × {EPISODES} "
        "episodes, fused driver.",
        "",
        "| warm-up | run s | compile s |",
        "|---|---|---|",
        f"| gradient steps skipped (lax.cond) | {skip:.2f} | {compile_skip:.1f} |",
        f"| gradient steps computed, discarded | {discard:.2f} | {compile_discard:.1f} |",
        "",
        f"Speed-up of the run: {discard / skip:.2f}×. Same final returns in both: "
        f"{'yes' if out['same_returns'] else 'NO'} (mean {out['final_return_mean']:.1f}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--budget", type=int, default=50_000)
    parser.add_argument("--learning-starts", type=int, default=10_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = (args.repeats, args.seeds, args.budget, args.learning_starts)
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
    command += ["--budget", str(args.budget), "--learning-starts", str(args.learning_starts)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    text = report(out, args, machine())
    print(text)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"dqn_warmup-{stamp}.json").write_text(json.dumps(out))
    (OUT / f"dqn_warmup-{stamp}.md").write_text(text)
    if not out["same_returns"]:
        sys.exit("the two warm-ups gave different returns")


if __name__ == "__main__":
    main()
