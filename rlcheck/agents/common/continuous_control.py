"""What DDPG, TD3 and SAC share: networks, action scaling, squashed Gaussians, targets, replay.

The three off-policy actor-critics differ only in how the actor explores and in their targets;
everything else is written once here as small pure functions. Actions live in the policy's
``[-1, 1]`` units inside the agents (the tanh output), as in Stable-Baselines3, and are scaled
to the env's action box only when they leave the agent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from rlcheck.agents.common.distributions import gaussian_log_prob
from rlcheck.agents.common.networks import ACTIVATIONS, Activation, WeightInit, layer_initializers
from rlcheck.core import Trajectory

# ---- networks ----------------------------------------------------------------------------------


class Network(nn.Module):
    """Hidden layers and a linear output layer; returns (last hidden features, output).

    Weights follow ``weight_init`` (:func:`rlcheck.agents.common.networks.layer_initializers`):
    "torch" is what SB3 and CleanRL get, "lecun" what rejax gets; with "orthogonal" the
    hidden layers have gain √2 and the output layer ``output_scale``. The features are what
    gSDE's noise is built from.
    """

    hidden_sizes: Sequence[int]
    out_size: int
    activation: Activation = "relu"
    weight_init: WeightInit = "torch"
    output_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        act = ACTIVATIONS[self.activation]
        for width in self.hidden_sizes:
            x = act(nn.Dense(width, **self._init(x.shape[-1], jnp.sqrt(2.0)))(x))
        return x, nn.Dense(self.out_size, **self._init(x.shape[-1], self.output_scale))(x)

    def _init(self, fan_in: int, gain: float | jax.Array) -> dict:
        return layer_initializers(self.weight_init, fan_in, gain)


def critic_init(critic: Network, key: jax.Array, n: int, obs: jax.Array, action: jax.Array) -> dict:
    """Parameters of ``n`` independent Q-networks, stacked on a leading axis."""
    x = jnp.concatenate([obs, action], axis=-1)
    return jax.vmap(critic.init, in_axes=(0, None))(jax.random.split(key, n), x)


def critic_apply(critic: Network, params: dict, obs: jax.Array, action: jax.Array) -> jax.Array:
    """Q-values of every critic in the stack: shape (n_critics, *batch)."""
    x = jnp.concatenate([obs, action], axis=-1)
    return jax.vmap(lambda p: critic.apply(p, x)[1][..., 0])(params)


# ---- actions -----------------------------------------------------------------------------------


def unit_to_box(action: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """[-1, 1] → [low, high], per dimension (SB3's ``unscale_action``)."""
    return low + 0.5 * (action + 1.0) * (high - low)


def box_to_unit(action: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """[low, high] → [-1, 1], per dimension (SB3's ``scale_action``)."""
    return 2.0 * (action - low) / (high - low) - 1.0


def uniform_actions(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Uniform actions in [-1, 1]: the warm-up before ``learning_starts`` (SB3, CleanRL)."""
    return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)


def ou_noise_step(
    noise: jax.Array,
    key: jax.Array,
    sigma: jax.Array | float,
    theta: jax.Array | float,
    dt: jax.Array | float,
) -> jax.Array:
    """One step of Ornstein–Uhlenbeck noise around 0, as SB3's ``OrnsteinUhlenbeckActionNoise``:
    n' = n − θ·n·dt + σ·√dt·ξ, ξ ~ N(0, 1).

    References:
        Lillicrap et al. 2016, "Continuous control with deep reinforcement learning" (DDPG).
    """
    return noise - theta * noise * dt + sigma * jnp.sqrt(dt) * jax.random.normal(key, noise.shape)


# ---- the tanh-squashed Gaussian ----------------------------------------------------------------


def tanh_log_det_jacobian(u: jax.Array, epsilon: float | None) -> jax.Array:
    """log |d tanh(u) / du| summed over the last axis: what squashing subtracts from log π.

    Args:
        u: the Gaussian sample before squashing.
        epsilon: ``log(1 − tanh(u)² + ε)`` as SB3 and CleanRL write it (ε = 1e-6 keeps it
            finite where tanh(u) rounds to ±1); ``None`` for the exact, stable
            ``2·(log 2 − u − softplus(−2u))`` (Spinning Up).

    References:
        Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications", appendix C.
    """
    if epsilon is None:
        per_dim = 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    else:
        per_dim = jnp.log(1.0 - jnp.tanh(u) ** 2 + epsilon)
    return jnp.sum(per_dim, axis=-1)


def squashed_gaussian(
    u: jax.Array, mean: jax.Array, log_std: jax.Array, epsilon: float | None
) -> tuple[jax.Array, jax.Array]:
    """The squashed action tanh(u) in [-1, 1] of a Gaussian sample u, and its log-density.

    Args:
        u: a (reparameterized) sample of N(mean, exp(log_std)²), shape (..., action_dim).
        mean, log_std: that Gaussian.
        epsilon: see :func:`tanh_log_det_jacobian`.

    Returns:
        (tanh(u), log N(u; mean, std) − log|det ∂tanh(u)/∂u|), the change of variables.
    """
    log_prob = gaussian_log_prob(mean, log_std, u) - tanh_log_det_jacobian(u, epsilon)
    return jnp.tanh(u), log_prob


def bound_log_std(
    raw: jax.Array,
    low: jax.Array | float,
    high: jax.Array | float,
    mode: Literal["clip", "tanh"],
) -> jax.Array:
    """Keep the actor's log-std head in [low, high].

    ``clip`` clamps (SB3: [−20, 2]); ``tanh`` maps smoothly, low + (high − low)·(tanh(raw) + 1)/2
    (CleanRL, from Spinning Up and Denis Yarats' SAC: [−5, 2]).
    """
    if mode == "clip":
        return jnp.clip(raw, low, high)
    return low + 0.5 * (high - low) * (jnp.tanh(raw) + 1.0)


def gsde_std(log_std: jax.Array, use_expln: bool, epsilon: float = 1e-6) -> jax.Array:
    """gSDE's noise-weight scale from its log parameter: exp, or "expln" (exp below 0,
    log1p(x) + 1 above), which keeps the variance from growing fast (SB3's ``get_std``).

    References:
        Raffin et al. 2022, "Smooth Exploration for Robotic Reinforcement Learning" (gSDE).
    """
    if not use_expln:
        return jnp.exp(log_std)
    below = jnp.exp(jnp.minimum(log_std, 0.0))
    above = jnp.log1p(jnp.maximum(log_std, 0.0) + epsilon) + 1.0
    return jnp.where(log_std <= 0, below, above)


# ---- learning ----------------------------------------------------------------------------------


def td_target(
    reward: jax.Array,
    done: jax.Array,
    gamma: jax.Array | float,
    next_qs: jax.Array,
    next_log_prob: jax.Array | float = 0.0,
    alpha: jax.Array | float = 0.0,
) -> jax.Array:
    """r + γ·(1 − done)·(min_i Q'_i(s', a') − α·log π(a'|s')).

    With several critics this is the clipped double-Q target of TD3 (Fujimoto et al. 2018) and
    SAC; with one it is DDPG's; α·log π is SAC's entropy term (α = 0 elsewhere).

    Args:
        next_qs: target critics' values at (s', a'), shape (n_critics, batch).
        done: 1 where s' is terminal (never for a time-limit truncation, which bootstraps).
    """
    next_v = jnp.min(next_qs, axis=0) - alpha * next_log_prob
    return reward + gamma * (1.0 - done) * next_v


def polyak_update(target: Any, online: Any, tau: jax.Array | float) -> Any:
    """Soft target update θ' ← (1 − τ)·θ' + τ·θ (Lillicrap et al. 2016)."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def adam(learning_rate: jax.Array, hparams: dict[str, jax.Array]) -> optax.GradientTransformation:
    """Adam with ``optimizer_eps``, after global-norm clipping when ``max_grad_norm`` is set.

    Rebuilt at every step from traced values; Adam's state does not depend on them.
    """
    opt = optax.adam(learning_rate, eps=hparams["optimizer_eps"])
    if "max_grad_norm" in hparams:
        return optax.chain(optax.clip_by_global_norm(hparams["max_grad_norm"]), opt)
    return opt


def rollout_transitions(
    traj: Trajectory,
    obs: jax.Array,
    low: jax.Array,
    high: jax.Array,
    bootstrap_on_truncation: bool,
) -> dict[str, jax.Array]:
    """A rollout as flat replay transitions (time × envs → one axis).

    Args:
        traj: the rollout; ``final_obs`` is s' of every step (the episode's last observation
            where it ended, not the next episode's first).
        obs: s of every step, (T, num_envs, *obs_shape).
        low, high: the action box; stored actions are in [-1, 1] units.
        bootstrap_on_truncation: a time-limit cut is not terminal (SB3's
            ``handle_timeout_termination``; CleanRL stores terminations only, to the same
            effect); ``False`` counts it as terminal.

    Returns:
        {"obs", "action", "reward", "next_obs", "done"}, leading axis T·num_envs.
    """
    done = traj.terminated if bootstrap_on_truncation else traj.terminated | traj.truncated
    batch = {
        "obs": obs,
        "action": box_to_unit(traj.action, low, high),
        "reward": traj.reward,
        "next_obs": traj.final_obs,
        "done": done.astype(jnp.float32),
    }
    return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batch)


def run_if(
    started: jax.Array, steps: Callable[[Any, jax.Array], tuple[Any, dict]], carry: Any, keys: Any
) -> tuple[Any, dict]:
    """``steps(carry, keys)`` when ``started``, else ``carry`` unchanged and zero metrics.

    A ``lax.cond``: where ``started`` is the same for every seed (the fused driver's step
    counters are), the skipped branch costs nothing; under a per-seed predicate both run.
    """

    def skip(carry: Any, keys: Any) -> tuple[Any, dict]:
        _, metrics = jax.eval_shape(steps, carry, keys)
        return carry, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), metrics)

    return jax.lax.cond(started, steps, skip, carry, keys)


def latest_means(
    values: dict[str, jax.Array], ran: dict[str, jax.Array], previous: dict[str, jax.Array]
) -> dict[str, jax.Array]:
    """Per metric, the mean over the gradient steps of this update that computed it (``ran``:
    1/0 per step), or its previous value when none did (a delayed actor, or before learning
    starts; zeros at first) — like a logger that shows the latest value, never a fake 0."""
    out = {}
    for name, v in values.items():
        count = jnp.sum(ran[name])
        mean = jnp.sum(v * ran[name]) / jnp.maximum(count, 1.0)
        out[name] = jnp.where(count > 0, mean, previous[name])
    return out
