"""Proximal Policy Optimization (Schulman et al. 2017), discrete and continuous actions.

Reads top to bottom: the Config (every implementation detail a named field; defaults are
CleanRL's ``ppo.py`` for discrete actions and ``ppo_continuous_action.py`` for continuous ones),
acting, then the update: reward scaling, GAE, and epochs of minibatch steps on the clipped
surrogate. The networks, the action distribution and the rollout's targets (reward scaling,
then GAE) are the ones A2C and TRPO use too (:mod:`rlcheck.agents.common.actor_critic`); the
loss, the epochs of minibatches and the early stop are PPO's own, here. What CleanRL takes from
Gymnasium wrappers (NormalizeObservation, NormalizeReward, clipping) is state of the agent here,
one copy per seed; the reward scaling equals SB3's ``VecNormalize`` and differs from
Gymnasium's ``NormalizeReward`` from the first episode end on
(:mod:`rlcheck.agents.common.reward_scaling` says how).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

from rlcheck.agents.common.actor_critic import (
    ActorCritic,
    ActorCriticState,
    actor_critic_targets,
    flatten_rollout,
)
from rlcheck.agents.common.losses import (
    clipped_policy_loss,
    explained_variance,
    normalize_advantages,
    value_loss,
)
from rlcheck.agents.common.networks import Activation, WeightInit
from rlcheck.agents.common.normalize import (
    normalize_with,
    obs_normalizer,
    observe,
    rms_init,
)
from rlcheck.agents.common.trust_region import TRUST_REGION_INTERNALS, trust_region_internals
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
        "divide rewards by the running std of the discounted return (Engstrom et al. 2020 "
        "'reward scaling'); as SB3's VecNormalize, which differs from CleanRL's Gymnasium "
        "NormalizeReward at episode ends (see rlcheck.agents.common.reward_scaling)",
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
    trust_region_monitor: bool = static(
        False,
        "after every update, log how far it moved the policy on the batch it learned from: "
        "ratio_max, ratio_p99, ratio_mean of π_new/π_old and kl_mean, kl_max of "
        "KL(π_old ‖ π_new) (Engstrom et al. 2020 §4; MadryLab's paper_constraints_logging). "
        "Off by default: it costs ≈ 11–19% of the training time with CleanRL's CartPole-v1 "
        "defaults (benchmarks/trust_region_overhead.py)",
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


# The same state as A2C's: one optimizer over actor and critic.
State = ActorCriticState


# PPO keeps the log-std of continuous actions beside the two networks, {"actor": net, "critic",
# "log_std"}, where ActorCritic nests it in the actor, {"actor": {"net", "log_std"}, "critic"}.
# The leaves are the same; their order is not, and optax's global-norm clipping sums the squared
# gradients leaf by leaf in tree order, so the float rounding of the clipped steps depends on it.
# Each algorithm keeps the order its results were recorded with (tests/test_golden.py: PPO's and
# A2C's Pendulum-v1 returns each move with the other's order).
def _ppo_layout(params: dict) -> dict:
    """ActorCritic's parameters in PPO's layout."""
    actor = params["actor"]
    out = {"actor": actor["net"], "critic": params["critic"]}
    if "log_std" in actor:
        out["log_std"] = actor["log_std"]
    return out


def _actor(params: dict) -> dict:
    """The actor's parameters as ActorCritic takes them, from PPO's layout."""
    if "log_std" in params:
        return {"net": params["actor"], "log_std": params["log_std"]}
    return {"net": params["actor"]}


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
        self.net = ActorCritic(spec, config.hidden_sizes, config.activation, config.weight_init)
        if config.trust_region_monitor:
            self.metric_names = PPO.metric_names + TRUST_REGION_INTERNALS

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        params = _ppo_layout(self.net.init(key))
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

    # ---- acting ---------------------------------------------------------------------------

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        state, x = observe(state, obs, self.config.normalize_obs)
        d = self.net.dist(_actor(state.params), x)
        action = self.net.sample(d, key)
        aux = {
            "x": x,
            "log_prob": self.net.log_prob(d, action),
            "value": self.net.value(state.params["critic"], x),
        }
        return state, action, aux

    def policy_params(self, state: State) -> dict:
        """The actor (``{"net", ["log_std"]}``) and, with ``normalize_obs``, the observation
        statistics."""
        return {
            "actor": _actor(state.params),
            **obs_normalizer(state, self.config.normalize_obs),
        }

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        return self.net.action(params["actor"], normalize_with(params, obs), key, deterministic)

    # ---- learning -------------------------------------------------------------------------

    def _loss(self, params: dict, hparams: dict, mb: dict) -> tuple[jax.Array, dict]:
        d = self.net.dist(_actor(params), mb["x"])
        advantages = (
            normalize_advantages(mb["advantages"]) if self.config.norm_adv else mb["advantages"]
        )
        pg_loss, diagnostics = clipped_policy_loss(
            self.net.log_prob(d, mb["action"]), mb["log_prob"], advantages, hparams["clip_coef"]
        )
        v_loss = value_loss(
            self.net.value(params["critic"], mb["x"]),
            mb["value"],
            mb["returns"],
            hparams["clip_coef"],
            self.config.clip_vloss,
        )
        entropy = jnp.mean(self.net.entropy(d))
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
        state, advantages, returns = actor_critic_targets(self.net, state, traj, self.config)
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
        if self.config.trust_region_monitor:
            old = self.net.dist(_actor(state.params), batch["x"])
            new = self.net.dist(_actor(params), batch["x"])
            log_ratio = self.net.log_prob(new, batch["action"]) - batch["log_prob"]
            metrics.update(trust_region_internals(log_ratio, self.net.kl(old, new)))
        state = state.replace(params=params, opt_state=opt_state, updates=state.updates + 1)
        return state, metrics

    def params_finite(self, state: State) -> jax.Array:
        return all_finite(state.params)
