"""Domain randomization: a JAX-native env whose physics are drawn anew for every episode.

Each reset draws every randomized field of the env's params uniformly from its range (derived
fields recomputed, :func:`rlcheck.envs.params.replace_params`), and the episode runs under those
params: they travel in the env state, so under ``vmap`` every env of every seed has its own.
The drivers need no change: :meth:`JaxEnv.step` resets through :meth:`reset`, so an episode
that ends starts the next one under fresh params. Evaluation during training resets the same
way, i.e. it measures the policy on the training distribution; robustness evaluation of the
stored policies measures it at chosen values.

Uniform sampling per episode is Tobin et al.'s (2017) and CARL's (Benjamins et al. 2023) default;
Peng et al. (2018) randomize dynamics the same way at each episode start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.params import replace_params
from rlcheck.errors import UserError


class RandomizedState(NamedTuple):
    """The wrapped env's state and the params its current episode runs under."""

    inner: Any
    params: Any


class RandomizedEnv(JaxEnv):
    """``env`` with the fields in ``ranges`` drawn uniformly from [low, high] at each reset.

    The ``params`` argument of :meth:`reset` is the base the drawn values replace fields of
    (the env's own params, or a sweep's); :meth:`step_no_reset` (every step)
    runs under the params drawn at the episode's reset, whatever params it is given.
    """

    def __init__(self, env: JaxEnv, ranges: Mapping[str, tuple[float, float]]):
        super().__init__(env.env, env.params, env.spec)
        self.base = env
        self.ranges = {name: (float(lo), float(hi)) for name, (lo, hi) in ranges.items()}
        # Unknown or derived fields fail here, once, with replace_params' one-line error.
        replace_params(env.params, **{name: lo for name, (lo, _) in self.ranges.items()})

    def sample_params(self, key: jax.Array, params: Any) -> Any:
        """``params`` with each randomized field drawn uniformly from its range."""
        keys = jax.random.split(key, len(self.ranges))
        drawn = {}
        for k, (name, (lo, hi)) in zip(keys, self.ranges.items(), strict=True):
            dtype = jnp.asarray(getattr(params, name)).dtype
            drawn[name] = jax.random.uniform(k, (), jnp.float32, lo, hi).astype(dtype)
        return replace_params(params, **drawn)

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, RandomizedState]:
        key_params, key_reset = jax.random.split(key)
        episode_params = self.sample_params(key_params, params)
        obs, state = super().reset(key_reset, episode_params)
        return obs, RandomizedState(state, episode_params)

    def _transition(
        self, key: jax.Array, state: RandomizedState, action: jax.Array, params: Any
    ) -> tuple:
        # Every step (step_no_reset, step_with_performance, the auto-resetting step) goes
        # through here, so each runs under the params drawn at the episode's reset.
        obs, inner, *rest = super()._transition(key, state.inner, action, state.params)
        return (obs, RandomizedState(inner, state.params), *rest)


def randomized(env: JaxEnv, ranges: Mapping[str, Any], where: str) -> RandomizedEnv:
    """``env`` under domain randomization over ``ranges`` ({field: [low, high]}), checked.

    Raises:
        UserError: one line naming ``where`` and the field: not a JAX-native env, a range that
            is not two numbers with low ≤ high, an unknown or derived env parameter.
    """
    if not isinstance(env, JaxEnv):
        raise UserError(
            f"{where}: domain randomization needs a JAX-native env (gymnax or gymnax-style); "
            f"{env.spec.id} is a Gymnasium env"
        )
    if not dataclasses.is_dataclass(env.params):
        raise UserError(f"{where}: {env.spec.id}'s params have no named fields to randomize")
    checked = {}
    for name, bounds in ranges.items():
        if (
            not isinstance(bounds, list | tuple)
            or len(bounds) != 2
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        ):
            raise UserError(f"{where}.{name}: give a range as two numbers, [low, high]")
        low, high = float(bounds[0]), float(bounds[1])
        if not low <= high:
            raise UserError(f"{where}.{name}: low ({low:g}) is above high ({high:g})")
        checked[name] = (low, high)
    try:
        return RandomizedEnv(env, checked)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None
