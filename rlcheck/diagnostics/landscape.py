"""D3, the optimization landscape: does the surrogate an agent climbs describe the true return?

Following Ilyas, Engstrom et al. (2020, §2.3): around the actor's parameters θ at a checkpoint,
evaluate on a grid θ + α·Δθ + β·d

- Δθ, the agent's actual update step (its own ``act`` and ``update`` on a fresh rollout from
  the checkpoint, as in training);
- d, a Gaussian direction over the actor's parameters scaled to ℓ2 norm ``direction_norm``
  (1 by default, the paper's "random norm 2 Gaussian vector"; None: the step's own norm);

two kinds of surfaces:

- the **surrogate** exactly as the agent optimizes it (:meth:`Learner.surrogate`, entropy bonus
  included), with the ratio taken against the checkpoint's policy, on three batches collected
  at θ: the batch the step was computed on ("train"), ``few`` and ``many`` fresh pairs;
- the **true return**, the mean undiscounted return of the episodes started in fresh rollouts
  of ``few`` and ``many`` pairs by the policy at each grid point (independent rollouts per
  point, so the few-pair surface shows the noise an agent's own batch has).

Summaries per seed: the grid correlation of each surrogate with the many-pair return, the
change of each surface over the step (α = 1, β = 0 against the origin) and whether the
surrogate's and the return's changes agree in sign, and the RMSE between the few- and the
many-pair surfaces.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from rlcheck.diagnostics.gradient import estimator_weights, own_estimator
from rlcheck.diagnostics.intervals import over_seeds
from rlcheck.diagnostics.learner import Learner, learner_for
from rlcheck.diagnostics.rollouts import (
    agent_rollout,
    check_sizes,
    collect,
    mean_episode_return,
    require_jax_env,
    tail_length,
    training_batch,
)
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.errors import UserError

GRID = tuple(np.linspace(0.0, 3.0, 7).tolist())
SURROGATES = ("train", "few", "many")


def landscape(
    agent: Any,
    states: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    *,
    alphas: tuple[float, ...] = GRID,
    betas: tuple[float, ...] = GRID,
    few: int = 2048,
    many: int = 65536,
    direction_norm: float | None = 1.0,
    window: int = 512,
    tail: int | None = None,
) -> dict[str, Any]:
    """D3 at one checkpoint, for every seed of ``states``.

    Args:
        agent: a PPO, A2C, TRPO or REINFORCE agent.
        states: its states, leading seed axis.
        env, env_params: a JAX-native env and its params.
        key: PRNG key.
        alphas, betas: the grid's steps along Δθ and d; must contain α = 0, α = 1 and β = 0.
        few, many: pairs of the small and large batches (multiples of ``window``).
        direction_norm: ℓ2 norm of d; None: ‖Δθ‖.
        window, tail: rollouts of ``window`` steps per env from fresh resets, and the steps
            that complete their episodes (None: the time limit).

    Returns:
        {"alphas", "betas", "surrogate": {"train"|"few"|"many": (seeds, α, β)}, "return":
        {"few"|"many": (seeds, α, β)}, "step" and "direction" (seeds, parameters; flattened
        as ``jax.flatten_util.ravel_pytree`` flattens the actor), their norms "step_norm" and
        "direction_norm" (seeds,), "delta_surrogate":
        {name: (seeds,)}, "delta_return": {"few"|"many": (seeds,)}, "sign_agreement": {name:
        (seeds,) bool, the surrogate's change against the many-pair return's},
        "correlation": {name: (seeds,), each surrogate with the many-pair return; "few_return":
        the few- with the many-pair return}, "rmse": {"return", "surrogate"}: few against many
        (seeds,), "summary": over seeds}.
    """
    learner = learner_for(agent)
    alphas, betas = tuple(float(a) for a in alphas), tuple(float(b) for b in betas)
    if 0.0 not in alphas or 1.0 not in alphas or 0.0 not in betas:
        raise UserError("the landscape grid needs α = 0, α = 1 and β = 0 (the step's ends)")
    check_sizes((few, many), window, "few and many")
    require_jax_env(env)
    tail = tail_length(env, tail)
    program = functools.partial(
        _landscape, learner, env, alphas, betas, few, many, direction_norm, window, tail
    )
    seeds = jax.tree.leaves(states)[0].shape[0]
    run = jax.jit(jax.vmap(program, in_axes=(0, 0, None)))
    surfaces = jax.device_get(run(states, jax.random.split(key, seeds), env_params))
    return _summaries(surfaces, alphas, betas)


def _landscape(
    learner: Learner,
    env: JaxEnv,
    alphas: tuple[float, ...],
    betas: tuple[float, ...],
    few: int,
    many: int,
    direction_norm: float | None,
    window: int,
    tail: int,
    state: Any,
    key: jax.Array,
    env_params: Any,
) -> dict:
    agent = learner.agent
    key_step, key_update, key_dir, key_few, key_many, key_grid = jax.random.split(key, 6)
    rolled, traj = agent_rollout(agent, state, env, env_params, key_step)
    stepped, _ = agent.update(rolled, traj, key_update)
    theta, unravel = ravel_pytree(learner.actor(state))
    step = ravel_pytree(learner.actor(stepped))[0] - theta
    direction = jax.random.normal(key_dir, theta.shape)
    norm = jnp.linalg.norm(step) if direction_norm is None else direction_norm
    direction = direction / jnp.linalg.norm(direction) * norm

    batches = {
        "train": training_batch(learner, state, rolled, traj),
        "few": _fresh_batch(learner, state, env, env_params, key_few, few, window, tail),
        "many": _fresh_batch(learner, state, env, env_params, key_many, many, window, tail),
    }
    grid = jnp.array([[a, b] for a in alphas for b in betas])

    def at(point: jax.Array) -> jax.Array:
        return theta + point[0] * step + point[1] * direction

    def surrogates(point: jax.Array) -> jax.Array:
        actor = unravel(at(point))
        return jnp.stack(
            [learner.surrogate(actor, state.hparams, batches[name]) for name in SURROGATES]
        )

    def returns(x: tuple) -> jax.Array:
        point, key = x
        actor = unravel(at(point))
        key_few, key_many = jax.random.split(key)
        out = []
        for pairs, key in ((few, key_few), (many, key_many)):
            rollout = collect(
                learner, state, actor, env, env_params, key, pairs // window, window + tail
            )
            out.append(mean_episode_return(rollout, window))
        return jnp.stack(out)

    shape = (len(alphas), len(betas))
    s = jax.lax.map(surrogates, grid).reshape(*shape, len(SURROGATES))
    j = jax.lax.map(returns, (grid, jax.random.split(key_grid, len(grid)))).reshape(*shape, 2)
    return {
        "surrogate": {name: s[..., i] for i, name in enumerate(SURROGATES)},
        "return": {"few": j[..., 0], "many": j[..., 1]},
        "step": step,
        "direction": direction,
    }


def _fresh_batch(
    learner: Learner,
    state: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    pairs: int,
    window: int,
    tail: int,
) -> dict:
    """``pairs`` pairs at θ with the agent's own advantages, flat."""
    estimator = own_estimator(learner)
    steps = window + (tail if estimator.horizon == "episode" else 0)
    rollout = collect(
        learner, state, learner.actor(state), env, env_params, key, pairs // window, steps
    )
    adv = estimator_weights(learner, state, rollout, estimator, window, None)

    def flat(a: jax.Array) -> jax.Array:
        return a[:window].reshape(pairs, *a.shape[2:])

    return {
        "x": flat(rollout.x),
        "action": flat(rollout.action),
        "log_prob": flat(rollout.log_prob),
        "advantages": adv.reshape(pairs),
    }


