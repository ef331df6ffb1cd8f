"""Sample inefficiency next to planning: env steps RL needs to solve a task, against the
simulator calls of planners that have the model.

Irpan (2018): deep RL "can be horribly sample inefficient", and where a model exists planning
with it (MPC, UCT/MCTS) often does better with no learning at all. Here each learner's
sample cost is the env steps it trained on before its evaluation return first reached the
threshold (CartPole-v1: 475, Gymnasium's; Pendulum-v1: −200, the target rlcheck's benchmarks
use), a seed that never did counting as later than any budget; each planner's is the
simulator calls it made per seed (over all its evaluation episodes: LQR only linearises the
model once), with how many of its seeds' final returns reached the threshold. Planners learn
nothing and use no env steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.studies.base import (
    Chart,
    Finding,
    Point,
    Scale,
    Series,
    Study,
    StudyResults,
    UnitResults,
    algo_name,
    fmt,
    fmt_steps,
    median_interval,
    spec,
)

CARTPOLE, PENDULUM = "CartPole-v1", "Pendulum-v1"
PENDULUM_THRESHOLD = -200.0
PLANNER_EVAL = {"checkpoints": 1, "episodes": 1, "final_episodes": 8}
PLANNERS = {
    CARTPOLE: [{"name": "lqr"}, {"name": "mcts", "config": {"num_simulations": 16}}],
    PENDULUM: [{"name": "lqr"}, {"name": "cem", "config": {"num_candidates": 64, "iterations": 3}}],
}


def learners(env: str, quick: bool) -> list[dict[str, Any]]:
    # rejax's published settings for gymnax (64 × 64 networks): they solve these tasks within
    # the budgets at a fraction of the RL Zoo's cost on a CPU (BENCHMARKS.md: DQN 475.5 at 100k,
    # TD3 −164.7 and SAC −161.8 at 20k, IQMs over 16 seeds).
    if env == CARTPOLE:
        return [{"name": "ppo"}, {"name": "dqn", "preset": "rejax"}]
    return [{"name": "td3", "preset": "rejax"}] + (
        [] if quick else [{"name": "sac", "preset": "rejax"}]
    )


def specs(scale: Scale) -> list[dict[str, Any]]:
    out = []
    for env, budget in (
        (CARTPOLE, 100_000 if scale.quick else 300_000),
        (PENDULUM, 20_000 if scale.quick else 50_000),
    ):
        entry: dict[str, Any] = {"id": env}
        if env == PENDULUM:
            entry["solve_threshold"] = PENDULUM_THRESHOLD
        checkpoints = 20 if scale.quick else 30
        out.append(spec(entry, learners(env, scale.quick), scale.seeds, budget, checkpoints))
        planners = spec(entry, PLANNERS[env], scale.seeds, budget, **PLANNER_EVAL)
        out.append(planners)
    return out


def _threshold(unit: UnitResults) -> float:
    if unit.solve_threshold is not None:
        return float(unit.solve_threshold)
    return PENDULUM_THRESHOLD


def steps_to_solve(unit: UnitResults) -> np.ndarray:
    """Per seed, env steps trained before the evaluation return first reached the threshold
    (inf: never within the budget, or diverged)."""
    curves = unit.curves
    if curves is None:
        return np.full(unit.n, np.inf)
    hit = stats.steps_to_threshold(
        np.nan_to_num(curves, nan=-np.inf),
        unit.checkpoint_env_steps.astype(float),
        _threshold(unit),
    )
    return np.where(hit.reached & unit.usable, hit.steps, np.inf)


def analyze(results: StudyResults) -> Finding:
    learned: list[Point] = []
    planned: list[Point] = []
    order: list[str] = []  # each env's learners, then its planners
    numbers: dict[str, Any] = {}
    clauses = []
    for env in (CARTPOLE, PENDULUM):
        best_learner = best_planner = None
        planners: list[str] = []
        for unit in (u for u in results.units if u.env_id.endswith(env)):
            label = f"{env}: {algo_name(unit.label)}"
            threshold = _threshold(unit)
            if unit.simulator_calls_per_seed is None:
                steps = steps_to_solve(unit)
                median, low, high = median_interval(steps)
                reached = int(np.isfinite(steps).sum())
                numbers[label] = {
                    "median_env_steps": median,
                    "low": low,
                    "high": high,
                    "reached": reached,
                    "n": unit.n,
                    "budget": unit.budget,
                    "threshold": threshold,
                }
                learned.append(Point(label, median, low, high))
                order.append(label)
                if best_learner is None or (median, -reached) < (
                    numbers[best_learner]["median_env_steps"],
                    -numbers[best_learner]["reached"],
                ):
                    best_learner = label
            else:
                episodes = unit.final_episodes.shape[1] if unit.final_episodes is not None else 1
                calls = float(unit.simulator_calls_per_seed.mean())
                solved = int(np.sum(unit.usable & (unit.finals >= threshold)))
                numbers[label] = {
                    "simulator_calls_per_seed": calls,
                    "episodes_per_seed": episodes,
                    "solved": solved,
                    "n": unit.n,
                    "final_return": float(np.nanmean(unit.finals)),
                    "threshold": threshold,
                }
                planned.append(Point(label, max(calls, 1.0)))
                planners.append(label)
                best = numbers.get(best_planner or "", {})
                if best_planner is None or (-solved, calls) < (
                    -best["solved"],
                    best["simulator_calls_per_seed"],
                ):
                    best_planner = label
        order += planners
        clause = _clause(env, numbers, best_learner, best_planner)
        if clause:
            clauses.append(clause)
    chart = Chart(
        kind="intervals",
        title="What solving costs: env steps to learn vs simulator calls to plan",
        value_label="env steps to first solve (learners: median, 95% CI) · "
        "simulator calls per seed (planners)",
        series=[
            Series("learner: env steps to solve", learned),
            Series("planner: simulator calls per seed", planned),
        ],
        log=True,
        categories=order,
    )
    sentence = "; ".join(clauses) + "." if clauses else "No unit finished, so nothing was measured."
    return Finding(sentence[0].upper() + sentence[1:], chart, numbers)


def _clause(env: str, numbers: dict[str, Any], learner: str | None, planner: str | None) -> str:
    parts = []
    if learner is not None:
        n = numbers[learner]
        name = learner.split(": ")[1]
        if n["reached"] * 2 > n["n"]:
            steps = (
                f"a median {fmt_steps(n['median_env_steps'])} env steps "
                f"[95% CI {fmt_steps(n['low'])}, {fmt_steps(n['high'])}]"
            )
        else:
            steps = f"more than its {fmt_steps(n['budget'])}-step budget in most seeds"
        parts.append(
            f"to first reach {fmt(n['threshold'])} on {env} {name} needed {steps} "
            f"({n['reached']}/{n['n']} seeds got there)"
        )
    if planner is not None:
        p = numbers[planner]
        parts.append(
            f"{planner.split(': ')[1]} with the true model reached it in {p['solved']}/{p['n']} "
            f"seeds with no env step and {fmt_steps(p['simulator_calls_per_seed'])} simulator "
            f"calls per seed over its {p['episodes_per_seed']} episodes"
        )
    return ", while ".join(parts)


STUDY = Study(
    name="sample-efficiency",
    title="Sample inefficiency: env steps to learn vs simulator calls to plan",
    claim=(
        "Deep RL can be horribly sample inefficient, and where a model of the world exists, "
        "planning with it (MPC, MCTS) does better without learning anything (Irpan 2018)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=16,
    quick_seeds=8,
    quick_seconds=110,
    full_minutes=8,  # measured: 363 s (BENCHMARKS.md, "Full versions run whole")
    sources=("A. Irpan, Deep Reinforcement Learning Doesn't Work Yet (2018)",),
)
