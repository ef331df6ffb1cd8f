"""Generalization: which values of an env parameter a unit trained on (its training range) and
which it did not (its test range), for the robustness grid it is evaluated on.

A unit's **training condition** for a parameter is one of: the env's own value (``default``), the
value its env entry set in ``params`` (``fixed``), or the range its env entry randomized the
parameter over (``randomized``, drawn per episode). On a robustness grid over that parameter, the
unit's **training range** is the grid values equal to its training value (within float rounding)
or inside its randomized range, bounds included; its **test range** is every other grid value.
So a value inside a unit's randomized range always counts as training range, never as test.

A robustness request is a **generalization study** on an env when some unit on that env trained
at a chosen value of the varied parameter, or randomized it; then every unit on that env, default
ones included, gets a training and a test range (rlcheck/report/generalization.py reports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rlcheck import envs
from rlcheck.errors import UserError
from rlcheck.experiment.robustness import PERTURBATIONS, Request
from rlcheck.registry import ALGORITHMS


@dataclass(frozen=True)
class TrainingCondition:
    """The values of one env parameter a unit trained on: one value, or a randomized range.

    Attributes:
        how: "default" (the env's own value), "fixed" (set in the env entry's ``params``) or
            "randomized" (drawn uniformly per episode from [low, high]).
        low, high: the training range; equal unless randomized.
    """

    how: Literal["default", "fixed", "randomized"]
    low: float
    high: float

    def contains(self, values: Any) -> np.ndarray:
        """Which of ``values`` are in the training range (float rounding forgiven at the
        bounds, as a grid's ``0.05:2.0:40`` gives 0.5 only to rounding)."""
        x = np.asarray(values, dtype=float)
        inside = (x >= self.low) & (x <= self.high)
        return inside | np.isclose(x, self.low) | np.isclose(x, self.high)

    def describe(self, name: str) -> str:
        """``length = 0.5 (default)``, ``length = 0.05`` or ``length ~ U[0.05, 2]``."""
        if self.how == "randomized":
            return f"{name} ~ U[{self.low:g}, {self.high:g}]"
        return f"{name} = {self.low:g}" + (" (default)" if self.how == "default" else "")

    def as_dict(self, name: str) -> dict[str, Any]:
        return {"how": self.how, "low": self.low, "high": self.high, "text": self.describe(name)}


def training_condition(
    name: str, params: dict[str, Any], randomize: dict[str, Any], default: float
) -> TrainingCondition:
    """A unit's training condition for parameter ``name``.

    Args:
        name: the env parameter.
        params: the unit's changed env params (an env entry's ``params``; a stored unit's meta
            ``env_params``).
        randomize: its randomized ranges (``randomize``; meta ``env_randomize``).
        default: the env's own value of the parameter.
    """
    if name in randomize:
        low, high = randomize[name]
        return TrainingCondition("randomized", float(low), float(high))
    if name in params:
        return TrainingCondition("fixed", float(params[name]), float(params[name]))
    return TrainingCondition("default", float(default), float(default))


def is_study(name: str, conditions: list[TrainingCondition]) -> bool:
    """Whether units trained under ``conditions`` make a generalization study over ``name``:
    it is an env parameter, and some unit chose its value or randomized it."""
    return name not in PERTURBATIONS and any(c.how != "default" for c in conditions)


def check_training_values(request: Request, units: list[Any], where: str) -> None:
    """Before training: in a generalization study, that the grid holds every unit's training
    value and some value of every randomized range, so that each unit's return in its training
    range can be measured.

    Args:
        request: the spec's robustness request.
        units: the planned units (``rlcheck.experiment.plan.plan_units``).
        where: names the spec's table in messages.

    Raises:
        UserError: one line naming the env entry and the value the grid misses.
    """
    if request.vary in PERTURBATIONS:
        return
    by_env: dict[tuple[str, str], list[tuple[Any, TrainingCondition]]] = {}
    for unit in units:
        if ALGORITHMS[unit.algo.name].kind == "planner":
            continue
        # Gymnasium envs take no params or randomize, so they train at their own value only.
        params = getattr(envs.make(unit.env.id, **unit.env.kwargs), "params", None)
        if not hasattr(params, request.vary):
            continue  # robustness.check_units says which envs lack the parameter
        default = float(getattr(params, request.vary))
        condition = training_condition(request.vary, unit.env.params, unit.env.randomize, default)
        key = (unit.env.id, repr(sorted(unit.env.kwargs.items())))
        by_env.setdefault(key, []).append((unit, condition))
    for entries in by_env.values():
        if not is_study(request.vary, [c for _, c in entries]):
            continue
        for unit, condition in entries:
            if condition.contains(request.values).any():
                continue
            if condition.how == "randomized":
                missing = f"no value in [{condition.low:g}, {condition.high:g}], the range"
                field = f"randomize.{request.vary}"
            else:
                missing = f"not {condition.low:g}, the value"
                field = f"params.{request.vary}" if condition.how == "fixed" else "its default"
            raise UserError(
                f"{where}: vary {request.vary}: the values hold {missing} env "
                f"'{unit.env.name}' trains at ({field}); its generalization gap needs its "
                "training value on the grid (a list, or a grid through it such as 0.05:2.0:40)"
            )
