"""What the diagnostics need of an on-policy agent, read off its state the way its update reads it.

Each of PPO, A2C, TRPO and REINFORCE keeps its actor, critic, observation and reward statistics
in its own layout and optimizes its own surrogate; :func:`learner_for` wraps an agent in one
:class:`Learner` that answers the same questions for all four: the actor's parameters (to take
gradients of, and to move along a landscape), the critic, the policy input of an observation,
the rewards as the update sees them, the discount, GAE λ, and the surrogate objective exactly as
the agent optimizes it. The agent's running statistics are *frozen* at the state's values:
diagnostics measure a checkpoint and never move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from rlcheck.agents.common.actor_critic import ActorCritic
from rlcheck.agents.common.losses import clipped_policy_loss, normalize_advantages
from rlcheck.agents.common.networks import MLP
from rlcheck.agents.common.normalize import normalized_obs
from rlcheck.core import Agent
from rlcheck.errors import UserError

# The agents whose policy gradient the diagnostics know how to take.
SUPPORTED = ("ppo", "a2c", "trpo", "reinforce")


@dataclass(frozen=True)
class Learner:
    """An on-policy agent seen by the diagnostics (build it with :func:`learner_for`).

    Attributes:
        agent: the agent.
        net: its :class:`ActorCritic` (actor distribution, log-probabilities, KL).
        value_net: the critic's MLP; for REINFORCE without a baseline, an MLP of the same
            shape built here, so a fitted value function (V*) has somewhere to live.
        lam: GAE λ of the agent's own advantages; None: the state's ``gae_lambda``.
        rollout_len: steps per env after which the agent's own estimator bootstraps from V
            (its rollout length); None: it follows episodes to their end (REINFORCE).
        norm_adv: whether the surrogate normalizes its advantages over the batch.
        bootstrap_on_truncation: whether a time-limit cut is bootstrapped from V (PPO, A2C,
            TRPO as configured) or is the episode's end (REINFORCE).
        entropy_coef_name: the hparam of the entropy bonus in the agent's loss, if any.
    """

    agent: Agent
    net: ActorCritic
    value_net: MLP
    lam: float | None
    rollout_len: int | None
    norm_adv: bool
    bootstrap_on_truncation: bool
    entropy_coef_name: str | None

    @property
    def name(self) -> str:
        return self.agent.name

    # ---- parameters -------------------------------------------------------------------------

    def actor(self, state: Any) -> dict:
        """The actor's parameters as :class:`ActorCritic` takes them (``{"net", ["log_std"]}``)."""
        params = state.params
        if self.name == "ppo":  # PPO keeps its log-std beside the networks (ppo.py says why)
            return {"net": params["actor"], **_pick(params, "log_std")}
        return params["actor"]

    def with_actor(self, state: Any, actor: dict) -> Any:
        """``state`` with the actor's parameters replaced."""
        params = dict(state.params)
        if self.name == "ppo":
            params["actor"] = actor["net"]
            params.update(_pick(actor, "log_std"))
        else:
            params["actor"] = actor
        return state.replace(params=params)

    def critic(self, state: Any) -> dict | None:
        """The critic's parameters, or None when the agent has none (REINFORCE, no baseline)."""
        return state.params.get("critic")

    # ---- what the update sees ---------------------------------------------------------------

    def observe(self, state: Any, obs: jax.Array) -> jax.Array:
        """The policy and critic input of ``obs``, with frozen observation statistics."""
        if self.name == "reinforce":
            return obs
        return normalized_obs(state, obs, self.agent.config.normalize_obs)

    def rewards(self, state: Any, reward: jax.Array) -> jax.Array:
        """Rewards as the update learns from them: divided by the frozen running std of the
        discounted return when the agent scales rewards, then clipped when it clips them."""
        config = self.agent.config
        if self.name == "reinforce":
            return reward
        if config.normalize_reward:
            reward = reward / jnp.sqrt(state.return_rms.var + 1e-8)
        if config.clip_reward:
            bound = state.hparams["reward_clip"]
            reward = jnp.clip(reward, -bound, bound)
        return reward

    def gamma(self, state: Any) -> jax.Array:
        return state.hparams["gamma"]

    def gae_lambda(self, state: Any) -> jax.Array:
        return state.hparams["gae_lambda"] if self.lam is None else jnp.asarray(self.lam)

    def value(self, critic: dict, x: jax.Array) -> jax.Array:
        return self.value_net.apply(critic, x)[..., 0]

    # ---- the objective ----------------------------------------------------------------------

    def log_prob(self, actor: dict, x: jax.Array, action: jax.Array) -> jax.Array:
        return self.net.log_prob(self.net.dist(actor, x), action)

    def surrogate(self, actor: dict, hparams: dict, batch: dict, entropy: bool = True) -> jax.Array:
        """The objective the agent's policy step maximizes, on a flat batch.

        ``batch`` holds ``x``, ``action``, ``log_prob`` (of the policy that collected it),
        ``advantages`` (the agent's weights before normalization: GAE advantages, or G − b for
        REINFORCE) and optionally ``used`` (REINFORCE's mask of the samples its update uses;
        means are over those). Advantages are normalized over the whole batch when the agent
        normalizes them (PPO normalizes per minibatch in training; one batch here).

        - PPO: E[min(r·Â, clip(r, 1 ± ε)·Â)] + c_ent·H (its loss, negated, without the value
          term).
        - TRPO: E[r·Â] (its line search's objective).
        - A2C: E[A·log π] + c_ent·H.
        - REINFORCE: E[Â·log π] (Â = (G − b) normalized).

        ``entropy=False`` leaves out the entropy bonus: the policy-gradient part alone, whose
        gradient at θ_old is E[Â ∇log π] for every agent.
        """
        d = self.net.dist(actor, batch["x"])
        log_prob = self.net.log_prob(d, batch["action"])
        advantages = batch["advantages"]
        if "used" in batch and self.name == "reinforce":
            return _masked_objective(log_prob, advantages, batch["used"], self.norm_adv)
        if self.norm_adv:
            advantages = normalize_advantages(advantages)
        if self.name == "ppo":
            loss, _ = clipped_policy_loss(
                log_prob, batch["log_prob"], advantages, hparams["clip_coef"]
            )
            objective = -loss
        elif self.name == "trpo":
            objective = jnp.mean(advantages * jnp.exp(log_prob - batch["log_prob"]))
        else:
            objective = jnp.mean(advantages * log_prob)
        if entropy and self.entropy_coef_name is not None:
            objective += hparams[self.entropy_coef_name] * jnp.mean(self.net.entropy(d))
        return objective


