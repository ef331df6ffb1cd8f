"""The math DDPG, TD3 and SAC share: networks, action scaling and noise, squashed Gaussians,
the critics' targets, loss and step, the deterministic actor's loss, Polyak averaging.

Small pure functions that each algorithm's module composes in its own update; the replay,
observation and gradient-step plumbing they share is in :mod:`rlcheck.agents.common.offpolicy`.
Actions live in the policy's ``[-1, 1]`` units inside the agents (the tanh output), as in
Stable-Baselines3, and are scaled to the env's action box only when they leave the agent.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from rlcheck.agents.common.distributions import gaussian_log_prob
from rlcheck.agents.common.networks import ACTIVATIONS, Activation, WeightInit, layer_initializers

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


def critic_units(
    action: jax.Array, units: Literal["env", "unit"], low: jax.Array, high: jax.Array
) -> jax.Array:
    """An action in [-1, 1] as the critics take it: in the env's box (``units="env"``,
    CleanRL) or unchanged (``"unit"``, SB3)."""
    if units == "env":
        return unit_to_box(action, low, high)
    return action


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


def action_noise(
    kind: Literal["normal", "ou"],
    ou_state: jax.Array,
    key: jax.Array,
    sigma: jax.Array | float,
    theta: jax.Array | float,
    dt: jax.Array | float,
    hold: jax.Array | bool,
) -> tuple[jax.Array, jax.Array]:
    """A deterministic actor's exploration noise for one step, in [-1, 1] units.

    Args:
        kind: "normal": independent N(0, σ²) per step and dimension (TD3 paper, CleanRL);
            "ou": the next value of each env's Ornstein–Uhlenbeck process (DDPG paper).
        ou_state: the OU processes, (num_envs, action_dim); also the noise's shape.
        key: PRNG key.
        sigma, theta, dt: the noise scale, and OU's mean reversion rate and time step.
        hold: keep the OU processes where they are (SB3 draws from the process only once it
            acts with the actor, not during the uniformly random warm-up).

    Returns:
        (noise, the OU processes' next state; unchanged for "normal").
    """
    if kind == "ou":
        noise = ou_noise_step(ou_state, key, sigma, theta, dt)
        noise = jnp.where(hold, ou_state, noise)
        return noise, noise
    return sigma * jax.random.normal(key, ou_state.shape), ou_state


def target_policy_smoothing(
    action: jax.Array,
    key: jax.Array,
    noise_std: jax.Array | float,
    noise_clip: jax.Array | float,
) -> jax.Array:
    """TD3's target action: clip(μ'(s') + clip(ε, −c, c), −1, 1), ε ~ N(0, σ²), in [-1, 1] units.

    Smoothing the target over nearby actions keeps the critic from exploiting narrow peaks
    of its own errors (Fujimoto et al. 2018, section 5.3). σ = 0 (DDPG) leaves μ'(s').
    """
    noise = jnp.clip(noise_std * jax.random.normal(key, action.shape), -noise_clip, noise_clip)
    return jnp.clip(action + noise, -1.0, 1.0)


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


def adam_step(
    grads: Any,
    opt_state: Any,
    params: Any,
    learning_rate: jax.Array,
    hparams: dict[str, jax.Array],
) -> tuple[Any, Any]:
    """One step of :func:`adam` on ``params``: (new params, new optimizer state)."""
    updates, opt_state = adam(learning_rate, hparams).update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def critic_loss(
    critic: Network, params: dict, obs: jax.Array, action: jax.Array, target: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Σ_i mean_batch (Q_i(s, a) − y)² over the stacked critics, and the Q-values.

    Summed over critics, as CleanRL and SB3's TD3; SB3's SAC halves it, which Adam's scale
    invariance ignores. ``action`` is in the critics' units (:func:`critic_units`).
    """
    q = critic_apply(critic, params, obs, action)
    return jnp.sum(jnp.mean((q - target) ** 2, axis=-1)), q


def critic_step(
    critic: Network,
    params: dict,
    opt_state: Any,
    obs: jax.Array,
    action: jax.Array,
    target: jax.Array,
    hparams: dict[str, jax.Array],
) -> tuple[dict, Any, dict[str, jax.Array]]:
    """One Adam step (``critic_learning_rate``) of every critic toward ``target`` on (s, a).

    Returns:
        (new critic parameters, new optimizer state, {"critic_loss", "q_mean",
        "critic_grad_norm"}).
    """
    (loss, q), grads = jax.value_and_grad(functools.partial(critic_loss, critic), has_aux=True)(
        params, obs, action, target
    )
    params, opt_state = adam_step(
        grads, opt_state, params, hparams["critic_learning_rate"], hparams
    )
    values = {
        "critic_loss": loss,
        "q_mean": jnp.mean(q),
        "critic_grad_norm": optax.tree.norm(grads),
    }
    return params, opt_state, values


def deterministic_actor_loss(
    critic: Network, critic_params: dict, obs: jax.Array, action: jax.Array
) -> jax.Array:
    """−Q₁(s, μ(s)), the first critic only (DDPG; the TD3 paper, SB3 and CleanRL's TD3).

    ``action`` is μ(s) in the critics' units, a function of the actor's parameters that the
    gradient is taken through.
    """
    first = jax.tree.map(lambda p: p[:1], critic_params)
    return -jnp.mean(critic_apply(critic, first, obs, action))
