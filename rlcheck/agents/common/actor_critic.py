"""The actor and critic networks of the on-policy agents, and the action distribution they define.

A distribution is a tuple of arrays: ``(logits,)`` for discrete actions, ``(mean, log_std)`` for
continuous ones (a diagonal Gaussian whose log-std is a learned, state-independent parameter,
as in CleanRL and SB3's ``MlpPolicy``). Parameters are ``{"actor": {"net", ["log_std"]},
"critic": …}``, so an algorithm can treat the policy's parameters apart (TRPO moves only them
by its trust-region step; REINFORCE gives each part its own optimizer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from rlcheck.agents.common import distributions as dist
from rlcheck.agents.common.advantages import gae
from rlcheck.agents.common.networks import MLP, Activation, WeightInit
from rlcheck.agents.common.normalize import RunningMeanStd, normalized_obs
from rlcheck.agents.common.reward_scaling import rollout_rewards
from rlcheck.agents.common.trust_region import categorical_kl, gaussian_kl
from rlcheck.core import Trajectory
from rlcheck.envs.spec import Box, EnvSpec

Dist = tuple[jax.Array, ...]


@struct.dataclass
class ActorCriticState:
    """The learner state of PPO and A2C: one optimizer over actor and critic, observation and
    return statistics for normalization, and the update count for learning-rate annealing."""

    params: dict
    opt_state: Any
    obs_rms: RunningMeanStd
    return_rms: RunningMeanStd
    discounted_return: jax.Array  # (num_envs,) what the reward scaling tracks
    updates: jax.Array  # updates done so far
    hparams: dict


class ActorCritic:
    """Separate actor and critic MLPs (no shared layers) for one env spec.

    Args:
        spec: the env's spec (observation shape, action space).
        hidden_sizes, activation, weight_init: see :class:`rlcheck.agents.common.networks.MLP`;
            with "orthogonal" the policy head is scaled by 0.01 and the value head by 1
            (CleanRL's ``layer_init``, SB3's ``ortho_init``).
        critic: whether there is a critic at all (REINFORCE without a baseline has none).
    """

    def __init__(
        self,
        spec: EnvSpec,
        hidden_sizes: Sequence[int],
        activation: Activation,
        weight_init: WeightInit,
        critic: bool = True,
    ):
        self.spec = spec
        self.continuous = isinstance(spec.action_space, Box)
        action_dim = spec.action_space.shape[0] if self.continuous else spec.action_space.n
        mlp = {
            "hidden_sizes": tuple(hidden_sizes),
            "obs_ndim": len(spec.obs_shape),
            "activation": activation,
            "weight_init": weight_init,
        }
        self.actor = MLP(out_size=action_dim, output_scale=0.01, **mlp)
        self.critic = MLP(out_size=1, output_scale=1.0, **mlp) if critic else None

    def init(self, key: jax.Array, log_std_init: jax.Array | float = 0.0) -> dict:
        """Fresh parameters: ``{"actor": {"net", ["log_std"]}, ["critic"]}``; continuous
        actions start with log-std ``log_std_init`` (SB3's ``log_std_init``)."""
        key_actor, key_critic = jax.random.split(key)
        x = jnp.zeros((1, *self.spec.obs_shape))
        actor = {"net": self.actor.init(key_actor, x)}
        if self.continuous:
            actor["log_std"] = jnp.full(self.spec.action_space.shape, log_std_init, jnp.float32)
        params = {"actor": actor}
        if self.critic is not None:
            params["critic"] = self.critic.init(key_critic, x)
        return params

    def value(self, critic_params: dict, x: jax.Array) -> jax.Array:
        """V(x), one value per observation."""
        return self.critic.apply(critic_params, x)[..., 0]

    def dist(self, actor_params: dict, x: jax.Array) -> Dist:
        """The action distribution at observations ``x``."""
        out = self.actor.apply(actor_params["net"], x)
        if self.continuous:
            return out, jnp.broadcast_to(actor_params["log_std"], out.shape)
        return (out,)

    def sample(self, d: Dist, key: jax.Array) -> jax.Array:
        if self.continuous:
            return dist.gaussian_sample(key, *d)
        return dist.categorical_sample(key, *d)

    def action(
        self, actor_params: dict, x: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        """The policy's action at ``x``: its mode when ``deterministic``, else a sample."""
        d = self.dist(actor_params, x)
        return self.mode(d) if deterministic else self.sample(d, key)

    def mode(self, d: Dist) -> jax.Array:
        """The most likely action (the mean of a Gaussian)."""
        return d[0] if self.continuous else jnp.argmax(d[0], axis=-1)

    def log_prob(self, d: Dist, action: jax.Array) -> jax.Array:
        if self.continuous:
            return dist.gaussian_log_prob(*d, action)
        return dist.categorical_log_prob(*d, action)

    def entropy(self, d: Dist) -> jax.Array:
        if self.continuous:
            return dist.gaussian_entropy(d[1])
        return dist.categorical_entropy(*d)

    def kl(self, p: Dist, q: Dist) -> jax.Array:
        """KL(p ‖ q) per observation."""
        if self.continuous:
            return gaussian_kl(*p, *q)
        return categorical_kl(*p, *q)


def rollout_gae(
    rewards: jax.Array,
    values: jax.Array,
    last_value: jax.Array,
    final_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    bootstrap_on_truncation: bool,
    gamma: jax.Array | float,
    lam: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """GAE over a rollout of auto-resetting envs, time on the leading axis.

    Args:
        rewards, values: r_t and V(x_t), (T, num_envs).
        last_value: V of the observation after the rollout, (num_envs,).
        final_values: V of each step's final observation (the last observation of an episode
            that ended at t), (T, num_envs).
        terminated, truncated: how each step's episode ended, if it did.
        bootstrap_on_truncation: bootstrap from ``final_values`` where the time limit cut an
            episode (Pardo et al. 2018; SB3 does); False treats a time-out as a termination.
        gamma, lam: discount and GAE λ (λ = 1: n-step returns up to the rollout's end).

    Returns:
        (advantages, returns), each (T, num_envs).
    """
    next_values = jnp.concatenate([values[1:], last_value[None]], axis=0)
    if bootstrap_on_truncation:
        # Where an episode was cut, the next observation in the rollout belongs to a new
        # episode; bootstrap from the cut episode's own final observation instead.
        next_values = jnp.where(truncated, final_values, next_values)
    else:
        terminated = terminated | truncated
    return gae(rewards, values, next_values, terminated, truncated, gamma, lam)


def flatten_rollout(batch: dict, batch_size: int) -> dict:
    """(T, num_envs, …) arrays → (T·num_envs, …): one sample per step and env."""
    return jax.tree.map(lambda x: x.reshape(batch_size, *x.shape[2:]), batch)


def actor_critic_targets(
    net: ActorCritic, state: Any, traj: Trajectory, config: Any
) -> tuple[Any, jax.Array, jax.Array]:
    """The rewards an actor-critic update learns from, and their GAE advantages and returns.

    Rewards are scaled and clipped by :func:`rollout_rewards` (``config.normalize_reward``,
    ``config.clip_reward``); values of the observation after the rollout and of each step's
    final observation come from the current critic, on observations normalized as at acting
    time (``config.normalize_obs``); then :func:`rollout_gae` with
    ``config.bootstrap_on_truncation`` and the state's ``gamma`` and ``gae_lambda``. Shared by
    A2C and TRPO.

    Returns:
        (state with the reward-scaling statistics advanced, advantages, returns), each
        (T, num_envs).
    """
    state, rewards = rollout_rewards(
        state,
        traj.reward,
        traj.terminated | traj.truncated,
        config.normalize_reward,
        config.clip_reward,
    )
    critic = state.params["critic"]
    advantages, returns = rollout_gae(
        rewards,
        traj.aux["value"],
        net.value(critic, normalized_obs(state, traj.last_obs, config.normalize_obs)),
        net.value(critic, normalized_obs(state, traj.final_obs, config.normalize_obs)),
        traj.terminated,
        traj.truncated,
        config.bootstrap_on_truncation,
        state.hparams["gamma"],
        state.hparams["gae_lambda"],
    )
    return state, advantages, returns
