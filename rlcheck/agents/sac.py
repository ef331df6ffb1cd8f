"""Soft Actor-Critic (Haarnoja et al. 2018) with automatic entropy tuning, continuous actions.

Reads top to bottom: the Config (every implementation detail a named field; defaults are
CleanRL's ``sac_continuous_action.py``), the presets, the policy (a tanh-squashed Gaussian, or
gSDE's state-dependent noise), acting (uniform random actions until ``learning_starts``, then
samples of the policy), then the update: the rollout goes into the seed's replay buffer and,
once learning has started, ``gradient_steps`` steps follow, each a critic step on the
entropy-regularized clipped double-Q target, an actor step and an α step (the last two every
``actor_update_interval``-th time, repeated to compensate), and a Polyak update of the target
critics. What SAC shares with DDPG and TD3 are small pure functions it composes here: the math
(networks, squashing, targets, the critics' step) from
:mod:`rlcheck.agents.common.continuous_control`, the replay and the loop of gradient steps from
:mod:`rlcheck.agents.common.offpolicy`.
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

from rlcheck.agents.common.continuous_control import (
    Network,
    adam,
    adam_step,
    bound_log_std,
    critic_apply,
    critic_init,
    critic_step,
    critic_units,
    gsde_std,
    polyak_update,
    squashed_gaussian,
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

# SB3's ε inside gSDE's standard deviation, sqrt(variance + ε).
_SDE_EPSILON = 1e-6


@dataclass(frozen=True)
class Config:
    """SAC hyperparameters. Defaults: CleanRL ``sac_continuous_action.py``."""

    num_envs: int = static(1, "parallel envs per seed", unit="count")
    train_frequency: int = static(
        1, "steps of each env between updates (SB3 train_freq)", unit="env steps per env"
    )
    gradient_steps: int = static(
        1, "gradient steps per update (SB3 gradient_steps)", unit="gradient steps"
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
    n_critics: int = static(2, "critics; targets and the actor use their minimum", unit="count")
    actor_update_interval: int = static(
        2,
        "every actor_update_interval-th gradient step, actor_update_interval actor and α steps "
        "in a row: as many actor as critic steps in all, taken in groups (CleanRL's "
        "policy_frequency with its compensation; TD3's policy_delay takes one actor step); "
        "1 = every step (SB3)",
        unit="gradient steps",
    )
    target_delay: int = static(
        1,
        "critic gradient steps per target-critic update (SB3 target_update_interval, CleanRL "
        "target_network_frequency; DQN's target_update_interval counts env steps)",
        unit="gradient steps",
    )
    update_order: Literal["critic_first", "actor_first"] = static(
        "critic_first",
        "within a gradient step: 'critic_first' = the critic step, then the actor and α steps "
        "(CleanRL); 'actor_first' = the actor and α steps first, then the critic step, whose "
        "target samples the updated actor and uses α from before its step (rejax)",
        unit="none",
    )
    autotune: bool = static(
        True,
        "learn α to hold the policy's entropy at target_entropy (Haarnoja et al. 2018b)",
        unit="none",
    )
    alpha_loss: Literal["alpha", "log_alpha"] = static(
        "alpha",
        "α's loss: 'alpha' = −α·(log π + H̄) (CleanRL, rejax); 'log_alpha' = −log α·(log π + H̄) "
        "(SB3, softlearning); both move α the same way, at different speeds",
        unit="none",
    )
    log_std_mode: Literal["tanh", "clip"] = static(
        "tanh",
        "how the log-std head is kept in [log_std_min, log_std_max]: 'tanh' rescales tanh "
        "(CleanRL, Spinning Up), 'clip' clamps (SB3)",
        unit="none",
    )
    squash_epsilon: float | None = static(
        1e-6,
        "ε in tanh's log-Jacobian log(1 − tanh(u)² + ε) (SB3, CleanRL); None: the exact "
        "2·(log 2 − u − softplus(−2u)) (Spinning Up)",
        unit="none",
    )
    random_until_learning_starts: bool = static(
        True,
        "act uniformly at random until learning_starts env steps (SB3, CleanRL); False "
        "samples the untrained policy (rejax)",
        unit="none",
    )
    action_units: Literal["env", "unit"] = static(
        "env",
        "units of the critics' action input and of log π: 'env' = the env's action box, so "
        "log π includes −Σ log(half-range) (CleanRL); 'unit' = [-1, 1] (SB3)",
        unit="none",
    )
    use_sde: bool = static(
        False,
        "generalized state-dependent exploration (Raffin et al. 2022, SB3's use_sde): the "
        "noise is the actor's last hidden features times a random matrix, redrawn once per "
        "rollout while acting (SB3's sde_sample_freq=-1) and once per gradient step",
        unit="none",
    )
    use_expln: bool = static(
        False, "gSDE: expln instead of exp for the noise scale (SB3)", unit="none"
    )
    sde_full_std: bool = static(
        True,
        "gSDE: one noise scale per (feature, action) pair, else one per feature (SB3)",
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
        "bootstrap V(s') when an episode is cut by its time limit (Pardo et al. 2018; "
        "SB3 and CleanRL do); False treats it as terminal",
        unit="none",
    )
    learning_starts: int = traced(
        5_000, "a seed's env steps (all its envs) before the first gradient step", unit="env steps"
    )
    actor_learning_rate: float = traced(
        3e-4, "Adam step size of the actor (CleanRL policy_lr)", unit="none"
    )
    critic_learning_rate: float = traced(
        1e-3, "Adam step size of the critics (CleanRL q_lr)", unit="none"
    )
    alpha_learning_rate: float = traced(
        1e-3, "Adam step size of log α (CleanRL: q_lr)", unit="none"
    )
    optimizer_eps: float = traced(1e-8, "Adam ε (PyTorch's and optax's default)", unit="none")
    gamma: float = traced(0.99, "discount factor", unit="none")
    tau: float = traced(0.005, "Polyak coefficient of the target critics", unit="none")
    alpha: float = traced(0.2, "the fixed entropy coefficient α when autotune is off", unit="none")
    alpha_init: float = traced(
        1.0, "α at the start when autotuned (SB3 'auto', CleanRL)", unit="none"
    )
    target_entropy: float | None = traced(
        None, "entropy α is tuned toward; None: −action_dim (Haarnoja et al. 2018b)", unit="nats"
    )
    log_std_min: float = traced(-5.0, "lower bound of the log-std head (SB3: −20)", unit="none")
    log_std_max: float = traced(2.0, "upper bound of the log-std head", unit="none")
    sde_log_std_init: float = traced(
        -3.0, "gSDE: initial log noise scale (SB3's log_std_init default)", unit="none"
    )
    sde_clip_mean: float = traced(
        2.0,
        "gSDE: clip the Gaussian's mean to ±this before tanh (SB3's clip_mean; 0: off)",
        unit="none",
    )
    max_grad_norm: float | None = traced(
        None, "clip each network's global gradient norm to this; None: no clipping", unit="none"
    )
    obs_clip: float = traced(10.0, "clip for normalized observations", unit="running stds")


# Published hyperparameters: {source: {env: Config fields}} (see rlcheck.registry.resolve_preset).
# rl-zoo rows translate RL Baselines3 Zoo's hyperparams/sac.yml (rl_zoo3 2.9.2) on top of SB3
# 2.x's SAC defaults: one learning_rate for actor, critics and α; learning_starts=100; α's loss
# on log α; log-std clamped to [−20, 2]; every step an actor step; actions in [-1, 1] units.
# `ent_coef: 0.1` is a fixed α; 'auto' is autotune with α starting at 1. The zoo's (SB3's) names:
# train_freq → train_frequency, log_std_init (gSDE's) → sde_log_std_init, target_update_interval
# → target_delay.
_SB3_SAC = {
    "actor_learning_rate": 3e-4,
    "critic_learning_rate": 3e-4,
    "alpha_learning_rate": 3e-4,
    "learning_starts": 100,
    "actor_update_interval": 1,
    "alpha_loss": "log_alpha",
    "log_std_mode": "clip",
    "log_std_min": -20.0,
    "action_units": "unit",
}
_ZOO_MUJOCO = {**_SB3_SAC, "learning_starts": 10_000}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # CleanRL sac_continuous_action.py defaults, which its benchmarks use on these envs
    # (docs.cleanrl.dev/rl-algorithms/sac): the same as default_config.
    # CleanRL benchmarks the -v4 MuJoCo envs; the -v5 ids repeat its defaults.
    "cleanrl": {
        f"{env}-{v}": {} for env in ("HalfCheetah", "Walker2d", "Hopper") for v in ("v4", "v5")
    },
    "rl-zoo": {
        "Pendulum-v1": {
            **_SB3_SAC,
            "actor_learning_rate": 1e-3,
            "critic_learning_rate": 1e-3,
            "alpha_learning_rate": 1e-3,
        },
        "MountainCarContinuous-v0": {
            **_SB3_SAC,
            "buffer_size": 50_000,
            "batch_size": 512,
            "autotune": False,
            "alpha": 0.1,
            "train_frequency": 32,
            "gradient_steps": 32,
            "gamma": 0.9999,
            "tau": 0.01,
            "learning_starts": 0,
            "use_sde": True,
            "sde_log_std_init": -3.67,
            "hidden_sizes": (64, 64),
            "use_expln": True,
        },
        # The zoo tunes the -v4 MuJoCo envs; the -v5 rows repeat them (not tuned by the zoo).
        **{
            f"{env}-{version}": _ZOO_MUJOCO
            for env in ("HalfCheetah", "Ant", "Hopper", "Walker2d", "Humanoid")
            for version in ("v4", "v5")
        },
        **{f"Swimmer-{v}": {**_ZOO_MUJOCO, "gamma": 0.999} for v in ("v4", "v5")},
    },
    # rejax's Pendulum-v1 SAC (keraJLi/rejax configs/gymnax/pendulum.yaml, the file of the
    # rejax 0.1.3 era), for benchmarks/offpolicy_speed.py; benchmarks/peers/rejax_offpolicy.py
    # maps every field. One learning rate for actor, critics and α; every step one actor, α and
    # critic step, in rejax's order; the policy acts from step 0; Tanh squashing without ε;
    # observations normalized and not clipped. rejax's critics take env-scaled actions but its
    # log π is in tanh's [-1, 1] units, where ours (action_units="env") is log 2 lower on
    # Pendulum's ±2 box: its target entropy −1 is ours −1 + log 2. rejax treats truncations as
    # terminations; we bootstrap.
    "rejax": {
        "Pendulum-v1": {
            "activation": "swish",
            "weight_init": "lecun",
            "hidden_sizes": (64, 64),
            "num_envs": 1,
            "train_frequency": 1,
            "gradient_steps": 1,
            "buffer_size": 10_000,
            "learning_starts": 256,
            "batch_size": 256,
            "actor_learning_rate": 0.01,
            "critic_learning_rate": 0.01,
            "alpha_learning_rate": 0.01,
            "gamma": 0.99,
            "tau": 0.02,
            "actor_update_interval": 1,
            "update_order": "actor_first",
            "target_entropy": -1.0 + float(np.log(2.0)),
            "target_delay": 1,
            "autotune": True,
            "alpha_init": 1.0,
            "alpha_loss": "alpha",
            "log_std_mode": "clip",
            "log_std_min": -10.0,
            "log_std_max": 2.0,
            "squash_epsilon": None,
            "normalize_obs": True,
            "obs_clip": 1e6,
            "random_until_learning_starts": False,
            "action_units": "env",
            "max_grad_norm": None,
        },
    },
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """CleanRL's defaults with ``overrides`` applied."""
    del spec
    return Config(**overrides)


