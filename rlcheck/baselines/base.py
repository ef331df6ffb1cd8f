"""What every baseline shares: the contract the executor calls, and compiled episode rollouts.

Baselines are not agents: black-box policy search has no per-step ``act``/``update`` and
planners learn nothing. Each one is built through the same registry as the RL algorithms
(``rlcheck.registry.ALGORITHMS``) and runs its own program through :meth:`Baseline.run`, which
returns the drivers' result layout (``rlcheck.drivers.common.RESULT_KEYS``) plus what it cost:

- ``env_steps`` (S,): real env steps each seed used (0 for planners; evaluation episodes are
  never counted, as for RL algorithms);
- ``simulator_calls`` (S,), planners only: env transitions computed on the model;
- ``checkpoint_env_steps`` (S, C): the env steps each seed had used at each checkpoint.

Planners learn nothing, so they have no checkpoints (C = 0): they are evaluated once, on
``final_episodes`` episodes, and their budget is the one they were allowed, not one they used.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.drivers.common import DEFAULT_EVAL_STEP_CAP, EvalPlan, Schedule
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.spec import Box, EnvSpec


class Baseline:
    """Base of every baseline; subclasses set the attributes and implement :meth:`run`.

    ``num_envs × rollout_len`` is the smallest budget the method can use (the executor checks
    budgets with it, as for agents): one generation's worth of one-step episodes for policy
    search, 1 for planners.
    """

    name: str
    spec: EnvSpec
    config: Any
    num_envs: int = 1
    rollout_len: int = 1
    metric_names: tuple[str, ...] = ()
    learns: bool = True

    def run(
        self, env: Any, schedule: Schedule, plan: EvalPlan, seeds: list[int]
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Run every seed; returns (results with a leading seed axis, timings)."""
        raise NotImplementedError


def step_cap(spec: EnvSpec) -> int:
    """Episodes of an env without a time limit are cut here (as in evaluation)."""
    return spec.time_limit or DEFAULT_EVAL_STEP_CAP


def action_bounds(spec: EnvSpec) -> tuple[jax.Array, jax.Array]:
    """Low and high of a continuous action space as arrays."""
    assert isinstance(spec.action_space, Box)
    return jnp.asarray(spec.action_space.low), jnp.asarray(spec.action_space.high)


class Episodes(NamedTuple):
    """What :func:`play_episodes` saw, one entry per episode unless noted."""

    returns: jax.Array
    steps: jax.Array  # env steps taken before the episode ended
    finite: jax.Array  # (): every observation and reward was finite
    obs_sum: jax.Array  # (*obs_shape): sum of the observations acted on, all episodes
    obs_sumsq: jax.Array  # (*obs_shape): sum of their squares
    # Hidden performance of each episode (rlcheck.envs.jax_env.PERFORMANCE), when asked for
    # and the env reports it; else None.
    performance: jax.Array | None = None


def play_episodes(
    env: JaxEnv,
    env_params: Any,
    act: Any,
    key: jax.Array,
    episodes: int,
    carry: Any = None,
    performance: bool = False,
) -> Episodes:
    """Play ``episodes`` episodes from fresh resets until every one has ended (or the step cap).

    Args:
        env: a JAX-native env; its non-resetting transition is used.
        env_params: the env's params (its physics) in these episodes.
        act: ``act(obs, env_state, carry, key) -> (action, carry)``, batched over episodes;
            ``carry`` is whatever the actor keeps between steps (a planner's warm start).
        key: PRNG key.
        episodes: how many episodes, played side by side.
        carry: the actor's initial carry (batched over episodes), or None.
        performance: also sum each episode's hidden performance, where the env reports it
            (evaluations do; search rollouts have no use for it).

    Returns:
        The returns, lengths, finiteness and observation moments of the episodes (and their
        performance, or None).
    """
    key_reset, key_loop = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(key_reset, episodes), env_params
    )
    cap = step_cap(env.spec)
    zeros_obs = jnp.zeros(env.spec.obs_shape)

    hidden = performance and env.reports_performance
    step = env.step_with_performance if hidden else env.step_no_reset

    def play(loop: tuple) -> tuple:
        t, obs, env_state, carry, returns, steps, done, finite, moments, key, perf = loop
        key, key_act, key_env = jax.random.split(key, 3)
        live = ~done
        shape = (episodes,) + (1,) * (obs.ndim - 1)
        acted = jnp.where(live.reshape(shape), obs, 0.0)
        moments = (moments[0] + acted.sum(0), moments[1] + (acted**2).sum(0))
        action, carry = act(obs, env_state, carry, key_act)
        obs, env_state, reward, terminated, truncated, *step_perf = jax.vmap(
            step, in_axes=(0, 0, 0, None)
        )(jax.random.split(key_env, episodes), env_state, action, env_params)
        obs_ok = jnp.all(jnp.isfinite(obs).reshape(episodes, -1), axis=1)
        finite = finite & jnp.all((jnp.isfinite(reward) & obs_ok) | ~live)
        returns = returns + jnp.where(live, reward, 0.0)
        if step_perf:
            perf = perf + jnp.where(live, step_perf[0], 0.0)
        steps = steps + live
        done = done | terminated | truncated
        return t + 1, obs, env_state, carry, returns, steps, done, finite, moments, key, perf

    def running(loop: tuple) -> jax.Array:
        return (loop[0] < cap) & ~jnp.all(loop[6])

    init = (
        0,
        obs,
        env_state,
        carry,
        jnp.zeros(episodes),
        jnp.zeros(episodes, jnp.int32),
        jnp.zeros(episodes, bool),
        jnp.asarray(True),
        (zeros_obs, zeros_obs),
        key_loop,
        jnp.zeros(episodes) if hidden else None,
    )
    out = jax.lax.while_loop(running, play, init)
    returns, steps, _, finite, moments = out[4:9]
    return Episodes(returns, steps, finite, *moments, out[10])


def seed_keys(seeds: list[int]) -> jax.Array:
    """One PRNG key per seed, as the drivers make them."""
    return jnp.stack([jax.random.PRNGKey(s) for s in seeds])
