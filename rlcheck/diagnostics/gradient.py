"""D1, gradient quality: is the policy gradient an agent estimates close to the true one?

Following Ilyas, Engstrom et al. (2020, "A Closer Look at Deep Policy Gradients", §2.1): at
one checkpoint θ_old, draw K gradient estimates, each from its own independent rollouts of n
state-action pairs, for several n; report their average pairwise cosine (how concentrated
they are) and their mean cosine to a reference gradient from many more pairs (how close to the
true gradient). Two independent references give a true-vs-true cosine; below 0.95 the reference
itself is too noisy and cosine-to-true is refused, not reported.

**What gradient.** The gradient of the agent's own policy surrogate at θ = θ_old
(:meth:`Learner.surrogate` without the entropy bonus), which for every supported agent is
E[Â ∇_θ log π_θ(a|s)] over the batch: PPO and TRPO with GAE(λ) advantages normalized over the
batch, A2C with its unnormalized n-step advantages, REINFORCE with (G − b) normalized. An
estimate from n pairs is n / window envs × window steps from fresh resets, the advantages
those of the agent's estimator (bootstrapping where its rollouts end).

**The reference** is unbiased: Monte-Carlo returns through each episode's end (λ = 1, the tail
of the rollouts), minus a baseline (the agent's critic by default; any baseline leaves the
expectation unchanged), not normalized (normalizing only rescales a gradient, which a cosine
ignores, apart from subtracting the batch mean). So a biased estimator (GAE with λ < 1 and a
wrong critic) cannot look accurate by agreeing with a reference biased the same way. The two
references are pooled into one for cosine-to-true; true-vs-true compares the halves, so the
refusal is conservative.

Everything is one compiled program per call: rollouts and per-env gradient sums
(``lax.map`` over groups of envs, ``vmap`` over the estimators sharing a rollout), for every
seed of a batch of states at once (``vmap``).
"""

from __future__ import annotations

import functools
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from rlcheck.diagnostics.intervals import over_seeds
from rlcheck.diagnostics.learner import Learner, learner_for
from rlcheck.diagnostics.rollouts import (
    Horizon,
    Rollout,
    advantages,
    check_sizes,
    collect,
    require_jax_env,
    tail_length,
    values_of,
)
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.errors import UserError

SIZES = (512, 2048, 8192, 32768)
REFERENCE_SIZE = 2**18
# Ilyas et al.'s threshold-free finding needs a trustworthy reference; madry.md §5 suggests
# refusing cosine-to-true below this true-vs-true cosine.
TRUE_VS_TRUE_MIN = 0.95

Baseline = Literal["agent", "zero", "fitted"]


class Estimator(NamedTuple):
    """How the weights Â of a gradient estimate E[Â ∇log π] are computed.

    Attributes:
        baseline: the V in the advantages: the agent's critic ("agent"; zero when it has
            none), 0 ("zero"), or a given fitted value function ("fitted", V*).
        horizon: "rollout" (the agent's bootstrapping) or "episode" (through each episode's
            end); see :mod:`rlcheck.diagnostics.rollouts`.
        lam: GAE λ; None: the agent's.
        normalize: normalize the weights over the batch (zero mean, unit std).
    """

    baseline: Baseline
    horizon: Horizon
    lam: float | None
    normalize: bool


def own_estimator(learner: Learner, baseline: Baseline = "agent") -> Estimator:
    """The agent's own estimator (``baseline`` in place of its critic)."""
    if learner.rollout_len is None:  # REINFORCE: Monte-Carlo returns
        return Estimator(baseline, "episode", 1.0, learner.norm_adv)
    return Estimator(baseline, "rollout", None, learner.norm_adv)


def reference_estimator(baseline: Baseline = "agent") -> Estimator:
    """The unbiased estimator of the reference gradient: λ = 1 through episode ends."""
    return Estimator(baseline, "episode", 1.0, False)


