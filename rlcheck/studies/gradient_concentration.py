"""Gradient concentration: how alike PPO's policy-gradient estimates are, to each other and to
the true gradient, against the pairs per estimate, at checkpoints of training.

Ilyas, Engstrom et al. (2020, "A Closer Look at Deep Policy Gradients", §2.1) took, at a fixed
checkpoint, 10 estimates of the surrogate's gradient from independent rollouts of n
state-action pairs each, and reported their average pairwise cosine and their mean cosine to a
"true" gradient from a very large batch: estimates at the batch sizes agents use (≈ 2K) are
"poorly correlated with the true gradient", sometimes not at all, and tight ones need "several-
fold more samples than are used commonly". Here ``rlcheck.diagnostics.gradient_quality`` (D1;
docs/DESIGN-NOTES.md, "Diagnostics") measures the same at checkpoints of every seed: the
gradient is of PPO's own surrogate at θ_old with its normalized GAE advantages, the reference
two unbiased Monte-Carlo gradients (refused for a seed where they disagree, cosine < 0.95).

The study's units train the same PPO for its learning curve and final return; the measurement
trains it again to the checkpoints (the diagnostics need the critic and normalizers, which a
stored policy does not keep) with the same seeds.

What differs from the paper: gymnax Acrobot-v1 instead of MuJoCo Humanoid; 10–60 updates of
2,048 steps instead of 0–450; PPO set up like MadryLab's trainer (as in
clipping_trust_region.py); references of 2¹⁶ (quick) or 2¹⁸ (full) pairs instead of 10⁶–10⁷;
n up to 8,192 (quick) or 32,768 (full) instead of 10⁶.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from rlcheck import envs
from rlcheck.diagnostics.checkpoints import train_to_checkpoints
from rlcheck.diagnostics.gradient import gradient_quality
from rlcheck.registry import make_agent
from rlcheck.studies.base import (
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
from rlcheck.studies.clipping_trust_region import MADRY_PPO, ROLLOUT

ENV = "Acrobot-v1"
BATCH = 2048  # the pairs per update of the agents the paper studies, and of this PPO
PPO = {k: v for k, v in MADRY_PPO.items() if k != "trust_region_monitor"}


def settings(scale: Scale) -> dict[str, Any]:
    if scale.quick:
        return {"at": (10, 20), "sizes": (512, 2048, 8192), "reference": 2**16}
    return {"at": (10, 20, 40, 60), "sizes": (512, 2048, 8192, 32768), "reference": 2**18}


def specs(scale: Scale) -> list[dict[str, Any]]:
    budget = settings(scale)["at"][-1] * ROLLOUT
    algos = [{"name": "ppo", "label": "PPO", "config": PPO}]
    return [spec(ENV, algos, scale.seeds, budget, checkpoints=4, episodes=8, final_episodes=16)]


def measure(scale: Scale, directory: Path) -> dict[str, Any]:
    """D1 at each checkpoint of ``settings(scale)``, every seed; per-seed numbers."""
    s = settings(scale)
    env = envs.make(ENV)
    agent = make_agent("ppo", env.spec, PPO, s["at"][-1] * ROLLOUT)
    checkpoints = []
    for updates, states, returns in train_to_checkpoints(agent, env, range(scale.seeds), s["at"]):
        out = gradient_quality(
            agent,
            states,
            env,
            env.params,
            jax.random.PRNGKey(updates),
            sizes=s["sizes"],
            reference_size=s["reference"],
        )
        checkpoints.append(
            {
                "updates": updates,
                "env_steps": updates * ROLLOUT,
                "training_return": returns.tolist(),
                "pairwise_cosine": out["pairwise_cosine"].tolist(),
                "cosine_to_true": out["cosine_to_true"].tolist(),
                "true_vs_true": out["true_vs_true"].tolist(),
                "refused": out["refused"].tolist(),
            }
        )
    return {"env": ENV, "sizes": list(s["sizes"]), "reference": s["reference"], "at": checkpoints}


def analyze(results: StudyResults) -> Finding:
    m = results.measurements
    rows = []
    series = []
    for c in m.get("at", []):
        pairwise = np.asarray(c["pairwise_cosine"], float)
        to_true = np.asarray(c["cosine_to_true"], float)
        row: dict[str, Any] = {
            "updates": c["updates"],
            "training_return": mean_interval(np.asarray(c["training_return"], float)),
            "refused": int(np.sum(c["refused"])),
            "seeds": len(pairwise),
            "by_size": {},
        }
        pair_points, true_points = [], []
        for i, n in enumerate(m["sizes"]):
            p = _interval(pairwise[:, i])
            t = _interval(to_true[:, i])
            row["by_size"][str(n)] = {"pairwise_cosine": p, "cosine_to_true": t}
            x = float(np.log2(n))
            if p is not None:
                pair_points.append(Point(x, *p))
            if t is not None:
                true_points.append(Point(x, *t))
        rows.append(row)
        for name, points in (("pairwise", pair_points), ("to true", true_points)):
            if points:
                series.append(Series(f"{name}, after {c['updates']} updates", points))
    chart = Chart(
        kind="lines",
        title=f"PPO's gradient estimates, {ENV}: cosine (mean over seeds, 95% CI)",
        value_label="cosine similarity",
        category_label="log₂ of the state-action pairs per estimate",
        series=series,
        references=[(0.0, "no agreement")],
    )
    numbers = {"rows": rows, "sizes": m.get("sizes", []), "reference": m.get("reference")}
    return Finding(_sentence(rows), chart, numbers)


def _interval(values: np.ndarray) -> tuple[float, float, float] | None:
    """Mean over the seeds where it is defined, with its CI; None where none is."""
    finite = values[np.isfinite(values)]
    return mean_interval(finite) if len(finite) else None


def _sentence(rows: list[dict[str, Any]]) -> str:
    at_batch = [r for r in rows if r["by_size"].get(str(BATCH), {}).get("pairwise_cosine")]
    if not at_batch:
        return "No checkpoint was measured at 2,048 pairs, so nothing was measured."
    # The last checkpoint: the paper's claim is about trained agents.
    r = at_batch[-1]
    cell = r["by_size"][str(BATCH)]
    p, t = cell["pairwise_cosine"], cell["cosine_to_true"]
    if p[2] < 0.5:
        verdict = "poorly concentrated, as Ilyas et al. (2020) found on MuJoCo"
    elif p[1] > 0.5:
        verdict = "well concentrated, unlike Ilyas et al. (2020) on MuJoCo"
    else:
        verdict = "neither clearly poorly nor clearly well concentrated (Ilyas et al. 2020: poorly)"
    sentence = (
        f"On {ENV} after {r['updates']} updates (training return {fmt(r['training_return'][0])}),"
        f" PPO's gradient estimates from {BATCH:,} pairs, its batch, had an average pairwise "
        f"cosine of {fmt(p[0])} [95% CI {fmt(p[1])}, {fmt(p[2])}]: {verdict}"
    )
    if t is not None:
        sentence += (
            f"; their cosine to the true gradient was {fmt(t[0])} [{fmt(t[1])}, {fmt(t[2])}]"
        )
    largest = max(r["by_size"], key=int)
    big = r["by_size"][largest]["pairwise_cosine"]
    if int(largest) > BATCH and big is not None:
        sentence += (
            f", and {fmt(big[0])} [{fmt(big[1])}, {fmt(big[2])}] pairwise at {int(largest):,}"
        )
    if r["refused"]:
        sentence += (
            f" ({r['refused']} of {r['seeds']} seeds' references disagreed and were left out)"
        )
    return sentence + "."


STUDY = Study(
    name="gradient-concentration",
    title="Policy-gradient estimates barely agree at the batch sizes used (Ilyas et al.)",
    claim=(
        "Deep policy-gradient agents step along gradient estimates that are poorly correlated "
        "with the true gradient and with each other at the batch sizes used in practice (≈ 2K "
        "state-action pairs); tight estimates need many times more samples (Ilyas, Engstrom "
        "et al. 2020, §2.1)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=8,
    quick_seeds=4,
    quick_seconds=110,
    full_minutes=3,  # measured: 112 s (an earlier run stopped after 18.5 min; BENCHMARKS.md)
    sources=(
        "A. Ilyas, L. Engstrom et al., A Closer Look at Deep Policy Gradients, ICLR 2020, §2.1, "
        "Figs. 1–2",
        "A. Madry, The Rotten Truth of Deep RL (slides): 'is the gradient a gradient?'",
    ),
    measure=measure,
)