def _summaries(surfaces: dict, alphas: tuple, betas: tuple) -> dict[str, Any]:
    origin = (alphas.index(0.0), betas.index(0.0))
    stepped = (alphas.index(1.0), betas.index(0.0))
    out: dict[str, Any] = {
        "alphas": np.asarray(alphas),
        "betas": np.asarray(betas),
        "surrogate": {k: np.asarray(v) for k, v in surfaces["surrogate"].items()},
        "return": {k: np.asarray(v) for k, v in surfaces["return"].items()},
        "step": np.asarray(surfaces["step"]),
        "direction": np.asarray(surfaces["direction"]),
    }
    out["step_norm"] = np.linalg.norm(out["step"], axis=-1)
    out["direction_norm"] = np.linalg.norm(out["direction"], axis=-1)

    def delta(grid: np.ndarray) -> np.ndarray:
        return grid[:, stepped[0], stepped[1]] - grid[:, origin[0], origin[1]]

    def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
        b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sum(a * b, 1) / np.sqrt(np.sum(a**2, 1) * np.sum(b**2, 1))

    def rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sqrt(np.mean((a - b) ** 2, axis=(1, 2)))

    many_return = out["return"]["many"]
    out["delta_surrogate"] = {k: delta(v) for k, v in out["surrogate"].items()}
    out["delta_return"] = {k: delta(v) for k, v in out["return"].items()}
    out["sign_agreement"] = {
        k: np.sign(v) == np.sign(out["delta_return"]["many"])
        for k, v in out["delta_surrogate"].items()
    }
    out["correlation"] = {k: correlation(v, many_return) for k, v in out["surrogate"].items()}
    out["correlation"]["few_return"] = correlation(out["return"]["few"], many_return)
    out["rmse"] = {
        "return": rmse(out["return"]["few"], many_return),
        "surrogate": rmse(out["surrogate"]["few"], out["surrogate"]["many"]),
    }
    out["summary"] = {
        "correlation": {k: over_seeds(v) for k, v in out["correlation"].items()},
        "sign_agreement": {
            k: over_seeds(v.astype(float)) for k, v in out["sign_agreement"].items()
        },
        "delta_surrogate": {k: over_seeds(v) for k, v in out["delta_surrogate"].items()},
        "delta_return": {k: over_seeds(v) for k, v in out["delta_return"].items()},
        "rmse": {k: over_seeds(v) for k, v in out["rmse"].items()},
        "step_norm": over_seeds(out["step_norm"]),
    }
    return out
