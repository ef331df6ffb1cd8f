import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from rlcheck.diagnostics.landscape import landscape
from rlcheck.errors import UserError
from rlcheck.registry import make_agent
from tests.diagnostics.toy_envs import bandit_return, make_bandit

ALPHAS, BETAS = (0.0, 1.0, 2.0), (0.0, 1.0)
MANY = 2**14


@pytest.fixture(scope="module")
def bandit_landscape():
    """REINFORCE with a linear-Gaussian policy on the bandit (weights: the rewards), a large
    step size so one update moves the return visibly; 2 seeds."""
    env = make_bandit()
    overrides = {
        "hidden_sizes": (),
        "baseline": False,
        "norm_adv": False,
        "num_steps": 256,
        "learning_rate": 0.1,
    }
    agent = make_agent("reinforce", env.spec, overrides, 10_000)
    states = jax.vmap(agent.init, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 2), agent.hparams()
    )
    out = landscape(
        agent,
        states,
        env,
        env.params,
        jax.random.PRNGKey(1),
        alphas=ALPHAS,
        betas=BETAS,
        few=64,
        many=MANY,
        window=64,
        direction_norm=0.5,
    )
    return agent, states, env, out


def test_the_many_pair_return_is_the_closed_form_return_on_the_grid(bandit_landscape):
    _, states, env, out = bandit_landscape
    assert out["return"]["many"].shape == (2, 3, 2)
    params = env.params
    u, b = np.asarray(params.u, np.float64), float(params.b)
    for seed in range(2):
        state = jax.tree.map(lambda x, s=seed: x[s], states)
        theta, unravel = ravel_pytree(state.params["actor"])
        step, direction = out["step"][seed], out["direction"][seed]
        for i, alpha in enumerate(ALPHAS):
            for j, beta in enumerate(BETAS):
                actor = unravel(theta + alpha * step + beta * direction)
                dense = actor["net"]["params"]["Dense_0"]
                w = np.asarray(dense["kernel"], np.float64)[:, 0]
                c = float(dense["bias"][0])
                log_std = float(actor["log_std"][0])
                want = bandit_return(w, c, log_std, params)
                # r = −z², z ~ N(c − b, ‖w − u‖² + σ²): Var r = 2s⁴ + 4μ²s².
                s2 = np.sum((w - u) ** 2) + np.exp(2 * log_std)
                se = np.sqrt((2 * s2**2 + 4 * (c - b) ** 2 * s2) / MANY)
                got = out["return"]["many"][seed, i, j]
                assert got == pytest.approx(want, abs=4.5 * se), (seed, alpha, beta)


def test_summaries_of_a_step_that_climbs_the_quadratic(bandit_landscape):
    _, _, _, out = bandit_landscape
    # One Adam step of 0.1 per coordinate on the 4 parameters.
    np.testing.assert_allclose(out["step_norm"], 0.2, rtol=0.05)
    np.testing.assert_allclose(out["direction_norm"], 0.5, rtol=1e-5)
    # The step raises both the surrogate it climbed and the true return, which agree.
    assert np.all(out["delta_surrogate"]["train"] > 0)
    assert np.all(out["delta_return"]["many"] > 0)
    assert np.all(out["sign_agreement"]["train"])
    # 64 pairs per point are far noisier than 2^14: the few-pair surface is off by more.
    assert np.all(out["rmse"]["return"] > 0.05)
    for name in ("train", "few", "many", "few_return"):
        assert np.all(np.abs(out["correlation"][name]) <= 1.0)
    assert out["summary"]["sign_agreement"]["train"].point == 1.0


def test_the_grid_must_hold_the_step(bandit_landscape):
    agent, states, env, _ = bandit_landscape
    with pytest.raises(UserError, match="α = 1"):
        landscape(agent, states, env, env.params, jax.random.PRNGKey(0), alphas=(0.0, 2.0))
