"""Hyperparameter sensitivity: how much of a standard search space solves CartPole-v1 and
Acrobot-v1, and how far the tuned configuration is from the default on fresh seeds.

Madry's slides list hyperparameter sensitivity among the ways deep RL is not reliable, and
Henderson et al. (2018) show returns moving with every hyperparameter they varied; a practical
question follows: draw configurations from the space a tuner would search, how many of them
work? Here random search (``[sweep] method = "random"``) draws configurations of PPO's
hyperparameters from ranges close to the RL Zoo's Optuna sampler (``sample_ppo_params``:
log-uniform learning rate and entropy coefficient, the zoo's lists of γ, GAE λ, clip ranges and
gradient-norm clips; traced fields only, so each batch of draws is one vmapped program); each
configuration is scored as rlcheck's sweeps score it (IQM of its tuning seeds' final returns, a
diverged seed as −∞) and solves when the score reaches the env's threshold (Gymnasium's: 475
on CartPole-v1, −100 on Acrobot-v1). The share of configurations that solve carries a Wilson
interval over configurations; the best configuration and the default (CleanRL's) then run on
fresh seeds, and the gap is IQM(best) − IQM(default) there, with a bootstrap CI.

What differs: rlcheck's PPO at CleanRL's shapes (4 envs × 128 steps, 4 minibatches × 4
epochs; the zoo also samples those, which would compile one program per shape); budgets of
100k env steps (quick) and 500k (full, CleanRL's CartPole budget) rather than the zoo's; the
full version also searches DQN (rejax's CartPole settings, learning rate, γ and exploration
drawn) on CartPole-v1 at 100k.
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
    fmt_pct,
    spec,
)

THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}
# Close to rl-baselines3-zoo's hyperparams_opt.sample_ppo_params (traced fields only).
PPO_SPACE = {
    "learning_rate": "1e-5:1e-2:8:log",
    "ent_coef": "1e-8:0.1:8:log",
    "gamma": [0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999],
    "gae_lambda": [0.8, 0.9, 0.92, 0.95, 0.98, 0.99, 1.0],
    "clip_coef": [0.1, 0.2, 0.3, 0.4],
    "max_grad_norm": [0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0, 5.0],
    "vf_coef": "0.1:1.0:10",
}
# Close to sample_dqn_params (traced fields only; rejax's network and update shapes).
DQN_SPACE = {
    "learning_rate": "1e-5:1e-2:8:log",
    "gamma": [0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999],
    "exploration_fraction": "0.05:0.5:10",
    "end_e": "0.01:0.2:10",
}


def specs(scale: Scale) -> list[dict[str, Any]]:
    trials, fresh, budget = (16, 4, 100_000) if scale.quick else (64, 16, 500_000)
    out = []
    for env, threshold in THRESHOLDS.items():
        entry = {"id": env, "solve_threshold": threshold}
        ppo = spec(entry, [{"name": "ppo"}], scale.seeds, budget, checkpoints=4, final_episodes=16)
        out.append({**ppo, "sweep": _sweep(PPO_SPACE, trials, fresh)})
    if not scale.quick:
        entry = {"id": "CartPole-v1", "solve_threshold": THRESHOLDS["CartPole-v1"]}
        dqn = [{"name": "dqn", "preset": "rejax"}]
        data = spec(entry, dqn, scale.seeds, 100_000, checkpoints=4, final_episodes=16)
        out.append({**data, "sweep": _sweep(DQN_SPACE, trials, fresh)})
    return out


def _sweep(space: dict[str, Any], trials: int, fresh: int) -> dict[str, Any]:
    return {"vary": space, "method": "random", "trials": trials, "fresh_seeds": fresh}


def score(unit: Any) -> float:
    """A configuration's score as rlcheck's sweeps compute it: the IQM of its seeds' final
    returns, a diverged seed counting as −∞."""
    finals = np.where(unit.usable, np.nan_to_num(unit.finals, nan=-np.inf), -np.inf)
    return float(stats.iqm(finals[:, None]))


def analyze(results: StudyResults) -> Finding:
    units = {u.key: u for u in results.units}
    rows: dict[str, dict[str, Any]] = {}
    for sweep in results.sweeps:
        definition = sweep["definition"]
        env = definition["env_id"].split(":")[-1]
        threshold = THRESHOLDS.get(env)
        members = sweep["units"]
        # Configurations that finished (a failed unit scores nothing, as in the report).
        tuning = [
            units[m["unit_key"]]
            for m in members
            if m["role"] == "tuning" and m["unit_key"] in units
        ]
        if threshold is None or not tuning:
            continue
        scores = np.array([score(u) for u in tuning])
        solved = int(np.sum(scores >= threshold))
        low, high = stats.wilson_interval(solved, len(scores), CONFIDENCE)
        row: dict[str, Any] = {
            "env": env,
            "algo": definition["algo"],
            "threshold": threshold,
            "budget": definition["budget"],
            "solved": solved,
            "n": len(scores),
            "rate": solved / len(scores),
            "low": low,
            "high": high,
            # −∞ (every configuration had too many seeds diverge) is not a JSON number.
            "best_tuning_score": float(scores.max()) if np.isfinite(scores.max()) else None,
        }
        fresh = {m["role"]: units.get(m["unit_key"]) for m in members if m["role"] != "tuning"}
        chosen, default = fresh.get("chosen"), fresh.get("default")
        if chosen is not None and default is not None:
            a, b = chosen.finals[chosen.usable], default.finals[default.usable]
            if len(a) >= 2 and len(b) >= 2:
                e = stats.iqm_difference_interval(a, b, 20_000, CONFIDENCE, 0)
                row["gap"] = {
                    "point": float(e.point),
                    "low": float(e.low),
                    "high": float(e.high),
                    "chosen_fresh_iqm": float(stats.iqm(a[:, None])),
                    "default_fresh_iqm": float(stats.iqm(b[:, None])),
                    "n_chosen": len(a),
                    "n_default": len(b),
                }
        rows[f"{env}: {algo_name(definition['algo'])}"] = row
    chart = Chart(
        kind="intervals",
        title="Share of randomly drawn configurations that solve (95% Wilson CI)",
        value_label="share of configurations whose score reaches the env's threshold",
        series=[
            Series(
                "random search over the RL Zoo's space",
                [Point(label, r["rate"], r["low"], r["high"]) for label, r in rows.items()],
            )
        ],
    )
    return Finding(_sentence(rows), chart, {"rows": rows})


def _sentence(rows: dict[str, dict[str, Any]]) -> str:
    if not rows:
        return "No sweep finished a configuration, so nothing was measured."
    shares = [
        f"{r['solved']}/{r['n']} ({fmt_pct(r['rate'])}, 95% CI {fmt_pct(r['low'])}–"
        f"{fmt_pct(r['high'])}) of {algo_name(r['algo'])}'s on {r['env']} (score ≥ "
        f"{fmt(r['threshold'])} after {r['budget'] // 1000}k env steps)"
        for r in rows.values()
    ]
    sentence = f"Of randomly drawn configurations, {'; '.join(shares)} solved the task"
    gaps = []
    for r in rows.values():
        g = r.get("gap")
        if g is None:
            continue
        if g["low"] > 0:
            verdict = "the best is better"
        elif g["high"] < 0:
            verdict = "the default is better"
        else:
            verdict = "not told apart"
        gaps.append(
            f"{fmt(g['point'])} [95% CI {fmt(g['low'])}, {fmt(g['high'])}] for "
            f"{algo_name(r['algo'])} on {r['env']} ({verdict})"
        )
    if gaps:
        sentence += (
            "; on fresh seeds, the best configuration's IQM final return minus the default's "
            "was " + ", ".join(gaps)
        )
    return sentence + "."


STUDY = Study(
    name="hyperparameter-sensitivity",
    title="How much of a standard search space works (PPO, DQN)",
    claim=(
        "Deep RL is sensitive to its hyperparameters: only part of the space a practitioner "
        "would search solves even an easy task, and a configuration chosen on a few seeds "
        "says less on fresh ones (Henderson et al. 2018; Madry, 'The Rotten Truth of Deep RL')."
    ),
    specs=specs,
    analyze=analyze,
    seeds=4,
    quick_seeds=2,
    quick_seconds=100,
    full_minutes=20,  # measured: 1,055 s (BENCHMARKS.md, "Full versions run whole")
    sources=(
        "P. Henderson, R. Islam et al., Deep Reinforcement Learning that Matters, AAAI 2018",
        "A. Madry, The Rotten Truth of Deep RL (slides): hyperparameter sensitivity",
        "A. Raffin et al., RL Baselines3 Zoo, hyperparams_opt.py (the search space)",
    ),
)
