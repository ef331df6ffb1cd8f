"""Black-box search against RL: ARS and CMA-ES on a linear policy against PPO and DQN (TD3 on
Pendulum), at the same env-step budget, as P(search beats RL) with its CI.

Irpan (2018) and Vitay's lecture notes point to simple random search (Mania et al. 2018: ARS
"matches or beats" deep RL on MuJoCo) and evolution strategies (CMA-ES) as competitors that
deep RL does not always beat. Every method here gets the same budget of env steps per seed
(policy search counts every step of every population rollout), and each (search, RL) pair is
compared on the seeds' final returns: P(A > B), the chance that a seed of A ends higher than
a seed of B, with a stratified-bootstrap 95% CI.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck import stats
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
    fmt_steps,
    spec,
)

SEARCH = ("ars", "cma_es")
RL = {"CartPole-v1": ("ppo", "dqn"), "Pendulum-v1": ("ppo", "td3", "sac")}
# The quick version's RL methods: those that learn at its budgets (PPO needs far more than 20k
# env steps on Pendulum).
QUICK_RL = {"CartPole-v1": ("ppo", "dqn"), "Pendulum-v1": ("td3",)}
# rejax's published gymnax settings (see sample_efficiency.py).
PRESETS = {"dqn": "rejax", "td3": "rejax", "sac": "rejax"}


def specs(scale: Scale) -> list[dict[str, Any]]:
    budgets = {"CartPole-v1": 50_000, "Pendulum-v1": 20_000}
    if not scale.quick:
        budgets = {"CartPole-v1": 100_000, "Pendulum-v1": 100_000}
    out = []
    for env, budget in budgets.items():
        algos = [{"name": a} for a in SEARCH]
        rl = QUICK_RL[env] if scale.quick else RL[env]
        algos += [{"name": a, **({"preset": PRESETS[a]} if a in PRESETS else {})} for a in rl]
        # The evaluation settings of mpc-vs-rl: the same TD3 program, compiled once for both.
        out.append(spec(env, algos, scale.seeds, budget, checkpoints=10, final_episodes=16))
    return out


def analyze(results: StudyResults) -> Finding:
    series: dict[str, list[Point]] = {}
    numbers: dict[str, Any] = {}
    clauses = []
    for env in RL:
        units = {u.algo: u for u in results.units if u.env_id.endswith(env)}
        pairs = {}
        for a in SEARCH:
            for b in RL[env]:
                if a not in units or b not in units:
                    continue
                x, y = _scores(units[a], units[b])
                estimate = stats.probability_of_improvement_interval(
                    x[:, None], y[:, None], 20_000, CONFIDENCE, 0
                )
                label = f"{env}: {algo_name(a)} vs {algo_name(b)}"
                pairs[(a, b)] = estimate
                numbers[label] = {
                    "p_a_beats_b": float(estimate.point),
                    "low": float(estimate.low),
                    "high": float(estimate.high),
                    "mean_a": float(np.nanmean(units[a].finals)),
                    "mean_b": float(np.nanmean(units[b].finals)),
                    "budget": units[a].budget,
                }
                series.setdefault(f"{algo_name(a)} beats", []).append(
                    Point(f"{env}: vs {algo_name(b)}", *map(float, estimate))
                )
        if pairs:
            clauses.append(_clause(env, units, pairs))
    chart = Chart(
        kind="intervals",
        title="P(search beats RL) at the same env-step budget (95% CI)",
        value_label="P(a seed of the search method ends higher than a seed of the RL method)",
        series=[Series(name, points) for name, points in series.items()],
        references=[(0.5, "no difference")],
    )
    if not clauses:
        return Finding("No pair of methods finished, so nothing was measured.", chart, numbers)
    sentence = "At the same env-step budget, " + "; ".join(clauses) + "."
    return Finding(sentence, chart, numbers)


def _scores(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Final returns for P(A > B), a diverged seed below every seed that did not diverge."""
    pooled = np.concatenate([a.finals[a.usable], b.finals[b.usable]])
    floor = float(pooled.min()) - 1.0 if pooled.size else 0.0
    return np.where(a.usable, a.finals, floor), np.where(b.usable, b.finals, floor)


def _clause(env: str, units: dict[str, Any], pairs: dict[tuple[str, str], Any]) -> str:
    """The best search method (by mean final return) against the best RL method."""
    search = max({a for a, _ in pairs}, key=lambda a: np.nanmean(units[a].finals))
    rl = max({b for _, b in pairs}, key=lambda b: np.nanmean(units[b].finals))
    e = pairs[(search, rl)]
    if e.low > 0.5:
        verdict = "beat"
    elif e.high < 0.5:
        verdict = "lost to"
    else:
        verdict = "could not be told apart from"
    budget = fmt_steps(units[search].budget)
    return (
        f"{algo_name(search)} {verdict} {algo_name(rl)}, the better RL method, on {env} "
        f"({budget} env steps: P({algo_name(search)} > {algo_name(rl)}) = {fmt(e.point)} "
        f"[95% CI {fmt(e.low)}, {fmt(e.high)}])"
    )


STUDY = Study(
    name="black-box-search",
    title="Black-box search (ARS, CMA-ES) against deep RL at equal budgets",
    claim=(
        "Simple black-box search over policy parameters (random search, evolution "
        "strategies) is competitive with deep RL (Mania et al. 2018; cited by Irpan 2018 and "
        "Vitay's lecture notes)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=16,
    quick_seeds=8,
    quick_seconds=100,
    full_minutes=12,  # measured: 530 s (BENCHMARKS.md, "Full versions run whole")
    sources=(
        "H. Mania, A. Guy, B. Recht, Simple random search provides a competitive approach to "
        "reinforcement learning, NeurIPS 2018",
        "A. Irpan, Deep Reinforcement Learning Doesn't Work Yet (2018)",
        "J. Vitay, Limits of deep reinforcement learning (lecture notes)",
    ),
)
