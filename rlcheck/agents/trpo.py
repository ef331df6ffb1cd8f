"""Trust Region Policy Optimization (Schulman et al. 2015), discrete and continuous actions.

Reads top to bottom: the Config (defaults are SB3-contrib's ``TRPO``), acting, then the update:
GAE, then the policy step — the gradient g of the surrogate E[A·π_θ/π_old], the natural
direction s ≈ F⁻¹g by conjugate gradient on Fisher-vector products, the largest step along s
allowed by the quadratic model of the KL, and a backtracking line search that accepts only a
step within the KL bound that improves the surrogate (otherwise the policy does not move) —
then the critic, fitted by regression on the returns with Adam. The critic never moves the
policy: the networks share nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax.flatten_util import ravel_pytree

from rlcheck.agents.common.actor_critic import (
    ActorCritic,
    actor_critic_targets,
    flatten_rollout,
)
from rlcheck.agents.common.conjugate_gradient import conjugate_gradient
from rlcheck.agents.common.losses import explained_variance, normalize_advantages, value_loss
from rlcheck.agents.common.networks import Activation, WeightInit
from rlcheck.agents.common.normalize import (
    RunningMeanStd,
    normalize_with,
    obs_normalizer,
    observe,
    rms_init,
)
from rlcheck.agents.common.trust_region import (
    TRUST_REGION_INTERNALS,
    backtracking_line_search,
    fisher_vector_product,
    trust_region_internals,
)
from rlcheck.core import Trajectory, all_finite, static, traced, traced_values
from rlcheck.envs.spec import EnvSpec


@dataclass(frozen=True)
class Config:
    """TRPO hyperparameters. Defaults: SB3-contrib ``TRPO`` (sb3_contrib/trpo/trpo.py)."""

    num_envs: int = static(1, "parallel envs per seed", unit="count")
    num_steps: int = static(
        2048, "steps per env in each rollout (SB3 n_steps)", unit="env steps per env"
    )
    critic_epochs: int = static(
        10,
        "passes over the rollout fitting the value function (SB3 n_critic_updates)",
        unit="count",
    )
    critic_batch_size: int = static(
        128, "minibatch size of the value-function regression (SB3 batch_size)", unit="transitions"
    )
    cg_max_steps: int = static(15, "conjugate-gradient iterations at most", unit="count")
    line_search_max_iter: int = static(
        10, "step sizes the backtracking line search tries", unit="count"
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
    norm_adv: bool = static(
        True, "normalize advantages over the whole rollout (SB3 default)", unit="none"
    )
    normalize_obs: bool = static(
        False,
        "normalize observations by their running mean/std, then clip to ±obs_clip "
        "(SB3 VecNormalize; the RL Zoo's normalize: true)",
        unit="none",
    )
    normalize_reward: bool = static(
        False,
        "divide rewards by the running std of the discounted return (SB3 VecNormalize)",
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
    max_kl: float = traced(
        0.01,
        "trust region δ: bound on the mean KL(π_old ‖ π_new) of a step (SB3 target_kl)",
        unit="nats",
    )
    cg_damping: float = traced(
        0.1, "damping added to the Fisher matrix: (F + damping·I) s = g", unit="none"
    )
    line_search_shrink: float = traced(
        0.8,
        "factor between the line search's step sizes (SB3 line_search_shrinking_factor)",
        unit="none",
    )
    vf_learning_rate: float = traced(
        1e-3,
        "Adam step size of the value function (SB3 learning_rate; the policy has none)",
        unit="none",
    )
    optimizer_eps: float = traced(
        1e-5, "Adam ε of the value function (SB3's ActorCriticPolicy)", unit="none"
    )
    gamma: float = traced(0.99, "discount factor", unit="none")
    gae_lambda: float = traced(0.95, "GAE λ", unit="none")
    log_std_init: float = traced(
        0.0, "initial log-std of continuous actions (SB3 log_std_init)", unit="log action units"
    )
    obs_clip: float = traced(
        10.0, "clip for normalized observations (VecNormalize clip_obs)", unit="running stds"
    )
    reward_clip: float = traced(10.0, "clip for rewards when clip_reward is on", unit="rewards")


# Published hyperparameters: {source: {env: Config fields}} (see rlcheck.registry.resolve_preset).
# RL Baselines3 Zoo, hyperparams/trpo.yml (DLR-RM/rl-baselines3-zoo), translated: n_critic_updates
# is critic_epochs, batch_size is critic_batch_size, learning_rate is vf_learning_rate, target_kl
# is max_kl, `normalize: true` is VecNormalize (observations and rewards, clipped at 10). Left
# out: entries using gSDE (Pendulum-v1, MountainCarContinuous), which rlcheck does not have.
_ZOO_NORMALIZE = {"normalize_obs": True, "normalize_reward": True, "clip_reward": True}
_ZOO_MUJOCO = {
    **_ZOO_NORMALIZE,
    "num_envs": 2,
    "critic_batch_size": 128,
    "num_steps": 1024,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "cg_max_steps": 25,
    "cg_damping": 0.1,
    "critic_epochs": 20,
    "vf_learning_rate": 1e-3,
}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "rl-zoo": {
        "CartPole-v1": {
            "num_envs": 2,
            "num_steps": 512,
            "critic_batch_size": 512,
            "cg_damping": 1e-3,
            "gae_lambda": 0.98,
            "gamma": 0.99,
            "vf_learning_rate": 1e-3,
            "critic_epochs": 20,
        },
        "Acrobot-v1": {**_ZOO_NORMALIZE, "num_envs": 2, "num_steps": 1024},
        "MountainCar-v0": {**_ZOO_NORMALIZE, "num_envs": 2, "num_steps": 1024, "critic_epochs": 20},
        "LunarLander-v3": {
            "num_envs": 2,
            "num_steps": 512,
            "cg_damping": 0.01,
            "gae_lambda": 0.98,
            "gamma": 0.99,
            "vf_learning_rate": 1e-3,
            "critic_epochs": 15,
        },
        "LunarLanderContinuous-v3": {
            **_ZOO_NORMALIZE,
            "num_envs": 2,
            "num_steps": 1024,
            "critic_epochs": 20,
        },
        # The zoo tunes the -v4 MuJoCo envs; the -v5 rows repeat them (not tuned by the zoo).
        **{
            f"{env}-{v}": _ZOO_MUJOCO
            for env in ("Ant", "Hopper", "Walker2d", "Humanoid")
            for v in ("v4", "v5")
        },
        **{f"HalfCheetah-{v}": {**_ZOO_MUJOCO, "max_kl": 0.04} for v in ("v4", "v5")},
        **{f"Swimmer-{v}": {**_ZOO_MUJOCO, "gamma": 0.9999} for v in ("v4", "v5")},
        "BipedalWalker-v3": _ZOO_MUJOCO,
    },
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """SB3-contrib's TRPO defaults (the same for both action spaces), with ``overrides``."""
    del spec
    return Config(**overrides)


