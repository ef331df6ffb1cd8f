"""Reward scale: PPO (with and without its reward normalization), TD3 and SAC on Pendulum-v1
with the reward multiplied by 0.01 … 100, final return in the env's own units.

Henderson et al. (2018, "Deep Reinforcement Learning that Matters", §"Reward scale") rescaled
the rewards of DDPG on MuJoCo tasks and found the result "significantly" affected, with no
scale best everywhere; Irpan (2018) cites it among the details that decide whether a run works.
Here each algorithm is swept over the scale (``[sweep] vary = {"env.reward_scale" = …}``: the
learner sees reward × scale, every stored return stays in Pendulum's units; the scales and the
seeds of one algorithm are one vmapped program), and the cost of a bad scale is the mean final
return at scale 1 minus the mean final return at the algorithm's worst scale, with a bootstrap
CI (the worst scale is picked after looking, so the cost is an upper estimate).

What differs from the paper: Pendulum-v1 (gymnax) instead of MuJoCo; TD3 and SAC at rejax's
published Pendulum settings, 20k env steps; PPO at the RL Zoo's Pendulum entry without gSDE
(100k env steps), once with its reward normalization (returns scaled by their running standard
deviation, no clipping) and once without; Henderson et al. swept DDPG (its TD3 successor is
here; rlcheck's DDPG is TD3 less TD3's additions, see seed_failures.py). The quick version runs
three scales and leaves SAC out.
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
    fmt,
    mean_interval,
    spec,
)

ENV = "Pendulum-v1"
SCALES = (0.01, 0.1, 1.0, 10.0, 100.0)
QUICK_SCALES = (0.01, 1.0, 100.0)
REWARD_SCALE = "env.reward_scale"
# The RL Zoo's PPO entry for Pendulum-v1 without gSDE (benchmarks/reference/
# onpolicy-ppo-pendulum.toml: −181.8 at 100k), with and without reward normalization.
PPO_ZOO: dict[str, Any] = {
    "num_envs": 4,
    "num_steps": 1024,
    "num_minibatches": 64,
    "update_epochs": 10,
    "gamma": 0.9,
    "gae_lambda": 0.95,
    "learning_rate": 1e-3,
    "clip_coef": 0.2,
    "ent_coef": 0.0,
    "vf_coef": 1.0,
    "clip_vloss": False,
    "anneal_lr": False,
    "normalize_obs": False,
    "normalize_reward": False,
    "clip_reward": False,
}
PPO_NORM = "PPO, reward normalization"
PPO_RAW = "PPO, no reward normalization"


def scales(scale: Scale) -> tuple[float, ...]:
    return QUICK_SCALES if scale.quick else SCALES


def specs(scale: Scale) -> list[dict[str, Any]]:
    sweep = {"vary": {REWARD_SCALE: list(scales(scale))}, "method": "grid", "fresh_seeds": 0}
    ppo = [
        {"name": "ppo", "label": PPO_NORM, "config": {**PPO_ZOO, "normalize_reward": True}},
        {"name": "ppo", "label": PPO_RAW, "config": PPO_ZOO},
    ]
    off_policy = [{"name": "td3", "label": "TD3", "preset": "rejax"}]
    if not scale.quick:
        off_policy.append({"name": "sac", "label": "SAC", "preset": "rejax"})
    out = []
    for algos, budget in ((ppo, 100_000), (off_policy, 20_000)):
        entry = spec(ENV, algos, scale.seeds, budget, checkpoints=4, final_episodes=16)
        out.append({**entry, "sweep": sweep})
    return out


def by_scale(results: StudyResults) -> dict[str, dict[float, np.ndarray]]:
    """{algo label: {reward scale: the usable seeds' final returns}} from the sweeps' units."""
    units = {u.key: u for u in results.units}
    out: dict[str, dict[float, np.ndarray]] = {}
    for sweep in results.sweeps:
        label = sweep["definition"]["algo_label"]
        for member in sweep["units"]:
            unit = units.get(member["unit_key"])
            if unit is None or REWARD_SCALE not in member["settings"]:
                continue
            finals = unit.finals[unit.usable]
            if len(finals):
                out.setdefault(label, {})[float(member["settings"][REWARD_SCALE])] = finals
    return {label: dict(sorted(rows.items())) for label, rows in out.items()}


def analyze(results: StudyResults) -> Finding:
    finals = by_scale(results)
    rows: dict[str, Any] = {}
    series = []
    for label, per_scale in finals.items():
        means = {s: mean_interval(v) for s, v in per_scale.items()}
        returns = {str(s): {"interval": m, "n": len(per_scale[s])} for s, m in means.items()}
        row: dict[str, Any] = {"final_return": returns}
        if 1.0 in per_scale and len(per_scale) > 1:
            worst = min(per_scale, key=lambda s: means[s][0])
            a, b = per_scale[1.0], per_scale[worst]
            if worst != 1.0 and len(a) >= 2 and len(b) >= 2:
                e = stats.mean_difference_interval(a, b, 20_000, CONFIDENCE, 0)
                row["cost"] = {
                    "worst_scale": worst,
                    "point": float(e.point),
                    "low": float(e.low),
                    "high": float(e.high),
                }
            else:
                row["cost"] = {"worst_scale": worst, "point": 0.0, "low": 0.0, "high": 0.0}
        rows[label] = row
        series.append(Series(label, [Point(_category(s), *m) for s, m in means.items()]))
    categories = [_category(s) for s in sorted({s for v in finals.values() for s in v})]
    chart = Chart(
        kind="intervals",
        title=f"Final return on {ENV} (its own units) against the reward scale, 95% CI",
        value_label="mean final return over seeds",
        category_label="reward × scale",
        series=series,
        categories=categories or None,
    )
    return Finding(_sentence(rows), chart, {"rows": rows})


def _category(scale: float) -> str:
    return f"reward × {scale:g}"


def _sentence(rows: dict[str, Any]) -> str:
    costs = {label: r["cost"] for label, r in rows.items() if "cost" in r}
    if not costs:
        return "No algorithm finished at scale 1 and another scale, so nothing was measured."
    parts = [
        f"{label} {fmt(c['point'])} [95% CI {fmt(c['low'])}, {fmt(c['high'])}] "
        f"(× {c['worst_scale']:g})"
        if c["worst_scale"] != 1.0
        else f"{label} nothing (scale 1 was its worst)"
        for label, c in costs.items()
    ]
    span = sorted({float(s) for r in rows.values() for s in r["final_return"]})
    sentence = (
        f"On {ENV}, with the reward multiplied by {span[0]:g} to {span[-1]:g}, the mean final "
        f"return at each algorithm's worst scale fell short of its return at scale 1 by: "
        f"{'; '.join(parts)}"
    )
    norm, raw = costs.get(PPO_NORM), costs.get(PPO_RAW)
    if norm is not None and raw is not None:
        if norm["high"] < raw["low"]:
            sentence += ": reward normalization made PPO less sensitive to the scale"
        elif raw["high"] < norm["low"]:
            sentence += ": PPO with reward normalization was the more sensitive, not the less"
        else:
            sentence += ": PPO with and without reward normalization could not be told apart here"
    return sentence + " (Henderson et al. 2018: DDPG's returns change significantly with scale)."


STUDY = Study(
    name="reward-scale",
    title="Reward scale changes the result (Henderson et al.)",
    claim=(
        "Multiplying the reward by a constant, which changes no optimal policy, changes what "
        "deep RL learns: DDPG's returns on MuJoCo depend significantly on the reward scale "
        "(Henderson et al. 2018), which PPO's reward normalization is meant to remove."
    ),
    specs=specs,
    analyze=analyze,
    seeds=10,
    quick_seeds=3,
    quick_seconds=110,
    full_minutes=8,  # measured: BENCHMARKS.md, issue 19's full versions
    sources=(
        "P. Henderson, R. Islam et al., Deep Reinforcement Learning that Matters, AAAI 2018, "
        "'Reward Scale'",
        "A. Irpan, Deep Reinforcement Learning Doesn't Work Yet (2018)",
    ),
)
