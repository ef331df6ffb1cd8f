"""Playing a policy for whole episodes on a JAX-native env, as it was trained or perturbed: the
evaluation loop the fused driver runs at its checkpoints and at the end, and the one robustness
studies run on stored policies (``rlcheck/experiment/robustness.py``), so both compute the same
numbers.

A perturbation changes what the policy sees or what the env receives, never the env's own
randomness or the policy's: the noise is drawn from keys folded off the policy's key, so the
same key gives the same episodes with and without it, and a perturbation of size 0 gives
exactly the unperturbed returns (tests/drivers/test_evaluation.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.spec import Box

PolicyApply = Callable[[Any, jax.Array, jax.Array, bool], jax.Array]


class Perturbation(NamedTuple):
    """How evaluation differs from training besides the env's params, as values a program can
    ``vmap`` over; a field left None is not in the program at all.

    Attributes:
        obs_noise: std of Gaussian noise added to every observation the policy sees, in the
            observation's own units (before any normalization by the agent).
        action_noise: discrete actions: the probability that a uniformly random action replaces
            the one the env receives (ε-random); continuous actions: the std of Gaussian noise
            added to it, in units of half the action range ((high − low)/2 per dimension),
            before the env clips it to its box.
        action_delay: the env receives the action chosen this many steps earlier (until then,
            the first action of the episode); an integer from 0 to the program's ``max_delay``.
    """

    obs_noise: jax.Array | None = None
    action_noise: jax.Array | None = None
    action_delay: jax.Array | None = None


class Evaluation(NamedTuple):
    """What an evaluation saw, one entry per episode: its return and, for an env that reports
    it (``rlcheck.envs.jax_env.PERFORMANCE``), its hidden performance (else None)."""

    returns: jax.Array
    performance: jax.Array | None


# Keys of the noise, folded off each step's policy key (so they never shift the other keys).
_OBS_NOISE, _ACTION_NOISE, _RANDOM_ACTION = 1, 2, 3


def play_policy(
    env: JaxEnv,
    policy_apply: PolicyApply,
    params: Any,
    key: jax.Array,
    episodes: int,
    env_params: Any,
    *,
    deterministic: bool,
    step_cap: int,
    perturbation: Perturbation | None = None,
    max_delay: int = 0,
) -> Evaluation:
    """Returns of ``episodes`` episodes of a policy, played side by side from fresh resets,
    and their hidden performance where the env reports one.

    Args:
        env: a JAX-native env; its non-resetting transition is used.
        policy_apply: ``policy_apply(params, obs, key, deterministic) -> action`` on a batch of
            observations (an agent's, see :mod:`rlcheck.core`).
        params: the policy's parameters (an agent's ``policy_params(state)``).
        key: PRNG key of the resets, the env's transitions and the policy's sampling.
        episodes: how many episodes.
        env_params: the env's params (its physics) in these episodes.
        deterministic: act with the policy's greedy / mean action.
        step_cap: episodes still running after this many steps are cut there.
        perturbation: noise and delay (see :class:`Perturbation`); None: none.
        max_delay: the longest ``perturbation.action_delay`` the program allows (it sizes the
            buffer of pending actions); 0 leaves the delay out.

    Returns:
        :class:`Evaluation`: (episodes,) undiscounted returns, and (episodes,) sums of the
        hidden performance or None (an env that reports none runs the very loop it ran before
        performance existed: no leaf for it in the loop).
    """
    perturbation = perturbation or Perturbation()
    spec = env.spec
    key_reset, key_loop = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(key_reset, episodes), env_params
    )

    step = env.step_with_performance if env.reports_performance else env.step_no_reset

    def play(loop: tuple) -> tuple:
        t, obs, env_state, returns, performance, done, key, pending = loop
        key, key_act, key_env = jax.random.split(key, 3)
        if perturbation.obs_noise is not None:
            noise = jax.random.normal(jax.random.fold_in(key_act, _OBS_NOISE), obs.shape)
            obs = obs + perturbation.obs_noise * noise
        action = policy_apply(params, obs, key_act, deterministic)
        if max_delay:
            pending, action = _delayed(pending, action, t, perturbation.action_delay)
        if perturbation.action_noise is not None:
            action = _noisy_action(spec, action, key_act, perturbation.action_noise)
        obs, env_state, reward, terminated, truncated, *hidden = jax.vmap(
            step, in_axes=(0, 0, 0, None)
        )(jax.random.split(key_env, episodes), env_state, action, env_params)
        returns = returns + jnp.where(done, 0.0, reward)
        if hidden:
            performance = performance + jnp.where(done, 0.0, hidden[0])
        done = done | terminated | truncated
        return t + 1, obs, env_state, returns, performance, done, key, pending

    def running(loop: tuple) -> jax.Array:
        t, *_, done, _, _ = loop
        return (t < step_cap) & ~jnp.all(done)

    pending = None
    if max_delay:
        action_shape = spec.action_space.shape if isinstance(spec.action_space, Box) else ()
        dtype = jnp.float32 if isinstance(spec.action_space, Box) else jnp.int32
        pending = jnp.zeros((max_delay + 1, episodes, *action_shape), dtype)
    performance = jnp.zeros(episodes) if env.reports_performance else None
    init = (
        0,
        obs,
        env_state,
        jnp.zeros(episodes),
        performance,
        jnp.zeros(episodes, bool),
        key_loop,
        pending,
    )
    out = jax.lax.while_loop(running, play, init)
    return Evaluation(out[3], out[4])


def _delayed(
    pending: jax.Array, action: jax.Array, t: jax.Array, delay: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Remember step ``t``'s action in a ring of ``max_delay + 1`` slots and return the one
    chosen ``delay`` steps ago (the first one while ``t < delay``). With delay 0 that is
    ``action`` itself."""
    slots = pending.shape[0]
    pending = pending.at[t % slots].set(action.astype(pending.dtype))
    source = jnp.maximum(t - delay, 0) % slots
    return pending, pending[source].astype(action.dtype)


