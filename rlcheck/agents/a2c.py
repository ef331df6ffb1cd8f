"""Advantage Actor-Critic (A2C; Mnih et al. 2016, synchronous), discrete and continuous actions.

Reads top to bottom: the Config (every implementation detail a named field; defaults are
Stable-Baselines3's ``A2C`` with the RL Zoo's env count for classic control), acting, then the
update: optional reward scaling, n-step returns (GAE with λ = 1), and one gradient step on the
whole rollout — no epochs, no minibatches, no clipping of the policy change. SB3's
``VecNormalize`` (observation and reward normalization, the RL Zoo's ``normalize: true``) is state
of the agent here, one copy per seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax

from rlcheck.agents.common.actor_critic import (
    ActorCritic,
    ActorCriticState,
    actor_critic_targets,
    flatten_rollout,
)
from rlcheck.agents.common.losses import explained_variance, normalize_advantages, value_loss
from rlcheck.agents.common.networks import Activation, WeightInit
from rlcheck.agents.common.normalize import (
    normalize_with,
    obs_normalizer,
    observe,
    rms_init,
)
from rlcheck.agents.common.trust_region import TRUST_REGION_INTERNALS, trust_region_internals
from rlcheck.core import Trajectory, all_finite, static, traced, traced_values
from rlcheck.envs.spec import EnvSpec


@dataclass(frozen=True)
class Config:
    """A2C hyperparameters. Defaults: SB3 ``A2C`` (stable_baselines3/a2c/a2c.py)."""

    num_envs: int = static(
        8,
        "parallel envs per seed (RL Zoo a2c.yml uses 8 on CartPole-v1 and LunarLander)",
        unit="count",
    )
    num_steps: int = static(
        5, "steps per env in each rollout (SB3 n_steps); one update each", unit="env steps per env"
    )
    hidden_sizes: tuple[int, ...] = static(
        (64, 64),
        "hidden layer widths of actor and critic (separate networks, SB3 MlpPolicy)",
        unit="count",
    )
    activation: Activation = static("tanh", "hidden activation", unit="none")
    weight_init: WeightInit = static(
        "orthogonal",
        "orthogonal: gain √2 hidden / 0.01 policy head / 1 value head (SB3 ortho_init=True); "
        "torch or lecun (see rlcheck.glossary)",
        unit="none",
    )
    optimizer: Literal["rmsprop", "adam"] = static(
        "rmsprop",
        "SB3 use_rms_prop=True: PyTorch's RMSprop (ε added outside the square root, no "
        "momentum, not centered); 'adam': Adam with the same ε",
        unit="none",
    )
    norm_adv: bool = static(
        False, "normalize advantages over the rollout (SB3 default: off)", unit="none"
    )
    anneal_lr: bool = static(
        False,
        "decay the learning rate linearly to 0 over the run (RL Zoo's lin_ schedules)",
        unit="none",
    )
    normalize_obs: bool = static(
        False,
        "normalize observations by their running mean/std, then clip to ±obs_clip "
        "(SB3 VecNormalize; the RL Zoo's normalize: true)",
        unit="none",
    )
    normalize_reward: bool = static(
        False,
        "divide rewards by the running std of the discounted return (SB3 VecNormalize; "
        "Engstrom et al. 2020 'reward scaling')",
        unit="none",
    )
    clip_reward: bool = static(
        False, "clip (scaled) rewards to ±reward_clip (VecNormalize)", unit="none"
    )
    bootstrap_on_truncation: bool = static(
        True,
        "bootstrap V(s) when an episode is cut by the time limit, as SB3 does (Pardo et al. "
        "2018); False treats it as a termination",
        unit="none",
    )
    trust_region_monitor: bool = static(
        False,
        "after every update, log how far it moved the policy on the batch it learned from: "
        "ratio_max, ratio_p99, ratio_mean of π_new/π_old and kl_mean, kl_max of "
        "KL(π_old ‖ π_new) (Engstrom et al. 2020 §4; see PPO's field)",
        unit="none",
    )
    learning_rate: float = traced(
        7e-4, "optimizer step size (start value when annealed)", unit="none"
    )
    rmsprop_decay: float = traced(
        0.99, "RMSprop decay of the squared-gradient average (SB3 α)", unit="none"
    )
    optimizer_eps: float = traced(1e-5, "RMSprop/Adam ε (SB3 rms_prop_eps)", unit="none")
    gamma: float = traced(0.99, "discount factor", unit="none")
    gae_lambda: float = traced(
        1.0, "GAE λ; 1 gives the n-step returns of the original A2C (SB3 default)", unit="none"
    )
    ent_coef: float = traced(0.0, "entropy bonus coefficient (SB3 default 0)", unit="none")
    vf_coef: float = traced(
        1.0,
        "value loss coefficient on ½·MSE (rlcheck's convention, as PPO): SB3's 0.5 on a "
        "plain MSE is 1.0 here",
        unit="none",
    )
    max_grad_norm: float = traced(0.5, "clip the global gradient norm to this value", unit="none")
    log_std_init: float = traced(
        0.0, "initial log-std of continuous actions (SB3 log_std_init)", unit="log action units"
    )
    obs_clip: float = traced(
        10.0, "clip for normalized observations (VecNormalize clip_obs)", unit="running stds"
    )
    reward_clip: float = traced(10.0, "clip for rewards when clip_reward is on", unit="rewards")


# Published hyperparameters: {source: {env: Config fields}} (see rlcheck.registry.resolve_preset).
# RL Baselines3 Zoo, hyperparams/a2c.yml (DLR-RM/rl-baselines3-zoo), translated: `normalize:
# true` is VecNormalize (observations and rewards, both clipped at 10). Left out: entries using
# gSDE (Pendulum, continuous LunarLander and MountainCar, BipedalWalker, PyBullet), which rlcheck
# does not have, and LunarLander-v2, which Gymnasium 1.x no longer registers.
_ZOO_NORMALIZE = {"normalize_obs": True, "normalize_reward": True, "clip_reward": True}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "rl-zoo": {
        "CartPole-v1": {"num_envs": 8, "ent_coef": 0.0},
        "Acrobot-v1": {**_ZOO_NORMALIZE, "num_envs": 16, "ent_coef": 0.0},
        "MountainCar-v0": {**_ZOO_NORMALIZE, "num_envs": 16, "ent_coef": 0.0},
    },
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """SB3's A2C defaults (the same for both action spaces), with ``overrides`` applied."""
    del spec
    return Config(**overrides)


