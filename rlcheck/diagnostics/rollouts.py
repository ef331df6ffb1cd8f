"""Rollouts for the diagnostics, and the advantage estimators they compare.

Every diagnostic samples from fresh resets, as MadryLab's trainer does (one actor, env reset at
each iteration): ``num_envs`` envs each play ``window`` steps — the state-action pairs that count
— and then ``tail`` steps more, which only complete the returns of the episodes the window
started (a tail as long as the time limit ends every one of them). The envs reset themselves
when an episode ends, as in training.

Two estimators of the advantage of a pair (:func:`advantages`):

- ``"rollout"``: the agent's own, GAE with its λ, bootstrapping from V wherever its rollouts
  end (every ``rollout_len`` steps of an env, and at the window's end), as its update would
  compute on those steps.
- ``"episode"``: GAE run through the tail to each episode's end; with λ = 1 it is the
  Monte-Carlo return G_t minus the baseline, unbiased whatever the baseline (REINFORCE's own
  estimator, and the reference of the gradient-quality diagnostic).

A time-limit cut is bootstrapped from V when the agent does so (its objective treats the time
limit as outside the task), else it ends the episode.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from rlcheck.agents.common.actor_critic import actor_critic_targets, flatten_rollout
from rlcheck.agents.common.advantages import gae
from rlcheck.agents.reinforce import complete_episode_mask, monte_carlo_returns
from rlcheck.core import Trajectory
from rlcheck.diagnostics.learner import Learner
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.errors import UserError

Horizon = Literal["rollout", "episode"]


class Rollout(NamedTuple):
    """``window + tail`` steps of ``num_envs`` envs from fresh resets, time on the leading axis."""

    x: jax.Array  # the policy input of each step's observation
    action: jax.Array
    log_prob: jax.Array  # of the policy that acted
    reward: jax.Array  # the env's, unscaled
    terminated: jax.Array
    truncated: jax.Array
    final_x: jax.Array  # the policy input of each step's final observation (where one ended)
    last_x: jax.Array  # (num_envs, …) the policy input after the last step
    env_state: Any  # the env state each step acted in, or None


def collect(
    learner: Learner,
    state: Any,
    actor: dict,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    num_envs: int,
    steps: int,
    keep_env_states: bool = False,
) -> Rollout:
    """Play ``actor`` (stochastic, as in training) on ``num_envs`` fresh envs for ``steps``
    steps; observations are normalized with the state's frozen statistics."""
    key_reset, key_loop = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(key_reset, num_envs), env_params
    )

    def step(carry: tuple, key: jax.Array) -> tuple[tuple, tuple]:
        obs, env_state = carry
        key_act, key_env = jax.random.split(key)
        x = learner.observe(state, obs)
        d = learner.net.dist(actor, x)
        action = learner.net.sample(d, key_act)
        out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(key_env, num_envs), env_state, action, env_params
        )
        record = (
            x,
            action,
            learner.net.log_prob(d, action),
            out.reward,
            out.terminated,
            out.truncated,
            learner.observe(state, out.final_obs),
            env_state if keep_env_states else None,
        )
        return (out.obs, out.state), record

    (obs, _), records = jax.lax.scan(step, (obs, env_state), jax.random.split(key_loop, steps))
    x, action, log_prob, reward, terminated, truncated, final_x, states = records
    return Rollout(
        x,
        action,
        log_prob,
        reward,
        terminated,
        truncated,
        final_x,
        learner.observe(state, obs),
        states,
    )


def values_of(learner: Learner, critic: dict | None, rollout: Rollout) -> tuple:
    """V of every step's input, final input and the input after the rollout (zeros for no
    critic): the three arrays :func:`advantages` takes."""
    if critic is None:
        zeros = jnp.zeros(rollout.reward.shape)
        return zeros, zeros, jnp.zeros(rollout.last_x.shape[0])
    return (
        learner.value(critic, rollout.x),
        learner.value(critic, rollout.final_x),
        learner.value(critic, rollout.last_x),
    )


def advantages(
    learner: Learner,
    state: Any,
    rollout: Rollout,
    values: tuple,
    window: int,
    horizon: Horizon,
    lam: jax.Array | float,
) -> jax.Array:
    """Advantages of the window's pairs, (window, num_envs).

    Args:
        learner, state: the agent and its state (discount, reward scaling, truncation rule).
        rollout: a rollout of ``window`` steps, plus a tail for ``horizon="episode"``.
        values: (V per step, V per final observation, V after the rollout) of the baseline.
        window: how many leading steps are pairs.
        horizon: "rollout" (bootstrap where the agent's rollouts end) or "episode" (through the
            tail to the end of each episode); see the module docstring.
        lam: GAE λ.
    """
    v, v_final, v_last = values
    rewards = learner.rewards(state, rollout.reward)
    terminated, truncated = rollout.terminated, rollout.truncated
    if horizon == "rollout":
        v_last = v[window] if v.shape[0] > window else v_last
        v, v_final, rewards = v[:window], v_final[:window], rewards[:window]
        terminated, truncated = terminated[:window], truncated[:window]
    next_values = jnp.concatenate([v[1:], v_last[None]], axis=0)
    if learner.bootstrap_on_truncation:
        next_values = jnp.where(truncated, v_final, next_values)
    else:
        terminated = terminated | truncated
    cut = truncated
    if horizon == "rollout" and learner.rollout_len is not None:
        # Where one of the agent's rollouts ends, its update bootstraps from V of the next
        # observation (next_values holds it) and starts a new recursion.
        t = jnp.arange(v.shape[0])[:, None]
        cut = cut | ((t + 1) % learner.rollout_len == 0)
    adv, _ = gae(rewards, v, next_values, terminated, cut, learner.gamma(state), lam)
    return adv[:window]


