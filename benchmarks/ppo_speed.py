"""PPO speed against peers in the same session: rejax (fused, gymnax) and SB3 (host, Gymnasium).

Each repetition runs every contender once, in alternating order, so a noisy neighbour hurts
them alike; the table quotes medians and the ratios of medians. Needs the peer venvs
(``bash benchmarks/peers/setup.sh``) and rlcheck installed in the running interpreter.

    python benchmarks/ppo_speed.py --repeats 3 [--only fused|host|latency]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scipy.stats import trim_mean

from rlcheck import environ_without_added_flag
from rlcheck.experiment.provenance import machine

ROOT = Path(__file__).resolve().parent
VENVS = ROOT / ".venvs"
OUT = ROOT / "out"


def timed(
    command: list[str], env: dict | None = None, cwd: Path | None = None
) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB of the process tree's largest process, stdout)."""
    start = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    peak_kb = int(result.stderr.strip().splitlines()[-1])
    return wall, peak_kb // 1024, result.stdout


def rlcheck(args: list[str], cache: Path, out: Path) -> tuple[float, int, dict]:
    """Run ``rlcheck`` fresh into ``out``; returns (wall, peak MB, per-unit timings/finals)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "RLCHECK_CACHE_DIR": str(cache)}
    wall, peak, _ = timed([sys.executable, "-m", "rlcheck.cli", *args, "--out", str(out)], env)
    db = sqlite3.connect(out / "results.sqlite")
    units = {}
    for key, algo, env_steps, meta in db.execute("SELECT key, algo, env_steps, meta FROM units"):
        finals = [
            r for (r,) in db.execute("SELECT final_return FROM seeds WHERE unit_key = ?", (key,))
        ]
        units[algo] = {
            "env_steps": env_steps,
            "chunks": json.loads(meta)["chunks"],
            "finals": finals,
        }
    return wall, peak, units


def fused(repeats: int, work: Path) -> dict:
    """16 seeds × 500k CartPole-v1 steps, CleanRL defaults, 20 checkpoints × 8 episodes."""
    rows: dict[str, list] = {"rejax": [], "ours_cold": [], "ours_warm": []}
    warm_cache = work / "warm-cache"
    args = [
        "quick",
        "CartPole-v1",
        "--algos",
        "ppo",
        "--seeds",
        "16",
        "--steps",
        "500000",
        "--checkpoints",
        "20",
        "--eval-episodes",
        "8",
    ]
    rlcheck(args, warm_cache, work / "warmup")  # fills the warm cache
    for r in range(repeats):
        order = ["rejax", "ours_cold", "ours_warm"]
        for name in order if r % 2 == 0 else order[::-1]:
            if name == "rejax":
                wall, peak, stdout = timed(
                    [str(VENVS / "rejax/bin/python"), str(ROOT / "peers/rejax_ppo.py")],
                    environ_without_added_flag(),
                )
                peer = json.loads(stdout.strip().splitlines()[-1])
                rows[name].append(
                    {
                        "wall_s": wall,
                        "peak_mb": peak,
                        "compile_s": peer["compile_s"],
                        "iqm": peer["iqm_final_return"],
                    }
                )
            else:
                cache = warm_cache if name == "ours_warm" else work / f"cold-cache-{r}"
                wall, peak, units = rlcheck(args, cache, work / name)
                ppo = units["ppo"]
                rows[name].append(
                    {
                        "wall_s": wall,
                        "peak_mb": peak,
                        "compile_s": max(c["compile_s"] for c in ppo["chunks"]),
                        "iqm": float(trim_mean(ppo["finals"], 0.25)),
                    }
                )
            print(name, rows[name][-1], flush=True)
    return rows


def host(repeats: int, work: Path) -> dict:
    """Aggregate env steps/s on gymnasium CartPole-v1: SB3 (one process per core) vs ours."""
    rows: dict[str, list] = {"sb3": [], "ours": []}
    cache = work / "host-cache"
    args = [
        "quick",
        "gymnasium:CartPole-v1",
        "--algos",
        "ppo",
        "--seeds",
        "16",
        "--steps",
        "50000",
        "--checkpoints",
        "20",
        "--eval-episodes",
        "8",
    ]
    rlcheck(args, cache, work / "host-warmup")
    for r in range(repeats):
        for name in ("sb3", "ours") if r % 2 == 0 else ("ours", "sb3"):
            if name == "sb3":
                wall, peak, stdout = timed(
                    [str(VENVS / "sb3/bin/python"), str(ROOT / "peers/sb3_ppo.py")],
                    environ_without_added_flag(),
                )
                peer = json.loads(stdout.strip().splitlines()[-1])
                rows[name].append(
                    {
                        "train_steps_per_s": peer["aggregate_env_steps_per_s"],
                        "wall_s": wall,
                        "peak_mb": peak,
                    }
                )
            else:
                wall, peak, units = rlcheck(args, cache, work / "host")
                ppo = units["ppo"]
                per_worker = ppo["env_steps"] * 16 / len(ppo["chunks"])
                train = sum(per_worker / (c["run_s"] - c["eval_s"]) for c in ppo["chunks"])
                rows[name].append(
                    {
                        "train_steps_per_s": train,
                        "whole_command_steps_per_s": ppo["env_steps"] * 16 / wall,
                        "eval_s": max(c["eval_s"] for c in ppo["chunks"]),
                        "wall_s": wall,
                        "peak_mb": peak,
                        "iqm": float(trim_mean(ppo["finals"], 0.25)),
                    }
                )
            print(name, rows[name][-1], flush=True)
    return rows


def latency(repeats: int, work: Path) -> dict:
    """``rlcheck quick CartPole-v1`` (ppo and random, 16 seeds × 100k) with a cold and a warm
    compilation cache."""
    rows: dict[str, list] = {"cold": [], "warm": []}
    args = ["quick", "CartPole-v1", "--seeds", "16", "--steps", "100000"]
    warm_cache = work / "latency-warm"
    rlcheck(args, warm_cache, work / "latency-warmup")
    for r in range(repeats):
        for name in ("cold", "warm"):
            cache = warm_cache if name == "warm" else work / f"latency-cold-{r}"
            wall, peak, units = rlcheck(args, cache, work / "latency")
            compile_s = {
                a: round(max(c["compile_s"] for c in u["chunks"]), 2) for a, u in units.items()
            }
            rows[name].append({"wall_s": wall, "peak_mb": peak, "compile_s": compile_s})
            print(name, rows[name][-1], flush=True)
    return rows


def median(rows: list[dict], field: str) -> float:
    return statistics.median(r[field] for r in rows)


def report(results: dict) -> str:
    lines = [f"Machine: {results['machine']}", ""]
    if "fused" in results:
        f = results["fused"]
        rejax, cold, warm = (median(f[k], "wall_s") for k in ("rejax", "ours_cold", "ours_warm"))
        lines += [
            "| PPO, gymnax CartPole-v1, 16 seeds × 500k, 20×8 eval | wall s (median) | "
            "compile s | IQM final | peak MB | speed-up vs rejax |",
            "|---|---|---|---|---|---|",
            f"| rejax 0.1.3 | {rejax:.1f} | {median(f['rejax'], 'compile_s'):.1f} | "
            f"{median(f['rejax'], 'iqm'):.1f} | {median(f['rejax'], 'peak_mb'):.0f} | 1.00× |",
            f"| rlcheck, cold cache | {cold:.1f} | {median(f['ours_cold'], 'compile_s'):.1f} | "
            f"{median(f['ours_cold'], 'iqm'):.1f} | {median(f['ours_cold'], 'peak_mb'):.0f} | "
            f"{rejax / cold:.2f}× |",
            f"| rlcheck, warm cache | {warm:.1f} | {median(f['ours_warm'], 'compile_s'):.1f} | "
            f"{median(f['ours_warm'], 'iqm'):.1f} | {median(f['ours_warm'], 'peak_mb'):.0f} | "
            f"{rejax / warm:.2f}× |",
            "",
        ]
    if "host" in results:
        h = results["host"]
        sb3, ours = median(h["sb3"], "train_steps_per_s"), median(h["ours"], "train_steps_per_s")
        lines += [
            "| PPO, gymnasium CartPole-v1, 16 seeds (ours) / 2 processes (SB3) | training env "
            "steps/s (median) | whole command | ratio |",
            "|---|---|---|---|",
            f"| Stable-Baselines3 2.9 | {sb3:,.0f} | — | 1.00× |",
            f"| rlcheck host driver | {ours:,.0f} | "
            f"{median(h['ours'], 'whole_command_steps_per_s'):,.0f} | {ours / sb3:.2f}× |",
            "",
        ]
    if "latency" in results:
        lat = results["latency"]
        lines += [
            "| `rlcheck quick CartPole-v1 --seeds 16 --steps 100000` | wall s (median) |",
            "|---|---|",
            f"| cold compilation cache | {median(lat['cold'], 'wall_s'):.1f} |",
            f"| warm compilation cache | {median(lat['warm'], 'wall_s'):.1f} |",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("fused", "host", "latency"), action="append")
    args = parser.parse_args()
    for venv in ("rejax", "sb3"):
        if not (VENVS / venv / "bin/python").exists():
            sys.exit(f"missing peer venv {VENVS / venv}: run bash benchmarks/peers/setup.sh")
    m = machine()
    results: dict = {
        "machine": f"{m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}"
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, bench in (("fused", fused), ("host", host), ("latency", latency)):
            if args.only is None or name in args.only:
                results[name] = bench(args.repeats, work)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"ppo_speed-{stamp}.json").write_text(json.dumps(results, indent=1))
    print(report(results))
    print(f"raw results: {OUT / f'ppo_speed-{stamp}.json'}")


if __name__ == "__main__":
    main()
