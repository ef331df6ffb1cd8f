"""What both drivers share: the evaluation plan, the checkpoint grid, and the result layout."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.errors import UserError

# Episodes of an env without a time limit are cut here during evaluation.
DEFAULT_EVAL_STEP_CAP = 10_000


@dataclass(frozen=True)
class EvalPlan:
    """When and how the current policy is evaluated.

    Attributes:
        checkpoints: evaluations during training, at evenly spaced env-step counts.
        episodes: episodes per checkpoint evaluation, on a separate eval env.
        final_episodes: episodes for each seed's final policy.
        deterministic: evaluate the greedy / mean action instead of sampling.
        keep_checkpoint_policies: also return the policy evaluated at each checkpoint (the
            final one is always returned).
    """

    checkpoints: int = 20
    episodes: int = 8
    final_episodes: int = 32
    deterministic: bool = True
    keep_checkpoint_policies: bool = False


@dataclass(frozen=True)
class Schedule:
    """How a budget of env steps splits into updates and checkpoints for one agent.

    ``grid`` holds the nominal checkpoint steps (``budget·(c+1)/checkpoints``), the same for
    every algorithm, so curves line up; an agent learns in blocks of
    ``steps_per_update`` env steps, so its evaluation at checkpoint c happens after
    ``update_ends[c]`` updates, i.e. at most one block before the nominal step.

    Checkpoints never share an update: where the requested ones are closer than one update,
    those falling in the same update are one checkpoint, at the last of their nominal steps
    (so the last checkpoint stays at the budget), and a checkpoint before the first update is
    evaluated after it. ``update_ends`` is strictly increasing and at least 1; ``requested``
    says how many checkpoints were asked for (more than ``len(grid)`` when some were merged).
    """

    budget: int
    steps_per_update: int
    grid: np.ndarray
    update_ends: np.ndarray
    requested: int

    @property
    def num_updates(self) -> int:
        return int(self.update_ends[-1])

    @property
    def env_steps(self) -> int:
        """Env steps each seed actually trains on (the budget rounded down to whole updates)."""
        return self.num_updates * self.steps_per_update

    @property
    def checkpoint_env_steps(self) -> np.ndarray:
        """Env steps actually trained on at each checkpoint's evaluation (strictly increasing)."""
        return self.update_ends * self.steps_per_update

    @property
    def merged(self) -> bool:
        """Whether some requested checkpoints were merged (closer than one update)."""
        return len(self.grid) < self.requested


