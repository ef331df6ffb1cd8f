import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck.agents.common.prioritized import (
    priorities_add,
    priorities_init,
    priorities_sample,
    priorities_update,
    sample_probabilities,
)


def _three_slots():
    """Capacity 5 (8 leaves), slots 0–2 filled, then given priorities 1, 4, 9 with α = ½."""
    p = priorities_add(priorities_init(5), jnp.arange(3), 0.5)
    return priorities_update(p, jnp.arange(3), jnp.array([1.0, 4.0, 9.0]), 0.5)


def test_new_slots_get_the_largest_priority():
    p = priorities_init(5)
    assert p.sum_tree.shape == (16,)
    p = priorities_add(p, jnp.arange(3), 0.5)
    assert float(p.sum_tree[1]) == pytest.approx(3.0)  # priority 1 each
    p = priorities_update(p, jnp.arange(3), jnp.array([1.0, 4.0, 9.0]), 0.5)
    assert float(p.max_priority) == 9.0
    p = priorities_add(p, jnp.array([3]), 0.5)
    assert float(p.sum_tree[8 + 3]) == pytest.approx(3.0)  # 9^½


def test_probabilities_and_importance_weights():
    p = _three_slots()
    # p^α = 1, 2, 3: P = 1/6, 2/6, 3/6.
    np.testing.assert_allclose(sample_probabilities(p, jnp.arange(3)), [1 / 6, 2 / 6, 3 / 6])
    assert float(p.sum_tree[1]) == pytest.approx(6.0)
    assert float(p.min_tree[1]) == pytest.approx(1.0)
    slots, weights = priorities_sample(p, jax.random.PRNGKey(0), 6000, jnp.asarray(3), 1.0)
    # w = (N·P)^−β / max_k (N·P_k)^−β = (P_min / P)^β
    expected = np.array([1.0, 1 / 2, 1 / 3])
    np.testing.assert_allclose(weights, expected[np.asarray(slots)], rtol=1e-5)
    # Six strata of mass 1 over cumulative masses [0, 1), [1, 3), [3, 6): slots 0, 1, 1, 2, 2, 2.
    slots, weights = priorities_sample(p, jax.random.PRNGKey(0), 6, jnp.asarray(3), 0.5)
    np.testing.assert_array_equal(slots, [0, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(weights, [1.0, *[0.5**0.5] * 2, *[(1 / 3) ** 0.5] * 3], rtol=1e-5)


def test_sampling_frequencies_follow_the_priorities():
    slots, _ = priorities_sample(_three_slots(), jax.random.PRNGKey(1), 6000, jnp.asarray(3), 0.4)
    counts = np.bincount(np.asarray(slots), minlength=4)
    # Stratified: 6000 equal slices of the mass, so the counts are exact up to the boundaries.
    np.testing.assert_allclose(counts, [1000, 2000, 3000, 0], atol=2)


def test_repeated_and_masked_updates_keep_the_tree_consistent():
    p = _three_slots()
    q = priorities_update(p, jnp.array([1, 1]), jnp.array([4.0, 16.0]), 0.5)
    leaves = np.asarray(q.sum_tree[8:])
    assert leaves[1] in (2.0, 4.0)
    assert float(q.sum_tree[1]) == pytest.approx(leaves.sum())
    assert float(q.min_tree[1]) == pytest.approx(1.0)
    unchanged = priorities_update(p, jnp.array([0, 2]), jnp.array([50.0, 50.0]), 0.5, where=False)
    np.testing.assert_array_equal(unchanged.sum_tree, p.sum_tree)
    assert float(unchanged.max_priority) == 9.0


def test_empty_buffer_samples_slot_zero_with_weight_one():
    slots, weights = priorities_sample(priorities_init(4), jax.random.PRNGKey(0), 3, 0, 0.4)
    np.testing.assert_array_equal(slots, [0, 0, 0])
    np.testing.assert_array_equal(weights, [1.0, 1.0, 1.0])
