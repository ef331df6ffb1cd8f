"""Running mean and variance for observation and return normalization.

The statistics follow Gymnasium's (and SB3's) ``RunningMeanStd``: the parallel update of Chan et
al. 1979, count starting at 1e-4; the state is per seed and lives inside compiled programs.
Observations are normalized as Gymnasium's ``NormalizeObservation`` does it (statistics updated,
then applied), with the statistics pooled over a seed's envs. The return statistics feed the reward
scaling of :mod:`rlcheck.agents.common.reward_scaling`, which equals SB3's ``VecNormalize`` and
differs from Gymnasium's ``NormalizeReward`` at episode ends (that module's docstring says how).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningMeanStd:
    mean: jax.Array
    var: jax.Array
    count: jax.Array


def rms_init(shape: tuple[int, ...]) -> RunningMeanStd:
    return RunningMeanStd(jnp.zeros(shape), jnp.ones(shape), jnp.asarray(1e-4))


def rms_update(rms: RunningMeanStd, batch: jax.Array) -> RunningMeanStd:
    """Merge a batch (leading axis = samples) into the running statistics."""
    batch_mean = jnp.mean(batch, axis=0)
    batch_var = jnp.var(batch, axis=0)
    batch_count = batch.shape[0]
    delta = batch_mean - rms.mean
    total = rms.count + batch_count
    mean = rms.mean + delta * batch_count / total
    m2 = rms.var * rms.count + batch_var * batch_count + delta**2 * rms.count * batch_count / total
    return RunningMeanStd(mean, m2 / total, total)


def rms_normalize(
    rms: RunningMeanStd, x: jax.Array, clip: jax.Array | float, epsilon: float = 1e-8
) -> jax.Array:
    """(x − mean) / sqrt(var + ε), clipped to [−clip, clip]."""
    return jnp.clip((x - rms.mean) / jnp.sqrt(rms.var + epsilon), -clip, clip)


def obs_normalizer(state: Any, normalize: bool) -> dict:
    """What normalizing an observation takes, read off a state whose ``obs_rms`` and
    ``hparams["obs_clip"]`` hold it: ``{"obs_rms", "obs_clip"}`` when ``normalize``, else ``{}``.
    Part of a policy's parameters (what a stored policy keeps besides its networks)."""
    if normalize:
        return {"obs_rms": state.obs_rms, "obs_clip": state.hparams["obs_clip"]}
    return {}


def normalize_with(params: dict, obs: jax.Array) -> jax.Array:
    """``obs`` normalized and clipped by the :func:`obs_normalizer` entries of ``params`` (a
    policy's parameters), unchanged when it has none."""
    if "obs_rms" in params:
        obs = rms_normalize(params["obs_rms"], obs, params["obs_clip"])
    return obs


def normalized_obs(state: Any, obs: jax.Array, normalize: bool) -> jax.Array:
    """``obs`` as the networks see it: normalized by ``state.obs_rms`` and clipped to
    ±``state.hparams["obs_clip"]`` when ``normalize``, else unchanged. Shared by the agents whose
    states carry those fields (PPO, A2C, TRPO)."""
    return normalize_with(obs_normalizer(state, normalize), obs)


def observe(state: Any, obs: jax.Array, normalize: bool) -> tuple[Any, jax.Array]:
    """At acting time: fold ``obs`` into ``state.obs_rms`` first (when ``normalize``), then
    normalize it with the updated statistics, as Gymnasium's ``NormalizeObservation`` does."""
    if normalize:
        state = state.replace(obs_rms=rms_update(state.obs_rms, obs))
    return state, normalized_obs(state, obs, normalize)