def make_schedule(budget: int, steps_per_update: int, checkpoints: int, algo: str) -> Schedule:
    if budget < steps_per_update:
        raise UserError(
            f"budget {budget} is smaller than one update of {algo} "
            f"({steps_per_update} env steps per seed)"
        )
    grid = np.array(
        [round(budget * (c + 1) / checkpoints) for c in range(checkpoints)], dtype=np.int64
    )
    update_ends = np.maximum(grid // steps_per_update, 1)
    # The grid never decreases, so neither do the update ends: keep the last of each run.
    last = np.append(update_ends[1:] != update_ends[:-1], True)
    return Schedule(budget, steps_per_update, grid[last], update_ends[last], checkpoints)


def env_seeds(seed: int, stream: int, n: int) -> list[int]:
    """``n`` reset seeds for host envs, independent across (seed, stream) pairs."""
    return [int(s) for s in np.random.SeedSequence([seed, stream]).generate_state(n)]


# Result arrays both drivers return (numpy, leading axis = seed unless noted):
#   eval_returns (S, C, K)      return of each evaluation episode at each checkpoint
#   train_return_sum (S, C)     sum of the returns of training episodes that ended in the
#   train_episodes (S, C)       interval before checkpoint c, and how many ended
#   internals (S, U, M)         the agent's metrics after each update
#   final_returns (S, N)        final policy's episode returns
#   params_finite (S,)          False when a seed's parameters became NaN/inf (diverged)
#   env_finite (S,)             False when the env produced a NaN/inf observation or reward
#   policy/<leaf> (S, ...)      the final policy's parameters, one array per leaf of the
#                               agent's policy_params (none for planners)
#   checkpoint_policy/<leaf>    with EvalPlan.keep_checkpoint_policies: the policy evaluated at
#     (S, C, ...)               each checkpoint
# (Compiled programs return each policy as one flat vector, see flatten_policy; their run()
# splits it into these arrays.)
# and, only for an env that reports its hidden performance (rlcheck.envs.jax_env.PERFORMANCE):
#   eval_performance (S, C, K)  hidden performance of each evaluation episode at each checkpoint
#   final_performance (S, N)    hidden performance of the final policy's episodes
RESULT_KEYS = (
    "eval_returns",
    "train_return_sum",
    "train_episodes",
    "internals",
    "final_returns",
    "params_finite",
    "env_finite",
)
PERFORMANCE_KEYS = ("eval_performance", "final_performance")


def checkpoint_flags(schedule: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """Per update: whether a checkpoint evaluation follows it, and that checkpoint's index."""
    is_checkpoint = np.zeros(schedule.num_updates, bool)
    checkpoint = np.zeros(schedule.num_updates, np.int32)
    is_checkpoint[schedule.update_ends - 1] = True
    checkpoint[schedule.update_ends - 1] = np.arange(len(schedule.update_ends))
    return is_checkpoint, checkpoint


def per_checkpoint(rows: dict[str, np.ndarray], schedule: Schedule) -> dict[str, np.ndarray]:
    """Per-update rows (seed axis first) → per-checkpoint results (see ``RESULT_KEYS``): the
    training episodes summed over each checkpoint's interval (evaluations are already per
    checkpoint)."""
    ends = schedule.update_ends
    bounds = np.concatenate([[0], ends])
    sums = np.cumsum(rows["train_return_sum"], axis=1)
    counts = np.cumsum(rows["train_episodes"], axis=1)
    zero = np.zeros((sums.shape[0], 1))
    sums = np.concatenate([zero, sums], axis=1)
    counts = np.concatenate([zero, counts], axis=1)
    return {
        **rows,
        "train_return_sum": sums[:, bounds[1:]] - sums[:, bounds[:-1]],
        "train_episodes": (counts[:, bounds[1:]] - counts[:, bounds[:-1]]).astype(np.int64),
    }


# ---- policies as named arrays ---------------------------------------------------------------

POLICY = "policy"
CHECKPOINT_POLICY = "checkpoint_policy"


def leaf_names(tree: Any) -> list[str]:
    """The path of every leaf of a pytree, '/'-joined (``actor/net/params/Dense_0/kernel``), in
    the order of ``jax.tree.leaves``."""
    return [
        jax.tree_util.keystr(path, simple=True, separator="/")
        for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]
    ]


def policy_arrays(params: Any, prefix: str) -> dict[str, Any]:
    """A policy's parameters as flat named arrays, ``{f"{prefix}/{leaf path}": leaf}``: how
    drivers return them and the store keeps them (no pickle, no serialized tree structure)."""
    return {
        f"{prefix}/{name}": leaf
        for name, leaf in zip(leaf_names(params), jax.tree.leaves(params), strict=True)
    }


def flatten_policy(params: Any) -> jax.Array:
    """A policy's parameters as one float32 vector, leaves in ``jax.tree.leaves`` order: how a
    compiled program returns them. Returned leaf by leaf, the parameters are outputs that are
    the loop's own buffers, and jaxlib 0.10.2's XLA:CPU then stalled on the TRPO program of
    tests/experiment/test_workers.py in a process on both cores, even with the stall flag (4
    runs of 4; as one concatenated vector: 6 of 6 finished; docs/DESIGN-NOTES.md). Leaves are
    float32 (or integers small enough for it), so nothing is lost."""
    leaves = [jnp.ravel(x).astype(jnp.float32) for x in jax.tree.leaves(params)]
    return jnp.concatenate(leaves) if leaves else jnp.zeros((0,), jnp.float32)


def unflatten_policy(template: Any, flat: np.ndarray) -> Any:
    """The inverse of :func:`flatten_policy`, in numpy, for ``flat`` of shape (..., size): the
    pytree of ``template`` (the parameters or their ``jax.eval_shape``), each leaf with the
    leading axes of ``flat`` and its own shape and dtype."""
    flat = np.asarray(flat)
    leaves, start = [], 0
    for leaf in jax.tree.leaves(template):
        size = int(np.prod(leaf.shape))
        part = flat[..., start : start + size].reshape(*flat.shape[:-1], *leaf.shape)
        leaves.append(part.astype(leaf.dtype))
        start += size
    if start != flat.shape[-1]:
        raise ValueError(f"{flat.shape[-1]} values for a policy of {start}")
    return jax.tree.unflatten(jax.tree.structure(template), leaves)


def name_policies(results: dict[str, np.ndarray], template: Any) -> dict[str, np.ndarray]:
    """A program's results with its flat ``policy`` and ``checkpoint_policy`` vectors (seed axis
    first, see :func:`flatten_policy`) turned into one named array per leaf of ``template``."""
    results = dict(results)
    for prefix in (POLICY, CHECKPOINT_POLICY):
        if prefix in results:
            results.update(policy_arrays(unflatten_policy(template, results.pop(prefix)), prefix))
    return results


def policy_from_arrays(template: Any, arrays: Mapping[str, Any], prefix: str) -> Any:
    """The inverse of :func:`policy_arrays`: the pytree of ``template`` (the agent's
    ``policy_params``, or its ``jax.eval_shape``) with each leaf read from ``arrays``.

    Raises:
        KeyError: a leaf of the template is not in ``arrays``.
    """
    leaves = [arrays[f"{prefix}/{name}"] for name in leaf_names(template)]
    return jax.tree.unflatten(jax.tree.structure(template), leaves)
