"""REINFORCE (Williams 1992): Monte-Carlo policy gradient, with or without a learned baseline.

Reads top to bottom: the Config (defaults are Spinning Up's VPG, the best-known published
settings of this algorithm, with Monte-Carlo returns in place of its GAE), the two functions
that turn a rollout into Monte-Carlo returns, acting, then the update: one gradient step of the
policy on E[∇log π(a|s) · (G − b(s))], then the baseline b = V fitted to the returns.

Whole episodes in fixed-length rollouts. The drivers collect ``num_steps`` steps per env and
reset envs as episodes end, so a rollout cuts the episodes running at its end, and a
Monte-Carlo return G_t = Σ_k γ^k r_{t+k} needs the episode's end. ``cut_episodes`` says what is
done about it:

- ``"skip"`` (default): only steps whose episode is certain to end inside the rollout are used,
  chosen by where the episode *starts*, never by how long it lasts: the episode running when the
  rollout starts (it ends within the env's time limit T ≤ ``num_steps``), and every episode that
  starts at step s ≤ ``num_steps`` − T. The rest is skipped, finished or not. Which episodes
  count is thus independent of their outcome, and the gradient has no bias; skipping the
  episodes that happened to end in time would bias it toward short episodes. The cost is data:
  at most T − 1 steps per env per rollout are skipped, a fraction ≤ T / ``num_steps`` (logged
  as ``used_fraction``). This needs an env with a time limit.
- ``"bootstrap"``: every step is used; the return of an episode cut by the rollout's end is
  completed with γ^k·V(s) of the observation after the rollout (Spinning Up's VPG does this).
  Uses all data, biased by the baseline's error; needs ``baseline``.

An episode that the env's time limit cuts ends there (its return is what it collected), so the
returns are those of the task as evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax
from flax import struct

from rlcheck.agents.common.actor_critic import ActorCritic, flatten_rollout
from rlcheck.agents.common.networks import Activation, WeightInit
from rlcheck.core import Trajectory, all_finite, static, traced, traced_values
from rlcheck.envs.spec import EnvSpec


@dataclass(frozen=True)
class Config:
    """REINFORCE hyperparameters. Defaults: Spinning Up ``vpg`` (spinup/algos/pytorch/vpg)."""

    num_envs: int = static(1, "parallel envs per seed (Spinning Up: one)", unit="count")
    num_steps: int = static(
        4000,
        "steps per env in each rollout (Spinning Up steps_per_epoch); one policy step each",
        unit="env steps per env",
    )
    baseline: bool = static(
        True,
        "subtract a learned state-value baseline V(s) from the returns (Williams 1992's "
        "reinforcement baseline; Sutton & Barto 2018 §13.4); False: the plain returns",
        unit="none",
    )
    cut_episodes: Literal["skip", "bootstrap"] = static(
        "skip",
        "episodes the rollout's end cuts: 'skip' uses only episodes certain to end in the "
        "rollout (unbiased, needs a time limit); 'bootstrap' completes their returns with V "
        "(needs baseline; Spinning Up)",
        unit="none",
    )
    value_iters: int = static(
        80,
        "full-batch Adam steps fitting the baseline per update (Spinning Up train_v_iters)",
        unit="gradient steps",
    )
    hidden_sizes: tuple[int, ...] = static(
        (64, 64), "hidden layer widths of policy and baseline (separate networks)", unit="count"
    )
    activation: Activation = static("tanh", "hidden activation", unit="none")
    weight_init: WeightInit = static(
        "lecun",
        "lecun: flax's default init, as Spinning Up uses its framework's default; orthogonal "
        "(gain √2 hidden / 0.01 policy head / 1 value head) or torch (see rlcheck.glossary)",
        unit="none",
    )
    norm_adv: bool = static(
        True,
        "normalize the weights G − b over the used steps (Spinning Up); without a baseline "
        "this subtracts the batch's mean return, itself a constant baseline",
        unit="none",
    )
    learning_rate: float = traced(3e-4, "policy Adam step size (Spinning Up pi_lr)", unit="none")
    vf_learning_rate: float = traced(
        1e-3, "baseline Adam step size (Spinning Up vf_lr)", unit="none"
    )
    optimizer_eps: float = traced(
        1e-8, "Adam ε of both optimizers (PyTorch's default)", unit="none"
    )
    gamma: float = traced(0.99, "discount factor of the returns", unit="none")
    log_std_init: float = traced(
        -0.5,
        "initial log-std of continuous actions (Spinning Up MLPGaussianActor)",
        unit="log action units",
    )


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """Spinning Up's VPG defaults (the same for both action spaces), with ``overrides``."""
    del spec
    return Config(**overrides)