def learner_for(agent: Agent) -> Learner:
    """The :class:`Learner` of a PPO, A2C, TRPO or REINFORCE agent.

    Raises:
        UserError: any other algorithm (the diagnostics take policy gradients).
    """
    if agent.name not in SUPPORTED:
        raise UserError(
            f"the diagnostics work for {', '.join(SUPPORTED)}; '{agent.name}' is not one of them"
        )
    config = agent.config
    net = agent.net
    value_net = net.critic
    if value_net is None:
        value_net = MLP(
            hidden_sizes=tuple(config.hidden_sizes),
            out_size=1,
            obs_ndim=len(agent.spec.obs_shape),
            activation=config.activation,
            weight_init=config.weight_init,
        )
    reinforce = agent.name == "reinforce"
    return Learner(
        agent=agent,
        net=net,
        value_net=value_net,
        lam=1.0 if reinforce else None,
        rollout_len=None if reinforce else agent.rollout_len,
        norm_adv=config.norm_adv,
        bootstrap_on_truncation=False if reinforce else config.bootstrap_on_truncation,
        entropy_coef_name="ent_coef" if agent.name in ("ppo", "a2c") else None,
    )


def _masked_objective(
    log_prob: jax.Array, advantages: jax.Array, used: jax.Array, normalize: bool
) -> jax.Array:
    """REINFORCE's E[Â log π] over the samples it uses (its update's normalization)."""
    count = jnp.sum(used)
    if normalize:
        mean = jnp.sum(used * advantages) / count
        std = jnp.sqrt(jnp.sum(used * (advantages - mean) ** 2) / count)
        advantages = (advantages - mean) / (std + 1e-8)
    return jnp.sum(used * log_prob * advantages) / count


def _pick(tree: dict, key: str) -> dict:
    return {key: tree[key]} if key in tree else {}
