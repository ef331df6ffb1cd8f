import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from rlcheck import envs
from rlcheck.baselines import lqr
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.envs.params import replace_params


def _cartpole_system():
    env = envs.make("CartPole-v1")
    agent = lqr.LQR(env.spec, lqr.Config(), 1000)
    _, template = env.reset(jax.random.PRNGKey(0), env.params)
    fields = agent.system.fields

    def transition(x, u):
        state = template.replace(**{f: x[i] for i, f in enumerate(fields)}, time=0)
        step = lqr.differentiable(env.step_no_reset)(
            jax.random.PRNGKey(0), state, 0.5 + u[0], env.params
        )
        return jnp.stack([getattr(step[1], f) for f in fields])

    return env, agent, transition


def test_jacobian_matches_finite_differences_through_stop_gradient():
    _, _, transition = _cartpole_system()
    x0, u0 = jnp.array([0.1, -0.2, 0.05, 0.3]), jnp.array([0.1])
    a, b = lqr.linearize(transition, x0, u0)
    assert np.abs(b).max() > 0.01
    eps = 1e-2
    fd_a = np.stack(
        [
            (transition(x0 + eps * e, u0) - transition(x0 - eps * e, u0)) / (2 * eps)
            for e in np.eye(4)
        ],
        axis=1,
    )
    fd_b = (transition(x0, u0 + eps) - transition(x0, u0 - eps)) / (2 * eps)
    np.testing.assert_allclose(a, fd_a, atol=2e-3)
    np.testing.assert_allclose(b[:, 0], fd_b, atol=2e-3)
    # By hand: x' = x + τ ẋ, θ' = θ + τ θ̇ with τ = 0.02.
    assert a[0, 1] == pytest.approx(0.02) and a[2, 3] == pytest.approx(0.02)


def test_stop_gradient_really_blocks_the_plain_jacobian():
    env = envs.make("CartPole-v1")
    _, state = env.reset(jax.random.PRNGKey(0), env.params)

    def theta_after(force):
        return env.step_no_reset(jax.random.PRNGKey(0), state, force, env.params)[1].theta_dot

    assert jax.grad(theta_after)(0.5) == 0.0
    assert jax.grad(lqr.differentiable(theta_after))(0.5) < -0.1


def test_gain_matches_scipy_riccati_on_the_linearized_cartpole():
    _, _, transition = _cartpole_system()
    a, b = lqr.linearize(transition, jnp.zeros(4), jnp.zeros(1))
    q, r = np.eye(4), np.array([[1.0]])
    p_ref = scipy.linalg.solve_discrete_are(np.asarray(a, float), np.asarray(b, float), q, r)
    k_ref = np.linalg.solve(r + b.T @ p_ref @ b, b.T @ p_ref @ a)
    np.testing.assert_allclose(
        lqr.solve_dare(a, b, jnp.asarray(q), jnp.asarray(r)), p_ref, rtol=2e-3
    )
    np.testing.assert_allclose(lqr.lqr_gain(a, b, jnp.asarray(q), jnp.asarray(r)), k_ref, rtol=2e-3)


def test_dare_on_a_scalar_system_by_hand():
    # x' = x + u, Q = R = 1: P = 1 + P − P²/(1 + P) ⇒ P² − P − 1 = 0 ⇒ P = (1 + √5)/2.
    p = lqr.solve_dare(jnp.eye(1), jnp.eye(1), jnp.eye(1), jnp.eye(1))
    assert float(p[0, 0]) == pytest.approx((1 + 5**0.5) / 2, rel=1e-5)
    assert float(
        lqr.lqr_gain(jnp.eye(1), jnp.eye(1), jnp.eye(1), jnp.eye(1))[0, 0]
    ) == pytest.approx((1 + 5**0.5) / 2 / (1 + (1 + 5**0.5) / 2), rel=1e-5)


def test_lqr_rejects_envs_without_a_known_equilibrium():
    with pytest.raises(Exception, match="lqr knows the equilibrium"):
        lqr.LQR(envs.make("Acrobot-v1").spec, lqr.Config(), 1000)


def test_lqr_plans_with_the_model_params_and_acts_under_the_env_params():
    env = envs.make("CartPole-v1")
    agent = lqr.LQR(env.spec, lqr.Config(), 1000)
    hparams = agent.hparams()
    real = replace_params(env.params, max_steps_in_episode=100)
    evaluate = jax.jit(lambda key, model: agent.evaluate(env, key, hparams, 4, real, model))
    _, steps, _ = evaluate(jax.random.PRNGKey(0), real)
    assert steps.tolist() == [100] * 4  # the real env's time limit, not the default 500
    # A model whose force pushes the other way gives the opposite gain: the pole falls.
    _, steps, _ = evaluate(jax.random.PRNGKey(0), replace_params(real, force_mag=-10.0))
    assert steps.max() < 20


@pytest.mark.slow
def test_lqr_keeps_cartpole_up_for_500_steps_from_the_standard_start():
    env = envs.make("CartPole-v1")
    agent = lqr.LQR(env.spec, lqr.Config(), 1000)
    results, _ = agent.run(
        env, make_schedule(1000, 1, 1, "lqr"), EvalPlan(final_episodes=16), list(range(4))
    )
    assert results["final_returns"].shape == (4, 16)
    assert np.all(results["final_returns"] == 500.0)
    # The linearization: n + m = 5 model evaluations per seed, no training steps.
    assert results["simulator_calls"].tolist() == [5, 5, 5, 5]
    assert results["env_steps"].tolist() == [0, 0, 0, 0]


def test_under_domain_randomization_the_gain_is_the_nominal_models():
    from rlcheck.envs.randomize import randomized

    base = envs.make("CartPole-v1")
    agent = lqr.LQR(base.spec, lqr.Config(), 1000)
    hparams = agent.hparams()

    def steps(env):
        evaluate = jax.jit(lambda key: agent.evaluate(env, key, hparams, 8, base.params))
        return evaluate(jax.random.PRNGKey(0))[1]

    # Poles drawn at the nominal length: the nominal gain balances them for 500 steps.
    assert steps(randomized(base, {"length": [0.5, 0.5]}, "randomize")).tolist() == [500] * 8
    # Poles three to four times longer: the gain designed for 0.5 lets every one fall.
    assert steps(randomized(base, {"length": [1.5, 2.0]}, "randomize")).max() < 100
