"""Other physics for a gymnax-style env: params with fields replaced, derived fields recomputed."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from rlcheck.errors import UserError

# Fields gymnax stores alongside the ones they are computed from: changing a source without
# recomputing them silently simulates other physics. Keyed by the params class's full name, so
# looking them up does not import gymnax. Checked against gymnax 1.0.1's sources: of its
# classic-control envs only CartPole has such fields (Acrobot's centre-of-mass positions and
# moment of inertia are constants of their own there, as in Gymnasium, not functions of the
# links' lengths and masses).
DERIVED: dict[str, dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "gymnax.environments.classic_control.cartpole.EnvParams": {
        "total_mass": ("masscart + masspole", lambda p: p.masscart + p.masspole),
        "polemass_length": ("masspole * length", lambda p: p.masspole * p.length),
    },
}


def _class_name(params: Any) -> str:
    cls = type(params)
    return f"{cls.__module__}.{cls.__qualname__}"


def derived_fields(params: Any) -> dict[str, str]:
    """The fields of ``params`` computed from others, each with its formula."""
    return {name: formula for name, (formula, _) in DERIVED.get(_class_name(params), {}).items()}


def replace_params(params: Any, **changes: Any) -> Any:
    """``params`` with the fields in ``changes`` replaced and the derived fields recomputed.

    Values may be Python numbers or arrays (e.g. a traced value inside a program). They are not
    range-checked: a pole of length 0 is the user's experiment.

    Raises:
        UserError: a field ``params`` does not have, or a derived field (change its sources).
    """
    if not dataclasses.is_dataclass(params):
        raise UserError(
            f"env params of type {type(params).__name__} have no named fields to replace"
        )
    names = [f.name for f in dataclasses.fields(params)]
    derived = DERIVED.get(_class_name(params), {})
    label = f"{type(params).__module__.rsplit('.', 1)[-1]} {type(params).__name__}"
    for name in changes:
        if name in derived:
            raise UserError(
                f"env parameter '{name}' of {label} is derived ({name} = {derived[name][0]}); "
                "change those fields instead"
            )
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UserError(
                f"unknown env parameter '{name}' of {label}; {hint}fields: {', '.join(names)}"
            )
    new = dataclasses.replace(params, **changes)
    return dataclasses.replace(new, **{name: fn(new) for name, (_, fn) in derived.items()})


def stack_params(values: Sequence[Any]) -> Any:
    """One params pytree whose leaves have a leading axis over ``values`` (for ``vmap``)."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *values)
