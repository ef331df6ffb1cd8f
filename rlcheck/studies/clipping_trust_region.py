"""Clipping is not a trust region: the largest probability ratio and the mean KL of every update,
over training, for PPO, PPO without clipping and TRPO.

Engstrom et al. (2020, §4) logged, after every whole update, the largest ratio π_new/π_old on
the training batch and the mean KL(π_old ‖ π_new): "the PPO variants' maximum ratios
consistently violate the ratio 'trust region'" (≈ 17.5 on Humanoid, ≈ 30 on Hopper by a reading
of their figures), while "both PPO and PPO-M constrain the KL well"; the clipped objective only
zeroes the gradient of pairs already outside [1 − ε, 1 + ε], so how far an update goes is set
by the optimizer, not by ε. Here the trainer itself logs the same numbers
(``trust_region_monitor = true``; docs/DESIGN-NOTES.md, "Diagnostics", D4).

What differs from the paper: gymnax Acrobot-v1 (and CartPole-v1 in the full version) instead
of MuJoCo, 30–60 updates of 2,048 steps instead of ~500, PPO set up like MadryLab's trainer
(one env of 2,048 steps, 32 minibatches × 10 epochs, Adam 3e-4 annealed, reward scaling and
clipping, observation normalization, no entropy bonus, no gradient clipping; as in
benchmarks/diagnostics_findings.py) but with one optimizer over actor and critic and envs that
continue across updates; "PPO without clipping" is ε = 10⁶, which in rlcheck also turns off
value clipping (they share ``clip_coef``; Engstrom et al.'s PPO-NoClip was retuned per task);
TRPO is SB3-contrib's with its KL bound 0.01 (theirs: 0.04–0.13) on the same 2,048-step batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck.diagnostics.trust_region import trust_region_summary
from rlcheck.studies.base import (
    Chart,
    Finding,
    Point,
    Scale,
    Series,
    Study,
    StudyResults,
    fmt,
    fmt_pct,
    mean_interval,
    median_interval,
    spec,
)

CLIP = 0.2
TRPO_KL = 0.01
ROLLOUT = 2048
MADRY_PPO: dict[str, Any] = {
    "num_envs": 1,
    "num_steps": ROLLOUT,
    "num_minibatches": 32,
    "update_epochs": 10,
    "learning_rate": 3e-4,
    "anneal_lr": True,
    "clip_coef": CLIP,
    "ent_coef": 0.0,
    "normalize_obs": True,
    "normalize_reward": True,
    "clip_reward": True,
    "max_grad_norm": 1e6,
    "trust_region_monitor": True,
}
VARIANTS = {
    "PPO": {"name": "ppo", "label": "PPO", "config": MADRY_PPO},
    "PPO, no clipping": {
        "name": "ppo",
        "label": "PPO, no clipping",
        "config": {**MADRY_PPO, "clip_coef": 1e6},
    },
    "TRPO": {
        "name": "trpo",
        "label": "TRPO",
        "config": {
            "num_envs": 1,
            "num_steps": ROLLOUT,
            "max_kl": TRPO_KL,
            "trust_region_monitor": True,
        },
    },
}


def updates(scale: Scale) -> int:
    return 30 if scale.quick else 60


def envs(scale: Scale) -> tuple[str, ...]:
    return ("Acrobot-v1",) if scale.quick else ("Acrobot-v1", "CartPole-v1")


def specs(scale: Scale) -> list[dict[str, Any]]:
    algos = list(VARIANTS.values())
    budget = updates(scale) * ROLLOUT
    return [
        spec(env, algos, scale.seeds, budget, checkpoints=4, episodes=8, final_episodes=16)
        for env in envs(scale)
    ]


def analyze(results: StudyResults) -> Finding:
    rows: dict[str, dict[str, Any]] = {}
    series = []
    for unit in results.units:
        if unit.internals is None or "ratio_max" not in unit.metric_names:
            continue
        keep = np.isfinite(unit.internals).all(axis=(1, 2))
        if not keep.any():
            continue
        internals = unit.internals[keep]
        s = trust_region_summary(internals, unit.metric_names, clip=CLIP)
        label = f"{unit.env.split(':')[-1]}: {unit.label}"
        rows[label] = {
            "env": unit.env,
            "variant": unit.label,
            "n": int(keep.sum()),
            "share_ratio_above": mean_interval(s["fraction_ratio_above"]),
            "ratio_max_median": median_interval(s["ratio_max_median"]),
            "ratio_max_largest": median_interval(s["ratio_max_max"]),
            "kl_mean_median": median_interval(s["kl_mean_median"]),
            "kl_mean_largest": median_interval(s["kl_mean_max"]),
            "final_return": mean_interval(unit.finals[keep & unit.usable])
            if (keep & unit.usable).any()
            else None,
        }
        ratio = internals[:, :, list(unit.metric_names).index("ratio_max")]
        steps = (
            unit.update_env_steps
            if unit.update_env_steps is not None
            else np.arange(1, ratio.shape[1] + 1) * ROLLOUT
        )
        points = []
        for u in range(ratio.shape[1]):
            point, low, high = median_interval(ratio[:, u], reps=2_000, seed=u)
            points.append(Point(float(steps[u]), point, low, high))
        series.append(Series(label, points))
    chart = Chart(
        kind="lines",
        title="Largest ratio π_new/π_old after each update (median over seeds, 95% CI)",
        value_label="max ratio on the training batch",
        category_label="env steps",
        series=series,
        references=[(1 + CLIP, "1 + ε (PPO's clip range)")],
        log=True,
    )
    return Finding(_sentence(rows), chart, {"rows": rows, "clip": CLIP, "trpo_max_kl": TRPO_KL})


def _interval(x: tuple[float, float, float], pct: bool = False) -> str:
    f = fmt_pct if pct else fmt
    return f"{f(x[0])} [95% CI {f(x[1])}, {f(x[2])}]"


def _sentence(rows: dict[str, dict[str, Any]]) -> str:
    ppo = {k: v for k, v in rows.items() if v["variant"] == "PPO"}
    if not ppo:
        return "No PPO unit logged its trust-region internals, so nothing was measured."
    label, r = next(iter(ppo.items()))
    env = label.split(": ")[0]
    share = r["share_ratio_above"]
    if share[1] > 0.5:
        verdict = "most, as Engstrom et al. (2020) found on MuJoCo"
    elif share[2] < 0.5:
        verdict = "fewer than half, unlike Engstrom et al. (2020) on MuJoCo"
    else:
        verdict = "a share that cannot be told from half (Engstrom et al. 2020: most)"
    sentence = (
        f"On {env}, PPO's largest ratio left 1 + ε = {1 + CLIP:g} in "
        f"{_interval(share, pct=True)} of its updates ({verdict}), while its mean KL stayed at a "
        f"median of {_interval(r['kl_mean_median'])}"
    )
    noclip = rows.get(f"{env}: PPO, no clipping")
    if noclip is not None:
        sentence += (
            f"; without clipping the median largest ratio was "
            f"{_interval(noclip['ratio_max_median'])} against PPO's "
            f"{_interval(r['ratio_max_median'])}"
        )
    trpo = rows.get(f"{env}: TRPO")
    if trpo is not None:
        sentence += (
            f", and TRPO's (KL bound {TRPO_KL:g}) {_interval(trpo['ratio_max_median'])} with a "
            f"median mean KL of {_interval(trpo['kl_mean_median'])}"
        )
    return sentence + "."


STUDY = Study(
    name="clipping-trust-region",
    title="Clipping is not a trust region (PPO, PPO without clipping, TRPO)",
    claim=(
        "PPO's clipped objective does not keep its updates inside the ratio trust region "
        "[1 − ε, 1 + ε]: its largest ratios violate it throughout training, while the mean KL "
        "stays small; what bounds the step is the optimizer (Engstrom et al. 2020, §4)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=16,
    quick_seeds=4,
    quick_seconds=100,
    full_minutes=3,  # measured: BENCHMARKS.md, issue 19's full versions
    sources=(
        "L. Engstrom, A. Ilyas et al., Implementation Matters in Deep Policy Gradients: A Case "
        "Study on PPO and TRPO, ICLR 2020, §4 and Figs. 2–4",
        "A. Madry, The Rotten Truth of Deep RL (slides): 'is the trust region a trust region?'",
    ),
)