@struct.dataclass
class State:
    params: dict
    critic_opt_state: Any
    obs_rms: RunningMeanStd
    return_rms: RunningMeanStd
    discounted_return: jax.Array  # (num_envs,) what the reward scaling tracks
    hparams: dict


class TRPO:
    """TRPO's pure functions for one env spec and config (see :mod:`rlcheck.core`)."""

    name = "trpo"
    metric_names = (
        "surrogate_improvement",
        "kl",
        "line_search_accepted",
        "line_search_steps",
        "step_norm",
        "cg_residual",
        "entropy",
        "value_loss",
        "explained_variance",
    )

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        del budget
        self.spec = spec
        self.config = config
        self.num_envs = config.num_envs
        self.rollout_len = config.num_steps
        self.batch_size = config.num_envs * config.num_steps
        if self.batch_size % config.critic_batch_size:
            raise ValueError(
                f"num_envs × num_steps = {self.batch_size} is not divisible by "
                f"critic_batch_size = {config.critic_batch_size}"
            )
        self.net = ActorCritic(spec, config.hidden_sizes, config.activation, config.weight_init)
        if config.trust_region_monitor:
            self.metric_names = TRPO.metric_names + TRUST_REGION_INTERNALS

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        params = self.net.init(key, hparams["log_std_init"])
        return State(
            params=params,
            critic_opt_state=self._critic_optimizer(hparams).init(params["critic"]),
            obs_rms=rms_init(self.spec.obs_shape),
            return_rms=rms_init(()),
            discounted_return=jnp.zeros(self.num_envs),
            hparams=hparams,
        )

    def _critic_optimizer(self, hparams: dict) -> optax.GradientTransformation:
        return optax.adam(hparams["vf_learning_rate"], eps=hparams["optimizer_eps"])

    # ---- acting ---------------------------------------------------------------------------

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        state, x = observe(state, obs, self.config.normalize_obs)
        d = self.net.dist(state.params["actor"], x)
        action = self.net.sample(d, key)
        aux = {
            "x": x,
            "log_prob": self.net.log_prob(d, action),
            "value": self.net.value(state.params["critic"], x),
        }
        return state, action, aux

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

    def _policy_step(self, actor: dict, hparams: dict, batch: dict) -> tuple[dict, dict]:
        """One natural-gradient step of the policy, kept only if the line search accepts it."""
        theta, unravel = ravel_pytree(actor)
        old = jax.lax.stop_gradient(self.net.dist(actor, batch["x"]))
        advantages = batch["advantages"]
        if self.config.norm_adv:
            advantages = normalize_advantages(advantages)

        def surrogate(flat: jax.Array) -> jax.Array:
            log_prob = self.net.log_prob(self.net.dist(unravel(flat), batch["x"]), batch["action"])
            return jnp.mean(advantages * jnp.exp(log_prob - batch["log_prob"]))

        def mean_kl(flat: jax.Array) -> jax.Array:
            return jnp.mean(self.net.kl(old, self.net.dist(unravel(flat), batch["x"])))

        old_surrogate, g = jax.value_and_grad(surrogate)(theta)
        damping = hparams["cg_damping"]
        fvp = functools.partial(fisher_vector_product, mean_kl, theta, damping=damping)
        direction, residual = conjugate_gradient(fvp, g, self.config.cg_max_steps)
        # The step s·β with ½ β² sᵀFs = δ: the largest the quadratic model of the KL allows.
        curvature = jnp.vdot(direction, fvp(direction))
        full_step = jnp.sqrt(2.0 * hparams["max_kl"] / jnp.maximum(curvature, 1e-12)) * direction

        def moved(fraction: jax.Array) -> tuple[jax.Array, jax.Array]:
            return surrogate(theta + fraction * full_step), mean_kl(theta + fraction * full_step)

        search = backtracking_line_search(
            moved,
            old_surrogate,
            hparams["max_kl"],
            hparams["line_search_shrink"],
            self.config.line_search_max_iter,
        )
        step = search.fraction * full_step
        return unravel(theta + step), {
            "surrogate_improvement": search.surrogate - old_surrogate,
            "kl": search.kl,
            "line_search_accepted": search.accepted.astype(jnp.float32),
            "line_search_steps": search.steps.astype(jnp.float32),
            "step_norm": jnp.linalg.norm(step),
            "cg_residual": residual,
            "entropy": jnp.mean(self.net.entropy(old)),
        }

    def _value_loss(self, critic: dict, mb: dict) -> jax.Array:
        # ½·MSE; SB3 uses the plain MSE, which Adam's scale invariance makes the same step.
        return value_loss(self.net.value(critic, mb["x"]), mb["value"], mb["returns"], 0.0, False)

    def _critic_epoch(self, carry: tuple, key: jax.Array) -> tuple[tuple, jax.Array]:
        critic, opt_state, hparams, batch = carry
        order = jax.random.permutation(key, self.batch_size)
        minibatches = jax.tree.map(
            lambda x: x[order].reshape(-1, self.config.critic_batch_size, *x.shape[1:]), batch
        )

        def regress(inner: tuple, mb: dict) -> tuple[tuple, jax.Array]:
            critic, opt_state = inner
            loss, grads = jax.value_and_grad(self._value_loss)(critic, mb)
            updates, opt_state = self._critic_optimizer(hparams).update(grads, opt_state)
            return (optax.apply_updates(critic, updates), opt_state), loss

        (critic, opt_state), losses = jax.lax.scan(regress, (critic, opt_state), minibatches)
        return (critic, opt_state, hparams, batch), jnp.mean(losses)

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        state, advantages, returns = actor_critic_targets(self.net, state, traj, self.config)
        critic = state.params["critic"]
        batch = {
            "x": traj.aux["x"],
            "action": traj.action,
            "log_prob": traj.aux["log_prob"],
            "value": traj.aux["value"],
            "advantages": advantages,
            "returns": returns,
        }
        batch = flatten_rollout(batch, self.batch_size)

        actor, metrics = self._policy_step(state.params["actor"], state.hparams, batch)
        if self.config.trust_region_monitor:
            old = self.net.dist(state.params["actor"], batch["x"])
            new = self.net.dist(actor, batch["x"])
            log_ratio = self.net.log_prob(new, batch["action"]) - batch["log_prob"]
            metrics.update(trust_region_internals(log_ratio, self.net.kl(old, new)))
        (critic, opt_state, *_), losses = jax.lax.scan(
            self._critic_epoch,
            (critic, state.critic_opt_state, state.hparams, batch),
            jax.random.split(key, self.config.critic_epochs),
        )
        metrics["value_loss"] = jnp.mean(losses)
        metrics["explained_variance"] = explained_variance(batch["value"], batch["returns"])
        state = state.replace(params={"actor": actor, "critic": critic}, critic_opt_state=opt_state)
        return state, metrics

    def params_finite(self, state: State) -> jax.Array:
        return all_finite(state.params)
