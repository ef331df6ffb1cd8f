"""The value baseline against the true value: how far PPO's value network is from Monte-Carlo
V^π, and how much gradient variance it removes compared with a value fitted to the returns (V*).

Ilyas, Engstrom et al. (2020, §2.2) found that the value network fits its own regression target
(old value + GAE advantage) closely, yet "is off by about 50% with respect to the underlying
true value function" on held-out states, and that as a baseline it concentrates the gradient
estimates only a little more than no baseline, far less than a V* fitted to many returns.
Here ``rlcheck.diagnostics`` (D2; docs/DESIGN-NOTES.md, "Diagnostics") measures both at
checkpoints of every seed: mean relative errors of the agent's V against V^π from Monte-Carlo
rollouts of cloned env states and of the once-updated V against its GAE target, and the average
pairwise cosine of 10 gradient estimates of 2,048 pairs with the zero baseline, the agent's V
and V* (an MLP of the critic's shape regressed on single-rollout returns) in the agent's own
estimator (GAE λ, normalized advantages).

The study's units train the same PPO for its learning curve; the measurement trains it again
to the checkpoints with the same seeds.

What differs from the paper: gymnax CartPole-v1 (mid-training, where returns are between
easy and solved; madry.md §6.2 explains why Acrobot's near-zero values make MRE unstable)
instead of MuJoCo Walker2d/Hopper; 8–10 updates of 2,048 steps; MC V^π (the paper used
single-rollout returns); V* from 2¹⁶ (quick) or 2¹⁸ (full) pairs instead of 5·10⁶; 64 (quick)
or 128 held-out states × 16 or 32 rollouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from rlcheck import envs
from rlcheck.diagnostics.checkpoints import train_to_checkpoints
from rlcheck.diagnostics.value import baseline_variance, fit_value, value_quality
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
    fmt_pct,
    mean_interval,
    spec,
)
from rlcheck.studies.clipping_trust_region import MADRY_PPO, ROLLOUT

ENV = "CartPole-v1"
BATCH = 2048
PPO = {k: v for k, v in MADRY_PPO.items() if k != "trust_region_monitor"}
ERRORS = {
    "old_vs_mc": "agent's V vs V^π",
    "new_vs_target_train": "updated V vs its GAE target",
    "return_vs_mc": "return vs V^π (noise floor)",
    "fitted_vs_mc": "V* vs V^π",
}
BASELINES = {"zero": "no baseline", "agent": "the agent's V", "fitted": "V* (fitted)"}


def settings(scale: Scale) -> dict[str, Any]:
    if scale.quick:
        return {
            "at": (8,),
            "pairs": 2**16,
            "num_states": 64,
            "mc_rollouts": 16,
            "sizes": (512, BATCH),
            "reference": 2**16,
        }
    return {
        "at": (5, 10),
        "pairs": 2**18,
        "num_states": 128,
        "mc_rollouts": 32,
        "sizes": (512, BATCH, 8192),
        "reference": 2**18,
    }


def specs(scale: Scale) -> list[dict[str, Any]]:
    budget = settings(scale)["at"][-1] * ROLLOUT
    algos = [{"name": "ppo", "label": "PPO", "config": PPO}]
    return [spec(ENV, algos, scale.seeds, budget, checkpoints=4, episodes=8, final_episodes=16)]


def measure(scale: Scale, directory: Path) -> dict[str, Any]:
    """D2 at each checkpoint of ``settings(scale)``, every seed; per-seed numbers."""
    s = settings(scale)
    env = envs.make(ENV)
    agent = make_agent("ppo", env.spec, PPO, s["at"][-1] * ROLLOUT)
    checkpoints = []
    for updates, states, returns in train_to_checkpoints(agent, env, range(scale.seeds), s["at"]):
        key = jax.random.PRNGKey(100 + updates)
        fitted, fit = fit_value(agent, states, env, env.params, key, pairs=s["pairs"])
        quality = value_quality(
            agent,
            states,
            env,
            env.params,
            key,
            num_states=s["num_states"],
            mc_rollouts=s["mc_rollouts"],
            fitted=fitted,
        )
        variance = baseline_variance(
            agent,
            states,
            env,
            env.params,
            key,
            fitted=fitted,
            sizes=s["sizes"],
            reference_size=s["reference"],
        )
        checkpoints.append(
            {
                "updates": updates,
                "training_return": returns.tolist(),
                "fit_nmse": np.asarray(fit["train_nmse"]).tolist(),
                "mre": {k: np.asarray(quality["mre"][k]).tolist() for k in ERRORS},
                "nmse": {k: np.asarray(quality["nmse"][k]).tolist() for k in ERRORS},
                "baselines": list(variance["baselines"]),
                "pairwise_cosine": np.asarray(variance["pairwise_cosine"]).tolist(),
                "cosine_to_true": np.asarray(variance["cosine_to_true"]).tolist(),
            }
        )
    return {"env": ENV, "sizes": list(s["sizes"]), "at": checkpoints}


def analyze(results: StudyResults) -> Finding:
    m = results.measurements
    rows = []
    series = []
    for c in m.get("at", []):
        row: dict[str, Any] = {
            "updates": c["updates"],
            "training_return": mean_interval(np.asarray(c["training_return"], float)),
            "mre": {k: _interval(c["mre"][k]) for k in ERRORS if k in c["mre"]},
            "pairwise_cosine": {},
        }
        pairwise = np.asarray(c["pairwise_cosine"], float)  # (seeds, baselines, sizes)
        if BATCH in m["sizes"]:
            i = m["sizes"].index(BATCH)
            for b, name in enumerate(c["baselines"]):
                row["pairwise_cosine"][name] = _interval(pairwise[:, b, i])
        rows.append(row)
        points = [
            Point(f"MRE: {label}", *row["mre"][k])
            for k, label in ERRORS.items()
            if row["mre"].get(k) is not None
        ]
        points += [
            Point(f"cosine at {BATCH:,}: {BASELINES.get(name, name)}", *value)
            for name, value in row["pairwise_cosine"].items()
            if value is not None
        ]
        series.append(Series(f"after {c['updates']} updates", points))
    chart = Chart(
        kind="intervals",
        title=f"PPO's value, {ENV}: its error and the gradient concentration (95% CI)",
        value_label="mean relative error, or average pairwise cosine of gradient estimates",
        series=series,
    )
    return Finding(_sentence(rows), chart, {"rows": rows, "sizes": m.get("sizes", [])})


def _interval(values: Any) -> tuple[float, float, float] | None:
    array = np.asarray(values, float)
    finite = array[np.isfinite(array)]
    return mean_interval(finite) if len(finite) else None


def _ci(x: tuple[float, float, float], pct: bool = False) -> str:
    f = fmt_pct if pct else fmt
    return f"{f(x[0])} [95% CI {f(x[1])}, {f(x[2])}]"


def _sentence(rows: list[dict[str, Any]]) -> str:
    usable = [r for r in rows if r["mre"].get("old_vs_mc") is not None]
    if not usable:
        return "No checkpoint was measured, so nothing was measured."
    r = usable[-1]
    true_err, target_err = r["mre"]["old_vs_mc"], r["mre"].get("new_vs_target_train")
    # "Far" when the whole interval is above a quarter (half the paper's ≈ 50%).
    if true_err[1] > 0.25:
        verdict = "far from the true value, as Ilyas et al. (2020) found (≈ 50%)"
    elif true_err[2] < 0.25:
        verdict = "closer to the true value than Ilyas et al. (2020) found (≈ 50%)"
    else:
        verdict = "neither clearly far nor clearly close (Ilyas et al. 2020: ≈ 50%)"
    sentence = (
        f"On {ENV} after {r['updates']} updates (training return "
        f"{fmt(r['training_return'][0])}), PPO's value network was off from Monte-Carlo V^π by "
        f"a mean relative error of {_ci(true_err, pct=True)}, {verdict}"
    )
    if target_err is not None:
        sentence += f", while one update fit its own GAE target to {_ci(target_err, pct=True)}"
    cos = r["pairwise_cosine"]
    if all(cos.get(b) is not None for b in BASELINES):
        sentence += (
            f"; as a baseline it moved the average pairwise cosine of {BATCH:,}-pair gradient "
            f"estimates from {_ci(cos['zero'])} without one to {_ci(cos['agent'])}, against "
            f"{_ci(cos['fitted'])} with V* fitted to the returns"
        )
    return sentence + "."


STUDY = Study(
    name="value-baseline",
    title="The value network is not the value (Ilyas et al.)",
    claim=(
        "PPO's value network fits its regression target but not the true value (held-out error "
        "≈ 50%), and as a baseline it removes far less gradient variance than the true value "
        "would (Ilyas, Engstrom et al. 2020, §2.2)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=8,
    quick_seeds=4,
    quick_seconds=110,
    full_minutes=3,  # measured: 107 s (BENCHMARKS.md, "Full versions run whole")
    sources=(
        "A. Ilyas, L. Engstrom et al., A Closer Look at Deep Policy Gradients, ICLR 2020, §2.2, "
        "Figs. 3–4",
        "A. Madry, The Rotten Truth of Deep RL (slides): 'is the value a value?'",
    ),
    measure=measure,
)
