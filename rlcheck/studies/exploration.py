"""Exploration and local optima: the fraction of seeds that ever reach the goal on DeepSea at
growing sizes and on MountainCar-v0, with Wilson intervals.

Irpan (2018): deep RL gets stuck in local optima and needs to stumble on the reward by
exploring to learn anything. bsuite's DeepSea (Osband et al. 2020) makes that exact: an
N × N grid where only going right at every one of N steps finds the treasure, each right move
costs 0.01/N and going left is free, so a dithering learner finds it once per about 2^N
episodes and "always left" (return 0) is the local optimum; gymnax's own README reports PPO
and ES checkpoints returning 0 on it. MountainCar-v0 returns −200 every episode until the car
first reaches the flag. A seed counts as having reached the goal when any of its evaluation
episodes (at any checkpoint, or finally) did: its greedy policy got there at least once.
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
    UnitResults,
    algo_name,
    fmt_pct,
    spec,
)

DEEPSEA, MOUNTAIN_CAR = "DeepSea-bsuite", "MountainCar-v0"
# An episode reached the goal: DeepSea pays +1 for the treasure (every other episode returns
# at most 0); MountainCar's episodes return −200 unless the car reached the flag before the
# time limit.
GOAL = {DEEPSEA: 0.5, MOUNTAIN_CAR: -200.0}
QUICK_SIZES, FULL_SIZES = (5, 10, 15), (5, 10, 15, 20, 25, 30)
PRESETS = {MOUNTAIN_CAR: {"dqn": "rl-zoo", "ppo": "rl-zoo"}}
# CleanRL's DQN waits 10k steps before learning, the whole quick budget at size 5; on DeepSea
# it starts after 1k (ε still decays over half the budget).
CONFIGS = {DEEPSEA: {"dqn": {"learning_starts": 1_000}}}


def algos(env: str, quick: bool) -> list[dict[str, Any]]:
    names = ["ppo", "dqn", "ars", "cma_es"]
    if quick:
        # DQN's RL Zoo settings for MountainCar take 8 gradient steps every 16 env steps.
        names = ["ppo", "dqn"] if env == DEEPSEA else ["ppo"]
    out = []
    for name in names:
        entry: dict[str, Any] = {"name": name}
        if name in PRESETS.get(env, {}):
            entry["preset"] = PRESETS[env][name]
        if name in CONFIGS.get(env, {}):
            entry["config"] = CONFIGS[env][name]
        out.append(entry)
    return out


def label(size: int) -> str:
    return f"{DEEPSEA} size {size}"


def specs(scale: Scale) -> list[dict[str, Any]]:
    out = []
    for size in QUICK_SIZES if scale.quick else FULL_SIZES:
        # bsuite plays 10,000 episodes per size; the quick version 2,000.
        episodes = 2_000 if scale.quick else 10_000
        entry = {"id": DEEPSEA, "label": label(size), "kwargs": {"size": size}}
        out.append(spec(entry, algos(DEEPSEA, scale.quick), scale.seeds, episodes * size, 10, 4, 8))
    budget = 100_000 if scale.quick else 200_000
    out.append(spec(MOUNTAIN_CAR, algos(MOUNTAIN_CAR, scale.quick), scale.seeds, budget, 10, 4, 8))
    return out


def reached(unit: UnitResults, goal: float) -> np.ndarray:
    """Per seed: did any of its evaluation episodes reach the goal?"""
    hit = np.zeros(unit.n, bool)
    if unit.eval_episodes is not None:
        hit |= np.any(unit.eval_episodes > goal, axis=(1, 2))
    if unit.final_episodes is not None:
        hit |= np.any(unit.final_episodes > goal, axis=1)
    return hit


def _rate(hits: np.ndarray) -> dict[str, Any]:
    low, high = stats.wilson_interval(int(hits.sum()), len(hits), CONFIDENCE)
    return {
        "reached": int(hits.sum()),
        "n": len(hits),
        "rate": float(hits.mean()),
        "low": low,
        "high": high,
    }


def analyze(results: StudyResults) -> Finding:
    numbers: dict[str, Any] = {}
    lines: dict[str, list[Point]] = {}
    for unit in results.units:
        if unit.env.startswith(DEEPSEA):
            size = int(unit.env.rsplit(" ", 1)[1])
            rate = _rate(reached(unit, GOAL[DEEPSEA]))
            numbers.setdefault(unit.algo, {})[size] = rate
            lines.setdefault(unit.algo, []).append(
                Point(float(size), rate["rate"], rate["low"], rate["high"])
            )
        elif unit.env_id.endswith(MOUNTAIN_CAR):
            numbers.setdefault(MOUNTAIN_CAR, {})[unit.algo] = _rate(
                reached(unit, GOAL[MOUNTAIN_CAR])
            )
    chart = Chart(
        kind="lines",
        title="Seeds whose greedy policy ever reached the DeepSea treasure (95% Wilson CI)",
        value_label="fraction of seeds",
        category_label="DeepSea size N (the treasure takes N right moves in a row)",
        series=[Series(algo_name(a), sorted(p, key=lambda q: q.x)) for a, p in lines.items()],
    )
    return Finding(
        _sentence(numbers),
        chart,
        {
            "deepsea": {a: v for a, v in numbers.items() if a != MOUNTAIN_CAR},
            "mountain_car": numbers.get(MOUNTAIN_CAR, {}),
        },
    )


def _sentence(numbers: dict[str, Any]) -> str:
    deepsea = {a: v for a, v in numbers.items() if a != MOUNTAIN_CAR}
    parts = []
    if deepsea:
        # The most favourable case: the learner that explored best at the largest size, ties
        # broken by the sizes below it.
        sizes_desc = sorted({size for v in deepsea.values() for size in v}, reverse=True)

        def rank(algo: str) -> list[float]:
            return [deepsea[algo].get(size, {"rate": -1.0})["rate"] for size in sizes_desc]

        best = max(deepsea, key=rank)
        sizes = deepsea[best]
        small, big = sizes[min(sizes)], sizes[max(sizes)]
        parts.append(
            f"the share of {algo_name(best)} seeds (the best explorer here) whose greedy policy "
            f"ever reached the DeepSea treasure went from {small['reached']}/{small['n']} at size "
            f"{min(sizes)} to {big['reached']}/{big['n']} at size {max(sizes)} "
            f"({fmt_pct(big['rate'])}, 95% CI {fmt_pct(big['low'])}–{fmt_pct(big['high'])})"
        )
    car = numbers.get(MOUNTAIN_CAR, {})
    if car:
        best = max(car, key=lambda a: car[a]["rate"])
        r = car[best]
        parts.append(
            f"on MountainCar-v0 {r['reached']}/{r['n']} {algo_name(best)} seeds ever reached the "
            f"flag ({fmt_pct(r['rate'])}, {fmt_pct(r['low'])}–{fmt_pct(r['high'])})"
        )
    if not parts:
        return "No unit finished, so nothing was measured."
    sentence = "; ".join(parts) + "."
    return sentence[0].upper() + sentence[1:]


STUDY = Study(
    name="exploration",
    title="Exploration: how often seeds ever find the reward",
    claim=(
        "Deep RL explores by dithering and gets stuck in local optima: where the reward "
        "takes a long specific sequence of actions to find, it never learns (Irpan 2018; "
        "bsuite's DeepSea, Osband et al. 2020; gymnax's PPO and ES return 0 on DeepSea)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=16,
    quick_seeds=8,
    quick_seconds=120,
    full_minutes=60,  # measured: 3,057 s, half of it CMA-ES at sizes 25 and 30 (BENCHMARKS.md)
    sources=(
        "A. Irpan, Deep Reinforcement Learning Doesn't Work Yet (2018)",
        "I. Osband et al., Behaviour Suite for Reinforcement Learning, ICLR 2020",
        "gymnax README (R. T. Lange), PPO/ES checkpoint returns",
    ),
)
