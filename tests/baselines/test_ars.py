import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck.baselines import ars


def test_ars_step_by_hand():
    mean = jnp.zeros(2)
    deltas = jnp.eye(2)
    # r(θ) = −|θ − (1, 0)|² at θ ± 0.1·δ: direction 1 gains, direction 2 is flat.
    plus = jnp.array([-(0.9**2), -(1.0 + 0.01)])
    minus = jnp.array([-(1.1**2), -(1.0 + 0.01)])
    step = ars.ars_step(mean, deltas, plus, minus, 0.5, top=2)
    sigma = np.std([-(0.81), -1.01, -1.21, -1.01])
    np.testing.assert_allclose(step, [0.5 / (2 * sigma) * (1.21 - 0.81), 0.0], rtol=1e-5)


def test_ars_keeps_only_the_top_directions():
    deltas = jnp.eye(3)
    plus, minus = jnp.array([1.0, 5.0, 0.0]), jnp.array([0.0, 4.0, 3.0])
    # max(r+, r−) ranks direction 2 (5), then 3 (3): direction 1 is left out.
    step = ars.ars_step(jnp.zeros(3), deltas, plus, minus, 1.0, top=2)
    sigma = np.std([5.0, 0.0, 4.0, 3.0])
    np.testing.assert_allclose(step, [0.0, 1 / (2 * sigma), -3 / (2 * sigma)], rtol=1e-5)


def test_ars_step_leaves_theta_when_all_returns_are_equal():
    step = ars.ars_step(jnp.ones(2), jnp.eye(2), jnp.ones(2), jnp.ones(2), 0.1, top=2)
    np.testing.assert_array_equal(step, [1.0, 1.0])


def test_ars_strategy_climbs_a_quadratic():
    strategy = ars.ARSStrategy(num_directions=8, top_directions=4)
    hparams = {"param_noise_std": jnp.asarray(0.1), "step_size": jnp.asarray(0.05)}
    target = jnp.array([1.0, -2.0, 0.5])

    def generation(state, key):
        population, state = strategy.ask(key, state, hparams)
        returns = -jnp.sum((population - target) ** 2, axis=1)
        return strategy.tell(key, population, returns, state, hparams), None

    state = strategy.init(jax.random.PRNGKey(0), jnp.zeros(3), hparams)
    state, _ = jax.lax.scan(generation, state, jax.random.split(jax.random.PRNGKey(1), 300))
    # Each step moves about α = 0.05 (returns are scaled by their spread): 300 steps cover
    # the distance of 2.3 and then hover near the optimum.
    assert np.linalg.norm(strategy.mean(state) - target) < 0.1 * np.linalg.norm(target)


def test_top_directions_out_of_range_is_an_error():
    from rlcheck import envs

    with pytest.raises(ValueError, match="top_directions"):
        ars.ARS(envs.make("CartPole-v1").spec, ars.Config(top_directions=9), 1000)
