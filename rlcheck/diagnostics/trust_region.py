"""D4, the trust region: does an update stay where its objective says it may go?

With ``trust_region_monitor = true`` (off by default: it costs ≈ 11–19% of PPO's training time
with CleanRL's CartPole-v1 defaults), PPO, TRPO and A2C log after every update, on the batch it
learned from, the maximum, 99th percentile and mean of the probability ratio π_new/π_old and
the mean and maximum of KL(π_old ‖ π_new)
(``rlcheck.agents.common.trust_region.trust_region_internals``; Engstrom et al. 2020, §4,
MadryLab's ``paper_constraints_logging``). This module reads those internals
(:func:`trust_region_summary`: how often the maximum ratio leaves [1 − ε, 1 + ε], how large the
KL is) and measures the same numbers on a held-out batch at a checkpoint
(:func:`trust_region_heldout`): one real update, then the ratio and KL on a second batch the
pre-update policy collected and the update never saw. The held-out batch costs one rollout of
env steps per checkpoint and seed, outside the training budget (the run's own training is not
touched); Engstrom et al. find held-out numbers "qualitatively nearly identical"."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from rlcheck.agents.common.actor_critic import flatten_rollout
from rlcheck.agents.common.trust_region import TRUST_REGION_INTERNALS, trust_region_internals
from rlcheck.diagnostics.intervals import over_seeds
from rlcheck.diagnostics.learner import Learner, learner_for
from rlcheck.diagnostics.rollouts import agent_rollout, require_jax_env
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.errors import UserError


def trust_region_summary(
    internals: np.ndarray,
    metric_names: Sequence[str],
    clip: float = 0.2,
    kl_bound: float | None = None,
) -> dict[str, Any]:
    """What the logged trust-region internals say, per seed and over seeds.

    Args:
        internals: (seeds, updates, metrics), as the drivers return them (``results
            ["internals"]``) or the store keeps them per seed.
        metric_names: the agent's ``metric_names`` (the metrics axis).
        clip: ε of the ratio interval [1 − ε, 1 + ε] (PPO's ``clip_coef``; for TRPO and A2C
            a reference value).
        kl_bound: also count updates whose mean KL exceeds this (TRPO's ``max_kl``); None: no.

    Returns:
        {"fraction_ratio_above": (seeds,) share of updates with ratio_max > 1 + ε,
        "ratio_max_median", "ratio_max_max", "kl_mean_median", "kl_mean_max" (seeds,)
        [, "fraction_kl_above"], "summary": {name: Estimate over seeds}}.
    """
    names = list(metric_names)
    missing = [m for m in ("ratio_max", "kl_mean") if m not in names]
    if missing:
        raise UserError(
            f"the internals hold no {', '.join(missing)}: train PPO, TRPO or A2C with "
            "trust_region_monitor = true"
        )
    array = np.asarray(internals, dtype=float)
    ratio_max = array[:, :, names.index("ratio_max")]
    kl_mean = array[:, :, names.index("kl_mean")]
    out: dict[str, Any] = {
        "fraction_ratio_above": np.mean(ratio_max > 1.0 + clip, axis=1),
        "ratio_max_median": np.median(ratio_max, axis=1),
        "ratio_max_max": np.max(ratio_max, axis=1),
        "kl_mean_median": np.median(kl_mean, axis=1),
        "kl_mean_max": np.max(kl_mean, axis=1),
    }
    if kl_bound is not None:
        out["fraction_kl_above"] = np.mean(kl_mean > kl_bound, axis=1)
    out["summary"] = {k: over_seeds(v) for k, v in out.items()}
    return out


def trust_region_heldout(
    agent: Any, states: Any, env: JaxEnv, env_params: Any, key: jax.Array
) -> dict[str, Any]:
    """The trust-region internals of one real update from each state, on its training batch
    and on a held-out batch of the same size by the same pre-update policy.

    Both batches come from the agent's own ``act`` (its rollout shape, from fresh resets);
    the old log-probabilities are those of collection time.

    Returns:
        {"train": {internal: (seeds,)}, "heldout": {…}, "logged": what the agent itself
        logged for that update (PPO, TRPO, A2C: the same numbers as "train"), "summary":
        {part: {internal: Estimate}}}, internals as ``TRUST_REGION_INTERNALS``.
    """
    learner = learner_for(agent)
    require_jax_env(env)
    seeds = jax.tree.leaves(states)[0].shape[0]
    program = functools.partial(_heldout, learner, env)
    run = jax.jit(jax.vmap(program, in_axes=(0, 0, None)))
    out = jax.device_get(run(states, jax.random.split(key, seeds), env_params))
    out = {part: {k: np.asarray(v) for k, v in values.items()} for part, values in out.items()}
    out["summary"] = {
        part: {k: over_seeds(v) for k, v in values.items()} for part, values in out.items()
    }
    return out


def _heldout(learner: Learner, env: JaxEnv, state: Any, key: jax.Array, env_params: Any) -> dict:
    agent = learner.agent
    key_train, key_update, key_heldout = jax.random.split(key, 3)
    rolled, traj = agent_rollout(agent, state, env, env_params, key_train)
    new_state, metrics = agent.update(rolled, traj, key_update)
    _, heldout = agent_rollout(agent, state, env, env_params, key_heldout)
    old, new = learner.actor(state), learner.actor(new_state)

    def internals(batch: dict) -> dict:
        d_old = learner.net.dist(old, batch["x"])
        d_new = learner.net.dist(new, batch["x"])
        log_ratio = learner.net.log_prob(d_new, batch["action"]) - batch["log_prob"]
        stats = trust_region_internals(log_ratio, learner.net.kl(d_old, d_new))
        return {name: stats[name] for name in TRUST_REGION_INTERNALS}

    out = {
        "train": internals(_pairs(learner, state, traj)),
        "heldout": internals(_pairs(learner, state, heldout)),
    }
    if all(name in metrics for name in TRUST_REGION_INTERNALS):
        out["logged"] = {name: metrics[name] for name in TRUST_REGION_INTERNALS}
    return out


def _pairs(learner: Learner, state: Any, traj: Any) -> dict:
    """A rollout's inputs, actions and collection-time log-probabilities, flat."""
    log_prob = traj.aux.get("log_prob")
    if log_prob is None:  # A2C and REINFORCE keep none: the collecting actor gives them
        log_prob = learner.log_prob(learner.actor(state), traj.aux["x"], traj.action)
    batch = {"x": traj.aux["x"], "action": traj.action, "log_prob": log_prob}
    return flatten_rollout(batch, log_prob.size)