def _noisy_action(spec: Any, action: jax.Array, key: jax.Array, size: jax.Array) -> jax.Array:
    space = spec.action_space
    if isinstance(space, Box):
        half_range = (jnp.asarray(space.high) - jnp.asarray(space.low)) / 2
        noise = jax.random.normal(jax.random.fold_in(key, _ACTION_NOISE), action.shape)
        return action + size * half_range * noise
    explore = jax.random.uniform(jax.random.fold_in(key, _ACTION_NOISE), action.shape) < size
    random = jax.random.randint(
        jax.random.fold_in(key, _RANDOM_ACTION), action.shape, 0, space.n, action.dtype
    )
    return jnp.where(explore, random, action)


def play_grid(
    env: JaxEnv,
    policy_apply: PolicyApply,
    params: Any,
    keys: jax.Array,
    episodes: int,
    env_params: Any,
    perturbation: Perturbation,
    *,
    deterministic: bool,
    step_cap: int,
    max_delay: int = 0,
) -> jax.Array:
    """Every policy of a batch under every condition of a grid, in one program: jit it.

    Args:
        env, policy_apply, episodes, deterministic, step_cap, max_delay: as for
            :func:`play_policy`.
        params: the policies' parameters, a leading policy axis on every leaf.
        keys: one PRNG key per policy, the same for every condition (common random numbers:
            the conditions differ only by what they change).
        env_params: the env's params per condition (a leading condition axis on every leaf), or
            None for the env's own params (compiled in as constants, as a training run does).
        perturbation: per condition (each field present has a leading condition axis).

    Returns:
        (policies, conditions, episodes) returns.
    """

    def one(policy: Any, key: jax.Array, condition_params: Any, condition: Perturbation) -> Any:
        return play_policy(
            env,
            policy_apply,
            policy,
            key,
            episodes,
            env.params if env_params is None else condition_params,
            deterministic=deterministic,
            step_cap=step_cap,
            perturbation=condition,
            max_delay=max_delay,
        ).returns

    over_conditions = jax.vmap(one, in_axes=(None, None, 0, 0))
    return jax.vmap(over_conditions, in_axes=(0, 0, None, None))(
        params, keys, env_params, perturbation
    )
