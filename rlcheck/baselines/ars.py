"""Augmented Random Search (Mania et al. 2018): finite-difference random search on policies.

Each generation perturbs the policy parameters θ along ``num_directions`` Gaussian directions
δ_k, plays θ + νδ_k and θ − νδ_k, and moves along the directions whose better side did best:

    θ ← θ + α / (b σ_R) · Σ_{k in top b} (r(θ + νδ_k) − r(θ − νδ_k)) δ_k

with σ_R the standard deviation of the 2b returns used. V1 acts on raw observations; V2
normalizes them by running statistics of every state seen so far (``normalize_obs``). Written
here rather than taken from evosax: evosax's ``ARS`` has no observation normalization and
passes the update through an optax optimizer, which is not Mania et al.'s method. Defaults
are sb3-contrib's ARS (the RL Baselines3 Zoo runs it with them on CartPole-v1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import struct

from rlcheck.agents.common.networks import Activation
from rlcheck.baselines.search import PolicyNet, PolicySearch
from rlcheck.core import static, traced
from rlcheck.envs.spec import EnvSpec


@dataclass(frozen=True)
class Config:
    """ARS hyperparameters. Defaults: sb3-contrib ``ARS`` (V2, all directions kept)."""

    num_directions: int = static(
        8, "random directions per generation (2× as many rollouts)", unit="count"
    )
    top_directions: int | None = static(
        None,
        "directions used in the update, best first (b; None: all; Mania et al. V*-t)",
        unit="count",
    )
    normalize_obs: bool = static(
        True, "normalize observations by running mean/std of all states seen (ARS V2)", unit="none"
    )
    policy: Literal["linear", "mlp"] = static("linear", "linear policy or an MLP", unit="none")
    hidden_sizes: tuple[int, ...] = static(
        (16,), "MLP hidden widths (policy = 'mlp')", unit="count"
    )
    activation: Activation = static("tanh", "MLP hidden activation", unit="none")
    episodes_per_candidate: int = static(
        1, "episodes each perturbed policy is scored on", unit="episodes"
    )
    step_size: float = traced(0.02, "α, the step size", unit="none")
    param_noise_std: float = traced(
        0.05,
        "ν, the standard deviation of the perturbations (sb3-contrib delta_std)",
        unit="parameter units",
    )


# RL Baselines3 Zoo hyperparams/ars.yml (DLR-RM/rl-baselines3-zoo). n_envs does not apply;
# `normalize: true` there also normalizes rewards (VecNormalize), which ARS here does not do,
# so Acrobot's entry keeps only the observation normalization. The zoo's names: n_delta →
# num_directions, n_top → top_directions, learning_rate → step_size, delta_std →
# param_noise_std.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "rl-zoo": {
        "CartPole-v1": {"normalize_obs": False},
        "Pendulum-v1": {
            "policy": "mlp",
            "hidden_sizes": (16,),
            "step_size": 0.018,
            "num_directions": 4,
            "top_directions": 1,
            "param_noise_std": 0.1,
        },
        "Acrobot-v1": {"normalize_obs": True},
    },
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """sb3-contrib's defaults (the same for every action space), with ``overrides``."""
    del spec
    return Config(**overrides)


def ars_step(
    mean: jax.Array,
    deltas: jax.Array,
    returns_plus: jax.Array,
    returns_minus: jax.Array,
    step_size: jax.Array,
    top: int,
) -> jax.Array:
    """One ARS update of the flat parameters (Mania et al. 2018, Algorithm 2, line 7).

    Args:
        mean: θ, shape (d,).
        deltas: the directions δ_k, shape (N, d).
        returns_plus, returns_minus: r(θ + νδ_k) and r(θ − νδ_k), shape (N,).
        step_size: α.
        top: b, how many directions to use, ranked by max(r+, r−).

    Returns:
        The new θ.
    """
    order = jnp.argsort(-jnp.maximum(returns_plus, returns_minus))[:top]
    plus, minus = returns_plus[order], returns_minus[order]
    sigma = jnp.std(jnp.concatenate([plus, minus]))
    # All returns equal: every difference is 0 too, so any σ_R > 0 leaves θ where it is.
    sigma = jnp.where(sigma > 0, sigma, 1.0)
    return mean + step_size / (top * sigma) * ((plus - minus) @ deltas[order])


@struct.dataclass
class State:
    mean: jax.Array
    param_noise_std: jax.Array


class ARSStrategy:
    """ARS as a search :class:`~rlcheck.baselines.search.Strategy`.

    The population is [θ + νδ_1 … θ + νδ_N, θ − νδ_1 … θ − νδ_N].
    """

    def __init__(self, num_directions: int, top_directions: int):
        self.num_directions = num_directions
        self.top = top_directions
        self.population_size = 2 * num_directions

    def init(self, key: jax.Array, mean: jax.Array, hparams: dict) -> State:
        del key
        return State(mean=mean, param_noise_std=hparams["param_noise_std"])

    def ask(self, key: jax.Array, state: State, hparams: dict) -> tuple[jax.Array, State]:
        deltas = jax.random.normal(key, (self.num_directions, state.mean.size))
        step = hparams["param_noise_std"] * deltas
        return jnp.concatenate([state.mean + step, state.mean - step]), state

    def tell(
        self,
        key: jax.Array,
        population: jax.Array,
        returns: jax.Array,
        state: State,
        hparams: dict,
    ) -> State:
        del key
        n = self.num_directions
        deltas = (population[:n] - state.mean) / hparams["param_noise_std"]
        mean = ars_step(
            state.mean, deltas, returns[:n], returns[n:], hparams["step_size"], self.top
        )
        return state.replace(mean=mean)

    def mean(self, state: State) -> jax.Array:
        return state.mean

    def step_size(self, state: State) -> jax.Array:
        return state.param_noise_std


class ARS(PolicySearch):
    """Augmented Random Search over a linear or MLP policy."""

    name = "ars"

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        del budget
        hidden = config.hidden_sizes if config.policy == "mlp" else ()
        super().__init__(spec, config, PolicyNet(spec, hidden, config.activation))
        top = config.top_directions or config.num_directions
        if not 1 <= top <= config.num_directions:
            raise ValueError(
                f"top_directions = {top} must be between 1 and num_directions = "
                f"{config.num_directions}"
            )
        self.strategy = ARSStrategy(config.num_directions, top)
        self.normalize_obs = config.normalize_obs
        self.episodes_per_candidate = config.episodes_per_candidate
