"""MPC with the true model against model-free RL: return at equal interaction budget and at
equal wall time.

Irpan (2018): where a good model exists, model predictive control "beats" model-free RL, which
has to learn from scratch what the model already says. CEM-MPC replans every step on the env
itself (the true simulator) and trains on no env step; TD3 and SAC learn from their budget of
env steps. *Equal interaction budget*: each RL algorithm's final return after its budget
against MPC's, as P(MPC > RL) on the seeds' final returns with a stratified-bootstrap 95% CI.
*Equal wall time*: RL's evaluation return at the last checkpoint it had reached when MPC's
whole unit was done, its run time spread over its env steps in proportion (compile included
at the start).
"""

from __future__ import annotations

import importlib.util
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
    fmt,
    fmt_steps,
    mean_interval,
    spec,
)

PENDULUM, CHEETAH = "Pendulum-v1", "gymnasium:HalfCheetah-v5"
MPC = "cem"


def mujoco_installed() -> bool:
    return importlib.util.find_spec("mujoco") is not None


def specs(scale: Scale) -> list[dict[str, Any]]:
    # rejax's published gymnax settings (see sample_efficiency.py).
    rl = [{"name": "td3", "preset": "rejax"}]
    if not scale.quick:
        rl.append({"name": "sac", "preset": "rejax"})
    cem = {"name": MPC, "config": {"num_candidates": 64, "iterations": 3}}
    out = [
        spec(PENDULUM, rl, scale.seeds, 20_000, checkpoints=10, final_episodes=16),
        spec(PENDULUM, [cem], scale.seeds, 20_000, checkpoints=1, episodes=1, final_episodes=8),
    ]
    if not scale.quick and mujoco_installed():
        seeds = min(scale.seeds, 4)
        host_cem = {
            "name": MPC,
            "config": {"num_candidates": 16, "horizon": 15, "iterations": 2, "num_elites": 4},
        }
        out += [
            spec(CHEETAH, [{"name": "sac", "preset": "rl-zoo"}], seeds, 50_000, 5, 2, 4),
            spec(CHEETAH, [host_cem], seeds, 50_000, checkpoints=1, episodes=1, final_episodes=2),
        ]
    return out


def at_wall_time(unit: UnitResults, seconds: float) -> int | None:
    """The last checkpoint ``unit`` had evaluated ``seconds`` into its run (None: none yet)."""
    if unit.checkpoint_env_steps is None:
        return None
    compile_s = unit.compile_s or 0.0
    total = float(unit.env_steps_per_seed.max())
    times = compile_s + (unit.wall_s - compile_s) * unit.checkpoint_env_steps / max(total, 1.0)
    done = np.flatnonzero(times <= seconds)
    return int(done[-1]) if done.size else None


def analyze(results: StudyResults) -> Finding:
    numbers: dict[str, Any] = {}
    finals, at_time = [], []
    clauses = []
    for env in (PENDULUM, CHEETAH):
        units = [u for u in results.units if u.env_id.endswith(env.split(":")[-1])]
        mpc = next((u for u in units if u.algo == MPC), None)
        learners = [u for u in units if u.algo != MPC and u.usable.any()]
        if mpc is None or not mpc.usable.any():
            continue
        name = env.split(":")[-1]
        mpc_mean = mean_interval(mpc.finals[mpc.usable])
        finals.append(Point(f"{name}: CEM-MPC (no training)", *mpc_mean))
        numbers[name] = {
            "mpc": {
                "mean": mpc_mean,
                "wall_s": mpc.wall_s,
                "simulator_calls_per_seed": float(np.mean(mpc.simulator_calls_per_seed)),
            }
        }
        best = None
        for u in learners:
            ret = mean_interval(u.finals[u.usable])
            finals.append(
                Point(f"{name}: {algo_name(u.algo)} after {fmt_steps(u.budget)} steps", *ret)
            )
            pooled = np.concatenate([mpc.finals[mpc.usable], u.finals[u.usable]])
            floor = pooled.min() - 1.0
            x = np.where(mpc.usable, mpc.finals, floor)
            y = np.where(u.usable, u.finals, floor)
            p = stats.probability_of_improvement_interval(
                x[:, None], y[:, None], 20_000, CONFIDENCE, 0
            )
            c = at_wall_time(u, mpc.wall_s)
            early = None
            if c is not None:
                curve = u.curves[u.usable, c]
                early = mean_interval(curve)
                at_time.append(Point(f"{name}: {algo_name(u.algo)} at CEM-MPC's wall time", *early))
            numbers[name][u.algo] = {
                "mean": ret,
                "p_mpc_beats": (float(p.point), float(p.low), float(p.high)),
                "wall_s": u.wall_s,
                "env_steps": u.budget,
                "at_mpc_wall_time": None
                if c is None
                else {"checkpoint_env_steps": int(u.checkpoint_env_steps[c]), "mean": early},
            }
            if best is None or ret[0] > numbers[name][best]["mean"][0]:
                best = u.algo
        if best is not None:
            clauses.append(_clause(name, numbers[name], best))
    chart = Chart(
        kind="intervals",
        title="MPC with the true model vs model-free RL: mean final return (95% CI)",
        value_label="return",
        series=[Series("final return", finals), Series("RL at MPC's wall time", at_time)],
    )
    if not clauses:
        return Finding("No MPC and RL pair finished, so nothing was measured.", chart, numbers)
    sentence = "; ".join(clauses) + "."
    return Finding(sentence[0].upper() + sentence[1:], chart, numbers)


def _clause(env: str, n: dict[str, Any], algo: str) -> str:
    rl, mpc = n[algo], n["mpc"]
    point, low, high = rl["p_mpc_beats"]
    verdict = "beat" if low > 0.5 else "lost to" if high < 0.5 else "could not be told apart from"
    text = (
        f"on {env} CEM-MPC with the true model and no training {verdict} {algo_name(algo)} trained "
        f"on {fmt_steps(rl['env_steps'])} env steps (P(MPC > {algo_name(algo)}) = {fmt(point)} "
        f"[95% CI {fmt(low)}, {fmt(high)}]; mean returns {fmt(mpc['mean'][0])} vs "
        f"{fmt(rl['mean'][0])})"
    )
    early = rl["at_mpc_wall_time"]
    if early is None:
        text += (
            f", and in the {fmt(mpc['wall_s'])} s MPC took {algo_name(algo)} had not reached its "
            "first evaluation"
        )
    else:
        text += (
            f", and in the {fmt(mpc['wall_s'])} s MPC took {algo_name(algo)} had reached "
            f"{fmt(early['mean'][0])} after {fmt_steps(early['checkpoint_env_steps'])} env steps"
        )
    return text


STUDY = Study(
    name="mpc-vs-rl",
    title="MPC with the true model vs model-free RL",
    claim=(
        "Where a model of the environment is available, model predictive control with it "
        "beats model-free deep RL, which must learn from scratch what the model already "
        "says (Irpan 2018)."
    ),
    specs=specs,
    analyze=analyze,
    seeds=16,
    quick_seeds=8,
    quick_seconds=80,
    full_minutes=15,  # measured: 706 s (BENCHMARKS.md, "Full versions run whole")
    sources=("A. Irpan, Deep Reinforcement Learning Doesn't Work Yet (2018)",),
)
