"""Physical parameters of Gymnasium (host) envs, set by name on a made env: a MuJoCo env's model
(gravity, body masses, friction) or a classic-control env's attributes (CartPole's ``length``).

Gymnasium envs keep their physics in Python objects, not in a params dataclass as gymnax does,
so a change is made on each env copy after it is built (:func:`with_host_param` wraps the env's
factory). MuJoCo parameters are whole-model scales, so one number means the same on every
model: ``mass_scale`` multiplies every body's mass, ``friction_scale`` every geom's sliding
friction; ``gravity`` is the magnitude of the downward acceleration in m/s² (9.81 on Earth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from rlcheck.envs.host_env import HostEnv
from rlcheck.errors import UserError

MUJOCO_PARAMS = {
    "gravity": "downward gravity, m/s² (the model's own: 9.81)",
    "mass_scale": "every body's mass × this (1: the model's own)",
    "friction_scale": "every geom's sliding friction × this (1: the model's own)",
}
# Classic-control fields derived from others, recomputed when those change (gymnasium's
# CartPoleEnv computes them once in __init__).
_DERIVED = {
    "total_mass": lambda env: env.masspole + env.masscart,
    "polemass_length": lambda env: env.masspole * env.length,
}


def _is_mujoco(env: Any) -> bool:
    return hasattr(env, "model") and hasattr(env.model, "body_mass")


def host_param_names(env: gym.Env) -> list[str]:
    """The parameters that can vary on this env: :data:`MUJOCO_PARAMS` for a MuJoCo env, else
    the float attributes of the unwrapped env (derived ones left out)."""
    inner = env.unwrapped
    if _is_mujoco(inner):
        return list(MUJOCO_PARAMS)
    return sorted(
        name
        for name, value in vars(inner).items()
        if isinstance(value, float) and not name.startswith("_") and name not in _DERIVED
    )


def host_param_value(env: gym.Env, name: str) -> float:
    """The env's own value of parameter ``name`` (its training value)."""
    inner = env.unwrapped
    if _is_mujoco(inner):
        return float(-inner.model.opt.gravity[2]) if name == "gravity" else 1.0
    return float(getattr(inner, name))


def set_host_param(env: gym.Env, name: str, value: float) -> None:
    """Change parameter ``name`` of a made env in place (see the module docstring)."""
    inner = env.unwrapped
    if _is_mujoco(inner):
        model = inner.model
        if name == "gravity":
            model.opt.gravity[2] = -value
        elif name == "mass_scale":
            model.body_mass[:] = np.asarray(model.body_mass) * value
        else:
            model.geom_friction[:, 0] = np.asarray(model.geom_friction[:, 0]) * value
        return
    setattr(inner, name, float(value))
    for derived, compute in _DERIVED.items():
        if hasattr(inner, derived):
            setattr(inner, derived, compute(inner))


def check_host_param(env: HostEnv, name: str) -> None:
    """That ``env`` has a parameter ``name``.

    Raises:
        UserError: it has none of that name (the message lists those it has).
    """
    probe = env.make_one()
    try:
        names = host_param_names(probe)
    finally:
        probe.close()
    if name not in names:
        raise UserError(
            f"unknown parameter '{name}' of the Gymnasium env {env.spec.id} (it has: "
            f"{', '.join(names) or 'none'})"
        )


def with_host_param(env: HostEnv, name: str, value: float) -> HostEnv:
    """``env`` whose every copy is built with parameter ``name`` set to ``value``."""
    make_one: Callable[[], gym.Env] = env.make_one

    def make() -> gym.Env:
        made = make_one()
        set_host_param(made, name, value)
        return made

    return HostEnv(make, env.spec)
