"""Proportional prioritized replay (Schaul et al. 2016): priorities for a replay buffer's slots.

The priorities live beside a :class:`rlcheck.agents.common.replay.Replay` (same slot numbers), in
a sum tree (sampling in proportion to priority^α in O(log N)) and a min tree (the smallest
probability, which normalizes the importance weights as OpenAI Baselines does). Both are flat
arrays with node 1 as root and the leaves at ``[P, 2P)``, ``P`` the capacity rounded up to a
power of two, so under ``vmap`` every seed's trees are one array each.

Written here rather than taken from flashbax: flashbax would be a new dependency, and its
buffers do not share slot numbers with our replay buffer, which n-step returns rely on.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Priorities:
    sum_tree: jax.Array  # (2P,) sums of priority^α; node 1 is the total
    min_tree: jax.Array  # (2P,) minima of priority^α; +inf where no slot is filled
    max_priority: jax.Array  # largest priority given so far: new transitions get it

    @property
    def leaves(self) -> int:
        return self.sum_tree.shape[0] // 2


def priorities_init(capacity: int) -> Priorities:
    """Trees for a buffer of ``capacity`` slots, all empty; the first transitions get priority 1."""
    leaves = 1 << max(capacity - 1, 0).bit_length()
    return Priorities(
        sum_tree=jnp.zeros(2 * leaves),
        min_tree=jnp.full(2 * leaves, jnp.inf),
        max_priority=jnp.asarray(1.0),
    )


def _set_leaves(
    tree: jax.Array, slots: jax.Array, values: jax.Array, combine: Callable
) -> jax.Array:
    """Write leaves, then recompute their ancestors from both children (so repeated slots in
    one batch leave a consistent tree whichever write wins)."""
    leaves = tree.shape[0] // 2

    def up_one_level(_: int, carry: tuple) -> tuple:
        tree, nodes = carry
        nodes = nodes // 2
        return tree.at[nodes].set(combine(tree[2 * nodes], tree[2 * nodes + 1])), nodes

    nodes = slots + leaves
    tree = tree.at[nodes].set(values)
    return jax.lax.fori_loop(0, leaves.bit_length() - 1, up_one_level, (tree, nodes))[0]


def priorities_add(
    priorities: Priorities, slots: jax.Array, alpha: jax.Array | float
) -> Priorities:
    """Give newly written ``slots`` the largest priority so far, so each is replayed soon."""
    value = jnp.full(slots.shape, priorities.max_priority**alpha)
    return priorities.replace(
        sum_tree=_set_leaves(priorities.sum_tree, slots, value, jnp.add),
        min_tree=_set_leaves(priorities.min_tree, slots, value, jnp.minimum),
    )


def priorities_update(
    priorities: Priorities,
    slots: jax.Array,
    new_priorities: jax.Array,
    alpha: jax.Array | float,
    where: jax.Array | bool = True,
) -> Priorities:
    """Set the priorities of sampled ``slots`` (e.g. |TD error| + ε); nothing changes where
    ``where`` is False (a masked update, for programs in which both branches run)."""
    current = priorities.sum_tree[slots + priorities.leaves]
    value = jnp.where(where, new_priorities**alpha, current)
    max_priority = jnp.where(
        where,
        jnp.maximum(priorities.max_priority, jnp.max(new_priorities)),
        priorities.max_priority,
    )
    return Priorities(
        sum_tree=_set_leaves(priorities.sum_tree, slots, value, jnp.add),
        min_tree=_set_leaves(priorities.min_tree, slots, value, jnp.minimum),
        max_priority=max_priority,
    )


def sample_probabilities(priorities: Priorities, slots: jax.Array) -> jax.Array:
    """P(i) = p_i^α / Σ_k p_k^α for the given slots."""
    return priorities.sum_tree[slots + priorities.leaves] / priorities.sum_tree[1]


def priorities_sample(
    priorities: Priorities,
    key: jax.Array,
    batch_size: int,
    size: jax.Array,
    beta: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """Stratified proportional sample of slots, with their importance-sampling weights.

    The total priority mass is cut into ``batch_size`` equal segments and one slot is drawn in
    each (Schaul et al. 2016, Appendix B.2.1). The weights are w_i = (N·P(i))^−β normalized by
    the largest weight any filled slot could get, (N·min_k P(k))^−β, so they lie in (0, 1]
    (OpenAI Baselines' ``PrioritizedReplayBuffer``).

    Args:
        priorities: the trees.
        key: PRNG key.
        batch_size: slots to draw.
        size: how many slots hold data (slots ``[0, size)``, as in the replay buffer).
        beta: importance-sampling exponent (0: no correction, 1: full correction).

    Returns:
        (slots, weights), each of shape (batch_size,). An empty buffer gives slot 0, weight 1.
    """
    total = priorities.sum_tree[1]
    mass = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) * (total / batch_size)

    def down_one_level(_: int, carry: tuple) -> tuple:
        node, mass = carry
        left = priorities.sum_tree[2 * node]
        go_right = mass >= left
        return 2 * node + go_right, jnp.where(go_right, mass - left, mass)

    depth = priorities.leaves.bit_length() - 1
    node, _ = jax.lax.fori_loop(0, depth, down_one_level, (jnp.ones(batch_size, jnp.int32), mass))
    # Rounding can carry a draw at the very end of the mass past the last filled slot.
    slots = jnp.clip(node - priorities.leaves, 0, jnp.maximum(size - 1, 0))
    min_probability = priorities.min_tree[1] / total
    weights = (min_probability / sample_probabilities(priorities, slots)) ** beta
    return slots, jnp.where(size > 0, weights, 1.0)