def alpha_loss(
    log_alpha: jax.Array,
    log_prob: jax.Array,
    target_entropy: jax.Array | float,
    form: Literal["alpha", "log_alpha"],
) -> jax.Array:
    """The temperature's loss, −α·(log π + H̄) or −log α·(log π + H̄), log π held constant.

    Its gradient raises α when the policy's entropy −E[log π] is below the target H̄ and lowers
    it above; minimizing it is the dual step of Haarnoja et al. 2018b, eq. 18.
    """
    gap = jax.lax.stop_gradient(jnp.mean(log_prob) + target_entropy)
    weight = jnp.exp(log_alpha) if form == "alpha" else log_alpha
    return -weight * gap


@struct.dataclass
class Learner:
    """What the gradient steps change."""

    actor: dict  # {"net": …, "sde_log_std": (features, action_dim or 1) with gSDE}
    critic: dict  # n_critics stacked on the leading axis
    critic_target: dict
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    critic_updates: jax.Array  # gradient steps so far
    actor_updates: jax.Array  # actor steps so far


@struct.dataclass
class State:
    learner: Learner
    buffer: Replay
    obs_rms: RunningMeanStd
    sde_noise: jax.Array  # (num_envs, features, action_dim): gSDE's matrices while acting
    env_steps: jax.Array  # env steps collected so far by this seed
    metrics: dict  # the latest value of each internal (see latest_means)
    hparams: dict


