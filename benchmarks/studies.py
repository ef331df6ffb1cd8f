"""Run every study's quick version, time it, and regenerate docs/findings.md from the runs.

Every study ``rlcheck study list`` shows (issue 17's six and issue 19's), each timed whole: its
units, its sweeps and, for the studies that measure after their units (gradient-concentration,
value-baseline), the diagnostics.

Each study runs once with a cold compilation cache (``RLCHECK_CACHE_DIR`` an empty temporary
directory: a newcomer's first run) into ``ROOT/<name>-quick``; with ``--warm`` it runs again
with that cache filled into a throwaway directory (a rerun, nothing resumed). The whole
command is timed, from process start to exit. Then ``rlcheck study report`` writes the
findings page (``ROOT/findings.html``) and the Markdown (``docs/findings.md``, figures in
``docs/findings/``) from the cold runs, and the timings go to ``benchmarks/out/``.

Run it alone (other work on the machine inflates every number):

    flock /tmp/rlcheck-bench.lock python benchmarks/studies.py --warm
    python benchmarks/studies.py --studies reward-hacking,seed-failures --no-markdown
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
TARGET_S = 120.0


def run_study(name: str, out: Path, cache: Path) -> float:
    """``rlcheck study run NAME --quick --out OUT`` from scratch; its whole wall time."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "RLCHECK_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "rlcheck.cli", "study", "run", name, "--quick"]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, "--out", str(out)], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return wall


def main() -> None:
    from rlcheck.studies import studies

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", help="comma-separated names (default: all)")
    parser.add_argument("--root", type=Path, default=REPO / "runs" / "findings")
    parser.add_argument("--markdown", type=Path, default=REPO / "docs" / "findings.md")
    parser.add_argument("--no-markdown", action="store_true", help="leave docs/ alone")
    parser.add_argument("--warm", action="store_true", help="also time a warm-cache rerun")
    args = parser.parse_args()
    names = args.studies.split(",") if args.studies else list(studies())
    rows = []
    with tempfile.TemporaryDirectory(prefix="rlcheck-studies-") as work:
        for name in names:
            cache = Path(work) / f"cache-{name}"
            cache.mkdir()
            cold = run_study(name, args.root / f"{name}-quick", cache)
            warm = run_study(name, Path(work) / f"warm-{name}", cache) if args.warm else None
            finding = json.loads((args.root / f"{name}-quick" / "finding.json").read_text())
            rows.append(
                {
                    "study": name,
                    "cold_s": cold,
                    "warm_s": warm,
                    "units_wall_s": finding["cost"]["units_wall_s"],
                    "env_steps": finding["cost"]["env_steps"],
                    "simulator_calls": finding["cost"]["simulator_calls"],
                    "seeds": finding["seeds"],
                    "full_minutes": studies()[name].full_minutes,
                    "sentence": finding["sentence"],
                }
            )
            warm_text = f", warm {warm:.1f} s" if warm is not None else ""
            print(f"{name}: cold {cold:.1f} s{warm_text}", flush=True)
    report = [sys.executable, "-m", "rlcheck.cli", "study", "report", "--root", str(args.root)]
    if not args.no_markdown:
        report += ["--markdown", str(args.markdown)]
    subprocess.run(report, check=True)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    record = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "target_s": TARGET_S,
        "studies": rows,
    }
    (OUT / f"studies-{stamp}.json").write_text(json.dumps(record, indent=1) + "\n")
    print("\n| study | seeds | cold s | warm s | env steps | simulator calls | full (expected) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        warm = f"{r['warm_s']:.1f}" if r["warm_s"] is not None else "—"
        print(
            f"| {r['study']} | {r['seeds']} | {r['cold_s']:.1f} | {warm} | {r['env_steps']:,} | "
            f"{r['simulator_calls']:,} | ~{r['full_minutes']:.0f} min |"
        )


if __name__ == "__main__":
    main()
