"""Sweep speed: configurations vmapped with the seeds against one configuration and against the
same configurations one after another; TPE in batches against Optuna's sequential loop.

Everything runs in one process through rlcheck's executor and worker pool (one pinned worker
per core, as ``rlcheck sweep`` runs), each contender into a fresh results store, so stored units
are never skipped. A first repetition compiles (reported as "cold"); then each repetition runs
every contender once, in alternating order, and the table quotes medians and ratios of medians.

1. Learning rate: 16 values (1e-4 … 1e-2, log) × 8 seeds of PPO on CartPole-v1, 100k env steps
   each: the sweep (one group: one vmapped program per worker), one configuration's 8 seeds
   (PPO's default), and the 16 configurations one unit after another. Target: sweep ≤ 3× one
   configuration (issue 15).
2. TPE: 64 PPO configurations × 4 seeds at 100k, proposed 16 at a time (4 programs), against
   the same 64 trials run one unit at a time through Optuna's ``study.optimize``.

    python benchmarks/sweep_speed.py [--repeats 3] [--only lr|tpe] [--workers N] [--quick]

``--quick``: tiny sizes (4 configurations × 2 seeds, 8 TPE trials, 2,048 env steps, one
repetition) to check that the script works, not to measure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"


def _spec(seeds: int, budget: int, vary: dict[str, str], **sweep: Any) -> Any:
    from rlcheck.experiment.spec import parse_spec

    return parse_spec(
        {
            "seeds": seeds,
            "budget": budget,
            "env": [{"id": "CartPole-v1"}],
            "algo": [{"name": "ppo"}],
            "sweep": {"vary": vary, "fresh_seeds": 0, **sweep},
        },
        "sweep_speed",
    )


class Bench:
    """One executor (one warm worker pool) aimed at a fresh store for every timed call."""

    def __init__(self, workers: int, work: Path):
        from rlcheck.experiment.execute import Executor
        from rlcheck.experiment.store import Store

        self.work = work
        self.count = 0
        first = Store(work / "warm-up")
        self.executor = Executor(first, first.start_run({}, {}), workers)

    def store(self) -> Any:
        """Aim the executor at a fresh, empty store (benchmark only: units are never skipped)."""
        from rlcheck.experiment.store import Store

        self.count += 1
        store = Store(self.work / f"store-{self.count}")
        self.executor.store = store
        self.executor.run_id = store.start_run({}, {})
        return store

    def timed(self, items: list) -> tuple[float, dict[str, Any]]:
        """Wall seconds of running ``items`` (units and groups) into a fresh store, and what
        the units record (compile seconds, final returns)."""
        store = self.store()
        start = time.perf_counter()
        outcomes = self.executor.run(items)
        wall = time.perf_counter() - start
        failed = [o for o in outcomes if o.status != "done"]
        if failed:
            raise RuntimeError(f"{failed[0].unit.algo.display}: {failed[0].reason}")
        units = store.units()
        compile_s = max(u["compile_s"] or 0.0 for u in units)
        finals = {u["key"]: [r[2] for r in store.seed_rows(u["key"])] for u in units}
        store.close()
        return wall, {"compile_s": compile_s, "finals": finals}


def learning_rates(bench: Bench, repeats: int, quick: bool) -> dict[str, Any]:
    from rlcheck.experiment.sweep import grid, groups, plan_sweeps

    configs, seeds, budget = (4, 2, 2048) if quick else (16, 8, 100_000)
    spec = _spec(seeds, budget, {"learning_rate": f"1e-4:1e-2:{configs}:log"}, batch=configs)
    (sweep,) = plan_sweeps(spec, "sweep_speed").sweeps
    units = [sweep.unit(v, "tuning", sweep.tuning_seeds) for v in grid(sweep.parameters)]
    (group,) = groups(units)
    one = sweep.default_unit(sweep.tuning_seeds)
    contenders = {"sweep": [group], "one configuration": [one], "one after another": units}
    rows: dict[str, list[float]] = {name: [] for name in contenders}
    cold = {}
    for name, items in contenders.items():
        cold[name], _ = bench.timed(items)
    for r in range(repeats):
        names = list(contenders) if r % 2 == 0 else list(reversed(contenders))
        for name in names:
            wall, _ = bench.timed(contenders[name])
            rows[name].append(wall)
    medians = {name: statistics.median(walls) for name, walls in rows.items()}
    return {
        "configs": configs,
        "seeds": seeds,
        "budget": budget,
        "cold_s": cold,
        "walls_s": rows,
        "medians_s": medians,
        "sweep_over_one": medians["sweep"] / medians["one configuration"],
        "one_after_another_over_sweep": medians["one after another"] / medians["sweep"],
    }


def tpe(bench: Bench, repeats: int, quick: bool) -> dict[str, Any]:
    import optuna

    from rlcheck.experiment.sweep import plan_sweeps, run_sweep, suggest, tuning_score

    trials, batch, seeds, budget = (8, 4, 2, 2048) if quick else (64, 16, 4, 100_000)
    vary = {
        "learning_rate": "1e-4:1e-2:16:log",
        "ent_coef": "0:0.05:5",
        "clip_coef": "0.1:0.3:5",
    }
    spec = _spec(seeds, budget, vary, method="tpe", trials=trials, batch=batch)
    (sweep,) = plan_sweeps(spec, "sweep_speed").sweeps

    def batched() -> tuple[float, float]:
        store = bench.store()
        start = time.perf_counter()
        ran = run_sweep(sweep, store, bench.executor)
        wall = time.perf_counter() - start
        scores = [tuning_score(store, o.unit.key) for o in ran["tuning"]]
        store.close()
        return wall, max(s for s in scores if s is not None)

    def sequential() -> tuple[float, float]:
        store = bench.store()
        sampler = optuna.samplers.TPESampler(seed=sweep.settings.sampler_seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)

        def objective(trial: optuna.Trial) -> float:
            # The same draws as the batched sweep's (rlcheck.experiment.sweep.suggest).
            unit = sweep.unit(suggest(trial, sweep), "tuning", sweep.tuning_seeds)
            bench.executor.run([unit])
            score = tuning_score(store, unit.key)
            return float("-inf") if score is None else score

        start = time.perf_counter()
        study.optimize(objective, n_trials=trials)
        wall = time.perf_counter() - start
        store.close()
        return wall, study.best_value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    contenders = {"tpe in batches": batched, "optuna sequential": sequential}
    rows: dict[str, list[float]] = {name: [] for name in contenders}
    best: dict[str, list[float]] = {name: [] for name in contenders}
    cold = {name: fn()[0] for name, fn in contenders.items()}
    for r in range(repeats):
        names = list(contenders) if r % 2 == 0 else list(reversed(contenders))
        for name in names:
            wall, value = contenders[name]()
            rows[name].append(wall)
            best[name].append(value)
    medians = {name: statistics.median(walls) for name, walls in rows.items()}
    return {
        "trials": trials,
        "batch": batch,
        "seeds": seeds,
        "budget": budget,
        "cold_s": cold,
        "walls_s": rows,
        "medians_s": medians,
        "best_objective": best,
        "sequential_over_batches": medians["optuna sequential"] / medians["tpe in batches"],
    }


def report(out: dict[str, Any]) -> str:
    lines = [f"# sweep_speed ({out['machine'].get('cpu')}, {out['workers']} workers)", ""]
    if "lr" in out:
        lr = out["lr"]
        lines += [
            f"## {lr['configs']} learning rates × {lr['seeds']} seeds, PPO CartPole-v1, "
            f"{lr['budget']:,} env steps",
            "",
            "| contender | median wall s | cold s |",
            "|---|---|---|",
            *(
                f"| {name} | {lr['medians_s'][name]:.1f} | {lr['cold_s'][name]:.1f} |"
                for name in lr["medians_s"]
            ),
            "",
            f"Sweep / one configuration: {lr['sweep_over_one']:.2f}× (target ≤ 3×); one after "
            f"another / sweep: {lr['one_after_another_over_sweep']:.2f}×.",
            "",
        ]
    if "tpe" in out:
        t = out["tpe"]
        lines += [
            f"## TPE, {t['trials']} configurations × {t['seeds']} seeds, {t['budget']:,} env "
            f"steps, batches of {t['batch']}",
            "",
            "| contender | median wall s | cold s | best objective |",
            "|---|---|---|---|",
            *(
                f"| {name} | {t['medians_s'][name]:.1f} | {t['cold_s'][name]:.1f} | "
                f"{statistics.median(t['best_objective'][name]):.1f} |"
                for name in t["medians_s"]
            ),
            "",
            f"Sequential / batches: {t['sequential_over_batches']:.2f}×.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("lr", "tpe"))
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    args = parser.parse_args()
    from rlcheck.experiment.provenance import machine
    from rlcheck.experiment.workers import default_workers

    repeats = 1 if args.quick else args.repeats
    workers = args.workers or default_workers(16)
    out: dict[str, Any] = {"machine": machine(), "workers": workers, "quick": args.quick}
    with tempfile.TemporaryDirectory() as work:
        bench = Bench(workers, Path(work))
        try:
            if args.only in (None, "lr"):
                out["lr"] = learning_rates(bench, repeats, args.quick)
            if args.only in (None, "tpe"):
                out["tpe"] = tpe(bench, repeats, args.quick)
        finally:
            bench.executor.close()
    text = report(out)
    print(text)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if args.quick else ""
    (OUT / f"sweep_speed{suffix}-{stamp}.json").write_text(json.dumps(out, indent=1))
    (OUT / f"sweep_speed{suffix}-{stamp}.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