def gradient_quality(
    agent: Any,
    states: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    *,
    sizes: tuple[int, ...] = SIZES,
    num_estimates: int = 10,
    reference_size: int = REFERENCE_SIZE,
    reference_baseline: Baseline = "agent",
    window: int = 512,
    tail: int | None = None,
    group_envs: int = 64,
) -> dict[str, Any]:
    """D1 at one checkpoint, for every seed of ``states``.

    Args:
        agent: a PPO, A2C, TRPO or REINFORCE agent.
        states: its states, with a leading seed axis.
        env, env_params: the env (JAX-native) and its params.
        key: PRNG key; each seed gets its own stream.
        sizes: n, the pairs per estimate (multiples of ``window``).
        num_estimates: K, estimates per size.
        reference_size: pairs of each of the two reference gradients.
        reference_baseline: the reference's baseline, "agent" or "zero".
        window: steps per env of an estimate's rollouts (fresh resets).
        tail: steps after the window completing episode returns; None: the time limit.
        group_envs: envs rolled out together (memory against speed; not the numbers).

    Returns:
        {"sizes", "pairwise_cosine" (seeds, sizes), "cosine_to_true" (seeds, sizes; NaN where
        refused), "true_vs_true" (seeds,), "refused" (seeds,), "summary": {name: Estimate
        over seeds}, "estimator", "reference"}.
    """
    learner = learner_for(agent)
    if reference_baseline == "fitted":
        raise UserError("gradient_quality's reference baseline is 'agent' or 'zero'")
    concentration = concentration_over_seeds(
        learner,
        states,
        env,
        env_params,
        key,
        estimators=(own_estimator(learner),),
        reference=reference_estimator(reference_baseline),
        sizes=sizes,
        num_estimates=num_estimates,
        reference_size=reference_size,
        window=window,
        tail=tail,
        group_envs=group_envs,
    )
    out = {
        "sizes": np.asarray(sizes),
        "pairwise_cosine": concentration["pairwise_cosine"][:, 0],
        "cosine_to_true": concentration["cosine_to_true"][:, 0],
        "true_vs_true": concentration["true_vs_true"],
        "refused": concentration["refused"],
        "estimator": own_estimator(learner)._asdict(),
        "reference": reference_estimator(reference_baseline)._asdict(),
    }
    out["summary"] = {
        "pairwise_cosine": over_seeds(out["pairwise_cosine"]),
        "cosine_to_true": over_seeds(out["cosine_to_true"]),
        "true_vs_true": over_seeds(out["true_vs_true"]),
    }
    return out


def concentration_over_seeds(
    learner: Learner,
    states: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    *,
    estimators: tuple[Estimator, ...],
    reference: Estimator,
    sizes: tuple[int, ...],
    num_estimates: int,
    reference_size: int,
    window: int,
    tail: int | None,
    group_envs: int,
    fitted: Any = None,
) -> dict[str, np.ndarray]:
    """Concentration and cosine-to-true of several estimators sharing the same rollouts.

    Returns numpy arrays: "pairwise_cosine" and "cosine_to_true" (seeds, estimators, sizes),
    "true_vs_true" and "refused" (seeds,). ``fitted``: V* parameters with a leading seed axis,
    for estimators with the "fitted" baseline.
    """
    if num_estimates < 2:
        raise UserError(
            f"num_estimates must be at least 2 (pairs of estimates), got {num_estimates}"
        )
    check_sizes(tuple(sizes), window, "sizes")
    check_sizes((reference_size,), window, "reference_size")
    uses_fitted = any(e.baseline == "fitted" for e in (*estimators, reference))
    if uses_fitted and fitted is None:
        raise UserError("an estimator with the 'fitted' baseline needs fitted value parameters")
    require_jax_env(env)
    tail = tail_length(env, tail)
    program = functools.partial(
        _concentration,
        learner,
        env,
        tuple(estimators),
        reference,
        tuple(sizes),
        num_estimates,
        reference_size,
        window,
        tail,
        group_envs,
    )
    seeds = jax.tree.leaves(states)[0].shape[0]
    keys = jax.random.split(key, seeds)
    fitted_axis = 0 if uses_fitted else None
    run = jax.jit(jax.vmap(program, in_axes=(0, 0, None, fitted_axis)))
    out = jax.device_get(run(states, keys, env_params, fitted if uses_fitted else None))
    refused = out["true_vs_true"] < TRUE_VS_TRUE_MIN
    cos_true = np.where(refused[:, None, None], np.nan, out["cosine_to_true"])
    return {
        "pairwise_cosine": np.asarray(out["pairwise_cosine"]),
        "cosine_to_true": cos_true,
        "true_vs_true": np.asarray(out["true_vs_true"]),
        "refused": refused,
    }


