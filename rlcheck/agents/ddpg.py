"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016) for continuous actions.

Reads top to bottom: the Config (defaults are CleanRL's ``ddpg_continuous_action.py``, which,
unlike the paper and SB3, delays the actor: ``policy_frequency=2``), the presets, the networks,
acting (uniform random actions until ``learning_starts``, then the deterministic actor plus
Gaussian or Ornstein–Uhlenbeck noise), the actor's loss −Q(s, μ(s)) and its step, then the
update: the rollout goes into the seed's replay buffer and, once learning has started,
``gradient_steps`` gradient steps follow, each a critic step toward r + γ·Q'(s', μ'(s')) and
every ``policy_delay``-th one an actor step after which both target networks move.

TD3 (:mod:`rlcheck.agents.td3`) is DDPG plus three additions, each a field of this Config:
clipped double Q (``n_critics``: 1 here, TD3 2), target policy smoothing
(``target_policy_noise``: 0 here, TD3 0.2) and the delayed actor (``policy_delay``: 2 as in
CleanRL's DDPG; the paper and SB3 take 1). Set to TD3's values, DDPG takes exactly TD3's steps
(tests/agents/test_ddpg.py checks it), as in Stable-Baselines3, whose DDPG is its TD3 with the
additions off. The two modules compose the same pure functions, from
:mod:`rlcheck.agents.common.continuous_control` (networks, noise, targets, the critics' step,
the actor's loss) and :mod:`rlcheck.agents.common.offpolicy` (replay, the gradient-step loop).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from rlcheck.agents import td3
from rlcheck.agents.common.continuous_control import (
    Network,
    action_noise,
    adam,
    adam_step,
    critic_apply,
    critic_init,
    critic_step,
    critic_units,
    deterministic_actor_loss,
    polyak_update,
    target_policy_smoothing,
    td_target,
    unit_to_box,
)
from rlcheck.agents.common.networks import Activation, WeightInit
from rlcheck.agents.common.normalize import RunningMeanStd, obs_normalizer, rms_init
from rlcheck.agents.common.offpolicy import (
    every_nth,
    flat_obs,
    gradient_steps_once_started,
    prepare_obs,
    replay_capacity,
    rollout_transitions,
    sample_minibatch,
    step_internals,
    track_obs,
    transition_buffer,
    uniform_until_learning_starts,
)
from rlcheck.agents.common.replay import Replay, replay_add
from rlcheck.core import Trajectory, all_finite, static, traced, traced_values
from rlcheck.envs.spec import Box, EnvSpec


@dataclass(frozen=True)
class Config:
    """DDPG hyperparameters. Defaults: CleanRL ``ddpg_continuous_action.py``."""

    num_envs: int = static(1, "parallel envs per seed", unit="count")
    train_frequency: int = static(
        1, "steps of each env between updates (SB3 train_freq)", unit="env steps per env"
    )
    gradient_steps: int = static(
        1, "critic gradient steps per update (SB3 gradient_steps)", unit="gradient steps"
    )
    buffer_size: int = static(
        1_000_000,
        "replay capacity in transitions (capped at what the run collects)",
        unit="transitions",
    )
    batch_size: int = static(
        256, "transitions per gradient step, uniform with replacement", unit="transitions"
    )
    hidden_sizes: tuple[int, ...] = static(
        (256, 256), "hidden layer widths of the actor and of each critic", unit="count"
    )
    activation: Activation = static("relu", "hidden activation", unit="none")
    weight_init: WeightInit = static(
        "torch",
        "torch: PyTorch's nn.Linear default U(±1/√fan_in) weights and biases (SB3, CleanRL); "
        "lecun: flax's default (rejax); orthogonal: gain √2 hidden, 1 for the heads",
        unit="none",
    )
    n_critics: int = static(
        1,
        "critics trained on one target, their minimum; DDPG has one (TD3's clipped double Q: 2)",
        unit="count",
    )
    policy_delay: int = static(
        2,
        "critic steps per actor step and target update (CleanRL policy_frequency=2; the "
        "paper and SB3: 1)",
        unit="gradient steps",
    )
    exploration_noise: Literal["normal", "ou"] = static(
        "normal",
        "action noise while exploring: independent Gaussian, or Ornstein–Uhlenbeck "
        "(DDPG paper; reset when an episode ends, at the next update)",
        unit="none",
    )
    random_until_learning_starts: bool = static(
        True,
        "act uniformly at random until learning_starts env steps (SB3, CleanRL); "
        "False acts with the untrained actor and its noise",
        unit="none",
    )
    action_units: Literal["env", "unit"] = static(
        "env",
        "units of the actions the critics take: 'env' = the env's action box (CleanRL), "
        "'unit' = rescaled to [-1, 1] (SB3); noises are in [-1, 1] units either way",
        unit="none",
    )
    normalize_obs: bool = static(
        False,
        "normalize observations by running mean/std (updated while acting; the buffer "
        "keeps raw ones, normalized when sampled, as SB3's VecNormalize), clip to ±obs_clip",
        unit="none",
    )
    bootstrap_on_truncation: bool = static(
        True,
        "bootstrap Q(s', a') when an episode is cut by its time limit (Pardo et al. 2018; "
        "SB3 and CleanRL do); False treats it as terminal",
        unit="none",
    )
    learning_starts: int = traced(
        25_000, "a seed's env steps (all its envs) before the first gradient step", unit="env steps"
    )
    actor_learning_rate: float = traced(3e-4, "Adam step size of the actor", unit="none")
    critic_learning_rate: float = traced(3e-4, "Adam step size of the critics", unit="none")
    optimizer_eps: float = traced(1e-8, "Adam ε (PyTorch's and optax's default)", unit="none")
    gamma: float = traced(0.99, "discount factor", unit="none")
    tau: float = traced(0.005, "Polyak coefficient of the target networks", unit="none")
    noise_std: float = traced(
        0.1,
        "exploration noise scale in [-1, 1] units (CleanRL exploration_noise)",
        unit="half action ranges",
    )
    ou_theta: float = traced(0.15, "OU mean reversion rate θ (SB3's default)", unit="none")
    ou_dt: float = traced(1e-2, "OU time step (SB3's default)", unit="none")
    target_policy_noise: float = traced(
        0.0,
        "std of the smoothing noise on the target action, [-1, 1] units (DDPG: none; TD3: 0.2)",
        unit="half action ranges",
    )
    target_noise_clip: float = traced(
        0.5, "the smoothing noise is clipped to ±this", unit="half action ranges"
    )
    max_grad_norm: float | None = traced(
        None, "clip each network's global gradient norm to this; None: no clipping", unit="none"
    )
    obs_clip: float = traced(10.0, "clip for normalized observations", unit="running stds")


# CleanRL ddpg_continuous_action.py defaults, which its benchmarks use on the envs of TD3's
# cleanrl rows (docs.cleanrl.dev/rl-algorithms/ddpg): the same as default_config.
# rl-zoo rows translate RL Baselines3 Zoo's hyperparams/ddpg.yml (rl_zoo3 2.9.2) on top of SB3
# 2.x's DDPG defaults: TD3's (one learning_rate, learning_starts=100, [400, 300] networks,
# actions rescaled to [-1, 1]) with policy_delay=1, one critic and no target smoothing (the last
# two are this Config's defaults). On these envs ddpg.yml sets what td3.yml sets, so each row is
# TD3's with policy_delay=1.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "cleanrl": td3.PRESETS["cleanrl"],
    "rl-zoo": {env: {**row, "policy_delay": 1} for env, row in td3.PRESETS["rl-zoo"].items()},
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """CleanRL's defaults with ``overrides`` applied."""
    del spec
    return Config(**overrides)


@struct.dataclass
class Learner:
    """What the gradient steps change."""

    actor: dict
    actor_target: dict
    critic: dict  # n_critics stacked on the leading axis
    critic_target: dict
    actor_opt: Any
    critic_opt: Any
    critic_updates: jax.Array  # gradient steps so far
    actor_updates: jax.Array  # actor steps so far (critic_updates / policy_delay)


@struct.dataclass
class State:
    learner: Learner
    buffer: Replay
    obs_rms: RunningMeanStd
    noise: jax.Array  # (num_envs, action_dim): the OU process of each env
    env_steps: jax.Array  # env steps collected so far by this seed
    metrics: dict  # the latest value of each internal (see latest_means)
    hparams: dict


class DDPG:
    """DDPG's pure functions for one env spec and config (see :mod:`rlcheck.core`)."""

    name = "ddpg"
    # Means over the update's gradient steps (actor ones over its actor steps; the latest value
    # when it had none), then the cumulative step counters (the policy delay at work).
    losses = ("critic_loss", "actor_loss", "q_mean", "critic_grad_norm", "actor_grad_norm")
    metric_names = (*losses, "critic_updates", "actor_updates")

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        if not isinstance(spec.action_space, Box):
            raise ValueError(f"{self.name} needs continuous (Box) actions")
        self.spec = spec
        self.config = config
        self.num_envs = config.num_envs
        self.rollout_len = config.train_frequency
        self.capacity = replay_capacity(
            config.buffer_size, budget, config.num_envs * config.train_frequency
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
        self.actor = Network(out_size=self.action_dim, **net)
        self.critic = Network(out_size=1, **net)

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    # ---- networks -------------------------------------------------------------------------

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        key_actor, key_critic = jax.random.split(key)
        obs, action = jnp.zeros((1, self.obs_size)), jnp.zeros((1, self.action_dim))
        actor = self.actor.init(key_actor, obs)
        critic = critic_init(self.critic, key_critic, self.config.n_critics, obs, action)
        learner = Learner(
            actor=actor,
            actor_target=actor,
            critic=critic,
            critic_target=critic,
            actor_opt=adam(hparams["actor_learning_rate"], hparams).init(actor),
            critic_opt=adam(hparams["critic_learning_rate"], hparams).init(critic),
            critic_updates=jnp.asarray(0, jnp.int32),
            actor_updates=jnp.asarray(0, jnp.int32),
        )
        return State(
            learner=learner,
            buffer=transition_buffer(self.capacity, self.spec.obs_shape, self.action_dim),
            obs_rms=rms_init(self.spec.obs_shape),
            noise=jnp.zeros((self.num_envs, self.action_dim)),
            env_steps=jnp.asarray(0, jnp.int32),
            metrics={name: jnp.float32(0) for name in self.losses},
            hparams=hparams,
        )

    def _actor(self, params: dict, x: jax.Array) -> jax.Array:
        """μ(s) in [-1, 1] units."""
        return jnp.tanh(self.actor.apply(params, x)[1])

    def _obs(self, state: State, obs: jax.Array) -> jax.Array:
        """Observations as the networks take them (normalize_obs)."""
        return prepare_obs(
            obs,
            state.obs_rms,
            state.hparams["obs_clip"],
            self.config.normalize_obs,
            self.spec.obs_shape,
        )

    def _critic_units(self, action: jax.Array) -> jax.Array:
        return critic_units(action, self.config.action_units, self.low, self.high)

    # ---- acting ---------------------------------------------------------------------------

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        config, hp = self.config, state.hparams
        state = state.replace(obs_rms=track_obs(state.obs_rms, obs, config.normalize_obs))
        key_noise, key_uniform = jax.random.split(key)
        greedy = self._actor(state.learner.actor, self._obs(state, obs))
        warm_up = state.env_steps < hp["learning_starts"]
        noise, ou_state = action_noise(
            config.exploration_noise,
            state.noise,
            key_noise,
            hp["noise_std"],
            hp["ou_theta"],
            hp["ou_dt"],
            hold=warm_up & config.random_until_learning_starts,
        )
        action = jnp.clip(greedy + noise, -1.0, 1.0)
        if config.random_until_learning_starts:
            action = uniform_until_learning_starts(
                action, key_uniform, state.env_steps, hp["learning_starts"]
            )
        state = state.replace(noise=ou_state, env_steps=state.env_steps + self.num_envs)
        return state, unit_to_box(action, self.low, self.high), {"obs": obs}

    def policy_params(self, state: State) -> dict:
        """The actor, the exploration noise's std (for stochastic evaluation) and, with
        ``normalize_obs``, the observation statistics."""
        return {
            "actor": state.learner.actor,
            "noise_std": state.hparams["noise_std"],
            **obs_normalizer(state, self.config.normalize_obs),
        }

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        action = self._actor(params["actor"], flat_obs(obs, params, self.spec.obs_shape))
        if not deterministic:
            noise = params["noise_std"] * jax.random.normal(key, action.shape)
            action = jnp.clip(action + noise, -1.0, 1.0)
        return unit_to_box(action, self.low, self.high)

    # ---- learning -------------------------------------------------------------------------

    def _actor_loss(self, actor: dict, critic: dict, obs: jax.Array) -> jax.Array:
        action = self._critic_units(self._actor(actor, obs))
        return deterministic_actor_loss(self.critic, critic, obs, action)

    def _actor_step(self, hparams: dict, obs: jax.Array, learner: Learner) -> tuple[Learner, dict]:
        """One actor step, then both target networks move toward the online ones."""
        loss, grads = jax.value_and_grad(self._actor_loss)(learner.actor, learner.critic, obs)
        actor, actor_opt = adam_step(
            grads, learner.actor_opt, learner.actor, hparams["actor_learning_rate"], hparams
        )
        learner = learner.replace(
            actor=actor,
            actor_opt=actor_opt,
            actor_target=polyak_update(learner.actor_target, actor, hparams["tau"]),
            critic_target=polyak_update(learner.critic_target, learner.critic, hparams["tau"]),
            actor_updates=learner.actor_updates + 1,
        )
        return learner, {"actor_loss": loss, "actor_grad_norm": optax.tree.norm(grads)}

    def _gradient_step(self, state: State, learner: Learner, key: jax.Array) -> tuple:
        """One critic step on a fresh minibatch; every policy_delay-th, an actor step."""
        hp = state.hparams
        key_sample, key_smoothing = jax.random.split(key)
        batch = sample_minibatch(
            state.buffer, key_sample, self.config.batch_size, functools.partial(self._obs, state)
        )
        next_action = target_policy_smoothing(
            self._actor(learner.actor_target, batch["next_obs"]),
            key_smoothing,
            hp["target_policy_noise"],
            hp["target_noise_clip"],
        )
        next_qs = critic_apply(
            self.critic, learner.critic_target, batch["next_obs"], self._critic_units(next_action)
        )
        target = td_target(batch["reward"], batch["done"], hp["gamma"], next_qs)
        critic, critic_opt, critic_values = critic_step(
            self.critic,
            learner.critic,
            learner.critic_opt,
            batch["obs"],
            self._critic_units(batch["action"]),
            target,
            hp,
        )
        learner = learner.replace(
            critic=critic, critic_opt=critic_opt, critic_updates=learner.critic_updates + 1
        )
        learner, actor_values, actor_ran = every_nth(
            self.config.policy_delay,
            learner.critic_updates,
            functools.partial(self._actor_step, hp, batch["obs"]),
            learner,
        )
        return learner, step_internals(critic_values, actor_values, actor_ran)

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        """The rollout into the replay buffer, then ``gradient_steps`` calls of
        :meth:`_gradient_step` once learning has started."""
        transitions = rollout_transitions(
            traj, traj.aux["obs"], self.low, self.high, self.config.bootstrap_on_truncation
        )
        state = state.replace(buffer=replay_add(state.buffer, transitions))
        if self.config.exploration_noise == "ou":
            ended = jnp.any(traj.terminated | traj.truncated, axis=0)
            state = state.replace(noise=jnp.where(ended[:, None], 0.0, state.noise))
        # SB3 and CleanRL train once more than learning_starts transitions are stored.
        learner, metrics = gradient_steps_once_started(
            state.env_steps > state.hparams["learning_starts"],
            functools.partial(self._gradient_step, state),
            state.learner,
            key,
            self.config.gradient_steps,
            state.metrics,
        )
        counters = {
            "critic_updates": learner.critic_updates.astype(jnp.float32),
            "actor_updates": learner.actor_updates.astype(jnp.float32),
        }
        return state.replace(learner=learner, metrics=metrics), {**metrics, **counters}

    def params_finite(self, state: State) -> jax.Array:
        return all_finite((state.learner.actor, state.learner.critic))
