"""Does Engstrom et al.'s ablation finding appear with ``rlcheck ablate`` (issue 16, item 5)?

Target (../shared/research/madry.md §6.5–6.6): on Acrobot-v1, a 2^4 factorial over value
clipping, reward scaling, orthogonal init and learning-rate annealing with ≥ 8 seeds per cell:
reward scaling and orthogonal init help (main effect > 0), and value clipping hurts without
reward scaling (clip_vloss's effect in the cells with normalize_reward off < 0). A finding is
"met" when its 95% bootstrap interval excludes 0 on the right side, "same sign" when only the
point estimate does, else "not met"; every number is printed either way.

The agent is rlcheck's PPO set up like MadryLab's trainer (madry.md §6; the same settings as
benchmarks/diagnostics_findings.py): one env of 2048 steps per update, 32 minibatches × 10
epochs, Adam 3e-4, no entropy bonus, observation normalization, reward clipping, no gradient
clipping (max_grad_norm 1e6), 60 updates (122,880 env steps per seed). The ablated toggles
switch between madry.md's PPO and PPO-M values: clip_vloss True/False, normalize_reward
True/False, weight_init orthogonal/lecun, anneal_lr True/False. With ``--lr-grid`` every cell
also tries those learning rates on the tuning seeds and is reported on ``--fresh-seeds``
(B's protocol; ≈ 5× the cost with 4 rates).

It runs ``rlcheck ablate SPEC --out benchmarks/out/ablation_findings[_lr]`` (resumable: run it
again to finish an interrupted run) and writes benchmarks/out/ablation_findings[_lr].json. Not a
CI test: the full run takes tens of minutes on 2 cores (madry.md's prototype: ~10 min for 4
seeds).

    python benchmarks/ablation_findings.py [--seeds 8] [--lr-grid 1e-4:1e-3:4:log]
    python benchmarks/ablation_findings.py --quick   # seconds of training: checks the script
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
ENV = "Acrobot-v1"
UPDATES = 60
FIELDS = ("clip_vloss", "normalize_reward", "weight_init", "anneal_lr")
MADRY_PPO = {
    "num_envs": 1,
    "num_steps": 2048,
    "num_minibatches": 32,
    "update_epochs": 10,
    "learning_rate": 3e-4,
    "ent_coef": 0.0,
    "normalize_obs": True,
    "clip_reward": True,
    "max_grad_norm": 1e6,
}
# --quick: two toggles (4 programs), updates of 64 steps, 2 seeds: the script end to end.
QUICK_PPO = {**MADRY_PPO, "num_steps": 64, "num_minibatches": 2, "update_epochs": 1}
QUICK_FIELDS = ("clip_vloss", "normalize_reward")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def spec_text(args: argparse.Namespace) -> str:
    config = QUICK_PPO if args.quick else MADRY_PPO
    fields = QUICK_FIELDS if args.quick else FIELDS
    steps = config["num_steps"] * (4 if args.quick else UPDATES)
    lines = [
        f"seeds = {2 if args.quick else args.seeds}",
        f"budget = {steps}",
        "[eval]",
        f"checkpoints = {2 if args.quick else 10}",
        f"episodes = {2 if args.quick else 8}",
        f"final_episodes = {4 if args.quick else 32}",
        "[[env]]",
        f'id = "{ENV}"',
        "[[algo]]",
        'name = "ppo"',
        "[algo.config]",
        *(f"{k} = {toml_value(v)}" for k, v in config.items()),
        "[ablate]",
        'design = "factorial"',
        f"fields = {toml_value(fields)}",
    ]
    if args.lr_grid:
        lines += [f'lr_grid = "{args.lr_grid}"', f"fresh_seeds = {args.fresh_seeds}"]
    return "\n".join(lines) + "\n"


def verdict(estimate: dict | None, sign: int) -> str:
    """met: the interval excludes 0 on the side of ``sign``; same sign: only the point does."""
    if estimate is None:
        return "not measured"
    if min(sign * estimate["low"], sign * estimate["high"]) > 0:
        return "met"
    return "same sign" if sign * estimate["point"] > 0 else "not met"


def fmt(estimate: dict | None) -> str:
    if estimate is None:
        return "n/a"
    return f"{estimate['point']:+.1f} [{estimate['low']:+.1f}, {estimate['high']:+.1f}]"


def findings(ablation: dict) -> list[dict]:
    effects = {e["field"]: e["effect"] for e in ablation["main_effects"]}
    pairs = {tuple(p["fields"]): p for p in ablation["interactions"] or []}
    clip = pairs.get(("clip_vloss", "normalize_reward"), {})
    rows = [
        (
            "reward scaling helps (main effect of normalize_reward > 0)",
            effects.get("normalize_reward"),
            1,
        ),
        ("orthogonal init helps (main effect of weight_init > 0)", effects.get("weight_init"), 1),
        (
            "value clipping hurts without reward scaling (clip_vloss's effect, normalize_reward "
            "off, < 0)",
            clip.get("a_when_b_off"),
            -1,
        ),
        ("(value clipping with reward scaling on)", clip.get("a_when_b_on"), -1),
        ("(value clipping, main effect)", effects.get("clip_vloss"), -1),
        ("(learning-rate annealing, main effect)", effects.get("anneal_lr"), 1),
    ]
    return [
        {"finding": text, "estimate": estimate, "result": verdict(estimate, sign)}
        for text, estimate, sign in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="seeds per cell (default 8)")
    parser.add_argument(
        "--lr-grid", default=None, help="learning rates per cell, e.g. 1e-4:1e-3:4:log"
    )
    parser.add_argument("--fresh-seeds", type=int, default=8, help="with --lr-grid (default 8)")
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks the script")
    parser.add_argument("--workers", type=int, default=None, help="rlcheck's --workers")
    args = parser.parse_args()
    # One directory per kind of run: a store holding two ablations would report both.
    name = "ablation_findings" + ("_quick" if args.quick else "") + ("_lr" if args.lr_grid else "")
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "ablate.toml"
    spec.write_text(spec_text(args))
    command = [sys.executable, "-m", "rlcheck.cli", "ablate", str(spec), "--out", str(out)]
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    start = time.perf_counter()
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"rlcheck ablate failed ({result.returncode}): {result.stderr.strip()}")
    (ablation,) = json.loads((out / "summary.json").read_text())["ablation"]
    rows = findings(ablation)
    print(
        f"{ablation['name']}: {ablation['design']}, {len(ablation['cells'])} cells, "
        f"{len(ablation['seeds'])} seeds per cell, {wall:.0f} s (this call)"
    )
    for cell in ablation["cells"]:
        mean = cell["mean"]
        print(f"  {cell['name']:<55} lr={cell['learning_rate']}  mean final return {fmt(mean)}")
    print("main effects (on − off, 95% CI):")
    for e in ablation["main_effects"]:
        print(f"  {e['field']:<18} {fmt(e['effect'])}")
    for row in rows:
        print(f"{row['result']:>12}: {row['finding']}: {fmt(row['estimate'])}")
    record = {
        "spec": spec.read_text(),
        "wall_s": wall,
        "cells": [
            {k: c[k] for k in ("name", "learning_rate", "seeds", "diverged", "mean", "iqm")}
            for c in ablation["cells"]
        ],
        "main_effects": ablation["main_effects"],
        "interactions": ablation["interactions"],
        "findings": rows,
    }
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"results: {out} · summary: {OUT / f'{name}.json'}")


if __name__ == "__main__":
    main()