class SAC:
    """SAC's pure functions for one env spec and config (see :mod:`rlcheck.core`).

    The actor outputs a Gaussian's mean and log-std (gSDE: the mean only; its noise scale is a
    parameter matrix).
    """

    name = "sac"
    # Means over the update's gradient steps (actor and α ones over its actor steps; the latest
    # value when it had none), then the cumulative step counters. Entropy is −E[log π] in
    # action_units.
    losses = (
        "critic_loss",
        "actor_loss",
        "alpha_loss",
        "q_mean",
        "entropy",
        "alpha",
        "critic_grad_norm",
        "actor_grad_norm",
    )
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
        outputs_per_action = 1 if config.use_sde else 2
        self.actor = Network(out_size=outputs_per_action * self.action_dim, **net)
        self.critic = Network(out_size=1, **net)
        # log |d env_action / d unit_action|, what log π changes by in env units.
        self.log_scale = float(np.sum(np.log((self.high - self.low) / 2.0)))
        self.features = config.hidden_sizes[-1] if config.hidden_sizes else self.obs_size

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    # ---- networks -------------------------------------------------------------------------

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        key_actor, key_critic, key_noise = jax.random.split(key, 3)
        obs, action = jnp.zeros((1, self.obs_size)), jnp.zeros((1, self.action_dim))
        actor = {"net": self.actor.init(key_actor, obs)}
        if self.config.use_sde:
            columns = self.action_dim if self.config.sde_full_std else 1
            actor["sde_log_std"] = jnp.full((self.features, columns), hparams["sde_log_std_init"])
        critic = critic_init(self.critic, key_critic, self.config.n_critics, obs, action)
        log_alpha = jnp.log(hparams["alpha_init"])
        learner = Learner(
            actor=actor,
            critic=critic,
            critic_target=critic,
            log_alpha=log_alpha,
            actor_opt=adam(hparams["actor_learning_rate"], hparams).init(actor),
            critic_opt=adam(hparams["critic_learning_rate"], hparams).init(critic),
            alpha_opt=adam(hparams["alpha_learning_rate"], hparams).init(log_alpha),
            critic_updates=jnp.asarray(0, jnp.int32),
            actor_updates=jnp.asarray(0, jnp.int32),
        )
        return State(
            learner=learner,
            buffer=transition_buffer(self.capacity, self.spec.obs_shape, self.action_dim),
            obs_rms=rms_init(self.spec.obs_shape),
            sde_noise=self._sde_matrices(actor, key_noise, self.num_envs),
            env_steps=jnp.asarray(0, jnp.int32),
            metrics={name: jnp.float32(0) for name in self.losses},
            hparams=hparams,
        )

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

    # ---- the policy -----------------------------------------------------------------------

    def _gaussian(
        self, actor: dict, x: jax.Array, hparams: dict
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(mean, log-std, last hidden features) of the Gaussian before tanh. With gSDE the
        log-std returned is zeros: the noise scale comes from the features instead."""
        features, out = self.actor.apply(actor["net"], x)
        if self.config.use_sde:
            clip = hparams["sde_clip_mean"]
            mean = jnp.where(clip > 0, jnp.clip(out, -clip, clip), out)
            return mean, jnp.zeros_like(mean), features
        mean, raw = jnp.split(out, 2, axis=-1)
        log_std = bound_log_std(
            raw, hparams["log_std_min"], hparams["log_std_max"], self.config.log_std_mode
        )
        return mean, log_std, features

    def _sde_std(self, actor: dict) -> jax.Array:
        """gSDE's noise scale per (feature, action), (features, action_dim)."""
        std = gsde_std(actor["sde_log_std"], self.config.use_expln)
        return jnp.broadcast_to(std, (self.features, self.action_dim))

    def _sde_matrices(self, actor: dict, key: jax.Array, n: int) -> jax.Array:
        """``n`` noise matrices drawn from N(0, std²), (n, features, action_dim); reparameterized,
        so gradients reach the noise scale."""
        if not self.config.use_sde:
            return jnp.zeros((n, 0, self.action_dim))
        std = self._sde_std(actor)
        return std * jax.random.normal(key, (n, *std.shape))

    def _sample(
        self, actor: dict, x: jax.Array, key: jax.Array, hparams: dict
    ) -> tuple[jax.Array, jax.Array]:
        """A reparameterized action in [-1, 1] and its log π (in action_units), for training.

        gSDE draws one noise matrix for the whole batch, as SB3 does per gradient step; the
        log-density is that of the per-state Gaussian N(mean, features²·std²)."""
        mean, log_std, features = self._gaussian(actor, x, hparams)
        if self.config.use_sde:
            u = mean + features @ self._sde_matrices(actor, key, 1)[0]
            variance = (features**2) @ (self._sde_std(actor) ** 2)
            log_std = 0.5 * jnp.log(variance + _SDE_EPSILON)
        else:
            u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
        action, log_prob = squashed_gaussian(u, mean, log_std, self.config.squash_epsilon)
        if self.config.action_units == "env":
            log_prob = log_prob - self.log_scale
        return action, log_prob

    def _alpha(self, learner: Learner, hparams: dict) -> jax.Array:
        return jnp.exp(learner.log_alpha) if self.config.autotune else hparams["alpha"]

    # ---- acting ---------------------------------------------------------------------------

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        config, hp = self.config, state.hparams
        state = state.replace(obs_rms=track_obs(state.obs_rms, obs, config.normalize_obs))
        key_policy, key_uniform = jax.random.split(key)
        mean, log_std, features = self._gaussian(state.learner.actor, self._obs(state, obs), hp)
        if config.use_sde:
            # Each env keeps its matrix for the whole rollout: noise that is a smooth function
            # of the state, not white noise.
            noise = jnp.einsum("ef,efa->ea", features, state.sde_noise)
        else:
            noise = jnp.exp(log_std) * jax.random.normal(key_policy, mean.shape)
        action = jnp.tanh(mean + noise)
        if config.random_until_learning_starts:
            action = uniform_until_learning_starts(
                action, key_uniform, state.env_steps, hp["learning_starts"]
            )
        state = state.replace(env_steps=state.env_steps + self.num_envs)
        return state, unit_to_box(action, self.low, self.high), {"obs": obs}

    def policy_params(self, state: State) -> dict:
        """The actor, the hyperparameters its Gaussian reads (the log-std bounds, or gSDE's
        clip of the mean) and, with ``normalize_obs``, the observation statistics."""
        names = ("sde_clip_mean",) if self.config.use_sde else ("log_std_min", "log_std_max")
        return {
            "actor": state.learner.actor,
            "hparams": {k: state.hparams[k] for k in names},
            **obs_normalizer(state, self.config.normalize_obs),
        }

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        x = flat_obs(obs, params, self.spec.obs_shape)
        if deterministic:
            action = jnp.tanh(self._gaussian(params["actor"], x, params["hparams"])[0])
        else:
            action, _ = self._sample(params["actor"], x, key, params["hparams"])
        return unit_to_box(action, self.low, self.high)

    # ---- learning -------------------------------------------------------------------------

    def _actor_loss(
        self,
        actor: dict,
        critic: dict,
        obs: jax.Array,
        key: jax.Array,
        alpha: jax.Array,
        hparams: dict,
    ) -> tuple[jax.Array, jax.Array]:
        """E[α·log π(a|s) − min_i Q_i(s, a)], a ~ π reparameterized; also returns log π."""
        action, log_prob = self._sample(actor, obs, key, hparams)
        qs = critic_apply(self.critic, critic, obs, self._critic_units(action))
        return jnp.mean(alpha * log_prob - jnp.min(qs, axis=0)), log_prob

    def _actor_alpha_step(
        self, hparams: dict, obs: jax.Array, learner: Learner, key: jax.Array
    ) -> tuple[Learner, dict]:
        """One actor step, then one α step on the same sample's log π (as SB3)."""
        alpha = self._alpha(learner, hparams)
        (loss, log_prob), grads = jax.value_and_grad(self._actor_loss, has_aux=True)(
            learner.actor, learner.critic, obs, key, alpha, hparams
        )
        actor, actor_opt = adam_step(
            grads, learner.actor_opt, learner.actor, hparams["actor_learning_rate"], hparams
        )
        learner = learner.replace(
            actor=actor, actor_opt=actor_opt, actor_updates=learner.actor_updates + 1
        )
        target_entropy = hparams.get("target_entropy", -float(self.action_dim))
        a_loss, a_grad = jax.value_and_grad(alpha_loss)(
            learner.log_alpha, log_prob, target_entropy, self.config.alpha_loss
        )
        if self.config.autotune:
            log_alpha, alpha_opt = adam_step(
                a_grad,
                learner.alpha_opt,
                learner.log_alpha,
                hparams["alpha_learning_rate"],
                hparams,
            )
            learner = learner.replace(log_alpha=log_alpha, alpha_opt=alpha_opt)
        values = {
            "actor_loss": loss,
            "alpha_loss": a_loss,
            "entropy": -jnp.mean(log_prob),
            "alpha": alpha,
            "actor_grad_norm": optax.tree.norm(grads),
        }
        return learner, values

    def _actor_alpha_steps(
        self, hparams: dict, obs: jax.Array, key: jax.Array, learner: Learner
    ) -> tuple[Learner, dict]:
        """actor_update_interval actor and α steps in a row on one minibatch (CleanRL)."""
        learner, values = jax.lax.scan(
            functools.partial(self._actor_alpha_step, hparams, obs),
            learner,
            jax.random.split(key, self.config.actor_update_interval),
        )
        return learner, jax.tree.map(jnp.mean, values)

    def _critic_phase(
        self,
        hp: dict,
        batch: dict,
        key: jax.Array,
        alpha: jax.Array,
        learner: Learner,
    ) -> tuple[Learner, dict]:
        """One critic step toward r + γ(1 − d)(min_i Q'_i(s', a') − α·log π(a'|s')), a' ~ π."""
        next_action, next_log_prob = self._sample(learner.actor, batch["next_obs"], key, hp)
        next_qs = critic_apply(
            self.critic, learner.critic_target, batch["next_obs"], self._critic_units(next_action)
        )
        target = td_target(
            batch["reward"], batch["done"], hp["gamma"], next_qs, next_log_prob, alpha
        )
        critic, critic_opt, values = critic_step(
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
        return learner, values

    def _gradient_step(self, state: State, learner: Learner, key: jax.Array) -> tuple:
        """On one fresh minibatch: a critic step and, when due, the actor and α steps, in
        ``update_order``; then the target update."""
        hp = state.hparams
        key_sample, key_next, key_actor = jax.random.split(key, 3)
        batch = sample_minibatch(
            state.buffer, key_sample, self.config.batch_size, functools.partial(self._obs, state)
        )
        actor_phase = functools.partial(self._actor_alpha_steps, hp, batch["obs"], key_actor)
        critic_phase = functools.partial(
            self._critic_phase, hp, batch, key_next, self._alpha(learner, hp)
        )
        n = self.config.actor_update_interval
        if self.config.update_order == "actor_first":
            # The actor steps on the critic as the last step left it. The critic's count is
            # then one short of this step's number: due at n − 1 modulo n, the same gradient
            # steps as critic_first.
            learner, actor_values, actor_ran = every_nth(
                n, learner.critic_updates, actor_phase, learner, due_at=n - 1
            )
            learner, critic_values = critic_phase(learner)
        else:
            learner, critic_values = critic_phase(learner)
            learner, actor_values, actor_ran = every_nth(
                n, learner.critic_updates, actor_phase, learner
            )

        tau = hp["tau"]
        if self.config.target_delay > 1:
            due = learner.critic_updates % self.config.target_delay == 0
            tau = jnp.where(due, tau, 0.0)
        learner = learner.replace(
            critic_target=polyak_update(learner.critic_target, learner.critic, tau)
        )
        return learner, step_internals(critic_values, actor_values, actor_ran)

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        """The rollout into the replay buffer, then ``gradient_steps`` calls of
        :meth:`_gradient_step` once learning has started; gSDE's noise matrices are redrawn
        for the next rollout."""
        transitions = rollout_transitions(
            traj, traj.aux["obs"], self.low, self.high, self.config.bootstrap_on_truncation
        )
        state = state.replace(buffer=replay_add(state.buffer, transitions))
        key_steps, key_noise = jax.random.split(key)
        # SB3 and CleanRL train once more than learning_starts transitions are stored.
        learner, metrics = gradient_steps_once_started(
            state.env_steps > state.hparams["learning_starts"],
            functools.partial(self._gradient_step, state),
            state.learner,
            key_steps,
            self.config.gradient_steps,
            state.metrics,
        )
        counters = {
            "critic_updates": learner.critic_updates.astype(jnp.float32),
            "actor_updates": learner.actor_updates.astype(jnp.float32),
        }
        sde_noise = self._sde_matrices(learner.actor, key_noise, self.num_envs)
        state = state.replace(learner=learner, metrics=metrics, sde_noise=sde_noise)
        return state, {**metrics, **counters}

    def params_finite(self, state: State) -> jax.Array:
        return all_finite((state.learner.actor, state.learner.critic, state.learner.log_alpha))
