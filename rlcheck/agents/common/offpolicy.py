"""The replay and gradient-step plumbing of the off-policy learners, as small pure functions.

DDPG, TD3 and SAC compose these in their own modules: the replay buffer of (s, a, r, s', done)
transitions and its capacity, observations as the networks take them, uniformly random actions
until ``learning_starts``, a minibatch, a step taken only every n-th time (a delayed actor),
and the loop that runs an update's gradient steps once learning has started and logs the mean
of each internal over the steps that computed it. :func:`run_if` is also how DQN skips its
gradient steps during the warm-up. The math (networks, targets, the critics' step) is in
:mod:`rlcheck.agents.common.continuous_control`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from rlcheck.agents.common.continuous_control import box_to_unit, uniform_actions
from rlcheck.agents.common.normalize import RunningMeanStd, normalize_with, rms_update
from rlcheck.agents.common.replay import Replay, replay_init, replay_sample
from rlcheck.core import Trajectory

# ---- replay -------------------------------------------------------------------------------------


def replay_capacity(buffer_size: int, budget: int, steps_per_update: int) -> int:
    """``buffer_size`` capped at the transitions the run collects (whole updates of
    ``steps_per_update`` each): a buffer larger than that would never fill, so the cap gives
    the same results with less memory."""
    return min(buffer_size, max(budget // steps_per_update, 1) * steps_per_update)


def transition_buffer(capacity: int, obs_shape: tuple[int, ...], action_dim: int) -> Replay:
    """An empty replay buffer of (s, a in [-1, 1], r, s', done) transitions."""
    example = {
        "obs": jnp.zeros(obs_shape),
        "action": jnp.zeros(action_dim),
        "reward": jnp.float32(0),
        "next_obs": jnp.zeros(obs_shape),
        "done": jnp.float32(0),
    }
    return replay_init(capacity, example)


def rollout_transitions(
    traj: Trajectory,
    obs: jax.Array,
    low: jax.Array,
    high: jax.Array,
    bootstrap_on_truncation: bool,
) -> dict[str, jax.Array]:
    """A rollout as flat replay transitions (time × envs → one axis).

    Args:
        traj: the rollout; ``final_obs`` is s' of every step (the episode's last observation
            where it ended, not the next episode's first).
        obs: s of every step, (T, num_envs, *obs_shape).
        low, high: the action box; stored actions are in [-1, 1] units.
        bootstrap_on_truncation: a time-limit cut is not terminal (SB3's
            ``handle_timeout_termination``; CleanRL stores terminations only, to the same
            effect); ``False`` counts it as terminal.

    Returns:
        {"obs", "action", "reward", "next_obs", "done"}, leading axis T·num_envs.
    """
    done = traj.terminated if bootstrap_on_truncation else traj.terminated | traj.truncated
    batch = {
        "obs": obs,
        "action": box_to_unit(traj.action, low, high),
        "reward": traj.reward,
        "next_obs": traj.final_obs,
        "done": done.astype(jnp.float32),
    }
    return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batch)


def sample_minibatch(
    buffer: Replay,
    key: jax.Array,
    batch_size: int,
    prepare_obs: Callable[[jax.Array], jax.Array],
) -> dict[str, jax.Array]:
    """``batch_size`` transitions drawn uniformly with replacement, s and s' passed through
    ``prepare_obs`` (the buffer keeps raw observations, as SB3's VecNormalize does)."""
    batch, _ = replay_sample(buffer, key, batch_size)
    return {
        **batch,
        "obs": prepare_obs(batch["obs"]),
        "next_obs": prepare_obs(batch["next_obs"]),
    }


# ---- observations and the warm-up ---------------------------------------------------------------


def track_obs(obs_rms: RunningMeanStd, obs: jax.Array, normalize: bool) -> RunningMeanStd:
    """The running observation statistics after seeing ``obs``, the observations acted on
    (when ``normalize``; otherwise they are not kept up)."""
    return rms_update(obs_rms, obs) if normalize else obs_rms


def prepare_obs(
    obs: jax.Array,
    obs_rms: RunningMeanStd,
    obs_clip: jax.Array | float,
    normalize: bool,
    obs_shape: tuple[int, ...],
) -> jax.Array:
    """Observations as the MLPs take them: normalized by ``obs_rms`` and clipped to ±obs_clip
    (when ``normalize``), and flattened to one axis per observation."""
    normalizer = {"obs_rms": obs_rms, "obs_clip": obs_clip} if normalize else {}
    return flat_obs(obs, normalizer, obs_shape)


def flat_obs(obs: jax.Array, params: dict, obs_shape: tuple[int, ...]) -> jax.Array:
    """:func:`prepare_obs` for a policy's parameters: normalized by their
    :func:`~rlcheck.agents.common.normalize.obs_normalizer` entries (unchanged without them)
    and flattened to one axis per observation."""
    obs = normalize_with(params, obs)
    return obs.reshape(*obs.shape[: obs.ndim - len(obs_shape)], math.prod(obs_shape))


