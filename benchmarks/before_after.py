"""The same `rlcheck` commands with this checkout's code and with an earlier commit's, in the
same session: did a change make rlcheck slower, or move its numbers?

Each benchmark of BENCHMARKS.md's speed tables against rejax (PPO on gymnax CartPole-v1,
16 seeds × 500k; DQN on CartPole-v1 100k, SAC and TD3 on Pendulum-v1 20k with the `rejax`
presets, 16 seeds, 20 × 8 evaluations) runs as the whole command, once per repetition with
each code, in alternating order, with a warm compilation cache of its own (filled first, so the
times are training, evaluation, storing and the report, without compiling). Compile times are
compared from the same runs' cold-cache fill. Quotes medians, the ratio new / old (below 1:
faster), and whether every seed's final return is identical.

The reference code is another checkout of the repository (``git worktree add DIR COMMIT``); it
runs on this interpreter with ``PYTHONPATH=DIR``, so it needs no venv of its own as long as its
dependencies are the same.

    python benchmarks/before_after.py --ref /path/to/old/checkout [--repeats 3]
        [--only ppo|dqn|sac|td3]
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

from rlcheck.experiment.provenance import machine

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
SEEDS, CHECKPOINTS, EPISODES = 16, 20, 8

# name -> (rlcheck arguments after the command; spec text for `run`, or None for `quick`)
BENCHES: dict[str, tuple[list[str], str | None]] = {
    "ppo": (
        [
            "quick",
            "CartPole-v1",
            "--algos",
            "ppo",
            "--seeds",
            str(SEEDS),
            "--steps",
            "500000",
            "--checkpoints",
            str(CHECKPOINTS),
            "--eval-episodes",
            str(EPISODES),
        ],
        None,
    ),
    **{
        algo: (
            ["run"],
            f"seeds = {SEEDS}\nbudget = {budget}\n\n[eval]\ncheckpoints = {CHECKPOINTS}\n"
            f"episodes = {EPISODES}\nfinal_episodes = {EPISODES}\n\n[[env]]\n"
            f'id = "gymnax:{env}"\n\n[[algo]]\nname = "{algo}"\npreset = "rejax"\n',
        )
        for algo, env, budget in (
            ("dqn", "CartPole-v1", 100_000),
            ("sac", "Pendulum-v1", 20_000),
            ("td3", "Pendulum-v1", 20_000),
        )
    },
}


def run(name: str, code: Path, cache: Path, out: Path, work: Path) -> dict:
    """One whole command with the code at ``code``; its wall time, compile time and finals."""
    args, spec = BENCHES[name]
    if spec is not None:
        spec_path = work / f"{name}.toml"
        spec_path.write_text(spec)
        args = [*args, str(spec_path)]
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "RLCHECK_CACHE_DIR": str(cache), "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "rlcheck.cli", *args, "--out", str(out)]
    start = time.perf_counter()
    # From the code's own directory: `python -m` puts the working directory first on the path.
    done = subprocess.run(command, env=env, cwd=code, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name} with {code} failed:\n{done.stderr[-2000:]}")
    db = sqlite3.connect(out / "results.sqlite")
    key, meta = db.execute("SELECT key, meta FROM units").fetchone()
    finals = [f for (f,) in db.execute("SELECT final_return FROM seeds WHERE unit_key = ?", (key,))]
    db.close()
    compile_s = max(c.get("compile_s", 0.0) for c in json.loads(meta)["chunks"])
    return {"wall_s": wall, "compile_s": compile_s, "finals": finals}


def bench(name: str, codes: dict[str, Path], repeats: int, work: Path) -> dict:
    caches = {label: work / f"{name}-{label}-cache" for label in codes}
    rows: dict[str, list[dict]] = {label: [] for label in codes}
    cold = {}
    for label, code in codes.items():
        cold[label] = run(name, code, caches[label], work / f"{name}-{label}", work)
        print(name, label, "cold", {k: v for k, v in cold[label].items() if k != "finals"})
    order = list(codes)
    for r in range(repeats):
        for label in order if r % 2 == 0 else order[::-1]:
            row = run(name, codes[label], caches[label], work / f"{name}-{label}", work)
            rows[label].append(row)
            print(name, label, r, {k: v for k, v in row.items() if k != "finals"}, flush=True)
    return {"cold": cold, "warm": rows}


def report(results: dict) -> str:
    lines = [
        "| benchmark | code | wall s, warm cache (median) | compile s (cold run) | new / old |"
        " finals identical |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in results["benches"].items():
        warm = {k: statistics.median(r["wall_s"] for r in v) for k, v in result["warm"].items()}
        finals = {
            k: [r["finals"] for r in v] + [result["cold"][k]["finals"]]
            for k, v in result["warm"].items()
        }
        same = all(f == finals["old"][0] for fs in finals.values() for f in fs)
        for label in ("old", "new"):
            ratio = f"{warm['new'] / warm['old']:.2f}" if label == "new" else "1.00"
            compile_s = result["cold"][label]["compile_s"]
            lines.append(
                f"| {name} | {label} | {warm[label]:.1f} | {compile_s:.1f} | {ratio} |"
                f" {'yes' if same else 'no'} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=tuple(BENCHES), action="append")
    parser.add_argument("--report", type=Path, help="re-print the table of a raw results file")
    args = parser.parse_args()
    if args.report:
        print(report(json.loads(args.report.read_text())))
        return
    new = ROOT.parent
    old = args.ref.resolve()
    ref_commit = subprocess.run(
        ["git", "-C", str(old), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    new_commit = subprocess.run(
        ["git", "-C", str(new), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    results = {
        "machine": machine(),
        "old": ref_commit,
        "new": new_commit,
        "repeats": args.repeats,
        "benches": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or BENCHES:
            results["benches"][name] = bench(
                name, {"old": old, "new": new}, args.repeats, Path(tmp)
            )
    OUT.mkdir(exist_ok=True)
    raw = OUT / f"before_after-{time.strftime('%Y%m%d-%H%M%S')}.json"
    raw.write_text(json.dumps(results, indent=1))
    print(f"old {ref_commit}, new {new_commit}; raw: {raw}")
    print(report(results))


if __name__ == "__main__":
    main()
