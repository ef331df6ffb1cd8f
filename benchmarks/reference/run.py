"""Runs reference specs through the rlcheck CLI and prints one markdown row per (algo, env).

Each ``FILE.toml`` runs with ``rlcheck run FILE.toml --out benchmarks/out/reference/<stem>/``
(re-running resumes: stored units are skipped), then every stored unit becomes a row: the IQM
of the seeds' final evaluation returns with its 95% stratified-bootstrap CI (the report's own
numbers, ``rlcheck.stats.interval_estimates``), the issue's target and whether the CI's point
estimate meets it. Rows are also written to ``<out>/rows.md``.

    python benchmarks/reference/run.py benchmarks/reference/offpolicy-dqn-cartpole.toml [...]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rlcheck import stats
from rlcheck.experiment.store import Store

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "reference"
CONFIDENCE = 0.95
REPS = 50_000
RANDOM_ALGO = "random"

# The table (issue 4): (algo, env id without its "gymnax:"/"gymnasium:" prefix) ->
# target IQM of final return. Rows whose target is "clearly above random" are not listed:
# they are met when the IQM's CI lies above the CI of the random policy's IQM in the same
# spec (which must then include the ``random`` algo).
TARGETS: dict[tuple[str, str], float] = {
    ("dqn", "CartPole-v1"): 475.0,
    ("dqn", "Acrobot-v1"): -100.0,
    ("dqn", "MountainCar-v0"): -130.0,
    ("a2c", "CartPole-v1"): 475.0,
    ("trpo", "CartPole-v1"): 475.0,
    ("ppo", "Acrobot-v1"): -100.0,
    ("ppo", "Pendulum-v1"): -250.0,
    ("sac", "Pendulum-v1"): -200.0,
    ("td3", "Pendulum-v1"): -200.0,
    ("ddpg", "Pendulum-v1"): -200.0,
    ("sac", "MountainCarContinuous-v0"): 80.0,
}

HEADER = (
    "| algo | env | budget | seeds (usable) | IQM final return [95% CI] | target | met? "
    "| wall s |\n|---|---|---|---|---|---|---|---|"
)


def bare(env_id: str) -> str:
    return env_id.split(":", 1)[1] if env_id.startswith(("gymnax:", "gymnasium:")) else env_id


def iqm_interval(finals: np.ndarray) -> stats.Estimate:
    return stats.interval_estimates({"x": finals[:, None]}, ("iqm",), REPS, CONFIDENCE)["x"]["iqm"]


def rows(directory: Path) -> list[str]:
    """One markdown row per stored unit of the results in ``directory``."""
    store = Store(directory, create=False)
    estimates = {}
    for unit in store.units():
        seed_rows = store.seed_rows(unit["key"])
        finals = np.array([f for _, status, f, _ in seed_rows if status == "ok" and f is not None])
        finals = finals[np.isfinite(finals)]
        estimate = iqm_interval(finals) if len(finals) else None
        key = (unit["env_label"], unit["algo_label"])
        estimates[key] = (unit, len(seed_rows), finals, estimate)
    lines = []
    for (env_label, _label), (unit, seeds, finals, est) in estimates.items():
        algo = unit["algo"]
        target = TARGETS.get((algo, bare(unit["env"])))
        random = estimates.get((env_label, RANDOM_ALGO))
        if est is None:
            value, met = "—", "no (no usable seed)"
        else:
            value = f"{est.point:.1f} [{est.low:.1f}, {est.high:.1f}]"
            met = "—"
        if target is not None:
            target_text = f"≥ {target:g}"
            if est is not None:
                met = "yes" if est.point >= target else "**no**"
        elif algo != RANDOM_ALGO and random is not None and random[3] is not None:
            target_text = f"> random ({random[3].point:.1f} [{random[3].low:.1f}, "
            target_text += f"{random[3].high:.1f}])"
            if est is not None:
                met = "yes" if est.low > random[3].high else "**no**"
        else:
            target_text = "—"
        wall = "—" if unit["wall_s"] is None else f"{unit['wall_s']:.0f}"
        lines.append(
            f"| {unit['algo_label']} | {env_label} | {unit['budget']:,} | {seeds} ({len(finals)}) "
            f"| {value} | {target_text} | {met} | {wall} |"
        )
    store.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="+", type=Path, help="reference spec files (TOML)")
    parser.add_argument(
        "--seeds",
        type=int,
        help="override the spec's seed count (a cheaper, less certain row: the seeds column "
        "says how many ran); results go to <stem>-<N>seeds/ beside the others",
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="do not run; print the rows of results already stored",
    )
    args = parser.parse_args()
    all_rows = []
    for spec in args.specs:
        out = OUT / spec.stem
        if args.seeds is not None:
            out = OUT / f"{spec.stem}-{args.seeds}seeds"
            OUT.mkdir(parents=True, exist_ok=True)
            text = re.sub(r"(?m)^seeds = .*$", f"seeds = {args.seeds}", spec.read_text())
            spec = OUT / f"{out.name}.toml"
            spec.write_text(text)
        if not args.table_only:
            start = time.perf_counter()
            command = [sys.executable, "-m", "rlcheck.cli", "run", str(spec), "--out", str(out)]
            print("$", " ".join(command), flush=True)
            result = subprocess.run(command, check=False)
            print(f"{spec.name}: {time.perf_counter() - start:.0f} s", flush=True)
            if result.returncode != 0:
                print(f"{spec.name}: rlcheck exited with {result.returncode}", file=sys.stderr)
        if not (out / "results.sqlite").exists():
            print(f"{spec.name}: no results in {out}", file=sys.stderr)
            continue
        spec_rows = rows(out)
        (out / "rows.md").write_text(HEADER + "\n" + "\n".join(spec_rows) + "\n")
        all_rows += spec_rows
    print(HEADER)
    print("\n".join(all_rows))


if __name__ == "__main__":
    main()