def uniform_until_learning_starts(
    action: jax.Array,
    key: jax.Array,
    env_steps: jax.Array,
    learning_starts: jax.Array,
) -> jax.Array:
    """Uniform random actions in [-1, 1] instead of ``action`` while the seed has taken fewer
    than ``learning_starts`` env steps (SB3 and CleanRL's warm-up)."""
    return jnp.where(env_steps < learning_starts, uniform_actions(key, action.shape), action)


# ---- gradient steps -----------------------------------------------------------------------------


def every_nth(
    n: int,
    count: jax.Array,
    step: Callable[[Any], tuple[Any, dict]],
    carry: Any,
    due_at: int = 0,
) -> tuple[Any, dict, jax.Array]:
    """``step(carry)`` when ``count`` modulo ``n`` is ``due_at``, else ``carry`` unchanged.

    A delayed actor: with ``count`` the critic steps taken so far, the actor steps after every
    ``n``-th critic step (``due_at`` = 0). A ``lax.cond``, so a skipped step costs nothing
    unless ``count`` differs between the seeds of a vmapped program.

    Returns:
        (carry, the step's values, 1.0 where it ran); zeros for the values when it did not.
    """

    def run(carry: Any) -> tuple[Any, dict, jax.Array]:
        return (*step(carry), jnp.float32(1))

    if n == 1:
        return run(carry)

    def skip(carry: Any) -> tuple[Any, dict, jax.Array]:
        _, values = jax.eval_shape(step, carry)
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), values)
        return carry, zeros, jnp.float32(0)

    return jax.lax.cond(count % n == due_at, run, skip, carry)


def step_internals(
    always: dict[str, jax.Array], sometimes: dict[str, jax.Array], ran: jax.Array
) -> tuple[dict, dict]:
    """One gradient step's (values, ran) for :func:`latest_means`: the values of a part that
    runs every step (``always``: the critics') count once, those of a part that ran only
    when ``ran`` is 1 (``sometimes``: a delayed actor's) count ``ran``."""
    values = {**always, **sometimes}
    ran_by_name = {name: jnp.float32(1) for name in values} | {name: ran for name in sometimes}
    return values, ran_by_name


def run_if(
    started: jax.Array, steps: Callable[[Any, jax.Array], tuple[Any, dict]], carry: Any, keys: Any
) -> tuple[Any, dict]:
    """``steps(carry, keys)`` when ``started``, else ``carry`` unchanged and zero metrics.

    A ``lax.cond``: where ``started`` is the same for every seed (the fused driver's step
    counters and hparams are unbatched under its seed vmap), the skipped branch costs nothing;
    under a per-seed predicate (every state leaf of the host driver is batched) vmap turns the
    cond into a select and both branches run.
    """

    def skip(carry: Any, keys: Any) -> tuple[Any, dict]:
        _, metrics = jax.eval_shape(steps, carry, keys)
        return carry, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), metrics)

    return jax.lax.cond(started, steps, skip, carry, keys)


def latest_means(
    values: dict[str, jax.Array], ran: dict[str, jax.Array], previous: dict[str, jax.Array]
) -> dict[str, jax.Array]:
    """Per metric, the mean over the gradient steps of this update that computed it (``ran``:
    1/0 per step), or its previous value when none did (a delayed actor, or before learning
    starts; zeros at first) — like a logger that shows the latest value, never a fake 0."""
    out = {}
    for name, v in values.items():
        count = jnp.sum(ran[name])
        mean = jnp.sum(v * ran[name]) / jnp.maximum(count, 1.0)
        out[name] = jnp.where(count > 0, mean, previous[name])
    return out


# One gradient step: (learner, key) -> (learner, (values, ran)), as step_internals returns them.
GradientStep = Callable[[Any, jax.Array], tuple[Any, tuple[dict, dict]]]


def gradient_steps_once_started(
    started: jax.Array,
    gradient_step: GradientStep,
    learner: Any,
    key: jax.Array,
    num_steps: int,
    previous: dict[str, jax.Array],
) -> tuple[Any, dict[str, jax.Array]]:
    """``num_steps`` calls of ``gradient_step`` in a row when ``started`` (:func:`run_if`),
    each with its own key, and the update's internals by :func:`latest_means`.

    Returns:
        (the learner after the steps, {internal: its mean over the steps that computed it}).
    """

    def steps(learner: Any, keys: jax.Array) -> tuple[Any, dict]:
        learner, (values, ran) = jax.lax.scan(gradient_step, learner, keys)
        return learner, {"values": values, "ran": ran}

    learner, out = run_if(started, steps, learner, jax.random.split(key, num_steps))
    return learner, latest_means(out["values"], out["ran"], previous)
