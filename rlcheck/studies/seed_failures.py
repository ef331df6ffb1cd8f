"""Seed failure rates: how many identically configured runs of DDPG, TD3 and SAC fail on
Pendulum-v1, as a rate with its interval, and how many seeds it takes to tell two apart.

Irpan (2018) ran his own NAF on Pendulum with 10 seeds and identical hyperparameters: "Seven
of these runs worked. Three of these runs didn't." (his NAF is not in rlcheck; its nearest
relatives, the deterministic and soft actor-critics, are). A seed fails here when its final
return (mean over its final evaluation episodes) stays below −200, the Pendulum target
rlcheck's benchmarks use; a diverged seed fails. Rates carry Wilson intervals, and the seeds
needed to tell two algorithms apart come from a one-sided Welch test at α = 0.05 with 80%
power for the observed difference of mean final returns (Colas et al. 2018).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.agents import td3
from rlcheck.studies.base import (
    CONFIDENCE,
    Chart,
    Finding,
    Point,
    Scale,
    Series,
    Study,
    StudyResults,
    algo_name,
    fmt,
    fmt_pct,
    spec,
)

ENV = "Pendulum-v1"
THRESHOLD = -200.0
IRPAN = (3, 10)  # NAF on Pendulum: 3 of 10 seeds failed
MAX_SEEDS = 200


# rejax's published Pendulum settings for TD3 and SAC (64 × 64 networks; see
# sample_efficiency.py). DDPG has none but the RL Zoo's (400 × 300 networks, several times the
# cost on a CPU): it runs on rejax's TD3 settings without TD3's additions (one critic, the
# actor stepped every time, no target smoothing), so the two differ only in those.
DDPG = {
    **td3.PRESETS["rejax"]["Pendulum-v1"],
    "n_critics": 1,
    "policy_delay": 1,
    "target_policy_noise": 0.0,
}


def algorithms(quick: bool) -> list[dict[str, Any]]:
    algos = [{"name": "ddpg", "config": DDPG}, {"name": "td3", "preset": "rejax"}]
    return algos if quick else [*algos, {"name": "sac", "preset": "rejax"}]


def specs(scale: Scale) -> list[dict[str, Any]]:
    entry = {"id": ENV, "solve_threshold": THRESHOLD}
    # The RL Baselines3 Zoo's and rejax's Pendulum budget.
    return [
        spec(entry, algorithms(scale.quick), scale.seeds, 20_000, checkpoints=4, final_episodes=16)
    ]


def analyze(results: StudyResults) -> Finding:
    rates: dict[str, Any] = {}
    finals: dict[str, np.ndarray] = {}
    for unit in results.units:
        failed = ~unit.usable | (np.nan_to_num(unit.finals, nan=-np.inf) < THRESHOLD)
        low, high = stats.wilson_interval(int(failed.sum()), unit.n, CONFIDENCE)
        rates[unit.algo] = {
            "failed": int(failed.sum()),
            "n": unit.n,
            "rate": float(failed.mean()),
            "low": low,
            "high": high,
            "mean_final_return": float(np.nanmean(unit.finals)),
        }
        finals[unit.algo] = unit.finals[unit.usable]
    needed = {}
    for a, b in combinations(sorted(finals), 2):
        x, y = finals[a], finals[b]
        if len(x) < 2 or len(y) < 2:
            continue
        effect = abs(float(x.mean() - y.mean()))
        seeds = stats.seeds_needed(x, y, effect, 0.05, 0.8, MAX_SEEDS) if effect > 0 else None
        needed[f"{a} vs {b}"] = {"effect": effect, "seeds": seeds, "max_seeds": MAX_SEEDS}
    irpan_low, irpan_high = stats.wilson_interval(IRPAN[0], IRPAN[1], CONFIDENCE)
    points = [Point(algo_name(a), r["rate"], r["low"], r["high"]) for a, r in rates.items()]
    chart = Chart(
        kind="intervals",
        title=f"Seeds failing on {ENV} (final return < {fmt(THRESHOLD)}), 95% Wilson CI",
        value_label="failure rate",
        series=[
            Series("rlcheck, 20k env steps", points),
            Series("Irpan 2018: NAF, 3 of 10", [Point("NAF (Irpan)", 0.3, irpan_low, irpan_high)]),
        ],
    )
    numbers = {
        "failure_rates": rates,
        "seeds_needed": needed,
        "irpan": {"failed": 3, "n": 10, "low": irpan_low, "high": irpan_high},
    }
    return Finding(_sentence(rates, needed), chart, numbers)


def _sentence(rates: dict[str, Any], needed: dict[str, Any]) -> str:
    if not rates:
        return "No unit finished, so nothing was measured."
    parts = [
        f"{algo_name(a)} {r['failed']}/{r['n']} ({fmt_pct(r['rate'])}, 95% CI "
        f"{fmt_pct(r['low'])}–{fmt_pct(r['high'])})"
        for a, r in rates.items()
    ]
    sentence = (
        f"On {ENV} after 20k env steps, seeds failed to reach a final return of "
        f"{fmt(THRESHOLD)} in {', '.join(parts)}, against Irpan's 3 of 10 for NAF"
    )
    if needed:
        pair, n = max(needed.items(), key=lambda kv: kv[1]["effect"])
        a, b = (algo_name(s) for s in pair.split(" vs "))
        if n["seeds"] is None:
            seeds = f"more than {n['max_seeds']} seeds each"
        else:
            seeds = f"about {n['seeds']} seeds each"
        sentence += (
            f", and telling {a} from {b} apart (mean final returns {fmt(n['effect'])} apart) "
            f"would take {seeds}"
        )
    return sentence + "."


STUDY = Study(
    name="seed-failures",
    title="Seed failure rates on Pendulum (Irpan's 3 of 10)",
    claim=(
        "Deep RL's results vary wildly between random seeds: with identical hyperparameters, "
        "3 of 10 NAF runs on Pendulum failed (Irpan 2018), so one run says little and a few "
        "say little more."
    ),
    specs=specs,
    analyze=analyze,
    seeds=30,
    quick_seeds=10,
    quick_seconds=100,
    full_minutes=5,  # measured: BENCHMARKS.md, issue 19's full versions
    sources=(
        "A. Irpan, Deep Reinforcement Learning Doesn't Work Yet (2018), Pendulum seeds plot",
        "C. Colas, O. Sigaud, P.-Y. Oudeyer, How many random seeds? arXiv 1806.08295 (2018)",
    ),
)
