"""Adapter that gives every gymnax-style environment one functional, auto-resetting step."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rlcheck.envs.params import replace_params
from rlcheck.envs.spec import Box, Discrete, EnvSpec
from rlcheck.errors import UserError

# The info key under which an env reports its hidden performance of each step: what the
# designer wanted, as opposed to the reward the agent maximises (rlcheck's failure-mode envs,
# the AI-safety gridworlds' "hidden reward"). An episode's performance is the sum. rlcheck
# records it beside the returns wherever an env reports it.
PERFORMANCE = "performance"


class Step(NamedTuple):
    """One transition of a batch-free env.

    ``obs`` is the observation to act on next: after an episode ends it is already the first
    observation of the next episode, and the last observation of the finished one is kept in
    ``final_obs`` so a learner can bootstrap its value when the episode was only truncated.
    """

    obs: jax.Array
    state: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array


class JaxEnv:
    """A gymnax-style environment (``reset_env``/``step_env``/``default_params``) and its params.

    Physics live in params (gymnax's ``EnvParams``), so a variation of the environment is a
    different params value, not different code. ``reset``, ``step`` and ``step_no_reset`` take
    the params as an argument, as gymnax's own functions do: inside a compiled program they are
    traced values, so one program runs under any params value and ``vmap`` runs a batch of
    them. ``params`` holds the env's defaults, for callers that do not vary them
    (``rlcheck.envs.params.replace_params`` makes other values).
    """

    def __init__(self, env: Any, params: Any, spec: EnvSpec):
        self.env = env
        self.params = params
        self.spec = spec

    def with_params(self, **changes: float) -> JaxEnv:
        """The same env whose own params have ``changes`` (derived fields recomputed, see
        :func:`rlcheck.envs.params.replace_params`, which raises the one-line errors); a
        changed ``max_steps_in_episode`` moves the spec's time limit with it."""
        if not changes:
            return self
        params = replace_params(self.params, **changes)
        spec = self.spec
        limit = getattr(params, "max_steps_in_episode", None)
        if limit is not None and "max_steps_in_episode" in changes:
            spec = dataclasses.replace(spec, time_limit=int(limit))
        return JaxEnv(self.env, params, spec)

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, Any]:
        obs, state = self.env.reset_env(key, params)
        return jnp.asarray(obs, jnp.float32), state

    def step(self, key: jax.Array, state: Any, action: jax.Array, params: Any) -> Step:
        """Advance one step, resetting when the episode terminates or hits the time limit."""
        key_step, key_reset = jax.random.split(key)
        obs, next_state, reward, terminated, truncated = self.step_no_reset(
            key_step, state, action, params
        )
        done = terminated | truncated
        reset_obs, reset_state = self.reset(key_reset, params)
        next_state = jax.tree.map(lambda r, s: jnp.where(done, r, s), reset_state, next_state)
        return Step(
            obs=jnp.where(done, reset_obs, obs),
            state=next_state,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            final_obs=obs,
        )

    def step_no_reset(
        self, key: jax.Array, state: Any, action: jax.Array, params: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array]:
        """The env's own transition (gymnax ``step_env``): what evaluation and planners use."""
        return self._transition(key, state, action, params)[:5]

    def step_with_performance(
        self, key: jax.Array, state: Any, action: jax.Array, params: Any
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, jax.Array]:
        """:meth:`step_no_reset` plus the step's hidden performance (``info["performance"]``);
        only for an env that :attr:`reports_performance`."""
        *step, info = self._transition(key, state, action, params)
        return (*step, jnp.asarray(info[PERFORMANCE], jnp.float32).reshape(()))

    def _transition(self, key: jax.Array, state: Any, action: jax.Array, params: Any) -> tuple:
        if isinstance(self.spec.action_space, Box):
            action = jnp.clip(
                action,
                jnp.asarray(self.spec.action_space.low),
                jnp.asarray(self.spec.action_space.high),
            )
        obs, next_state, reward, terminated, info = self.env.step_env(key, state, action, params)
        terminated = jnp.asarray(terminated, jnp.bool_)
        # Reaching the time limit in the same step as a real termination is a termination:
        # there is nothing to bootstrap from.
        truncated = self._time_limit_reached(next_state, params) & ~terminated
        return (
            jnp.asarray(obs, jnp.float32),
            next_state,
            jnp.asarray(reward, jnp.float32),
            terminated,
            truncated,
            info,
        )

    @functools.cached_property
    def reports_performance(self) -> bool:
        """Whether the env's step reports its hidden performance in ``info["performance"]``,
        read off the shapes of one traced reset and step (nothing is computed).

        Raises:
            UserError: the env reports a performance that is not one number per step.
        """

        def one_step(key: jax.Array) -> Any:
            _, state = self.env.reset_env(key, self.params)
            space = self.spec.action_space
            action = (
                jnp.zeros((), jnp.int32) if isinstance(space, Discrete) else jnp.zeros(space.shape)
            )
            return self.env.step_env(key, state, action, self.params)[4]

        info = jax.eval_shape(one_step, jax.random.PRNGKey(0))
        if not isinstance(info, Mapping) or PERFORMANCE not in info:
            return False
        shape = getattr(info[PERFORMANCE], "shape", None)
        if shape not in ((), (1,)):
            raise UserError(
                f"env {self.spec.id}: info['{PERFORMANCE}'] must be one number per step, "
                f"got shape {shape}"
            )
        return True

    def _time_limit_reached(self, state: Any, params: Any) -> jax.Array:
        if hasattr(self.env, "is_truncated"):
            return jnp.asarray(self.env.is_truncated(state, params), jnp.bool_)
        if self.spec.time_limit is None:
            return jnp.asarray(False)
        return jnp.asarray(state.time >= self.spec.time_limit)


def spec_from_gymnax(
    env_id: str, env: Any, params: Any, solve_threshold: float | None = None
) -> EnvSpec:
    """Read a gymnax-style env's spaces into an :class:`EnvSpec`."""
    space = env.action_space(params)
    if hasattr(space, "n"):
        action_space: Discrete | Box = Discrete(int(space.n))
    else:
        shape = tuple(space.shape) or (1,)
        low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), shape)
        high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), shape)
        action_space = Box(tuple(float(x) for x in low), tuple(float(x) for x in high))
    obs_shape = tuple(int(d) for d in env.observation_space(params).shape)
    limit = getattr(params, "max_steps_in_episode", None)
    return EnvSpec(
        id=env_id,
        kind="jax",
        obs_shape=obs_shape,
        action_space=action_space,
        time_limit=int(limit) if limit is not None else None,
        solve_threshold=solve_threshold,
    )