def _concentration(
    learner: Learner,
    env: JaxEnv,
    estimators: tuple[Estimator, ...],
    reference: Estimator,
    sizes: tuple[int, ...],
    num_estimates: int,
    reference_size: int,
    window: int,
    tail: int,
    group_envs: int,
    state: Any,
    key: jax.Array,
    env_params: Any,
    fitted: Any,
) -> dict[str, jax.Array]:
    """One seed: every estimate and both references, then their cosines."""
    key_est, key_ref = jax.random.split(key)
    per_size = [num_estimates * n // window for n in sizes]
    stats = env_gradient_sums(
        learner,
        state,
        env,
        env_params,
        key_est,
        estimators,
        window,
        tail,
        sum(per_size),
        group_envs,
        fitted,
    )
    ref_envs = reference_size // window
    ref_stats = env_gradient_sums(
        learner,
        state,
        env,
        env_params,
        key_ref,
        (reference,),
        window,
        tail,
        2 * ref_envs,
        group_envs,
        fitted,
    )
    by_half = jax.tree.map(lambda x: x.reshape(2, ref_envs, *x.shape[1:]).sum(1), ref_stats)
    halves = jax.vmap(lambda s: combine(s, ref_envs * window, (reference,))[0])(by_half)
    pooled = combine(
        jax.tree.map(lambda x: jnp.sum(x, 0), ref_stats), 2 * ref_envs * window, (reference,)
    )[0]
    pairwise, to_true = [], []
    start = 0
    for n, count in zip(sizes, per_size, strict=True):
        block = jax.tree.map(
            lambda x, s=start, c=count: (
                x[s : s + c].reshape(num_estimates, c // num_estimates, *x.shape[1:]).sum(1)
            ),
            stats,
        )
        start += count
        # (K, estimators, P): each of the K estimates of every estimator.
        grads = jax.vmap(lambda s, n=n: combine(s, n, estimators))(block)
        grads = jnp.swapaxes(grads, 0, 1)
        pairwise.append(jax.vmap(mean_pairwise_cosine)(grads))
        to_true.append(jnp.mean(cosine(grads, pooled[None, None]), axis=-1))
    return {
        "pairwise_cosine": jnp.stack(pairwise, axis=-1),
        "cosine_to_true": jnp.stack(to_true, axis=-1),
        "true_vs_true": cosine(halves[0], halves[1]),
    }


class GradientSums(NamedTuple):
    """Per env: Σ_t w_t ∇log π_t for each estimator (then Σ_t ∇log π_t last), Σ w, Σ w²."""

    weighted: jax.Array  # (…, estimators + 1, P)
    sum_w: jax.Array  # (…, estimators)
    sum_w2: jax.Array  # (…, estimators)


def env_gradient_sums(
    learner: Learner,
    state: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    estimators: tuple[Estimator, ...],
    window: int,
    tail: int,
    num_envs: int,
    group_envs: int,
    fitted: Any = None,
) -> GradientSums:
    """The sums every estimate is made of, one row per env (``num_envs`` of them).

    Envs are rolled out ``group_envs`` at a time (``lax.map``); the last group is filled up
    and the extra envs dropped.
    """
    group = min(group_envs, num_envs)
    groups = -(-num_envs // group)
    steps = window + (tail if any(e.horizon == "episode" for e in estimators) else 0)

    def one_group(key: jax.Array) -> GradientSums:
        return _group_sums(
            learner, state, env, env_params, key, estimators, window, steps, group, fitted
        )

    sums = jax.lax.map(one_group, jax.random.split(key, groups))
    return jax.tree.map(lambda x: x.reshape(groups * group, *x.shape[2:])[:num_envs], sums)


def _group_sums(
    learner: Learner,
    state: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    estimators: tuple[Estimator, ...],
    window: int,
    steps: int,
    num_envs: int,
    fitted: Any,
) -> GradientSums:
    rollout = collect(learner, state, learner.actor(state), env, env_params, key, num_envs, steps)
    return gradient_sums(learner, state, rollout, estimators, window, fitted)


def gradient_sums(
    learner: Learner,
    state: Any,
    rollout: Rollout,
    estimators: tuple[Estimator, ...],
    window: int,
    fitted: Any = None,
) -> GradientSums:
    """:class:`GradientSums` of each env of a rollout by the policy of ``state``: one
    vector-Jacobian product of the window's log-probabilities per env, applied to each
    estimator's weights and to ones."""
    actor = learner.actor(state)
    weights = jnp.stack(
        [estimator_weights(learner, state, rollout, e, window, fitted) for e in estimators]
    )
    flat, unravel = ravel_pytree(actor)
    num_envs = rollout.reward.shape[1]
    cotangents = jnp.concatenate([weights, jnp.ones((1, window, num_envs))])

    def per_env(x: jax.Array, action: jax.Array, w: jax.Array) -> jax.Array:
        _, vjp = jax.vjp(lambda f: learner.log_prob(unravel(f), x, action), flat)
        return jax.vmap(lambda c: vjp(c)[0])(w)

    weighted = jax.vmap(per_env, in_axes=(1, 1, 2))(
        rollout.x[:window], rollout.action[:window], cotangents
    )
    return GradientSums(weighted, jnp.sum(weights, 1).T, jnp.sum(weights**2, 1).T)


def estimator_weights(
    learner: Learner, state: Any, rollout: Any, estimator: Estimator, window: int, fitted: Any
) -> jax.Array:
    """The (unnormalized) weights Â of the window's pairs under ``estimator``."""
    critic = {"agent": learner.critic(state), "zero": None, "fitted": fitted}[estimator.baseline]
    lam = learner.gae_lambda(state) if estimator.lam is None else estimator.lam
    values = values_of(learner, critic, rollout)
    return advantages(learner, state, rollout, values, window, estimator.horizon, lam)


def combine(sums: GradientSums, pairs: int, estimators: tuple[Estimator, ...]) -> jax.Array:
    """Each estimator's gradient estimate E[Â ∇log π] from summed :class:`GradientSums` of
    ``pairs`` pairs: with normalization, Â = (w − μ)/(σ + 1e-8) over those pairs, so the
    gradient is (Σ w∇log π − μ Σ ∇log π) / (n (σ + 1e-8)); without, Σ w∇log π / n.

    Returns (estimators, P).
    """
    out = []
    for i, estimator in enumerate(estimators):
        weighted = sums.weighted[i]
        if estimator.normalize:
            mean = sums.sum_w[i] / pairs
            std = jnp.sqrt(jnp.maximum(sums.sum_w2[i] / pairs - mean**2, 0.0))
            weighted = (weighted - mean * sums.weighted[-1]) / (std + 1e-8)
        out.append(weighted / pairs)
    return jnp.stack(out)


def cosine(a: jax.Array, b: jax.Array) -> jax.Array:
    """Cosine similarity along the last axis (0 where a vector is 0)."""
    norms = jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1)
    return jnp.where(norms > 0, jnp.sum(a * b, axis=-1) / jnp.where(norms > 0, norms, 1.0), 0.0)


def mean_pairwise_cosine(vectors: jax.Array) -> jax.Array:
    """The mean cosine over the K(K − 1)/2 pairs of K vectors (K, P)."""
    unit = vectors / jnp.maximum(jnp.linalg.norm(vectors, axis=-1, keepdims=True), 1e-30)
    gram = unit @ unit.T
    k = vectors.shape[0]
    return (jnp.sum(gram) - jnp.trace(gram)) / (k * (k - 1))
