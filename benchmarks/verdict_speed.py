"""Wall time of ``rlcheck verdict ENV`` (default settings), cold and warm compilation cache.

Cold: ``RLCHECK_CACHE_DIR`` points at an empty temporary directory, so every program compiles.
Warm: the same command again with that cache filled (into a fresh results directory, so
nothing is resumed). The whole command is timed, from process start to exit; the per-unit
table (wall, compile and run time of the slowest worker, from the results store) says where
the time goes.

    python benchmarks/verdict_speed.py [--env CartPole-v1] [--warm-repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
TARGET_S = 60.0


def verdict(env_id: str, cache: Path, out: Path) -> tuple[float, list[dict]]:
    """Run the verdict fresh into ``out``; returns (whole-command wall seconds, unit timings)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "RLCHECK_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "rlcheck.cli", "verdict", env_id, "--out", str(out)]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"rlcheck verdict failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    db = sqlite3.connect(out / "results.sqlite")
    units = []
    for algo, env_steps, unit_wall, compile_s, meta in db.execute(
        "SELECT algo, env_steps, wall_s, compile_s, meta FROM units ORDER BY rowid"
    ):
        chunks = json.loads(meta)["chunks"]
        units.append(
            {
                "algo": algo,
                "env_steps": env_steps,
                "wall_s": unit_wall,
                "compile_s": compile_s,
                "run_s": max(c.get("run_s", 0.0) for c in chunks),
            }
        )
    db.close()
    return wall, units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--warm-repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rlcheck-verdict-speed-") as work:
        cache = Path(work) / "cache"
        cache.mkdir()
        runs = [("cold", *verdict(args.env, cache, Path(work) / "cold"))]
        for i in range(args.warm_repeats):
            runs.append((f"warm {i + 1}", *verdict(args.env, cache, Path(work) / f"warm{i}")))
    print(f"`rlcheck verdict {args.env}`, default settings; {os.cpu_count()} CPU cores, ")
    print(f"Python {platform.python_version()}\n")
    print("| run | whole command s | units s (sum of wall) | outside units s |")
    print("|---|---|---|---|")
    for name, wall, units in runs:
        inside = sum(u["wall_s"] for u in units)
        print(f"| {name} | {wall:.1f} | {inside:.1f} | {wall - inside:.1f} |")
    warm = min(wall for name, wall, _ in runs if name != "cold") if len(runs) > 1 else None
    if warm is not None:
        met = "met" if warm <= TARGET_S else "**missed**"
        print(f"\nWarm (best of {len(runs) - 1}): {warm:.1f} s; target ≤ {TARGET_S:.0f} s: {met}\n")
    names = [name for name, *_ in runs]
    print(
        "| algo | env steps / seed | " + " | ".join(f"{n}: wall / compile / run s" for n in names)
    )
    print("|---|---|" + "---|" * len(names))
    for i, unit in enumerate(runs[0][2]):
        cells = [
            f"{r[2][i]['wall_s']:.1f} / {r[2][i]['compile_s']:.1f} / {r[2][i]['run_s']:.1f}"
            for r in runs
        ]
        print(f"| {unit['algo']} | {unit['env_steps']:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