def monte_carlo_returns(
    rewards: jax.Array,
    episode_ended: jax.Array,
    tail_value: jax.Array,
    gamma: jax.Array | float,
) -> jax.Array:
    """Discounted returns-to-go within each episode of a rollout, time on the leading axis.

    Args:
        rewards, episode_ended: (T, ...); ``episode_ended`` marks the last step of an episode
            (terminated or truncated by the env).
        tail_value: (...) what follows the rollout's last step in an episode it cut: V of the
            observation after the rollout, or 0.
        gamma: discount.

    Returns:
        G_t = r_t + γ·G_{t+1}, with G_{t+1} = 0 after an episode's last step.
    """

    def backward(following: jax.Array, x: tuple) -> tuple[jax.Array, jax.Array]:
        reward, ended = x
        ret = reward + gamma * jnp.where(ended, 0.0, following)
        return ret, ret

    _, returns = jax.lax.scan(backward, tail_value, (rewards, episode_ended), reverse=True)
    return returns


def complete_episode_mask(episode_ended: jax.Array, time_limit: int) -> jax.Array:
    """Steps of episodes certain to end inside a rollout of length L, chosen by start only.

    Args:
        episode_ended: (L, num_envs) last step of an episode.
        time_limit: the env's longest episode T (T ≤ L).

    Returns:
        (L, num_envs) bool: true for the episode running at step 0 and for episodes starting at
        a step s ≤ L − T; false for every step of an episode starting later.
    """
    length = episode_ended.shape[0]
    starts = jnp.concatenate([jnp.zeros_like(episode_ended[:1]), episode_ended[:-1]], axis=0)

    def forward(used: jax.Array, x: tuple) -> tuple[jax.Array, jax.Array]:
        t, start = x
        used = jnp.where(start, t <= length - time_limit, used)
        return used, used

    first = jnp.ones(episode_ended.shape[1:], bool)
    _, mask = jax.lax.scan(forward, first, (jnp.arange(length), starts))
    return mask


def _explained_variance(values: jax.Array, returns: jax.Array, used: jax.Array) -> jax.Array:
    """1 − Var[G − V] / Var[G] over the used steps (NaN when the returns do not vary)."""

    def var(x: jax.Array) -> jax.Array:
        mean = jnp.sum(used * x) / jnp.sum(used)
        return jnp.sum(used * (x - mean) ** 2) / jnp.sum(used)

    var_returns = var(returns)
    return jnp.where(var_returns == 0, jnp.nan, 1.0 - var(returns - values) / var_returns)


@struct.dataclass
class State:
    params: dict
    policy_opt_state: Any
    baseline_opt_state: Any
    hparams: dict


