import jax
import numpy as np

from rlcheck import envs
from rlcheck.diagnostics.checkpoints import train_to_checkpoints
from rlcheck.registry import make_agent

SMALL = {"num_envs": 2, "num_steps": 16, "num_minibatches": 1, "update_epochs": 1}


def test_each_checkpoint_continues_the_last_and_every_seed_trains_apart():
    env = envs.make("CartPole-v1")
    agent = make_agent("ppo", env.spec, SMALL, 10_000)
    stepped = [
        (u, jax.tree.map(np.asarray, s), r)
        for u, s, r in train_to_checkpoints(agent, env, [0, 1, 2], (1, 3))
    ]
    assert [u for u, _, _ in stepped] == [1, 3]
    (_, first, _), (_, last, returns) = stepped
    assert returns.shape == (3,) and np.all(returns >= 0)
    np.testing.assert_array_equal(first.updates, [1, 1, 1])
    np.testing.assert_array_equal(last.updates, [3, 3, 3])
    actor_first, actor_last = jax.tree.leaves(first.params), jax.tree.leaves(last.params)
    # Two more updates moved the parameters; seeds start from their own keys.
    assert any(not np.array_equal(a, b) for a, b in zip(actor_first, actor_last, strict=True))
    assert not np.array_equal(actor_last[0][0], actor_last[0][1])
