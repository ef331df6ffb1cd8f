"""An on-policy agent's whole states at checkpoints of training, every seed in one program, for
the diagnostics (which need the critic and the normalizers, not only the stored policy).

Training is the fused driver's loop without its evaluations: envs continue across updates, the
agent's own ``act`` and ``update``; returned with each checkpoint is the mean return of the
training episodes that ended during its last update.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.core import Trajectory
from rlcheck.envs.jax_env import JaxEnv


def _trainer(agent: Any, env: JaxEnv) -> tuple[Any, Any]:
    """(start(keys) → carry, advance(carry, n) → carry after n more updates), both jitted and
    vmapped over seeds."""

    def one_update(carry: tuple) -> tuple:
        state, env_state, obs, key, running, _ = carry
        key, key_roll, key_update = jax.random.split(key, 3)

        def step(inner: tuple, key: jax.Array) -> tuple:
            state, env_state, obs, running = inner
            key_act, key_env = jax.random.split(key)
            state, action, aux = agent.act(state, obs, key_act)
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(key_env, agent.num_envs), env_state, action, env.params
            )
            running = running + out.reward
            ended = out.terminated | out.truncated
            finished = (jnp.sum(jnp.where(ended, running, 0.0)), jnp.sum(ended))
            running = jnp.where(ended, 0.0, running)
            record = (aux, action, out.reward, out.terminated, out.truncated, out.final_obs)
            return (state, out.state, out.obs, running), (record, finished)

        (state, env_state, obs, running), (steps, (sums, counts)) = jax.lax.scan(
            step, (state, env_state, obs, running), jax.random.split(key_roll, agent.rollout_len)
        )
        state, _ = agent.update(state, Trajectory(*steps, last_obs=obs), key_update)
        last_return = jnp.sum(sums) / jnp.maximum(jnp.sum(counts), 1)
        return state, env_state, obs, key, running, last_return

    def advance(carry: tuple, n: jax.Array) -> tuple:
        return jax.lax.fori_loop(0, n, lambda _, c: one_update(c), carry)

    def start(key: jax.Array) -> tuple:
        key_init, key_env, key_loop = jax.random.split(key, 3)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(key_env, agent.num_envs), env.params
        )
        state = agent.init(key_init, agent.hparams())
        return state, env_state, obs, key_loop, jnp.zeros(agent.num_envs), jnp.asarray(0.0)

    return jax.jit(jax.vmap(start)), jax.jit(jax.vmap(advance, in_axes=(0, None)))


def train_to_checkpoints(
    agent: Any, env: JaxEnv, seeds: Sequence[int], at: Sequence[int]
) -> Iterator[tuple[int, Any, np.ndarray]]:
    """Train every seed, yielding after each number of updates in ``at`` (increasing).

    Args:
        agent: an on-policy agent (``rlcheck.registry.make_agent``).
        env: a JAX-native env.
        seeds: the seeds; seed s starts from ``jax.random.PRNGKey(s)``.
        at: update counts to stop at, increasing.

    Yields:
        (updates so far, the agent's states with a leading seed axis, (seeds,) the mean return
        of the training episodes that ended during the last update).
    """
    start, advance = _trainer(agent, env)
    carry = start(jnp.stack([jax.random.PRNGKey(s) for s in seeds]))
    done = 0
    for n in at:
        carry = advance(carry, jnp.asarray(n - done))
        done = n
        yield n, carry[0], np.asarray(carry[5])
