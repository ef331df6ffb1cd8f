"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016) for continuous actions.

DDPG is TD3 (:mod:`rlcheck.agents.td3`) without TD3's three additions: one critic instead of
the clipped double-Q pair, and no target policy smoothing. Stable-Baselines3 implements it the
same way (``class DDPG(TD3)``), so the code is TD3's; this module gives DDPG its own defaults
(CleanRL's ``ddpg_continuous_action.py``, which, unlike the paper and SB3, also delays the actor:
``policy_frequency=2``) and presets. Setting ``n_critics``, ``policy_delay`` or
``target_policy_noise`` back to TD3's values turns each addition on again, one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlcheck.agents import td3
from rlcheck.core import static, traced
from rlcheck.envs.spec import EnvSpec


@dataclass(frozen=True)
class Config(td3.Config):
    """DDPG hyperparameters: TD3's fields. Defaults: CleanRL ``ddpg_continuous_action.py``."""

    n_critics: int = static(1, "critics; DDPG has one (TD3's clipped double Q: 2)", unit="count")
    policy_delay: int = static(
        2,
        "critic steps per actor step and target update (CleanRL policy_frequency=2; the "
        "paper and SB3: 1)",
        unit="gradient steps",
    )
    target_policy_noise: float = traced(
        0.0,
        "std of the smoothing noise on the target action (DDPG: none; TD3: 0.2)",
        unit="half action ranges",
    )


# CleanRL ddpg_continuous_action.py defaults, which its benchmarks use on the envs of TD3's
# cleanrl rows (docs.cleanrl.dev/rl-algorithms/ddpg): the same as default_config.
# rl-zoo rows translate RL Baselines3 Zoo's hyperparams/ddpg.yml (rl_zoo3 2.9.2) on top of SB3
# 2.x's DDPG defaults: TD3's (one learning_rate, learning_starts=100, [400, 300] networks,
# actions rescaled to [-1, 1]) with policy_delay=1, one critic and no target smoothing (the last
# two are this Config's defaults). On these envs ddpg.yml sets what td3.yml sets, so each row is
# TD3's with policy_delay=1.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "cleanrl": td3.PRESETS["cleanrl"],
    "rl-zoo": {env: {**row, "policy_delay": 1} for env, row in td3.PRESETS["rl-zoo"].items()},
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """CleanRL's defaults with ``overrides`` applied."""
    del spec
    return Config(**overrides)


class DDPG(td3.TD3):
    """DDPG's pure functions: TD3's, run with DDPG's Config."""

    name = "ddpg"
