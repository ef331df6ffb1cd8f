"""Measures the targets of issue 5 for the baselines (ARS, CMA-ES, CEM-MPC, MCTS, LQR).

Every target is an rlcheck spec run through the CLI (``rlcheck run SPEC --out
benchmarks/out/baselines/<target>/``), so training, evaluation and costs (env steps, simulator
calls, wall and compile time) are the harness's own and come from the results store. Re-running
resumes: stored units are skipped. Prints one markdown table per target and writes them to
``benchmarks/out/baselines/<target>/table.md``.

    python benchmarks/baselines.py [--only cem_pendulum,cma_es_cartpole,...] [--table-only]

IQMs carry 95% stratified-bootstrap CIs over seeds (the report's own estimator); a median's CI
is a percentile bootstrap over seeds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.store import Store

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out" / "baselines"
CONFIDENCE = 0.95
REPS = 50_000
SEEDS = 16

PLANNER_EVAL = {"checkpoints": 1, "episodes": 1}


def _spec(
    env: str, budget: int, evaluation: dict[str, int], algos: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "seeds": SEEDS,
        "budget": budget,
        "eval": evaluation,
        "env": [{"id": env}],
        "algo": algos,
    }


# target name -> (spec, what the issue asks). Planners use no training env steps; their budget
# only satisfies the spec.
TARGETS: dict[str, tuple[dict[str, Any], str]] = {
    "cem_pendulum": (
        # 16 seeds × 4 episodes = 64 episodes, default CEM (100 candidates, horizon 30, 5 refits).
        _spec(
            "gymnax:Pendulum-v1",
            1_000,
            {**PLANNER_EVAL, "final_episodes": 4},
            [{"name": "cem"}],
        ),
        "CEM-MPC on gymnax Pendulum-v1, no training: IQM ≥ −170 over ≥ 50 episodes",
    ),
    "cma_es_cartpole": (
        # A checkpoint every 1k env steps: the mean policy is evaluated on 8 episodes each time.
        _spec(
            "gymnax:CartPole-v1",
            50_000,
            {"checkpoints": 50, "episodes": 8, "final_episodes": 32},
            [{"name": "cma_es", "config": {"policy": "linear"}}],
        ),
        "CMA-ES, linear policy, CartPole-v1: median env steps to a mean policy scoring 500 ≤ 30k",
    ),
    "ars_cartpole": (
        _spec(
            "gymnax:CartPole-v1",
            50_000,
            {"checkpoints": 10, "episodes": 8, "final_episodes": 32},
            [{"name": "ars", "preset": "rl-zoo"}],
        ),
        "ARS, CartPole-v1, RL Zoo budget and hyperparameters: 500 at 50k env steps",
    ),
    "ars_pendulum": (
        _spec(
            "gymnax:Pendulum-v1",
            2_000_000,
            {"checkpoints": 10, "episodes": 8, "final_episodes": 32},
            [{"name": "ars", "preset": "rl-zoo"}],
        ),
        "ARS, Pendulum-v1, RL Zoo budget and hyperparameters: −212.5 ± 160.4 at 2M env steps "
        "(one run, rl-baselines3-zoo benchmark.md)",
    ),
    "mcts_cartpole": (
        _spec(
            "gymnax:CartPole-v1",
            1_000,
            {**PLANNER_EVAL, "final_episodes": 2},
            [
                {"name": "mcts", "label": f"mcts-{n}", "config": {"num_simulations": n}}
                for n in (4, 16, 64)
            ],
        ),
        "MCTS (UCT-like, random-rollout leaf values), CartPole-v1: return against simulator calls",
    ),
    "mcts_breakout": (
        _spec(
            "gymnax:Breakout-MinAtar",
            1_000,
            {**PLANNER_EVAL, "final_episodes": 1},
            [
                {"name": "mcts", "label": f"mcts-{n}", "config": {"num_simulations": n}}
                for n in (16, 64, 256)
            ],
        ),
        "MCTS, Breakout-MinAtar: return against simulator calls (a plain mctx planner: 17–27 "
        "with 256 simulations)",
    ),
    "lqr_cartpole": (
        _spec(
            "gymnax:CartPole-v1",
            1_000,
            {**PLANNER_EVAL, "final_episodes": 32},
            [{"name": "lqr"}],
        ),
        "LQR keeps CartPole-v1 up for 500 steps from the standard start distribution",
    ),
}


def toml(spec: dict[str, Any]) -> str:
    """The spec as TOML (only the shapes used above: scalars, one table, arrays of tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return repr(v)

    lines = [f"{k} = {value(v)}" for k, v in spec.items() if not isinstance(v, dict | list)]
    lines += ["", "[eval]"] + [f"{k} = {value(v)}" for k, v in spec["eval"].items()]
    for table in ("env", "algo"):
        for entry in spec[table]:
            lines += ["", f"[[{table}]]"] + [f"{k} = {value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def iqm(values: np.ndarray) -> stats.Estimate:
    return stats.interval_estimates({"x": values[:, None]}, ("iqm",), REPS, CONFIDENCE)["x"]["iqm"]


def median_ci(values: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Median and percentile-bootstrap CI over seeds; a seed that never got there is +inf."""
    rng = np.random.default_rng(seed)
    boots = np.median(rng.choice(values, (10_000, len(values))), axis=1)
    alpha = (1 - CONFIDENCE) / 2
    return float(np.median(values)), *np.quantile(boots, [alpha, 1 - alpha]).tolist()


def fmt_estimate(e: stats.Estimate) -> str:
    return f"{e.point:.1f} [{e.low:.1f}, {e.high:.1f}]"


def fmt_count(n: float | None) -> str:
    if n is None:
        return "—"
    if not np.isfinite(n):
        return "never"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


class Unit:
    """One stored unit: finals per seed, episode returns, curves and costs."""

    def __init__(self, store: Store, row: dict[str, Any]):
        key = row["key"]
        self.row = row
        seeds = store.seed_rows(key)
        self.seeds = [s for s, *_ in seeds]
        self.ok = [status == "ok" and f is not None for _, status, f, _ in seeds]
        self.finals = np.array([f for (_, _, f, _), ok in zip(seeds, self.ok, strict=True) if ok])
        self.episodes = np.stack([store.array(key, s, "final_episode_returns") for s in self.seeds])
        curve: dict[tuple[int, int], float] = {}
        for _, s, step, metric, v in store.scalars(key):
            if metric == "eval_return":
                curve[(s, step)] = np.nan if v is None else v
        steps = sorted({step for _, step in curve})
        self.curves = np.array([[curve.get((s, t), np.nan) for t in steps] for s in self.seeds])
        meta = row["meta"] or {}
        self.simulator_calls = meta.get("simulator_calls")
        self.store, self.key = store, key

    def seed_env_steps(self, seed: int) -> np.ndarray:
        return np.asarray(self.store.array(self.key, seed, "checkpoint_env_steps"))

    def costs(self) -> str:
        """env steps / seed | simulator calls / seed | wall s | compile s."""
        n = len(self.seeds)
        calls = None if self.simulator_calls is None else self.simulator_calls / n
        wall = self.row["wall_s"]
        compile_s = self.row["compile_s"]
        return (
            f"{fmt_count(self.row['env_steps'])} | {fmt_count(calls)} | "
            f"{wall:.1f} | {compile_s:.1f}"
        )


COST_HEADER = "env steps / seed | simulator calls / seed | wall s | compile s"


def table(name: str, store: Store) -> str:
    units = [Unit(store, row) for row in store.units() if row["status"] == "done"]
    failed = [row for row in store.units() if row["status"] != "done"]
    lines = [f"**{name}** — {TARGETS[name][1]}", ""]
    if name == "cma_es_cartpole":
        u = units[0]
        first = []
        for i, s in enumerate(u.seeds):
            used = u.seed_env_steps(s)
            hit = np.flatnonzero(u.curves[i] >= 500.0 - 1e-6)
            first.append(float(used[hit[0]]) if len(hit) else np.inf)
        first = np.array(first)
        med, low, high = median_ci(first)
        met = "yes" if med <= 30_000 else "**no**"
        reached = int(np.isfinite(first).sum())
        lines += [
            "| algo | seeds reaching 500 | median env steps to 500 [95% CI] | target | met? "
            f"| IQM final return [95% CI] | {COST_HEADER} |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {u.row['algo_label']} | {reached}/{len(first)} | {fmt_count(med)} "
            f"[{fmt_count(low)}, {fmt_count(high)}] | ≤ 30k | {met} "
            f"| {fmt_estimate(iqm(u.finals))} | {u.costs()} |",
            "",
            "Per seed (env steps when the mean policy first scored 500 on its 8 evaluation "
            "episodes): " + ", ".join(fmt_count(f) for f in sorted(first)),
        ]
    elif name == "lqr_cartpole":
        u = units[0]
        up = int((u.episodes >= 500.0 - 1e-6).sum())
        low, high = stats.wilson_interval(up, u.episodes.size, CONFIDENCE)
        lines += [
            "| algo | episodes kept up 500 steps [95% CI] | min episode return "
            f"| IQM final return [95% CI] | {COST_HEADER} |",
            "|---|---|---|---|---|---|---|---|",
            f"| {u.row['algo_label']} | {up}/{u.episodes.size} = {up / u.episodes.size:.0%} "
            f"[{low:.0%}, {high:.0%}] | {u.episodes.min():.0f} | {fmt_estimate(iqm(u.finals))} "
            f"| {u.costs()} |",
        ]
    else:
        targets = {"cem_pendulum": -170.0, "ars_cartpole": 475.0, "ars_pendulum": -212.5}
        target = targets.get(name)
        head = "| algo | seeds (usable) | episodes | IQM final return [95% CI] |"
        rule = "|---|---|---|---|"
        if target is not None:
            head += " target | met? |"
            rule += "---|---|"
        lines += [f"{head} {COST_HEADER} |", rule + "---|---|---|---|"]
        for u in units:
            e = iqm(u.finals)
            row = (
                f"| {u.row['algo_label']} | {len(u.seeds)} ({len(u.finals)}) | {u.episodes.size} "
                f"| {fmt_estimate(e)} |"
            )
            if target is not None:
                row += f" ≥ {target:g} | {'yes' if e.point >= target else '**no**'} |"
            lines.append(f"{row} {u.costs()} |")
        if name == "ars_cartpole":
            u = units[0]
            lines += ["", f"Seeds whose final mean return is 500: {(u.finals >= 500 - 1e-6).sum()}"]
    for row in failed:
        lines.append(f"\nFAILED: {row['algo_label']}: {row['reason']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated targets of: {', '.join(TARGETS)}")
    parser.add_argument("--table-only", action="store_true", help="print stored results only")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    tables = []
    for name in names:
        out = OUT / name
        if not args.table_only:
            out.mkdir(parents=True, exist_ok=True)
            spec = out / "spec.toml"
            spec.write_text(toml(TARGETS[name][0]))
            command = [sys.executable, "-m", "rlcheck.cli", "run", str(spec), "--out", str(out)]
            print("$", " ".join(command), flush=True)
            start = time.perf_counter()
            result = subprocess.run(command, check=False, capture_output=True, text=True)
            print(f"{name}: {time.perf_counter() - start:.0f} s (exit {result.returncode})")
            if result.returncode != 0:
                print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
        if not (out / "results.sqlite").exists():
            print(f"{name}: no results in {out}", file=sys.stderr)
            continue
        store = Store(out, create=False)
        text = table(name, store)
        store.close()
        (out / "table.md").write_text(text)
        tables.append(text)
    print("\n".join(tables))


if __name__ == "__main__":
    main()
