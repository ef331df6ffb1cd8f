"""A uniform replay buffer that lives inside the compiled program, one per seed.

Fixed capacity, circular: the oldest transitions are overwritten. Every field is an array with
the capacity as leading axis, so under ``vmap`` the seeds' buffers are one array each.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Replay:
    data: dict[str, jax.Array]  # each (capacity, ...)
    position: jax.Array  # where the next transition goes
    size: jax.Array  # how many slots hold data

    @property
    def capacity(self) -> int:
        return next(iter(self.data.values())).shape[0]


def replay_init(capacity: int, example: dict[str, Any]) -> Replay:
    """An empty buffer for transitions shaped like ``example`` (one transition, no batch axis)."""
    data = {
        k: jnp.zeros((capacity, *jnp.shape(v)), jnp.asarray(v).dtype) for k, v in example.items()
    }
    return Replay(data, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))


def replay_add(buffer: Replay, batch: dict[str, jax.Array]) -> Replay:
    """Append a batch of transitions (leading axis n ≤ capacity), overwriting the oldest."""
    n = next(iter(batch.values())).shape[0]
    slots = (buffer.position + jnp.arange(n)) % buffer.capacity
    data = {
        k: buffer.data[k].at[slots].set(batch[k].astype(buffer.data[k].dtype)) for k in buffer.data
    }
    return Replay(
        data, (buffer.position + n) % buffer.capacity, jnp.minimum(buffer.size + n, buffer.capacity)
    )


def replay_sample(
    buffer: Replay, key: jax.Array, batch_size: int
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Uniform sample with replacement from the filled slots; returns (batch, slot indices).

    Sampling an empty buffer returns slot 0 (zeros); callers wait for ``learning_starts``.
    """
    indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return {k: v[indices] for k, v in buffer.data.items()}, indices
