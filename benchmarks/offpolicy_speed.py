"""Off-policy speed against rejax 0.1.3 in the same session: DQN, SAC and TD3 on gymnax envs.

DQN on CartPole-v1 (100k steps), SAC and TD3 on Pendulum-v1 (20k steps), 16 seeds each,
20 checkpoints × 8 evaluation episodes, every contender with rejax's own published
hyperparameters: the peer scripts (benchmarks/peers/rejax_dqn.py, rejax_offpolicy.py) run
rejax, and rlcheck runs the same settings through its ``rejax`` presets (in
rlcheck/agents/{dqn,sac,td3}.py; the peer scripts map every field). Ours is the whole
``rlcheck run`` command (spec parsing, planning, worker processes, training, 8 final
evaluation episodes per seed that rejax does not play, the store and the report), once with a
cold and once with a warm compilation cache. Each repetition runs every contender once, in
alternating order, so a noisy neighbour hurts them alike; the table quotes medians and the
ratios of medians. Needs the rejax venv (``bash benchmarks/peers/setup.sh``) and rlcheck
installed in the running interpreter.

    python benchmarks/offpolicy_speed.py --repeats 3 [--only dqn|sac|td3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import trim_mean

from rlcheck import environ_without_added_flag, stats
from rlcheck.experiment.provenance import machine

ROOT = Path(__file__).resolve().parent
VENVS = ROOT / ".venvs"
OUT = ROOT / "out"
SEEDS = 16
CHECKPOINTS = 20
EPISODES = 8

# algo -> (gymnax env, env steps per seed, peer command after the rejax interpreter)
BENCHES = {
    "dqn": ("CartPole-v1", 100_000, [str(ROOT / "peers/rejax_dqn.py")]),
    "sac": ("Pendulum-v1", 20_000, [str(ROOT / "peers/rejax_offpolicy.py"), "--algo", "sac"]),
    "td3": ("Pendulum-v1", 20_000, [str(ROOT / "peers/rejax_offpolicy.py"), "--algo", "td3"]),
}


def timed(
    command: list[str], env: dict | None = None, timeout: float | None = None
) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB of the process tree's largest process, stdout); raises
    subprocess.TimeoutExpired after ``timeout`` seconds."""
    start = time.perf_counter()
    # A session of its own, so a timeout stops the peer itself, not only /usr/bin/time.
    process = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    peak_kb = int(result.stderr.strip().splitlines()[-1])
    return wall, peak_kb // 1024, result.stdout


def spec_text(algo: str) -> str:
    env, steps, _ = BENCHES[algo]
    return (
        f"seeds = {SEEDS}\nbudget = {steps}\n\n[eval]\ncheckpoints = {CHECKPOINTS}\n"
        f"episodes = {EPISODES}\nfinal_episodes = {EPISODES}\n\n[[env]]\nid = "
        f'"gymnax:{env}"\n\n[[algo]]\nname = "{algo}"\npreset = "rejax"\n'
    )


