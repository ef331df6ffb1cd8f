"""Stored policies read back: every seed's final policy (and, when kept, the one evaluated at each
checkpoint) as the agent's ``policy_params``, rebuilt from the store's arrays.

Nothing is unpickled and no tree structure is stored: the structure comes from the agent itself,
rebuilt from the unit's algorithm, stored config overrides and env (``jax.eval_shape`` of
``policy_params(init(…))``), and each leaf is read from the array named by its path
(``policy/<leaf path>``, see :func:`rlcheck.drivers.common.policy_arrays`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs
from rlcheck.baselines.search import PolicySearch
from rlcheck.drivers.common import CHECKPOINT_POLICY, POLICY, leaf_names, policy_from_arrays
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError
from rlcheck.experiment.plan import validate_overrides
from rlcheck.experiment.store import Store
from rlcheck.registry import ALGORITHMS, make_agent

NOT_STORED = (
    "was stored before rlcheck kept policies (a results directory written by an older version); "
    "train it again into a new directory to keep them"
)

# Units of policies rlcheck did not train: what they were (the unit's meta["driver"]).
NOT_RLCHECKS = {
    "imported": "imported (rlcheck import): runs trained elsewhere",
    "evaluated": "evaluated by rlcheck evaluate (a policy trained elsewhere)",
}


def describe_unit(row: dict[str, Any]) -> str:
    """How a unit is named in messages: ``ppo on CartPole-v1 (unit 1a2b3c4d)``."""
    return f"{row['algo_label']} on {row['env_label']} (unit {row['key'][:8]})"


def find_unit(store: Store, unit: str) -> dict[str, Any]:
    """The stored unit named by ``unit``: its key, its algo label, or a unique prefix of its key
    (in that order: a label such as "a2c" is also a hexadecimal prefix).

    Raises:
        UserError: no unit or several match (the message lists the units there are).
    """
    rows = store.units()
    if not rows:
        raise UserError(f"{store.directory}: no unit is stored here")
    matches = [r for r in rows if r["key"] == unit]
    matches = matches or [r for r in rows if r["algo_label"] == unit]
    matches = matches or [r for r in rows if r["key"].startswith(unit)]
    listing = "; ".join(describe_unit(r) for r in (matches or rows))
    if not matches:
        raise UserError(f"no unit '{unit}' in {store.directory} (units: {listing})")
    if len(matches) > 1:
        raise UserError(
            f"'{unit}' names {len(matches)} units in {store.directory}; give a unit key "
            f"(prefix) instead: {listing}"
        )
    return matches[0]


@dataclass
class UnitPolicies:
    """The policies stored for one unit: the agent that acts with them, its env, and the
    parameters of some of its seeds stacked on a leading seed axis."""

    row: dict[str, Any]
    agent: Any
    env: Any
    seeds: list[int]
    params: Any
    checkpoint: int | None = None

    @property
    def driver(self) -> str:
        """Which driver trained the unit: "fused", "host" or "baseline" (policy search)."""
        return str((self.row["meta"] or {}).get("driver"))


def policy_agent(row: dict[str, Any]) -> tuple[Any, Any]:
    """The agent (or policy search) and env a stored unit was trained with, rebuilt from its
    algorithm, config overrides and env id, kwargs and changed params.

    Raises:
        UserError: the unit failed, is a planner (no policy), or was stored before policies
            were kept.
    """
    name = describe_unit(row)
    if row["status"] != "done":
        raise UserError(f"{name} failed ({row['reason']}): it has no policy")
    meta = row["meta"] or {}
    if meta.get("driver") in NOT_RLCHECKS:
        raise UserError(
            f"{name} was {NOT_RLCHECKS[meta['driver']]}; rlcheck stores no policy for it"
        )
    if ALGORITHMS[row["algo"]].kind == "planner" or ("policy" in meta and meta["policy"] is None):
        raise UserError(
            f"{name}: {row['algo']} is a planner; it has no policy to store or load (it plans "
            "with the true model at every step)"
        )
    if "policy" not in meta:
        raise UserError(f"the policy of {name} {NOT_STORED}")
    env = envs.make(row["env"], **meta.get("env_kwargs", {}))
    if meta.get("env_params"):
        # Trained at changed params: evaluation, robustness and load_policy start from those.
        env = env.with_params(**meta["env_params"])
    overrides = validate_overrides(row["algo"], row["overrides"], f"{name}: config")
    return make_agent(row["algo"], env.spec, overrides, row["budget"]), env


def policy_template(agent: Any) -> Any:
    """The structure, shapes and dtypes of ``agent.policy_params`` (no computation)."""
    key = jax.random.PRNGKey(0)
    if isinstance(agent, PolicySearch):
        return jax.eval_shape(
            lambda k: agent.policy_params(agent.init_seed(k, agent.hparams(), 1, 1)), key
        )
    return jax.eval_shape(lambda k: agent.policy_params(agent.init(k, agent.hparams())), key)


def read_policies(
    store: Store, row: dict[str, Any], seeds: list[int] | None = None, checkpoint: int | None = None
) -> UnitPolicies:
    """The stored policies of a unit's ``seeds`` (default: all), final or at ``checkpoint``.

    Raises:
        UserError: no policy (see :func:`policy_agent`), an unknown seed or checkpoint, or
            arrays that do not fit the agent's policy (stored by other code).
    """
    agent, env = policy_agent(row)
    name = describe_unit(row)
    seeds = list(row["seeds"]) if seeds is None else seeds
    for seed in seeds:
        if seed not in row["seeds"]:
            raise UserError(
                f"{name} has no seed {seed} (seeds: {', '.join(map(str, row['seeds']))})"
            )
    prefix = POLICY
    if checkpoint is not None:
        if not row["meta"]["policy"].get("checkpoints"):
            raise UserError(
                f"{name} kept only its final policies; set keep_checkpoint_policies = true in "
                "the spec's [eval] table to keep one per checkpoint"
            )
        prefix = CHECKPOINT_POLICY
    template = policy_template(agent)
    names = leaf_names(template)
    per_seed = []
    for seed in seeds:
        arrays = {}
        for leaf, shape in zip(names, jax.tree.leaves(template), strict=True):
            try:
                value = store.array(row["key"], seed, f"{prefix}/{leaf}")
            except KeyError:
                raise UserError(
                    f"{name}: seed {seed} has no stored array '{prefix}/{leaf}'; its policy "
                    "was stored by a version of rlcheck whose policy differs from this one"
                ) from None
            if checkpoint is not None:
                if not -len(value) <= checkpoint < len(value):
                    raise UserError(
                        f"{name} has {len(value)} checkpoint policies (0 … {len(value) - 1}); "
                        f"no checkpoint {checkpoint}"
                    )
                value = value[checkpoint]
            if value.shape != shape.shape or value.dtype != shape.dtype:
                raise UserError(
                    f"{name}: stored '{prefix}/{leaf}' is {value.dtype}{list(value.shape)}, the "
                    f"policy of {row['algo']} needs {shape.dtype}{list(shape.shape)}"
                )
            arrays[f"{prefix}/{leaf}"] = value
        per_seed.append(policy_from_arrays(template, arrays, prefix))
    params = jax.tree.map(lambda *xs: np.stack(xs), *per_seed)
    return UnitPolicies(row, agent, env, seeds, params, checkpoint)


@dataclass(eq=False)
class Policy:
    """One seed's stored policy, callable on observations.

    ``policy(obs)`` returns the action for one observation (shape ``env_spec.obs_shape``) or a
    batch of them (a leading batch axis), as a numpy array. ``deterministic=True`` (the
    default, as in evaluation) takes the greedy / mean action; ``False`` samples with ``key``.
    Without a key, the policy draws its own keys, from one seeded by the training seed.

    Attributes:
        unit_key, algo, algo_label, seed: which stored policy this is.
        checkpoint: the checkpoint it was evaluated at; None: the final policy.
        env_id, env_kwargs: the env it was trained on (``rlcheck.envs.make(env_id,
            **env_kwargs)`` makes it again; :attr:`env` holds one).
        env_params: the env's params during training (JAX-native envs; None for Gymnasium).
        env_spec: observation shape, action space, time limit.
        params: the policy's parameters (the agent's ``policy_params``).
        diverged: the seed's parameters became NaN/inf during training.
    """

    unit_key: str
    algo: str
    algo_label: str
    seed: int
    checkpoint: int | None
    env_id: str
    env_kwargs: dict[str, Any]
    env: Any
    env_params: Any
    env_spec: EnvSpec
    params: Any = field(repr=False)
    diverged: bool
    agent: Any = field(repr=False)
    _key: jax.Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._apply = jax.jit(self.agent.policy_apply, static_argnums=3)
        self._key = jax.random.PRNGKey(self.seed)

    def __call__(
        self, obs: Any, key: jax.Array | None = None, deterministic: bool = True
    ) -> np.ndarray:
        obs = jnp.asarray(obs, jnp.float32)
        single = obs.ndim == len(self.env_spec.obs_shape)
        if obs.shape[obs.ndim - len(self.env_spec.obs_shape) :] != self.env_spec.obs_shape:
            raise UserError(
                f"observation of shape {tuple(obs.shape)}; {self.env_id} has observations of "
                f"shape {self.env_spec.obs_shape} (or a batch of them)"
            )
        if key is None:
            self._key, key = jax.random.split(self._key)
        action = self._apply(self.params, obs[None] if single else obs, key, deterministic)
        return np.asarray(action[0] if single else action)


def load_policy(
    directory: str | Path, unit: str, seed: int, checkpoint: int | None = None
) -> Policy:
    """One seed's stored policy from a results directory, callable on observations.

    Args:
        directory: a results directory (``rlcheck run``/``quick``/``verdict`` wrote it).
        unit: the unit's key, a unique prefix of it, or its algo label (``rlcheck ls DIR``
            lists them).
        seed: one of the unit's seeds.
        checkpoint: the policy evaluated at this checkpoint (0-based; negative counts from the
            last), when the unit kept them (``keep_checkpoint_policies``); None: the final one.

    Returns:
        A :class:`Policy`: ``policy(obs)`` gives actions; ``policy.env_id``,
        ``policy.env_params`` and ``policy.env`` say what it was trained on.

    Raises:
        UserError: (one line) no such directory, unit or seed; a planner (no policy); a unit
            stored before policies were kept.
    """
    store = Store(directory, create=False)
    try:
        row = find_unit(store, unit)
        stored = read_policies(store, row, [seed], checkpoint)
        seed_status = {s: status for s, status, *_ in store.seed_rows(row["key"])}
    finally:
        store.close()
    params = jax.tree.map(lambda x: x[0], stored.params)
    meta = row["meta"] or {}
    return Policy(
        unit_key=row["key"],
        algo=row["algo"],
        algo_label=row["algo_label"],
        seed=seed,
        checkpoint=checkpoint,
        env_id=row["env"],
        env_kwargs=meta.get("env_kwargs", {}),
        env=stored.env,
        env_params=getattr(stored.env, "params", None),
        env_spec=stored.env.spec,
        params=params,
        diverged=seed_status.get(seed) != "ok",
        agent=stored.agent,
    )
