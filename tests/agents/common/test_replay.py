import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.agents.common.replay import replay_add, replay_init, replay_sample


def _buffer(capacity=5):
    return replay_init(capacity, {"obs": jnp.zeros(2), "action": jnp.int32(0)})


def test_adds_wrap_around_and_size_saturates():
    buf = _buffer()
    buf = replay_add(buf, {"obs": jnp.ones((3, 2)), "action": jnp.array([1, 2, 3])})
    assert int(buf.size) == 3 and int(buf.position) == 3
    buf = replay_add(buf, {"obs": jnp.ones((4, 2)) * 2, "action": jnp.array([4, 5, 6, 7])})
    assert int(buf.size) == 5 and int(buf.position) == 2
    np.testing.assert_array_equal(buf.data["action"], [6, 7, 3, 4, 5])  # 1 and 2 overwritten


def test_samples_only_filled_slots_uniformly():
    buf = replay_add(_buffer(100), {"obs": jnp.zeros((4, 2)), "action": jnp.arange(4)})
    batch, indices = replay_sample(buf, jax.random.PRNGKey(0), 4000)
    assert int(indices.max()) == 3
    counts = np.bincount(np.asarray(batch["action"]), minlength=4) / 4000
    np.testing.assert_allclose(counts, 0.25, atol=0.03)  # ≈ 4 binomial standard errors


def test_one_buffer_per_seed_under_vmap():
    bufs = jax.vmap(lambda _: _buffer())(jnp.arange(3))
    add = jax.vmap(replay_add)
    bufs = add(bufs, {"obs": jnp.ones((3, 2, 2)), "action": jnp.array([[1, 2], [3, 4], [5, 6]])})
    np.testing.assert_array_equal(bufs.data["action"][:, :2], [[1, 2], [3, 4], [5, 6]])
    assert bufs.size.tolist() == [2, 2, 2]
