"""Proximal Policy Optimization (Schulman et al. 2017), discrete and continuous actions.

Reads top to bottom: the Config (every implementation detail a named field; defaults are
CleanRL's ``ppo.py`` for discrete actions and ``ppo_continuous_action.py`` for continuous ones),
the networks, acting, then the update: reward scaling, GAE, and epochs of minibatch steps on the
clipped surrogate. The Gymnasium wrappers CleanRL relies on (NormalizeObservation,
NormalizeReward, clipping) are state of the agent here, one copy per seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

from rlcheck.agents.common import distributions as dist
from rlcheck.agents.common.actor_critic import ActorCriticState, flatten_rollout
from rlcheck.agents.common.advantages import gae
from rlcheck.agents.common.losses import (
    clipped_policy_loss,
    explained_variance,
    normalize_advantages,
    value_loss,
)
from rlcheck.agents.common.networks import MLP, Activation, WeightInit
from rlcheck.agents.common.normalize import normalized_obs, observe, rms_init
from rlcheck.agents.common.reward_scaling import rollout_rewards
from rlcheck.core import Trajectory, all_finite, static, traced, traced_values
from rlcheck.envs.spec import Box, EnvSpec


@dataclass(frozen=True)
class Config:
    """PPO hyperparameters. Defaults: CleanRL ``ppo.py`` (discrete actions)."""

    num_envs: int = static(4, "parallel envs per seed", unit="count")
    num_steps: int = static(
        128, "steps per env in each rollout; batch = num_envs × num_steps", unit="env steps per env"
    )
    num_minibatches: int = static(
        4, "minibatches the batch is split into in each epoch", unit="count"
    )
    update_epochs: int = static(4, "passes over the batch per update", unit="count")
    hidden_sizes: tuple[int, ...] = static(
        (64, 64), "hidden layer widths of actor and critic (two separate networks)", unit="count"
    )
    activation: Activation = static("tanh", "hidden activation", unit="none")
    weight_init: WeightInit = static(
        "orthogonal",
        "orthogonal: gain √2 hidden / 0.01 policy head / 1 value head (Engstrom et al. 2020, "
        "detail 'orthogonal initialization'); torch or lecun (see rlcheck.glossary)",
        unit="none",
    )
    norm_adv: bool = static(
        True, "normalize advantages per minibatch (CleanRL --norm-adv)", unit="none"
    )
    clip_vloss: bool = static(
        True, "clip the value loss around the old values (OpenAI ppo2)", unit="none"
    )
    anneal_lr: bool = static(
        True, "decay the learning rate linearly to 0 over the run", unit="none"
    )
    normalize_obs: bool = static(
        False,
        "normalize observations by their running mean/std "
        "(Gymnasium NormalizeObservation), then clip to ±obs_clip",
        unit="none",
    )
    normalize_reward: bool = static(
        False,
        "divide rewards by the running std of the discounted "
        "return (Gymnasium NormalizeReward; Engstrom et al. 2020 "
        "'reward scaling')",
        unit="none",
    )
    clip_reward: bool = static(False, "clip (scaled) rewards to ±reward_clip", unit="none")
    bootstrap_on_truncation: bool = static(
        True,
        "bootstrap V(s) when an episode is cut by the "
        "time limit (Pardo et al. 2018); False treats it as a "
        "termination, as CleanRL does",
        unit="none",
    )
    learning_rate: float = traced(2.5e-4, "Adam step size (start value when annealed)", unit="none")
    optimizer_eps: float = traced(
        1e-5, "Adam ε (CleanRL uses 1e-5, not PyTorch's 1e-8)", unit="none"
    )
    gamma: float = traced(0.99, "discount factor", unit="none")
    gae_lambda: float = traced(0.95, "GAE λ", unit="none")
    clip_coef: float = traced(
        0.2, "surrogate clipping ε (also the value clipping range)", unit="none"
    )
    ent_coef: float = traced(0.01, "entropy bonus coefficient", unit="none")
    vf_coef: float = traced(0.5, "value loss coefficient", unit="none")
    max_grad_norm: float = traced(0.5, "clip the global gradient norm to this value", unit="none")
    obs_clip: float = traced(10.0, "clip for normalized observations", unit="running stds")
    reward_clip: float = traced(10.0, "clip for rewards when clip_reward is on", unit="rewards")
    target_kl: float | None = traced(
        None,
        "stop the update's epochs early once the approximate "
        "KL of an epoch's last minibatch exceeds this; None: never",
        unit="nats",
    )


# CleanRL ppo_continuous_action.py defaults, applied on top of Config() for Box action spaces.
CONTINUOUS_DEFAULTS: dict[str, Any] = {
    "num_envs": 1,
    "num_steps": 2048,
    "num_minibatches": 32,
    "update_epochs": 10,
    "learning_rate": 3e-4,
    "ent_coef": 0.0,
    "normalize_obs": True,
    "normalize_reward": True,
    "clip_reward": True,
}


# Published hyperparameters: {source: {env: Config fields}} (see rlcheck.registry.resolve_preset).
# SB3-based rows (rl-zoo) translate SB3's conventions: SB3's value loss is MSE without CleanRL's
# factor ½, so vf_coef doubles; SB3 does not clip the value loss by default; `normalize: true`
# is VecNormalize (observations and rewards, both clipped at 10); batch_size sets the minibatch
# size. Not representable and left out: linear clip-range schedules (kept constant) and gSDE
# (so the zoo's Pendulum-v1 entry is absent).
_SB3_DEFAULTS = {
    "clip_vloss": False,
    "vf_coef": 1.0,
    "ent_coef": 0.0,
    "anneal_lr": False,
    "learning_rate": 3e-4,
}
_SB3_NORMALIZE = {"normalize_obs": True, "normalize_reward": True, "clip_reward": True}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # CleanRL ppo.py / ppo_continuous_action.py defaults, which its benchmarks use on these
    # envs (docs.cleanrl.dev/rl-algorithms/ppo): the same as default_config. CleanRL benchmarks
    # the -v4 MuJoCo envs; the -v5 rows repeat the same defaults (not benchmarked by CleanRL).
    "cleanrl": {
        env: {}
        for env in (
            "CartPole-v1",
            "Acrobot-v1",
            "MountainCar-v0",
            *(f"{env}-{v}" for env in ("HalfCheetah", "Walker2d", "Hopper") for v in ("v4", "v5")),
        )
    },
    # RL Baselines3 Zoo, hyperparams/ppo.yml (DLR-RM/rl-baselines3-zoo).
    "rl-zoo": {
        "CartPole-v1": {
            **_SB3_DEFAULTS,
            "num_envs": 8,
            "num_steps": 32,
            "num_minibatches": 1,
            "update_epochs": 20,
            "gae_lambda": 0.8,
            "gamma": 0.98,
            "learning_rate": 1e-3,
            "anneal_lr": True,
        },
        "Acrobot-v1": {
            **_SB3_DEFAULTS,
            **_SB3_NORMALIZE,
            "num_envs": 16,
            "num_steps": 256,
            "num_minibatches": 64,
            "update_epochs": 4,
            "gae_lambda": 0.94,
        },
        "MountainCar-v0": {
            **_SB3_DEFAULTS,
            **_SB3_NORMALIZE,
            "num_envs": 16,
            "num_steps": 16,
            "num_minibatches": 4,
            "update_epochs": 4,
            "gae_lambda": 0.98,
        },
    },
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """CleanRL's defaults for the env's action space, with ``overrides`` applied."""
    base = CONTINUOUS_DEFAULTS if isinstance(spec.action_space, Box) else {}
    return Config(**{**base, **overrides})


State = ActorCriticState


class PPO:
    """PPO's pure functions for one env spec and config (see :mod:`rlcheck.core`)."""

    name = "ppo"
    metric_names = (
        "policy_loss",
        "value_loss",
        "entropy",
        "approx_kl",
        "clip_fraction",
        "explained_variance",
        "grad_norm",
        "learning_rate",
        "epochs",
    )

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        self.spec = spec
        self.config = config
        self.num_envs = config.num_envs
        self.rollout_len = config.num_steps
        self.batch_size = config.num_envs * config.num_steps
        if self.batch_size % config.num_minibatches:
            raise ValueError(
                f"num_envs × num_steps = {self.batch_size} is not divisible by "
                f"num_minibatches = {config.num_minibatches}"
            )
        self.num_updates = max(budget // self.batch_size, 1)
        self.continuous = isinstance(spec.action_space, Box)
        action_dim = spec.action_space.shape[0] if self.continuous else spec.action_space.n
        mlp = {
            "hidden_sizes": config.hidden_sizes,
            "obs_ndim": len(spec.obs_shape),
            "activation": config.activation,
            "weight_init": config.weight_init,
        }
        self.actor = MLP(out_size=action_dim, output_scale=0.01, **mlp)
        self.critic = MLP(out_size=1, output_scale=1.0, **mlp)

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    # ---- networks -------------------------------------------------------------------------

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        key_actor, key_critic = jax.random.split(key)
        x = jnp.zeros((1, *self.spec.obs_shape))
        params = {"actor": self.actor.init(key_actor, x), "critic": self.critic.init(key_critic, x)}
        if self.continuous:
            params["log_std"] = jnp.zeros(self.spec.action_space.shape)
        return State(
            params=params,
            opt_state=self._optimizer(hparams, hparams["learning_rate"]).init(params),
            obs_rms=rms_init(self.spec.obs_shape),
            return_rms=rms_init(()),
            discounted_return=jnp.zeros(self.num_envs),
            updates=jnp.asarray(0, jnp.int32),
            hparams=hparams,
        )

    def _optimizer(self, hparams: dict, learning_rate: jax.Array) -> optax.GradientTransformation:
        return optax.chain(
            optax.clip_by_global_norm(hparams["max_grad_norm"]),
            optax.adam(learning_rate, eps=hparams["optimizer_eps"]),
        )

    def _prepare_obs(self, state: State, obs: jax.Array) -> jax.Array:
        return normalized_obs(state, obs, self.config.normalize_obs)

    def _value(self, params: dict, x: jax.Array) -> jax.Array:
        return self.critic.apply(params["critic"], x)[..., 0]

    def _log_prob_entropy(
        self, params: dict, x: jax.Array, action: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        out = self.actor.apply(params["actor"], x)
        if self.continuous:
            log_std = jnp.broadcast_to(params["log_std"], out.shape)
            return dist.gaussian_log_prob(out, log_std, action), dist.gaussian_entropy(log_std)
        return dist.categorical_log_prob(out, action), dist.categorical_entropy(out)

    # ---- acting ---------------------------------------------------------------------------

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        state, x = observe(state, obs, self.config.normalize_obs)
        out = self.actor.apply(state.params["actor"], x)
        if self.continuous:
            log_std = jnp.broadcast_to(state.params["log_std"], out.shape)
            action = dist.gaussian_sample(key, out, log_std)
            log_prob = dist.gaussian_log_prob(out, log_std, action)
        else:
            action = dist.categorical_sample(key, out)
            log_prob = dist.categorical_log_prob(out, action)
        aux = {"x": x, "log_prob": log_prob, "value": self._value(state.params, x)}
        return state, action, aux

    def policy(
        self, state: State, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        out = self.actor.apply(state.params["actor"], self._prepare_obs(state, obs))
        if self.continuous:
            if deterministic:
                return out
            return dist.gaussian_sample(
                key, out, jnp.broadcast_to(state.params["log_std"], out.shape)
            )
        return jnp.argmax(out, axis=-1) if deterministic else dist.categorical_sample(key, out)

    # ---- learning -------------------------------------------------------------------------

    def _advantages(
        self, state: State, traj: Trajectory, rewards: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        values = traj.aux["value"]
        last_value = self._value(state.params, self._prepare_obs(state, traj.last_obs))
        next_values = jnp.concatenate([values[1:], last_value[None]], axis=0)
        truncated = traj.truncated
        if self.config.bootstrap_on_truncation:
            # Where an episode was cut, the next observation in the rollout belongs to a new
            # episode; bootstrap from the cut episode's own final observation instead.
            final_values = self._value(state.params, self._prepare_obs(state, traj.final_obs))
            next_values = jnp.where(truncated, final_values, next_values)
            terminated = traj.terminated
        else:
            terminated = traj.terminated | truncated
        return gae(
            rewards,
            values,
            next_values,
            terminated,
            truncated,
            state.hparams["gamma"],
            state.hparams["gae_lambda"],
        )

    def _loss(self, params: dict, hparams: dict, mb: dict) -> tuple[jax.Array, dict]:
        log_prob, entropy = self._log_prob_entropy(params, mb["x"], mb["action"])
        advantages = (
            normalize_advantages(mb["advantages"]) if self.config.norm_adv else mb["advantages"]
        )
        pg_loss, diagnostics = clipped_policy_loss(
            log_prob, mb["log_prob"], advantages, hparams["clip_coef"]
        )
        v_loss = value_loss(
            self._value(params, mb["x"]),
            mb["value"],
            mb["returns"],
            hparams["clip_coef"],
            self.config.clip_vloss,
        )
        entropy = jnp.mean(entropy)
        loss = pg_loss - hparams["ent_coef"] * entropy + hparams["vf_coef"] * v_loss
        return loss, {
            "policy_loss": pg_loss,
            "value_loss": v_loss,
            "entropy": entropy,
            **diagnostics,
        }

    def _minibatch_step(self, carry: tuple, mb: dict) -> tuple[tuple, dict]:
        params, opt_state, hparams, learning_rate = carry
        grads, stats = jax.grad(self._loss, has_aux=True)(params, hparams, mb)
        updates, opt_state = self._optimizer(hparams, learning_rate).update(
            grads, opt_state, params
        )
        params = optax.apply_updates(params, updates)
        return (params, opt_state, hparams, learning_rate), {
            **stats,
            "grad_norm": optax.tree.norm(grads),
        }

    def _epoch(self, carry: tuple, key: jax.Array) -> tuple[tuple, dict]:
        params, opt_state, hparams, learning_rate, batch, stopped = carry
        order = jax.random.permutation(key, self.batch_size)
        minibatches = jax.tree.map(
            lambda x: x[order].reshape(self.config.num_minibatches, -1, *x.shape[1:]), batch
        )
        (new_params, new_opt_state, _, _), stats = jax.lax.scan(
            self._minibatch_step, (params, opt_state, hparams, learning_rate), minibatches
        )
        # target_kl: CleanRL stops after the first epoch whose last minibatch exceeds it.
        keep_old = stopped
        params, opt_state = jax.tree.map(
            lambda old, new: jnp.where(keep_old, old, new),
            (params, opt_state),
            (new_params, new_opt_state),
        )
        if "target_kl" in hparams:
            stopped = stopped | (stats["approx_kl"][-1] > hparams["target_kl"])
        ran = (~keep_old).astype(jnp.float32)
        stats = {k: jnp.mean(v) * ran for k, v in stats.items()}
        return (params, opt_state, hparams, learning_rate, batch, stopped), {**stats, "ran": ran}

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        state, rewards = rollout_rewards(
            state,
            traj.reward,
            traj.terminated | traj.truncated,
            self.config.normalize_reward,
            self.config.clip_reward,
        )
        advantages, returns = self._advantages(state, traj, rewards)
        batch = {
            "x": traj.aux["x"],
            "action": traj.action,
            "log_prob": traj.aux["log_prob"],
            "value": traj.aux["value"],
            "advantages": advantages,
            "returns": returns,
        }
        batch = flatten_rollout(batch, self.batch_size)

        learning_rate = state.hparams["learning_rate"]
        if self.config.anneal_lr:
            learning_rate = learning_rate * (1.0 - state.updates / self.num_updates)
        carry = (
            state.params,
            state.opt_state,
            state.hparams,
            learning_rate,
            batch,
            jnp.asarray(False),
        )
        (params, opt_state, *_), stats = jax.lax.scan(
            self._epoch, carry, jax.random.split(key, self.config.update_epochs)
        )

        epochs = jnp.sum(stats.pop("ran"))
        metrics = {k: jnp.sum(v) / epochs for k, v in stats.items()}
        metrics["explained_variance"] = explained_variance(batch["value"], batch["returns"])
        metrics["learning_rate"] = learning_rate
        metrics["epochs"] = epochs
        state = state.replace(params=params, opt_state=opt_state, updates=state.updates + 1)
        return state, metrics

    def params_finite(self, state: State) -> jax.Array:
        return all_finite(state.params)
