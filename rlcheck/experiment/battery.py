"""What ``rlcheck verdict`` runs on an env: the RL algorithms that fit it and what they must beat.

The battery is every RL algorithm in the registry that handles the env's action space, the
random policy, black-box policy search (ARS, CMA-ES) on JAX-native envs, and the planners the
env allows: LQR where rlcheck knows the env's equilibrium, MCTS on other discrete JAX-native
envs, CEM-MPC on continuous JAX-native envs and on Gymnasium envs whose state can be saved and
restored.
Each method gets its default budget from :data:`BUDGETS` (``--budget`` replaces them all), so
RL algorithms join the battery as soon as they are registered. A learner runs with its
defaults, except where they would never train within its budget (``learning_starts`` not below
it): then with its RL Baselines3 Zoo preset for the env, whose budgets :data:`BUDGETS` follows,
or it is left out with the reason, as it is where one update needs more env steps than the
budget.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from rlcheck import envs
from rlcheck.baselines import host_model, lqr
from rlcheck.envs.registry import bare_env_id
from rlcheck.envs.spec import EnvSpec
from rlcheck.registry import (
    ALGORITHMS,
    BASELINES,
    RANDOM,
    action_space_kind,
    make_agent,
    resolve_preset,
)

# The preset a learner gets where its defaults would never train within its budget.
ZOO = "rl-zoo"

# Default env steps per seed for each method (key "*": any other algorithm), and per env where
# the usual budget is far off (RL Baselines3 Zoo benchmark budgets as the guide: CartPole
# 50k–100k, Pendulum 20k off-policy, Acrobot 100k–500k). Sized so that `rlcheck verdict
# CartPole-v1` runs in about a minute on two cores with a warm compilation cache. TRPO and
# REINFORCE step one env per seed (SB3-contrib's and Spinning Up's defaults), so their runs are
# the longest sequential loops of the battery: at 100k steps they took 17 s and 24 s of its 75 s
# (benchmarks/verdict_speed.py). On CartPole they get 50k: TRPO reaches 475 after a median 18k
# env steps, and REINFORCE solves no seed at 100k either (IQM 175).
BUDGETS: dict[str, dict[str, int]] = {
    "*": {"*": 100_000, "dqn": 50_000, "ddpg": 20_000, "td3": 20_000, "sac": 20_000},
    "CartPole-v1": {
        "ars": 50_000,
        "cma_es": 30_000,
        "trpo": 50_000,
        "reinforce": 50_000,
        RANDOM: 10_000,
    },
    "Pendulum-v1": {"*": 200_000, "ddpg": 20_000, "td3": 20_000, "sac": 20_000},
}

# Evaluation: learners at 10 checkpoints and 32 final episodes per seed; planners only finally
# (they learn nothing) and on fewer episodes, each of which costs a search per step.
LEARNER_EVAL = {"checkpoints": 10, "episodes": 8, "final_episodes": 32}
PLANNER_EVAL = {"checkpoints": 1, "episodes": 1, "final_episodes": 8}

# Planner settings sized for the battery; each is a documented Config field of the planner.
PLANNER_CONFIGS: dict[str, dict[str, Any]] = {
    "cem": {"num_candidates": 64, "iterations": 3},
    "mcts": {"num_simulations": 32, "rollout_depth": 10},
}
# On a Gymnasium env every candidate sequence is replayed in Python (≈ 10 µs per step for
# classic control): a smaller search, on at most 4 seeds × 2 episodes.
HOST_PLANNER_CONFIGS: dict[str, dict[str, Any]] = {
    "cem": {"num_candidates": 16, "horizon": 15, "iterations": 2, "num_elites": 4},
}
HOST_PLANNER_SEEDS = 4
HOST_PLANNER_EVAL = {"checkpoints": 1, "episodes": 1, "final_episodes": 2}


@dataclass
class Battery:
    """The spec dicts to run (one per budget and evaluation setting) and what was left out."""

    specs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def budget_for(algo: str, env_id: str) -> int:
    """The default budget of ``algo`` on ``env_id`` (see :data:`BUDGETS`)."""
    table = {**BUDGETS["*"], **BUDGETS.get(bare_env_id(env_id), {})}
    return table.get(algo, table["*"])


def battery(env_id: str, seeds: int, budget: int | None = None) -> Battery:
    """The methods ``rlcheck verdict`` runs on ``env_id``.

    Args:
        env_id: any env id ``rlcheck.envs.make`` accepts.
        seeds: seeds per method.
        budget: env steps per seed for every learner; None: :data:`BUDGETS`.

    Returns:
        The specs (as dicts for ``rlcheck.experiment.spec.parse_spec``) and the methods left
        out, with the reason.
    """
    env = envs.make(env_id)
    spec = env.spec
    kind = action_space_kind(spec)
    skipped = []
    learners = []
    presets: dict[str, str] = {}
    for name, info in ALGORITHMS.items():
        if name in BASELINES or name == RANDOM or kind not in info.action_spaces:
            continue
        b = budget or budget_for(name, spec.id)
        try:  # an algorithm's defaults may not fit the env (REINFORCE needs a time limit)
            make_agent(name, spec, {}, b)
        except ValueError as e:
            skipped.append((name, str(e)))
            continue
        starts = getattr(info.default_config(spec), "learning_starts", 0)
        if starts >= b:
            # CleanRL's TD3/DDPG wait 25k steps before the first update; the RL Zoo budgets
            # (20k on Pendulum) come with the Zoo's hyperparameters, which start at 10k.
            zoo = info.presets.get(ZOO, {}).get(bare_env_id(spec.id), {})
            if zoo.get("learning_starts", starts) >= b:
                skipped.append(
                    (name, f"its learning_starts ({starts:,}) is not below the budget ({b:,})")
                )
                continue
            presets[name] = ZOO
        block = _steps_per_update(name, spec, b, presets.get(name))
        if block > b:
            skipped.append(
                (
                    name,
                    f"one update takes {block:,} env steps per seed, more than its budget ({b:,})",
                )
            )
            continue
        learners.append(name)
    learners.append(RANDOM)
    if spec.kind == "jax":
        learners += ["ars", "cma_es"]
    else:
        skipped.append(("ars, cma_es", "policy search runs on JAX-native envs only"))
    planners, reason = _planners(env, kind)
    if reason:
        skipped.append(("planners", reason))
    if spec.kind == "host":
        compiled = (["lqr"] if bare_env_id(spec.id) in lqr.SYSTEMS else []) + (
            ["mcts"] if kind == "discrete" else []
        )
        if compiled:
            skipped.append(
                (", ".join(compiled), "plans on a JAX-native env's transition (try gymnax:ENV)")
            )
    groups: dict[int, list[str]] = defaultdict(list)
    for name in learners:
        groups[budget or budget_for(name, spec.id)].append(name)
    specs = []
    for b, names in sorted(groups.items()):
        # Every checkpoint after a whole update of every learner of the group: the report
        # needs strictly increasing env steps at the checkpoints.
        block = max(_steps_per_update(name, spec, b, presets.get(name)) for name in names)
        checkpoints = max(1, min(LEARNER_EVAL["checkpoints"], b // block))
        evaluation = {**LEARNER_EVAL, "checkpoints": checkpoints}
        algos = [{"name": n, **({"preset": presets[n]} if n in presets else {})} for n in names]
        specs.append(_spec(env_id, seeds, b, evaluation, algos))
    if planners:
        host = spec.kind == "host"
        configs = HOST_PLANNER_CONFIGS if host else PLANNER_CONFIGS
        algos = [{"name": p, "config": configs.get(p, {})} for p in planners]
        # A planner's budget is only what it was allowed: it uses no training env steps.
        allowed = budget or budget_for(RANDOM, spec.id)
        if host:
            specs.append(
                _spec(env_id, min(seeds, HOST_PLANNER_SEEDS), allowed, HOST_PLANNER_EVAL, algos)
            )
        else:
            specs.append(_spec(env_id, seeds, allowed, PLANNER_EVAL, algos))
    return Battery(specs, skipped)


def _steps_per_update(name: str, spec: EnvSpec, budget: int, preset: str | None) -> int:
    fields = {}
    if preset is not None:
        fields = resolve_preset(ALGORITHMS[name].presets, name, preset, spec.id, "verdict")
    agent = make_agent(name, spec, fields, budget)
    return agent.num_envs * agent.rollout_len


def _planners(env: Any, kind: str) -> tuple[list[str], str | None]:
    spec = env.spec
    if spec.kind == "host":
        probe = env.make_one()
        try:
            probe.reset(seed=0)
            ok = host_model.supports(probe)
        finally:
            probe.close()
        if ok:
            return ["cem"], None
        return [], "the env's state cannot be saved and restored, so there is no model to plan with"
    known = ["lqr"] if bare_env_id(spec.id) in lqr.SYSTEMS else []
    if kind == "continuous":
        return [*known, "cem"], None
    # MCTS costs far more than LQR per step; where LQR applies it is the bar to clear.
    return known or ["mcts"], None


def _spec(
    env_id: str, seeds: int, budget: int, evaluation: dict[str, int], algos: list[dict]
) -> dict[str, Any]:
    return {
        "seeds": seeds,
        "budget": budget,
        "eval": dict(evaluation),
        "env": [{"id": env_id}],
        "algo": algos,
    }
