import jax
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.agents.common.trust_region import TRUST_REGION_INTERNALS
from rlcheck.diagnostics.trust_region import trust_region_heldout, trust_region_summary
from rlcheck.errors import UserError
from rlcheck.registry import make_agent


def test_summary_of_logged_internals_by_hand():
    names = ("policy_loss", "ratio_max", "kl_mean")
    # 2 seeds × 4 updates: ratio_max above 1.2 in 3 of 4 updates, then in 1 of 4.
    ratio_max = np.array([[1.1, 1.3, 1.5, 2.0], [1.0, 1.25, 1.1, 1.15]])
    kl_mean = np.array([[0.001, 0.02, 0.005, 0.03], [0.002, 0.004, 0.001, 0.003]])
    internals = np.stack([np.zeros_like(ratio_max), ratio_max, kl_mean], axis=-1)
    out = trust_region_summary(internals, names, clip=0.2, kl_bound=0.01)
    np.testing.assert_allclose(out["fraction_ratio_above"], [0.75, 0.25])
    np.testing.assert_allclose(out["ratio_max_median"], [1.4, 1.125])
    np.testing.assert_allclose(out["ratio_max_max"], [2.0, 1.25])
    np.testing.assert_allclose(out["kl_mean_median"], [0.0125, 0.0025])
    np.testing.assert_allclose(out["fraction_kl_above"], [0.5, 0.0])
    assert out["summary"]["fraction_ratio_above"].point == pytest.approx(0.5)
    with pytest.raises(UserError, match="trust_region_monitor = true"):
        trust_region_summary(internals[..., :1], names[:1])


def test_heldout_numbers_beside_the_logged_ones():
    env = envs.make("CartPole-v1")
    overrides = {
        "hidden_sizes": (16,),
        "num_envs": 4,
        "num_steps": 64,
        "learning_rate": 3e-3,
        "trust_region_monitor": True,
    }
    agent = make_agent("ppo", env.spec, overrides, 100_000)
    states = jax.vmap(agent.init, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 3), agent.hparams()
    )
    out = trust_region_heldout(agent, states, env, env.params, jax.random.PRNGKey(1))
    # The diagnostics' own computation on the training batch is what PPO logged.
    for name in TRUST_REGION_INTERNALS:
        np.testing.assert_allclose(out["train"][name], out["logged"][name], rtol=1e-4)
    # The update moved the policy on pairs it never saw, by as much as on its own batch.
    held, train = out["heldout"], out["train"]
    assert np.all(held["ratio_max"] > 1.0) and np.all(held["kl_mean"] > 0)
    np.testing.assert_allclose(held["ratio_mean"], 1.0, atol=0.05)
    assert np.all(
        (held["kl_mean"] > train["kl_mean"] / 3) & (held["kl_mean"] < 3 * train["kl_mean"])
    )
