"""The agent plumbing TD3 (and so DDPG) and SAC share: setup, replay, observations, critic step.

What makes each algorithm (how it explores, its critic target, its actor's loss, when the actor
and the target networks move) stays in its own module, which reads top to bottom; what is left
is the same code in both and is written once here, as methods of their common base class. The
math they share (networks, squashing, targets, Polyak averaging) is in
:mod:`rlcheck.agents.common.continuous_control`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rlcheck.agents.common.continuous_control import (
    Network,
    adam,
    critic_apply,
    critic_init,
    latest_means,
    rollout_transitions,
    run_if,
    uniform_actions,
    unit_to_box,
)
from rlcheck.agents.common.normalize import rms_normalize, rms_update
from rlcheck.agents.common.replay import Replay, replay_add, replay_init, replay_sample
from rlcheck.core import Trajectory, traced_values
from rlcheck.envs.spec import Box, EnvSpec

# One gradient step of an algorithm: (state, learner, key) -> (learner, (values, ran)), where
# ``values`` holds the step's internals and ``ran`` is 1 for each it computed, 0 for each
# skipped (a delayed actor).
GradientStep = Callable[[Any, Any, jax.Array], tuple[Any, tuple[dict, dict]]]


class OffPolicyActorCritic:
    """The base of :class:`rlcheck.agents.td3.TD3` and :class:`rlcheck.agents.sac.SAC`.

    It expects the subclass's Config to have the fields the two share (``num_envs``,
    ``train_frequency``, ``gradient_steps``, ``buffer_size``, ``batch_size``, the network fields,
    ``n_critics``, ``random_until_learning_starts``, ``action_units``, ``normalize_obs``,
    ``bootstrap_on_truncation``, ``learning_starts``, ``critic_learning_rate``, ``obs_clip``),
    its ``Learner`` to have ``critic``, ``critic_opt``, ``critic_updates`` and
    ``actor_updates``, and its ``State`` to have ``learner``, ``buffer``, ``obs_rms``,
    ``env_steps``, ``metrics`` and ``hparams``. ``actor_losses`` names the internals that only
    actor steps compute.

    Args:
        spec: the env's spec; its actions must be a Box.
        config: the algorithm's Config.
        budget: env steps per seed of the run (caps the replay buffer).
        actor_outputs_per_action: the actor's outputs per action dimension (a mean: 1; a mean
            and a log-std: 2).
    """

    name: str
    losses: tuple[str, ...]
    actor_losses: tuple[str, ...]

    def __init__(self, spec: EnvSpec, config: Any, budget: int, actor_outputs_per_action: int = 1):
        if not isinstance(spec.action_space, Box):
            raise ValueError(f"{self.name} needs continuous (Box) actions")
        self.spec = spec
        self.config = config
        self.num_envs = config.num_envs
        self.rollout_len = config.train_frequency
        steps_per_update = config.num_envs * config.train_frequency
        # A buffer larger than the run's transitions would never fill: same results, less memory.
        self.capacity = min(
            config.buffer_size, max(budget // steps_per_update, 1) * steps_per_update
        )
        self.action_dim = spec.action_space.shape[0]
        self.low = np.asarray(spec.action_space.low, np.float32)
        self.high = np.asarray(spec.action_space.high, np.float32)
        self.obs_size = math.prod(spec.obs_shape)
        net = {
            "hidden_sizes": config.hidden_sizes,
            "activation": config.activation,
            "weight_init": config.weight_init,
        }
        self.actor = Network(out_size=actor_outputs_per_action * self.action_dim, **net)
        self.critic = Network(out_size=1, **net)

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    # ---- networks and replay --------------------------------------------------------------

    def _init_critics(self, key: jax.Array) -> dict:
        """``n_critics`` independent Q-networks, stacked on the leading axis."""
        obs = jnp.zeros((1, self.obs_size))
        return critic_init(
            self.critic, key, self.config.n_critics, obs, jnp.zeros((1, self.action_dim))
        )

    def _init_buffer(self) -> Replay:
        """An empty replay buffer of (s, a in [-1, 1], r, s', done) transitions."""
        example = {
            "obs": jnp.zeros(self.spec.obs_shape),
            "action": jnp.zeros(self.action_dim),
            "reward": jnp.float32(0),
            "next_obs": jnp.zeros(self.spec.obs_shape),
            "done": jnp.float32(0),
        }
        return replay_init(self.capacity, example)

    def _prepare_obs(self, state: Any, obs: jax.Array) -> jax.Array:
        """Observations as the networks take them: normalized (normalize_obs), flattened."""
        if self.config.normalize_obs:
            obs = rms_normalize(state.obs_rms, obs, state.hparams["obs_clip"])
        return obs.reshape(*obs.shape[: obs.ndim - len(self.spec.obs_shape)], self.obs_size)

    def _critic_action(self, action: jax.Array) -> jax.Array:
        """An action in [-1, 1] as the critics take it (action_units)."""
        if self.config.action_units == "env":
            return unit_to_box(action, self.low, self.high)
        return action

    # ---- acting ---------------------------------------------------------------------------

    def _track_obs(self, state: Any, obs: jax.Array) -> Any:
        """The running observation statistics see every observation acted on (normalize_obs)."""
        if self.config.normalize_obs:
            state = state.replace(obs_rms=rms_update(state.obs_rms, obs))
        return state

    def _random_until_learning_starts(
        self, state: Any, action: jax.Array, key: jax.Array
    ) -> jax.Array:
        """Uniform random actions instead of ``action`` until learning_starts (when
        random_until_learning_starts)."""
        if not self.config.random_until_learning_starts:
            return action
        warm_up = state.env_steps < state.hparams["learning_starts"]
        return jnp.where(warm_up, uniform_actions(key, action.shape), action)

    def _acted(self, state: Any, action: jax.Array, obs: jax.Array) -> tuple[Any, jax.Array, dict]:
        """What ``act`` returns for ``action`` in [-1, 1] taken at ``obs``: the state with the
        env steps counted, the action in the env's box, and ``obs`` for the replay buffer."""
        state = state.replace(env_steps=state.env_steps + self.num_envs)
        return state, unit_to_box(action, self.low, self.high), {"obs": obs}

    # ---- learning -------------------------------------------------------------------------

    def _store_rollout(self, state: Any, traj: Trajectory) -> Any:
        batch = rollout_transitions(
            traj, traj.aux["obs"], self.low, self.high, self.config.bootstrap_on_truncation
        )
        return state.replace(buffer=replay_add(state.buffer, batch))

    def _minibatch(self, state: Any, key: jax.Array) -> tuple[dict, jax.Array, jax.Array]:
        """``batch_size`` transitions drawn uniformly, and their s and s' prepared."""
        batch, _ = replay_sample(state.buffer, key, self.config.batch_size)
        obs = self._prepare_obs(state, batch["obs"])
        next_obs = self._prepare_obs(state, batch["next_obs"])
        return batch, obs, next_obs

    def _critic_loss(
        self, critic: dict, obs: jax.Array, action: jax.Array, target: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        # Summed over critics, as CleanRL and SB3's TD3; SB3's SAC halves it, which Adam's
        # scale invariance ignores.
        q = critic_apply(self.critic, critic, obs, action)
        return jnp.sum(jnp.mean((q - target) ** 2, axis=-1)), q

    def _critic_step(
        self, hparams: dict, learner: Any, obs: jax.Array, action: jax.Array, target: jax.Array
    ) -> tuple[Any, dict]:
        """One Adam step of every critic toward ``target`` on (s, a), ``action`` in [-1, 1]."""
        (loss, q), grads = jax.value_and_grad(self._critic_loss, has_aux=True)(
            learner.critic, obs, self._critic_action(action), target
        )
        updates, critic_opt = adam(hparams["critic_learning_rate"], hparams).update(
            grads, learner.critic_opt, learner.critic
        )
        learner = learner.replace(
            critic=optax.apply_updates(learner.critic, updates),
            critic_opt=critic_opt,
            critic_updates=learner.critic_updates + 1,
        )
        values = {
            "critic_loss": loss,
            "q_mean": jnp.mean(q),
            "critic_grad_norm": optax.tree.norm(grads),
        }
        return learner, values

    def _every_nth(
        self,
        n: int,
        actor_step: Callable[[Any], tuple[Any, dict, jax.Array]],
        learner: Any,
        due_at: int = 0,
    ) -> tuple[Any, dict, jax.Array]:
        """``actor_step(learner)`` when the critic step count modulo ``n`` is ``due_at`` (by
        default: after every ``n``-th critic step); otherwise the learner as it is, with zeros
        for the actor's internals and 0 for whether it ran."""
        if n == 1:
            return actor_step(learner)
        return jax.lax.cond(
            learner.critic_updates % n == due_at, actor_step, self._no_actor_step, learner
        )

    def _no_actor_step(self, learner: Any) -> tuple[Any, dict, jax.Array]:
        zero = jnp.float32(0)
        return learner, dict.fromkeys(self.actor_losses, zero), zero

    def _step_internals(
        self, critic_values: dict, actor_values: dict, actor_ran: jax.Array
    ) -> tuple[dict, dict]:
        """A gradient step's (values, ran) for :meth:`_learn`: the actor's count only if it ran."""
        values = {**critic_values, **actor_values}
        ran = {name: jnp.float32(1) for name in values} | {name: actor_ran for name in actor_values}
        return values, ran

    def _learn(self, state: Any, key: jax.Array, gradient_step: GradientStep) -> tuple[Any, dict]:
        """``gradient_steps`` calls of ``gradient_step`` once learning has started, and the
        update's internals: each the mean over the steps that computed it (see
        :func:`~rlcheck.agents.common.continuous_control.latest_means`), then the cumulative
        critic and actor step counters."""

        def steps(learner: Any, keys: jax.Array) -> tuple[Any, dict]:
            learner, (values, ran) = jax.lax.scan(
                functools.partial(gradient_step, state), learner, keys
            )
            return learner, {"values": values, "ran": ran}

        # SB3 and CleanRL train once more than learning_starts transitions are stored.
        started = state.env_steps > state.hparams["learning_starts"]
        learner, out = run_if(
            started, steps, state.learner, jax.random.split(key, self.config.gradient_steps)
        )
        metrics = latest_means(out["values"], out["ran"], state.metrics)
        counters = {
            "critic_updates": learner.critic_updates.astype(jnp.float32),
            "actor_updates": learner.actor_updates.astype(jnp.float32),
        }
        return state.replace(learner=learner, metrics=metrics), {**metrics, **counters}
