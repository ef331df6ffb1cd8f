"""Times rlcheck.stats against rliable on the Atari 100k scores and prints a markdown table.

Both run in this process on the same arrays, alternating which goes first, and the table
reports the median over repeats. Needs ``pip install rliable==1.2.0 'pandas<3'`` and the
reference data (``RLCHECK_TEST_DATA``, default /work/shared/data).

    python benchmarks/stats_vs_rliable.py --repeats 3
"""

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rliable import library as rliable_library
from rliable import metrics as rliable_metrics

from rlcheck.stats import interval_estimates, probability_of_improvement_interval

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "stats"))
from atari100k import load_final_scores

METRICS = ("median", "iqm", "mean", "optimality_gap")


def rliable_aggregates(scores: np.ndarray) -> np.ndarray:
    """The four aggregates in one function, as rliable's Atari 100k colab computes them."""
    return np.array(
        [
            rliable_metrics.aggregate_median(scores),
            rliable_metrics.aggregate_iqm(scores),
            rliable_metrics.aggregate_mean(scores),
            rliable_metrics.aggregate_optimality_gap(scores),
        ]
    )


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def compare(
    ours: Callable[[], object], theirs: Callable[[], object], repeats: int
) -> tuple[float, float, object, object]:
    """Median seconds of each, alternating which runs first; also the last results."""
    ours_times, theirs_times = [], []
    for repeat in range(repeats):
        order = [(ours, ours_times), (theirs, theirs_times)]
        for fn, times in order if repeat % 2 == 0 else order[::-1]:
            seconds, result = timed(fn)
            times.append(seconds)
            if fn is ours:
                ours_result = result
            else:
                theirs_result = result
    return float(np.median(ours_times)), float(np.median(theirs_times)), ours_result, theirs_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50000, help="bootstrap replicates")
    parser.add_argument("--poi-reps", type=int, default=2000, help="replicates for P(X > Y)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each library")
    args = parser.parse_args()

    scores = load_final_scores(runs=10)
    rows = []

    def run_ours():
        return interval_estimates(scores, METRICS, reps=args.reps)

    def run_rliable():
        np.random.seed(0)
        return rliable_library.get_interval_estimates(scores, rliable_aggregates, reps=args.reps)

    ours_s, theirs_s, ours, (_, theirs) = compare(run_ours, run_rliable, args.repeats)
    gap = max(
        abs(ours[name][metric][1 + end] - theirs[name][end, i])
        for name in scores
        for i, metric in enumerate(METRICS)
        for end in (0, 1)
    )
    per_algo = len(scores)
    rows.append(
        (
            f"4 aggregates + 95% CIs, per algorithm ({per_algo} algorithms, 10 runs × 26 games)",
            args.reps,
            theirs_s / per_algo,
            ours_s / per_algo,
            gap,
        )
    )

    x, y = scores["SPR"], scores["DrQ(eps)"]

    def run_ours_poi():
        return probability_of_improvement_interval(x, y, reps=args.poi_reps)

    def run_rliable_poi():
        np.random.seed(0)
        return rliable_library.get_interval_estimates(
            {"pair": [x, y]}, rliable_metrics.probability_of_improvement, reps=args.poi_reps
        )

    ours_s, theirs_s, ours, (_, theirs) = compare(run_ours_poi, run_rliable_poi, args.repeats)
    gap = max(abs(ours.low - theirs["pair"][0, 0]), abs(ours.high - theirs["pair"][1, 0]))
    rows.append(("P(SPR > DrQ(eps)) + 95% CI", args.poi_reps, theirs_s, ours_s, gap))

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}; "
        f"median of {args.repeats} alternating runs.\n"
    )
    print("| task | reps | rliable (s) | rlcheck (s) | speed-up | max CI endpoint gap |")
    print("|---|---:|---:|---:|---:|---:|")
    for task, reps, theirs_s, ours_s, gap in rows:
        print(
            f"| {task} | {reps} | {theirs_s:.3f} | {ours_s:.3f} | "
            f"{theirs_s / ours_s:.0f}× | {gap:.4f} |"
        )


if __name__ == "__main__":
    main()