# The same state as PPO's: one optimizer over actor and critic.
State = ActorCriticState


class A2C:
    """A2C's pure functions for one env spec and config (see :mod:`rlcheck.core`)."""

    name = "a2c"
    metric_names = (
        "policy_loss",
        "value_loss",
        "entropy",
        "kl",
        "explained_variance",
        "grad_norm",
        "learning_rate",
    )

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        self.spec = spec
        self.config = config
        self.num_envs = config.num_envs
        self.rollout_len = config.num_steps
        self.batch_size = config.num_envs * config.num_steps
        self.num_updates = max(budget // self.batch_size, 1)
        self.net = ActorCritic(spec, config.hidden_sizes, config.activation, config.weight_init)
        if config.trust_region_monitor:
            self.metric_names = A2C.metric_names + TRUST_REGION_INTERNALS

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        params = self.net.init(key, hparams["log_std_init"])
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
        if self.config.optimizer == "rmsprop":
            step = optax.rmsprop(
                learning_rate,
                decay=hparams["rmsprop_decay"],
                eps=hparams["optimizer_eps"],
                eps_in_sqrt=False,  # PyTorch: g / (sqrt(v) + ε)
            )
        else:
            step = optax.adam(learning_rate, eps=hparams["optimizer_eps"])
        return optax.chain(optax.clip_by_global_norm(hparams["max_grad_norm"]), step)

    # ---- acting ---------------------------------------------------------------------------

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        state, x = observe(state, obs, self.config.normalize_obs)
        action = self.net.sample(self.net.dist(state.params["actor"], x), key)
        return state, action, {"x": x, "value": self.net.value(state.params["critic"], x)}

    def policy_params(self, state: State) -> dict:
        """The actor and, with ``normalize_obs``, the observation statistics."""
        return {
            "actor": state.params["actor"],
            **obs_normalizer(state, self.config.normalize_obs),
        }

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        return self.net.action(params["actor"], normalize_with(params, obs), key, deterministic)

    # ---- learning -------------------------------------------------------------------------

    def _loss(self, params: dict, hparams: dict, batch: dict) -> tuple[jax.Array, dict]:
        d = self.net.dist(params["actor"], batch["x"])
        advantages = batch["advantages"]
        if self.config.norm_adv:
            advantages = normalize_advantages(advantages)
        pg_loss = -jnp.mean(advantages * self.net.log_prob(d, batch["action"]))
        v_loss = value_loss(
            self.net.value(params["critic"], batch["x"]),
            batch["value"],
            batch["returns"],
            0.0,
            False,
        )
        entropy = jnp.mean(self.net.entropy(d))
        loss = pg_loss - hparams["ent_coef"] * entropy + hparams["vf_coef"] * v_loss
        return loss, {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy}

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        del key  # one full-batch gradient step: nothing to sample
        state, advantages, returns = actor_critic_targets(self.net, state, traj, self.config)
        batch = {
            "x": traj.aux["x"],
            "action": traj.action,
            "value": traj.aux["value"],
            "advantages": advantages,
            "returns": returns,
        }
        batch = flatten_rollout(batch, self.batch_size)

        learning_rate = state.hparams["learning_rate"]
        if self.config.anneal_lr:
            learning_rate = learning_rate * (1.0 - state.updates / self.num_updates)
        grads, stats = jax.grad(self._loss, has_aux=True)(state.params, state.hparams, batch)
        updates, opt_state = self._optimizer(state.hparams, learning_rate).update(
            grads, state.opt_state, state.params
        )
        params = optax.apply_updates(state.params, updates)

        old = self.net.dist(state.params["actor"], batch["x"])
        new = self.net.dist(params["actor"], batch["x"])
        kl = self.net.kl(old, new)
        metrics = {
            **stats,
            "kl": jnp.mean(kl),
            "explained_variance": explained_variance(batch["value"], batch["returns"]),
            "grad_norm": optax.tree.norm(grads),
            "learning_rate": learning_rate,
        }
        if self.config.trust_region_monitor:
            # A2C keeps no log-probabilities from acting; the pre-update actor on the
            # observations it acted on gives the same ones (it does not move during a rollout).
            action = batch["action"]
            log_ratio = self.net.log_prob(new, action) - self.net.log_prob(old, action)
            metrics.update(trust_region_internals(log_ratio, kl))
        state = state.replace(params=params, opt_state=opt_state, updates=state.updates + 1)
        return state, metrics

    def params_finite(self, state: State) -> jax.Array:
        return all_finite(state.params)