def counted_episodes(rollout: Rollout, window: int) -> tuple[jax.Array, jax.Array]:
    """Which steps belong to an episode that started inside the window, and how many such
    episodes there are per env.

    Which episodes count is decided by where they start, never by how they go (an episode's
    start depends only on the ones before it), so the mean return over them is a consistent
    estimate of the policy's expected episode return; the tail must be long enough to end
    them all (the time limit).
    """
    ended = rollout.terminated | rollout.truncated
    starts = jnp.concatenate([jnp.ones_like(ended[:1]), ended[:-1]], axis=0)
    t = jnp.arange(ended.shape[0])[:, None]

    def forward(counted: jax.Array, x: tuple) -> tuple[jax.Array, jax.Array]:
        start, t = x
        counted = jnp.where(start, t < window, counted)
        return counted, counted

    _, counted = jax.lax.scan(forward, jnp.ones(ended.shape[1:], bool), (starts, t))
    return counted, jnp.sum(starts[:window], axis=0)


def mean_episode_return(rollout: Rollout, window: int) -> jax.Array:
    """The mean undiscounted return (env rewards) of the episodes the window started."""
    counted, episodes = counted_episodes(rollout, window)
    return jnp.sum(jnp.where(counted, rollout.reward, 0.0)) / jnp.sum(episodes)


def agent_rollout(
    agent: Any, state: Any, env: JaxEnv, env_params: Any, key: jax.Array
) -> tuple[Any, Trajectory]:
    """One rollout exactly as the fused driver collects it for an update (the agent's own
    ``act``, its ``num_envs × rollout_len`` steps, statistics advancing), from fresh resets."""
    key_reset, key_loop = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(key_reset, agent.num_envs), env_params
    )

    def step(carry: tuple, key: jax.Array) -> tuple[tuple, tuple]:
        agent_state, obs, env_state = carry
        key_act, key_env = jax.random.split(key)
        agent_state, action, aux = agent.act(agent_state, obs, key_act)
        out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(key_env, agent.num_envs), env_state, action, env_params
        )
        record = (aux, action, out.reward, out.terminated, out.truncated, out.final_obs)
        return (agent_state, out.obs, out.state), record

    (state, obs, _), steps = jax.lax.scan(
        step, (state, obs, env_state), jax.random.split(key_loop, agent.rollout_len)
    )
    return state, Trajectory(*steps, last_obs=obs)


def training_batch(learner: Learner, state: Any, rolled: Any, traj: Trajectory) -> dict:
    """The batch an update learns from, flat, as its own code builds it.

    Args:
        learner: the agent.
        state: its state before the rollout (its actor collected the batch).
        rolled: its state after the rollout (statistics advanced), as the update receives it.
        traj: the rollout.

    Returns:
        {"x", "action", "log_prob" (of the collecting actor), "advantages" (before any
        normalization), "targets" (what the critic regresses on), "used" (1 for the samples
        the update uses: REINFORCE's complete episodes, else all)}. PPO, A2C, TRPO: GAE
        advantages and returns of ``actor_critic_targets``; REINFORCE: G − b and G.
    """
    agent = learner.agent
    if learner.rollout_len is None:
        ended = traj.terminated | traj.truncated
        if agent.config.cut_episodes == "skip":
            used = complete_episode_mask(ended, agent.spec.time_limit)
            tail = jnp.zeros(agent.num_envs)
        else:
            used = jnp.ones_like(ended)
            tail = learner.value(state.params["critic"], traj.last_obs)
        targets = monte_carlo_returns(traj.reward, ended, tail, state.hparams["gamma"])
        baseline = traj.aux["value"] if "value" in traj.aux else jnp.zeros_like(targets)
        adv = targets - baseline
    else:
        _, adv, targets = actor_critic_targets(agent.net, rolled, traj, agent.config)
        used = jnp.ones(targets.shape, bool)
    log_prob = traj.aux.get("log_prob")
    if log_prob is None:  # A2C and REINFORCE keep none: the collecting actor gives them
        log_prob = learner.log_prob(learner.actor(state), traj.aux["x"], traj.action)
    batch = {
        "x": traj.aux["x"],
        "action": traj.action,
        "log_prob": log_prob,
        "advantages": adv,
        "targets": targets,
        "used": used.astype(jnp.float32),
    }
    return flatten_rollout(batch, targets.size)


def require_jax_env(env: Any) -> None:
    """The diagnostics clone and restart env states inside compiled programs.

    Raises:
        UserError: a Gymnasium (host) env, whose states rlcheck cannot clone.
    """
    if not isinstance(env, JaxEnv):
        raise UserError(
            f"{env.spec.id} is a Gymnasium env: the diagnostics need a JAX-native env, whose "
            "state rlcheck can clone and restart (gymnax ids, or a gymnax-style env)"
        )


def tail_length(env: JaxEnv, tail: int | None) -> int:
    """The tail that ends every episode a window starts: the env's time limit by default.

    Raises:
        UserError: the env has no time limit and no tail was given.
    """
    if tail is not None:
        return tail
    if env.spec.time_limit is None:
        raise UserError(
            f"{env.spec.id} has no time limit: give the tail (steps after the window that "
            "complete the returns of its episodes)"
        )
    return env.spec.time_limit


def check_sizes(sizes: tuple[int, ...], window: int, what: str) -> None:
    """Each size must be a positive multiple of the window (pairs come in whole env windows).

    Raises:
        UserError: one that is not.
    """
    bad = [n for n in sizes if n <= 0 or n % window]
    if bad:
        raise UserError(f"{what} {bad} must be positive multiples of the window ({window} steps)")
