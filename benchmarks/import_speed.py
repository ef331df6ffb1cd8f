"""Wall time of ``rlcheck import`` on 100 TensorBoard files, and of the report on them.

The files are CleanRL's layout (``runs/{env}__{algo}__{seed}__{time}``), written with
tensorboardX: 16 seeds × 6 algorithms on CartPole-v1, and 4 seeds of a seventh on Acrobot-v1
(the extras), each with 500 points of ``charts/episodic_return`` and of two more CleanRL
scalars (``charts/episodic_length``, ``losses/value_loss``). Timed, each as a whole command
from process start to exit: ``rlcheck import runs --out DIR`` (which writes the report too),
``rlcheck import`` again (every unit already stored), and ``rlcheck report DIR``.

    python benchmarks/import_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
ALGOS = ("ppo", "dqn", "a2c", "sac", "td3", "c51")
SEEDS = 16
POINTS = 500
STEP = 200


def write_runs(root: Path) -> int:
    """The event files; returns how many."""
    from tensorboardX import SummaryWriter

    runs = [("CartPole-v1", algo, seed) for algo in ALGOS for seed in range(SEEDS)]
    runs += [("Acrobot-v1", "qdagger", seed) for seed in range(4)]
    for env, algo, seed in runs:
        rng = np.random.default_rng([seed, len(algo)])
        writer = SummaryWriter(str(root / f"{env}__{algo}__{seed}__{1700000000 + seed}"))
        for i in range(POINTS):
            step = (i + 1) * STEP
            writer.add_scalar("charts/episodic_return", 500 * i / POINTS + rng.normal(0, 20), step)
            writer.add_scalar("charts/episodic_length", float(rng.integers(10, 500)), step)
            writer.add_scalar("losses/value_loss", float(rng.exponential()), step)
        writer.close()
    return len(runs)


def timed(*args: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rlcheck.cli", *args], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"rlcheck {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rlcheck-import-speed-"))
    try:
        files = write_runs(work / "runs")
        size = sum(f.stat().st_size for f in (work / "runs").rglob("*") if f.is_file())
        rows = []
        for repeat in range(args.repeats):
            results = work / f"results-{repeat}"
            first = timed("import", str(work / "runs"), "--out", str(results))
            again = timed("import", str(work / "runs"), "--out", str(results))
            report = timed("report", str(results))
            rows.append({"import_and_report_s": first, "reimport_s": again, "report_s": report})
            print(
                f"repeat {repeat}: import + report {first:.2f} s, import again {again:.2f} s, "
                f"report alone {report:.2f} s",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        "files": files,
        "points_per_file": 3 * POINTS,
        "bytes": size,
        "runs": rows,
        "median": {k: float(np.median([r[k] for r in rows])) for k in rows[0]},
        "python": platform.python_version(),
        "machine": platform.node(),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "import_speed.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary["median"]))


if __name__ == "__main__":
    main()
