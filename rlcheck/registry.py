"""The registry of names: every RL algorithm and baseline by the name specs and the CLI use,
how to build it, its published presets, and the actions it handles.

It sits above ``rlcheck.agents`` and ``rlcheck.baselines`` (which know nothing of each other or
of it) and below ``rlcheck.experiment``, which plans units by these names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from rlcheck.agents import a2c, ddpg, dqn, ppo, random_agent, reinforce, sac, td3, trpo
from rlcheck.baselines import ars, evolution, lqr, mcts, mpc
from rlcheck.core import Agent
from rlcheck.envs.registry import bare_env_id
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError


class AlgoInfo(NamedTuple):
    """How to build one algorithm: its Config class, its defaults for an env, its agent, its
    published presets ({source: {env: config fields}}, each algorithm module's ``PRESETS``),
    the action spaces it handles ("discrete", "continuous"), and what kind of method it is:
    "rl" (an RL algorithm), "random" (the floor), "search" (black-box policy search) or
    "planner" (uses the true model)."""

    config_cls: type
    default_config: Callable[..., Any]
    agent_cls: Callable[[EnvSpec, Any, int], Agent]
    summary: str
    presets: dict[str, dict[str, dict[str, Any]]]
    action_spaces: frozenset[str] = frozenset({"discrete", "continuous"})
    kind: Literal["rl", "random", "search", "planner"] = "rl"


def action_space_kind(spec: EnvSpec) -> str:
    return "discrete" if spec.discrete else "continuous"


ALGORITHMS: dict[str, AlgoInfo] = {
    "ppo": AlgoInfo(
        ppo.Config,
        ppo.default_config,
        ppo.PPO,
        "Proximal Policy Optimization, CleanRL defaults",
        ppo.PRESETS,
    ),
    "random": AlgoInfo(
        random_agent.Config,
        lambda spec, **overrides: random_agent.Config(**overrides),
        random_agent.RandomAgent,
        "uniformly random actions",
        {},
        kind="random",
    ),
    "dqn": AlgoInfo(
        dqn.Config,
        dqn.default_config,
        dqn.DQN,
        "Deep Q-Network with optional Double, dueling, n-step, prioritized replay and C51; "
        "CleanRL defaults",
        dqn.PRESETS,
        action_spaces=frozenset({"discrete"}),
    ),
    "ddpg": AlgoInfo(
        ddpg.Config,
        ddpg.default_config,
        ddpg.DDPG,
        "Deep Deterministic Policy Gradient (TD3 with one critic, no target smoothing); "
        "CleanRL defaults",
        ddpg.PRESETS,
        action_spaces=frozenset({"continuous"}),
    ),
    "td3": AlgoInfo(
        td3.Config,
        td3.default_config,
        td3.TD3,
        "Twin Delayed DDPG; CleanRL defaults",
        td3.PRESETS,
        action_spaces=frozenset({"continuous"}),
    ),
    "sac": AlgoInfo(
        sac.Config,
        sac.default_config,
        sac.SAC,
        "Soft Actor-Critic with automatic entropy tuning and optional gSDE; CleanRL defaults",
        sac.PRESETS,
        action_spaces=frozenset({"continuous"}),
    ),
    "a2c": AlgoInfo(
        a2c.Config,
        a2c.default_config,
        a2c.A2C,
        "Advantage Actor-Critic (synchronous), SB3 defaults",
        a2c.PRESETS,
    ),
    "trpo": AlgoInfo(
        trpo.Config,
        trpo.default_config,
        trpo.TRPO,
        "Trust Region Policy Optimization (conjugate gradient, KL line search), SB3-contrib "
        "defaults",
        trpo.PRESETS,
    ),
    "reinforce": AlgoInfo(
        reinforce.Config,
        reinforce.default_config,
        reinforce.Reinforce,
        "REINFORCE: Monte-Carlo policy gradient, with or without a learned baseline; Spinning "
        "Up VPG defaults",
        {},
    ),
    # Baselines (rlcheck/baselines): built like agents, run by their own program.
    "ars": AlgoInfo(
        ars.Config,
        ars.default_config,
        ars.ARS,
        "Augmented Random Search (Mania et al. 2018), V2, linear policy; sb3-contrib defaults",
        ars.PRESETS,
        kind="search",
    ),
    "cma_es": AlgoInfo(
        evolution.CMAESConfig,
        lambda spec, **o: evolution.default_config(evolution.CMAESConfig, spec, **o),
        evolution.CMAES,
        "CMA-ES (evosax) over a linear policy",
        {},
        kind="search",
    ),
    "openai_es": AlgoInfo(
        evolution.OpenAIESConfig,
        lambda spec, **o: evolution.default_config(evolution.OpenAIESConfig, spec, **o),
        evolution.OpenAIES,
        "OpenAI-ES (evosax) over a linear policy",
        {},
        kind="search",
    ),
    "snes": AlgoInfo(
        evolution.SNESConfig,
        lambda spec, **o: evolution.default_config(evolution.SNESConfig, spec, **o),
        evolution.SNES,
        "separable NES (evosax) over a linear policy",
        {},
        kind="search",
    ),
    "random_shooting": AlgoInfo(
        mpc.ShootingConfig,
        lambda spec, **o: mpc.default_config(mpc.ShootingConfig, spec, **o),
        mpc.RandomShooting,
        "MPC with the true model: best of random action sequences",
        {},
        kind="planner",
    ),
    "cem": AlgoInfo(
        mpc.CEMConfig,
        lambda spec, **o: mpc.default_config(mpc.CEMConfig, spec, **o),
        mpc.CEM,
        "MPC with the true model: cross-entropy method",
        {},
        kind="planner",
    ),
    "mppi": AlgoInfo(
        mpc.MPPIConfig,
        lambda spec, **o: mpc.default_config(mpc.MPPIConfig, spec, **o),
        mpc.MPPI,
        "MPC with the true model: model-predictive path integral control",
        {},
        kind="planner",
    ),
    "mcts": AlgoInfo(
        mcts.Config,
        mcts.default_config,
        mcts.MCTS,
        "Monte Carlo tree search with the true model (mctx), random-rollout leaf values",
        {},
        frozenset({"discrete"}),
        kind="planner",
    ),
    "lqr": AlgoInfo(
        lqr.Config,
        lqr.default_config,
        lqr.LQR,
        "LQR on the simulator's linearization (CartPole, Pendulum with energy swing-up)",
        {},
        kind="planner",
    ),
}


RANDOM = "random"
# Policy search and planners: what RL must beat (everything of kind "rl" is an RL algorithm).
BASELINES = frozenset(n for n, info in ALGORITHMS.items() if info.kind in ("search", "planner"))


def make_agent(name: str, spec: EnvSpec, overrides: dict[str, Any], budget: int) -> Agent:
    """Build algorithm ``name`` for ``spec`` with its defaults and the given Config overrides."""
    info = ALGORITHMS[name]
    return info.agent_cls(spec, info.default_config(spec, **overrides), budget)


def config_dict(config: Any) -> dict[str, Any]:
    """A Config as plain JSON-able values (tuples become lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def resolve_preset(
    presets: dict[str, dict[str, dict[str, Any]]], algo: str, source: str, env_id: str, where: str
) -> dict[str, Any]:
    """The config fields preset ``source`` gives ``algo`` on ``env_id``.

    Raises:
        UserError: unknown source, or no entry for this env (the message lists what exists).
    """
    if source not in presets:
        known = ", ".join(sorted(presets)) or "none"
        raise UserError(f"{where}.preset: {algo} has no preset source '{source}' (known: {known})")
    table = presets[source]
    env = bare_env_id(env_id)
    if env not in table:
        raise UserError(
            f"{where}.preset: no {source} preset for {algo} on {env} (it has: "
            f"{', '.join(sorted(table))})"
        )
    return dict(table[env])
