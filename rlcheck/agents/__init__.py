"""RL algorithms (one module each) and the registry that builds them by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

from rlcheck.agents import ppo, random_agent
from rlcheck.agents.base import Agent, Trajectory
from rlcheck.envs.spec import EnvSpec


class AlgoInfo(NamedTuple):
    """How to build one algorithm: its Config class, its defaults for an env, its agent, its
    published presets ({source: {env: config fields}}, see rlcheck.agents.presets), and the
    action spaces it handles ("discrete", "continuous")."""

    config_cls: type
    default_config: Callable[..., Any]
    agent_cls: Callable[[EnvSpec, Any, int], Agent]
    summary: str
    presets: dict[str, dict[str, dict[str, Any]]]
    action_spaces: frozenset[str] = frozenset({"discrete", "continuous"})


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
    ),
}


def make_agent(name: str, spec: EnvSpec, overrides: dict[str, Any], budget: int) -> Agent:
    """Build algorithm ``name`` for ``spec`` with its defaults and the given Config overrides."""
    info = ALGORITHMS[name]
    return info.agent_cls(spec, info.default_config(spec, **overrides), budget)


def config_dict(config: Any) -> dict[str, Any]:
    """A Config as plain JSON-able values (tuples become lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


__all__ = [
    "ALGORITHMS",
    "Agent",
    "AlgoInfo",
    "Trajectory",
    "action_space_kind",
    "config_dict",
    "make_agent",
]