def rlcheck(spec: Path, cache: Path, out: Path) -> tuple[float, int, dict]:
    """Run ``rlcheck run`` fresh into ``out``; (wall, peak MB, the unit's timings and finals)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "RLCHECK_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "rlcheck.cli", "run", str(spec), "--out", str(out)]
    wall, peak, _ = timed(command, env)
    db = sqlite3.connect(out / "results.sqlite")
    (key, env_steps, meta) = db.execute("SELECT key, env_steps, meta FROM units").fetchone()
    finals = [r for (r,) in db.execute("SELECT final_return FROM seeds WHERE unit_key = ?", (key,))]
    db.close()
    return (
        wall,
        peak,
        {"env_steps": env_steps, "chunks": json.loads(meta)["chunks"], "finals": finals},
    )


def bench(algo: str, repeats: int, work: Path, peer_timeout: float | None) -> dict:
    """``repeats`` rounds of rejax, rlcheck (cold cache) and rlcheck (warm cache).

    A rejax run still going after ``peer_timeout`` seconds is stopped and recorded as
    ``{"timed_out_after_s": peer_timeout}``: its wall time is a lower bound.
    """
    rows: dict[str, list] = {"rejax": [], "ours_cold": [], "ours_warm": []}
    spec = work / f"{algo}.toml"
    spec.write_text(spec_text(algo))
    warm_cache = work / f"{algo}-warm-cache"
    rlcheck(spec, warm_cache, work / f"{algo}-warmup")  # fills the warm cache
    for r in range(repeats):
        order = ["rejax", "ours_cold", "ours_warm"]
        for name in order if r % 2 == 0 else order[::-1]:
            if name == "rejax":
                peer_args = [*BENCHES[algo][2], "--num-seeds", str(SEEDS)]
                try:
                    # rejax's older XLA aborts on the flag rlcheck's import added here.
                    wall, peak, stdout = timed(
                        [str(VENVS / "rejax/bin/python"), *peer_args],
                        environ_without_added_flag(),
                        timeout=peer_timeout,
                    )
                except subprocess.TimeoutExpired:
                    rows[name].append({"timed_out_after_s": peer_timeout})
                    print(algo, name, rows[name][-1], flush=True)
                    continue
                peer = json.loads(stdout.strip().splitlines()[-1])
                row = {
                    "wall_s": wall,
                    "peak_mb": peak,
                    "compile_s": peer["compile_s"],
                    "iqm": peer["iqm_final_return"],
                    "finals": peer["final_returns"],
                }
            else:
                cache = warm_cache if name == "ours_warm" else work / f"{algo}-cold-cache-{r}"
                wall, peak, unit = rlcheck(spec, cache, work / f"{algo}-{name}")
                shutil.rmtree(work / f"{algo}-cold-cache-{r}", ignore_errors=True)
                row = {
                    "wall_s": wall,
                    "peak_mb": peak,
                    "compile_s": max(c["compile_s"] for c in unit["chunks"]),
                    "iqm": float(trim_mean(unit["finals"], 0.25)),
                    "finals": unit["finals"],
                }
            rows[name].append(row)
            print(algo, name, {k: v for k, v in row.items() if k != "finals"}, flush=True)
    return rows


def median(rows: list[dict], field: str) -> float:
    """Median of ``field`` over the rows that have it (NaN if none)."""
    values = [r[field] for r in rows if field in r]
    return statistics.median(values) if values else float("nan")


def report(results: dict) -> str:
    lines = [
        f"Machine: {results['machine']}; {results['repeats']} repetition(s), medians.",
        "",
        "| algo, gymnax env, 16 seeds × budget, 20×8 eval | contender | wall s | compile s | "
        "IQM final | peak MB | speed-up vs rejax |",
        "|---|---|---|---|---|---|---|",
    ]
    for algo, (env, steps, _) in BENCHES.items():
        if algo not in results:
            continue
        rows = results[algo]
        rejax = median(rows["rejax"], "wall_s")
        timeouts = [r["timed_out_after_s"] for r in rows["rejax"] if "timed_out_after_s" in r]
        if timeouts:
            lines.append(
                f"| {algo.upper()}, {env}, {steps // 1000}k | rejax 0.1.3 | > {min(timeouts):.0f} "
                f"(stopped, {len(timeouts)} of {len(rows['rejax'])} runs) | | | | |"
            )
        for name, label in (
            ("rejax", "rejax 0.1.3"),
            ("ours_cold", "rlcheck, cold cache"),
            ("ours_warm", "rlcheck, warm cache"),
        ):
            wall = median(rows[name], "wall_s")
            if wall != wall:  # every run of this contender was stopped (NaN)
                continue
            ratio = f"{rejax / wall:.2f}×" if rejax == rejax else f"> {min(timeouts) / wall:.1f}×"
            lines.append(
                f"| {algo.upper()}, {env}, {steps // 1000}k | {label} | {wall:.1f} | "
                f"{median(rows[name], 'compile_s'):.1f} | {median(rows[name], 'iqm'):.1f} | "
                f"{median(rows[name], 'peak_mb'):.0f} | {ratio} |"
            )
    comparison = returns_comparison(results)
    if comparison:
        lines += ["", *comparison]
    return "\n".join(lines) + "\n"


def returns_comparison(results: dict) -> list[str]:
    """Per algo whose rejax run finished: each side's IQM of the seeds' final returns with its
    95% stratified-bootstrap CI, and P(rlcheck > rejax) with its CI (rliable's probability of
    improvement). The same seeds give the same returns in every repetition (cold and warm
    included), so the first finished run of each side stands for all."""
    lines = []
    for algo in BENCHES:
        rows = results.get(algo, {})
        rejax = [r["finals"] for r in rows.get("rejax", []) if "finals" in r]
        ours = [r["finals"] for r in rows.get("ours_cold", []) + rows.get("ours_warm", [])]
        if not rejax or not ours:
            continue
        x, y = np.asarray(ours[0])[:, None], np.asarray(rejax[0])[:, None]
        est = stats.interval_estimates({"rlcheck": x, "rejax": y}, ("iqm",))
        poi = stats.probability_of_improvement_interval(x, y)
        iqm = {
            k: f"{v['iqm'].point:.1f} [{v['iqm'].low:.1f}, {v['iqm'].high:.1f}]"
            for k, v in est.items()
        }
        lines.append(
            f"{algo.upper()} returns: rlcheck {iqm['rlcheck']}, rejax {iqm['rejax']}; "
            f"P(rlcheck > rejax) = {poi.point:.2f} [{poi.low:.2f}, {poi.high:.2f}]"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=tuple(BENCHES), action="append")
    parser.add_argument(
        "--peer-timeout",
        type=float,
        help="stop a rejax run after this many seconds and record the lower bound",
    )
    parser.add_argument(
        "--report", type=Path, help="print the tables of a raw results file and run nothing"
    )
    args = parser.parse_args()
    if args.report is not None:
        print(report(json.loads(args.report.read_text())))
        return
    if not (VENVS / "rejax/bin/python").exists():
        sys.exit(f"missing peer venv {VENVS / 'rejax'}: run bash benchmarks/peers/setup.sh")
    m = machine()
    results: dict = {
        "machine": f"{m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}",
        "repeats": args.repeats,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for algo in BENCHES:
            if args.only is None or algo in args.only:
                results[algo] = bench(algo, args.repeats, Path(tmp), args.peer_timeout)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = OUT / f"offpolicy_speed-{'-'.join(args.only or ['all'])}-{stamp}.json"
    path.write_text(json.dumps(results, indent=1))
    print(report(results))
    print(f"raw results: {path}")


if __name__ == "__main__":
    main()
