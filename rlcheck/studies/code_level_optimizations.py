"""Code-level optimizations: PPO's implementation details switched off in every combination, on
Acrobot-v1 and CartPole-v1, with each cell's learning rate tuned; and PPO without them against
TRPO with them.

Engstrom et al. (2020, "Implementation Matters in Deep Policy Gradients", §3 and Fig. 1)
ablated four of PPO's "code-level optimizations" — value-function clipping, reward scaling,
Adam learning-rate annealing and orthogonal initialization — in a full factorial on MuJoCo,
with a learning-rate grid in every cell, and found reward scaling and the others mattered
"significantly", value clipping "little or even hurting"; and that PPO without them (PPO-M)
does no better than TRPO with them (TRPO+), so the optimizations, not the clipped objective,
explain much of PPO's edge over TRPO (their Table 1). Madry's slides (004) repeat it: the
implementation details obscure the algorithm.

Here the study is an ordinary ``[ablate]`` spec (rlcheck/experiment/ablate.py): PPO at
CleanRL's defaults with reward scaling (``normalize_reward``: returns divided by their running
standard deviation) and observation normalization on, the four toggles off in all 16 cells; a
cell's learning rate is picked among 1e-4, 3e-4 and 1e-3 on the tuning seeds (the IQM of their
final returns) and the cell is reported on fresh seeds. Main effects (the mean final return of
the cells with a toggle on minus that of the cells with it off, each cell weighted equally) and
the value clipping × reward scaling interaction (half of value clipping's effect with reward
scaling on minus its effect with it off) have percentile-bootstrap CIs, every cell's seeds
resampled apart (``rlcheck.stats.contrast_intervals``; the report's Ablation section shows the
same numbers for every pair). PPO-M is PPO with all eight of rlcheck's code-level toggles off
(``ablate.CODE_LEVEL``: also observation normalization, gradient clipping, advantage
normalization and tanh activations, with the off values ablate uses), at the default learning
rate; TRPO+ is rlcheck's TRPO with reward scaling and observation normalization on (its
orthogonal init, advantage normalization and tanh are on by default; it has no value clipping,
annealing or gradient clipping to switch on). Both run on the tuning seeds.

What differs from the paper: gymnax Acrobot-v1 and CartPole-v1 instead of MuJoCo; 200k env
steps per cell and 8 + 8 seeds; CleanRL's PPO (4 envs × 128 steps) instead of MadryLab's
trainer; the learning-rate grid is 3 values (theirs 5 or more); PPO-M and TRPO+ are not tuned.
The quick version ablates only value clipping and reward scaling (4 cells) on CartPole-v1,
100k env steps, no learning-rate grid and no PPO-M/TRPO+ comparison.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.ablate import CHOICES, CODE_LEVEL, KIND, LEARNING_RATE, cell_name
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
    fmt,
    mean_interval,
    spec,
)

VALUE_CLIPPING = "clip_vloss"
REWARD_SCALING = "normalize_reward"
TOGGLES = (VALUE_CLIPPING, REWARD_SCALING, "anneal_lr", "weight_init")
QUICK_TOGGLES = (VALUE_CLIPPING, REWARD_SCALING)
LR_GRID = [1e-4, 3e-4, 1e-3]
ENVS = ("Acrobot-v1", "CartPole-v1")
QUICK_ENVS = ("CartPole-v1",)
REPS = 20_000
# PPO with its code-level optimizations on: CleanRL's defaults (value clipping, annealing,
# orthogonal init, gradient clipping, advantage normalization, tanh) plus reward scaling and
# observation normalization, as Engstrom et al.'s PPO has them.
PPO_CONFIG: dict[str, Any] = {"normalize_reward": True, "normalize_obs": True}
PPO = "PPO"
PPO_M = "PPO-M"
TRPO_PLUS = "TRPO+"


def _off(name: str) -> Any:
    return CHOICES[name][1] if name in CHOICES else False


# Every code-level toggle at its off value (ablate's: LeCun init, ReLU, no gradient clipping).
PPO_M_CONFIG: dict[str, Any] = {name: _off(name) for name in CODE_LEVEL}
TRPO_PLUS_CONFIG: dict[str, Any] = {"normalize_reward": True, "normalize_obs": True}


def specs(scale: Scale) -> list[dict[str, Any]]:
    algos: list[dict[str, Any]] = [{"name": "ppo", "label": PPO, "config": PPO_CONFIG}]
    ablate: dict[str, Any] = {"design": "factorial", "algos": [PPO]}
    if scale.quick:
        ablate["fields"] = list(QUICK_TOGGLES)
    else:
        ablate.update(fields=list(TOGGLES), lr_grid=LR_GRID, fresh_seeds=scale.seeds)
        algos += [
            {"name": "ppo", "label": PPO_M, "config": PPO_M_CONFIG},
            {"name": "trpo", "label": TRPO_PLUS, "config": TRPO_PLUS_CONFIG},
        ]
    budget = 100_000 if scale.quick else 200_000
    out = []
    for env in QUICK_ENVS if scale.quick else ENVS:
        data = spec(env, algos, scale.seeds, budget, checkpoints=4, final_episodes=16)
        out.append({**data, "ablate": ablate})
    return out


Cell = tuple[tuple[str, ...], UnitResults, float | None]


def cells(results: StudyResults) -> dict[str, list[Cell]]:
    """{env: [(the toggles a cell switches off, its reported unit, its learning rate (None:
    the entry's))]} of every ablation stored, in the ablation's cell order (all on first)."""
    units = {u.key: u for u in results.units}
    out: dict[str, list[Cell]] = {}
    for sweep in results.sweeps:
        d = sweep["definition"]
        if d.get("kind") != KIND:
            continue
        members = {m["settings"]["cell"]: m for m in sweep["units"] if m["role"] == "cell"}
        found = []
        for index, off in enumerate(d["cells"]):
            member = members.get(index)
            unit = units.get(member["unit_key"]) if member is not None else None
            if unit is not None:
                found.append((tuple(off), unit, member["settings"].get(LEARNING_RATE)))
        out[d["env"].split(":")[-1]] = found
    return out


def _weights(offs: list[tuple[str, ...]], name: str, among: np.ndarray | None = None) -> np.ndarray:
    """+1/n_on on the cells (within ``among``) where ``name`` is on, −1/n_off where off."""
    signs = np.array([-1.0 if name in off else 1.0 for off in offs])
    mask = np.ones(len(offs), bool) if among is None else among
    plus, minus = mask & (signs > 0), mask & (signs < 0)
    return plus / plus.sum() - minus / minus.sum()


def effects(
    offs: list[tuple[str, ...]], finals: list[np.ndarray]
) -> dict[str, tuple[float, float, float]]:
    """Each toggle's main effect and, when both are ablated, value clipping × reward scaling's
    interaction, with their CIs, from a factorial's cells (every toggle on or off in each)."""
    names = [n for n in TOGGLES if any(n in off for off in offs)]
    rows, keys = [], []
    for name in names:
        rows.append(_weights(offs, name))
        keys.append(name)
    if VALUE_CLIPPING in names and REWARD_SCALING in names:
        scaled = np.array([REWARD_SCALING not in off for off in offs])
        rows.append(
            (_weights(offs, VALUE_CLIPPING, scaled) - _weights(offs, VALUE_CLIPPING, ~scaled)) / 2
        )
        keys.append("interaction")
    e = stats.contrast_intervals(finals, np.array(rows), REPS, CONFIDENCE, 0)
    return {k: (float(e.point[i]), float(e.low[i]), float(e.high[i])) for i, k in enumerate(keys)}


def analyze(results: StudyResults) -> Finding:
    by_env: dict[str, Any] = {}
    series: dict[str, list[Point]] = {}
    for env, found in cells(results).items():
        usable = [(off, u.finals[u.usable], rate) for off, u, rate in found if u.usable.any()]
        row: dict[str, Any] = {
            "cells": {
                cell_name(off): {"mean": mean_interval(f), "n": len(f), LEARNING_RATE: rate}
                for off, f, rate in usable
            }
        }
        # Every cell of a factorial (2^k, k ≥ 2) with a usable seed: the contrasts need them all.
        if len(usable) == len(found) and len(found) >= 4:
            row["effects"] = effects([o for o, _, _ in usable], [f for _, f, _ in usable])
            for name, e in row["effects"].items():
                series.setdefault(env, []).append(Point(_effect_label(name), *e))
        a, b = results.get(PPO_M, env), results.get(TRPO_PLUS, env)
        if a is not None and b is not None:
            fa, fb = a.finals[a.usable], b.finals[b.usable]
            if len(fa) >= 2 and len(fb) >= 2:
                e = stats.mean_difference_interval(fa, fb, REPS, CONFIDENCE, 0)
                row["ppo_m_vs_trpo_plus"] = {
                    PPO_M: mean_interval(fa),
                    TRPO_PLUS: mean_interval(fb),
                    "difference": (float(e.point), float(e.low), float(e.high)),
                }
        by_env[env] = row
    categories = [_effect_label(n) for n in (*TOGGLES, "interaction")]
    shown = [c for c in categories if any(p.x == c for s in series.values() for p in s)]
    chart = Chart(
        kind="intervals",
        title="Effect on the mean final return of switching each optimization on (95% CI)",
        value_label="mean final return, on − off (cells weighted equally)",
        category_label="code-level optimization",
        series=[Series(env, points) for env, points in series.items()],
        references=[(0.0, "no effect")],
        categories=shown or None,
    )
    return Finding(_sentence(by_env), chart, {"envs": by_env})


def _effect_label(name: str) -> str:
    return {
        VALUE_CLIPPING: "value clipping",
        REWARD_SCALING: "reward scaling",
        "anneal_lr": "learning-rate annealing",
        "weight_init": "orthogonal init",
        "interaction": "value clipping × reward scaling",
    }[name]


def _interval(x: tuple[float, float, float] | list[float]) -> str:
    return f"{fmt(x[0])} [95% CI {fmt(x[1])}, {fmt(x[2])}]"


def _shown(x: tuple[float, float, float] | list[float]) -> str:
    return "helped" if x[1] > 0 else "hurt" if x[2] < 0 else "was not told from 0"


def _sentence(by_env: dict[str, Any]) -> str:
    parts = []
    for env, row in by_env.items():
        e = row.get("effects")
        if not e or REWARD_SCALING not in e:
            continue
        text = (
            f"on {env}, reward scaling's main effect on the mean final return was "
            f"{_interval(e[REWARD_SCALING])} ({_shown(e[REWARD_SCALING])}), value clipping's "
            f"{_interval(e[VALUE_CLIPPING])} ({_shown(e[VALUE_CLIPPING])}) and their interaction "
            f"{_interval(e['interaction'])}"
        )
        agrees = e[REWARD_SCALING][1] > 0 and e[VALUE_CLIPPING][1] <= 0
        text += (
            " (as Engstrom et al. 2020 found on MuJoCo)"
            if agrees
            else " (unlike Engstrom et al. 2020 on MuJoCo, where reward scaling mattered and "
            "value clipping little)"
        )
        versus = row.get("ppo_m_vs_trpo_plus")
        if versus is not None:
            d = versus["difference"]
            verdict = (
                "PPO-M better, unlike Engstrom et al."
                if d[1] > 0
                else "PPO-M not shown better, as Engstrom et al. found"
            )
            text += f"; PPO-M minus TRPO+ {_interval(d)} ({verdict})"
        parts.append(text)
    if not parts:
        return "No ablation finished every cell, so no effect was measured."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


STUDY = Study(
    name="code-level-optimizations",
    title="PPO's code-level optimizations, ablated (Engstrom et al.)",
    claim=(
        "PPO's 'code-level optimizations' (value clipping, reward scaling, learning-rate "
        "annealing, orthogonal init …), not its clipped objective, account for much of its "
        "performance: ablated with a tuned learning rate per cell, reward scaling matters and "
        "value clipping little, and PPO without them is no better than TRPO with them "
        "(Engstrom et al. 2020)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=8,
    quick_seeds=4,
    quick_seconds=125,
    full_minutes=22,  # measured: 1,137 s (BENCHMARKS.md, "Full versions run whole")
    sources=(
        "L. Engstrom, A. Ilyas et al., Implementation Matters in Deep Policy Gradients: A Case "
        "Study on PPO and TRPO, ICLR 2020, §3, Fig. 1 and Table 1",
        "A. Madry, The Rotten Truth of Deep RL (slides): implementation details",
    ),
)