class Reinforce:
    """REINFORCE's pure functions for one env spec and config (see :mod:`rlcheck.core`)."""

    name = "reinforce"

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        del budget
        self.spec = spec
        self.config = config
        self.num_envs = config.num_envs
        self.rollout_len = config.num_steps
        self.batch_size = config.num_envs * config.num_steps
        if config.cut_episodes == "bootstrap" and not config.baseline:
            raise ValueError("cut_episodes = 'bootstrap' needs a baseline to bootstrap from")
        if config.cut_episodes == "skip":
            if spec.time_limit is None:
                raise ValueError(
                    f"{spec.id} has no time limit, so no episode is certain to end inside a "
                    "rollout: use cut_episodes = 'bootstrap'"
                )
            if spec.time_limit > config.num_steps:
                raise ValueError(
                    f"num_steps = {config.num_steps} is shorter than the time limit "
                    f"({spec.time_limit}): whole episodes do not fit in a rollout"
                )
        self.net = ActorCritic(
            spec, config.hidden_sizes, config.activation, config.weight_init, critic=config.baseline
        )
        self.metric_names = (
            "policy_loss",
            "entropy",
            "kl",
            "mean_return",
            "used_fraction",
            "grad_norm",
        )
        if config.baseline:
            self.metric_names += ("value_loss", "explained_variance")

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        params = self.net.init(key, hparams["log_std_init"])
        baseline_opt_state = (
            self._optimizer(hparams["vf_learning_rate"], hparams).init(params["critic"])
            if self.config.baseline
            else ()
        )
        return State(
            params=params,
            policy_opt_state=self._optimizer(hparams["learning_rate"], hparams).init(
                params["actor"]
            ),
            baseline_opt_state=baseline_opt_state,
            hparams=hparams,
        )

    def _optimizer(self, learning_rate: jax.Array, hparams: dict) -> optax.GradientTransformation:
        return optax.adam(learning_rate, eps=hparams["optimizer_eps"])

    # ---- acting ---------------------------------------------------------------------------

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        action = self.net.sample(self.net.dist(state.params["actor"], obs), key)
        aux = {"x": obs}
        if self.config.baseline:
            aux["value"] = self.net.value(state.params["critic"], obs)
        return state, action, aux

    def policy_params(self, state: State) -> dict:
        """The actor (REINFORCE acts on raw observations)."""
        return {"actor": state.params["actor"]}

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        return self.net.action(params["actor"], obs, key, deterministic)

    # ---- learning -------------------------------------------------------------------------

    def _policy_loss(self, actor: dict, batch: dict) -> tuple[jax.Array, jax.Array]:
        d = self.net.dist(actor, batch["x"])
        log_prob = self.net.log_prob(d, batch["action"])
        used = batch["used"]
        loss = -jnp.sum(used * log_prob * batch["weights"]) / jnp.sum(used)
        return loss, jnp.sum(used * self.net.entropy(d)) / jnp.sum(used)

    def _value_loss(self, critic: dict, batch: dict) -> jax.Array:
        error = self.net.value(critic, batch["x"]) - batch["returns"]
        return 0.5 * jnp.sum(batch["used"] * error**2) / jnp.sum(batch["used"])

    def _baseline_step(self, carry: tuple, _: None) -> tuple[tuple, jax.Array]:
        critic, opt_state, hparams, batch = carry
        loss, grads = jax.value_and_grad(self._value_loss)(critic, batch)
        updates, opt_state = self._optimizer(hparams["vf_learning_rate"], hparams).update(
            grads, opt_state
        )
        return (optax.apply_updates(critic, updates), opt_state, hparams, batch), loss

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        del key  # full-batch steps: nothing to sample
        hparams = state.hparams
        ended = traj.terminated | traj.truncated
        if self.config.cut_episodes == "skip":
            used = complete_episode_mask(ended, self.spec.time_limit)
            tail = jnp.zeros(self.num_envs)  # only multiplies skipped steps
        else:
            used = jnp.ones_like(ended)
            tail = self.net.value(state.params["critic"], traj.last_obs)
        returns = monte_carlo_returns(traj.reward, ended, tail, hparams["gamma"])
        values = traj.aux["value"] if self.config.baseline else jnp.zeros_like(returns)
        batch = {
            "x": traj.aux["x"],
            "action": traj.action,
            "returns": returns,
            "values": values,
            "used": used.astype(jnp.float32),
        }
        batch = flatten_rollout(batch, self.batch_size)
        used = batch["used"]
        count = jnp.sum(used)
        weights = batch["returns"] - batch["values"]
        if self.config.norm_adv:
            mean = jnp.sum(used * weights) / count
            std = jnp.sqrt(jnp.sum(used * (weights - mean) ** 2) / count)
            weights = (weights - mean) / (std + 1e-8)
        batch["weights"] = weights

        actor = state.params["actor"]
        (pg_loss, entropy), grads = jax.value_and_grad(self._policy_loss, has_aux=True)(
            actor, batch
        )
        updates, policy_opt_state = self._optimizer(hparams["learning_rate"], hparams).update(
            grads, state.policy_opt_state
        )
        new_actor = optax.apply_updates(actor, updates)
        kl = self.net.kl(self.net.dist(actor, batch["x"]), self.net.dist(new_actor, batch["x"]))
        metrics = {
            "policy_loss": pg_loss,
            "entropy": entropy,
            "kl": jnp.sum(used * kl) / count,
            "mean_return": jnp.sum(used * batch["returns"]) / count,
            "used_fraction": count / self.batch_size,
            "grad_norm": optax.tree.norm(grads),
        }
        params = {"actor": new_actor}
        baseline_opt_state = state.baseline_opt_state
        if self.config.baseline:
            (critic, baseline_opt_state, *_), losses = jax.lax.scan(
                self._baseline_step,
                (state.params["critic"], baseline_opt_state, hparams, batch),
                None,
                length=self.config.value_iters,
            )
            params["critic"] = critic
            metrics["value_loss"] = jnp.mean(losses)
            metrics["explained_variance"] = _explained_variance(
                batch["values"], batch["returns"], used
            )
        state = state.replace(
            params=params,
            policy_opt_state=policy_opt_state,
            baseline_opt_state=baseline_opt_state,
        )
        return state, metrics

    def params_finite(self, state: State) -> jax.Array:
        return all_finite(state.params)
