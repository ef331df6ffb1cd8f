"""The neutral core every learner and driver shares: the Agent protocol, the Trajectory a driver
hands an update, and the static/traced Config fields.

An agent is a set of pure functions of one seed's state (the drivers ``vmap`` them over seeds):

- ``init(key, hparams) -> state``
- ``act(state, obs, key) -> (state, action, aux)``: the behaviour policy on ``num_envs``
  observations; ``aux`` is whatever the update needs later (log-probabilities, values…);
  ``state`` comes back because acting may update running statistics.
- ``policy_params(state) -> params``: what the evaluated policy needs of the state, and only
  that (network parameters, observation statistics, the hyperparameters it reads such as DQN's
  evaluation ε): a pytree of arrays, which is what the results store keeps of each seed.
- ``policy_apply(params, obs, key, deterministic) -> action``: the policy being evaluated, on
  ``policy_params(state)``; drivers evaluate ``policy_apply(policy_params(state), …)``, and a
  stored policy runs through the same function.
- ``update(state, trajectory, key) -> (state, metrics)``: learn from the last
  ``rollout_len`` steps; ``metrics`` holds the internals logged per update.

Hyperparameters that do not change array shapes travel as ``hparams`` (a dict of scalar arrays,
kept in the state), so a sweep can ``vmap`` over them together with the seeds; everything that
changes shapes or program structure is a static field of the agent's frozen ``Config``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from rlcheck.envs.spec import EnvSpec
from rlcheck.glossary import UNITS


class Trajectory(NamedTuple):
    """``rollout_len`` steps of ``num_envs`` envs, time on the leading axis."""

    aux: Any
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    last_obs: jax.Array  # (num_envs, *obs_shape): the observation after the last step


class Agent(Protocol):
    name: str
    spec: EnvSpec
    config: Any
    num_envs: int
    rollout_len: int
    metric_names: tuple[str, ...]

    def hparams(self) -> dict[str, jax.Array]: ...

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> Any: ...

    def act(self, state: Any, obs: jax.Array, key: jax.Array) -> tuple[Any, jax.Array, Any]: ...

    def policy_params(self, state: Any) -> Any: ...

    def policy_apply(
        self, params: Any, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array: ...

    def update(
        self, state: Any, traj: Trajectory, key: jax.Array
    ) -> tuple[Any, dict[str, jax.Array]]: ...

    def params_finite(self, state: Any) -> jax.Array: ...


def traced(default: Any, help: str, *, unit: str) -> Any:
    """A Config field that enters compiled programs as an array value (sweepable with vmap).

    ``unit`` is what its number counts or is measured in, a key of
    :data:`rlcheck.glossary.UNITS`; a name several algorithms share has the glossary's unit.
    """
    return _field(default, help, unit, traced=True)


def static(default: Any, help: str, *, unit: str) -> Any:
    """A Config field fixed at compile time (it changes shapes or program structure); ``unit``
    as for :func:`traced`."""
    return _field(default, help, unit, traced=False)


def _field(default: Any, help: str, unit: str, traced: bool) -> Any:
    if unit not in UNITS:
        raise ValueError(f"unit '{unit}' is not one of rlcheck.glossary.UNITS: {', '.join(UNITS)}")
    return dataclasses.field(
        default=default, metadata={"help": help, "traced": traced, "unit": unit}
    )


def traced_values(config: Any) -> dict[str, jax.Array]:
    """The traced fields of a Config as float32 scalars (``None`` fields are left out)."""
    return {
        f.name: jnp.asarray(getattr(config, f.name), jnp.float32)
        for f in dataclasses.fields(config)
        if f.metadata.get("traced") and getattr(config, f.name) is not None
    }


def all_finite(tree: Any) -> jax.Array:
    """True when every leaf of a pytree is finite (a diverged seed has NaN/inf parameters)."""
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)
