import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from rlcheck.agents.common.continuous_control import (
    Network,
    bound_log_std,
    box_to_unit,
    critic_apply,
    critic_init,
    gsde_std,
    latest_means,
    ou_noise_step,
    polyak_update,
    rollout_transitions,
    run_if,
    squashed_gaussian,
    tanh_log_det_jacobian,
    td_target,
    unit_to_box,
)
from rlcheck.core import Trajectory


@pytest.mark.parametrize("epsilon", [None, 1e-6])
def test_squashed_log_prob_is_the_change_of_variables(epsilon):
    """log π(a) for a = tanh(u), u ~ N(0.3, 0.8²), against the numerical derivative of the
    squashed distribution's CDF, P(A ≤ a) = Φ((atanh(a) − μ)/σ)."""
    mean, std = 0.3, 0.8
    u = np.linspace(-2.5, 2.5, 11)
    a, log_prob = squashed_gaussian(
        jnp.asarray(u)[:, None],
        jnp.full((11, 1), mean),
        jnp.full((11, 1), math.log(std)),
        epsilon,
    )
    a = np.asarray(a, np.float64)[:, 0]
    h = 1e-6
    cdf = lambda x: norm.cdf((np.arctanh(x) - mean) / std)  # noqa: E731
    density = (cdf(a + h) - cdf(a - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(log_prob), np.log(density), rtol=2e-4, atol=2e-4)


def test_squashed_density_integrates_to_one_and_sums_over_dimensions():
    a = np.linspace(-1 + 1e-7, 1 - 1e-7, 400_001)
    u = np.arctanh(a)[:, None]
    _, log_prob = squashed_gaussian(
        jnp.asarray(u), jnp.full_like(u, -0.5), jnp.full_like(u, math.log(0.6)), None
    )
    assert np.trapezoid(np.exp(np.asarray(log_prob, np.float64)), a) == pytest.approx(1, abs=1e-3)
    # Two independent dimensions: the log-density is the sum of the two 1-d ones.
    u2 = jnp.array([[0.4, -1.1]])
    _, joint = squashed_gaussian(u2, jnp.zeros((1, 2)), jnp.zeros((1, 2)), 1e-6)
    _, first = squashed_gaussian(u2[:, :1], jnp.zeros((1, 1)), jnp.zeros((1, 1)), 1e-6)
    _, second = squashed_gaussian(u2[:, 1:], jnp.zeros((1, 1)), jnp.zeros((1, 1)), 1e-6)
    assert float(joint[0]) == pytest.approx(float(first[0] + second[0]), abs=1e-5)


def test_the_exact_log_jacobian_stays_finite_where_epsilon_saturates():
    u = jnp.array([[0.5], [20.0]])
    exact = tanh_log_det_jacobian(u, None)
    eps = tanh_log_det_jacobian(u, 1e-6)
    # log(1 − tanh(0.5)²) = log(0.786448…) and, at u = 20, 2·(log 2 − 20) analytically.
    assert float(exact[0]) == pytest.approx(math.log(1 - math.tanh(0.5) ** 2), abs=1e-6)
    assert float(exact[1]) == pytest.approx(2 * (math.log(2) - 20), abs=1e-4)
    assert float(eps[1]) == pytest.approx(math.log(1e-6), abs=1e-3)  # tanh(20)² rounds to 1


def test_log_std_bounds():
    raw = jnp.array([-100.0, 0.0, 100.0])
    np.testing.assert_allclose(bound_log_std(raw, -20.0, 2.0, "clip"), [-20, 0, 2])
    # tanh: −5 + 3.5·(tanh(raw) + 1), the midpoint −1.5 at raw = 0.
    np.testing.assert_allclose(bound_log_std(raw, -5.0, 2.0, "tanh"), [-5, -1.5, 2], atol=1e-6)


def test_action_scaling_round_trips_to_the_box():
    low, high = jnp.array([-2.0, 0.0]), jnp.array([2.0, 10.0])
    np.testing.assert_allclose(unit_to_box(jnp.array([-1.0, 1.0]), low, high), [-2, 10])
    np.testing.assert_allclose(unit_to_box(jnp.array([0.5, 0.0]), low, high), [1, 5])
    a = jnp.array([0.3, 7.0])
    np.testing.assert_allclose(unit_to_box(box_to_unit(a, low, high), low, high), a, rtol=1e-6)


def test_td_target_takes_the_minimum_and_the_entropy_term():
    next_qs = jnp.array([[1.0, 5.0, 2.0], [3.0, 2.0, 2.0]])
    reward = jnp.array([1.0, 1.0, 0.5])
    done = jnp.array([0.0, 0.0, 1.0])
    # 1 + 0.9·(min(1, 3) − 0.2·0.5) = 1.81; 1 + 0.9·(2 − 0.2·(−1)) = 2.98; terminal: 0.5.
    target = td_target(reward, done, 0.9, next_qs, jnp.array([0.5, -1.0, 3.0]), 0.2)
    np.testing.assert_allclose(target, [1.81, 2.98, 0.5], rtol=1e-6)
    np.testing.assert_allclose(td_target(reward, done, 0.9, next_qs), [1.9, 2.8, 0.5], rtol=1e-6)


def test_polyak_update_moves_a_tau_fraction():
    target = {"w": jnp.array([1.0, -2.0])}
    online = {"w": jnp.array([3.0, 2.0])}
    np.testing.assert_allclose(polyak_update(target, online, 0.25)["w"], [1.5, -1.0])
    np.testing.assert_allclose(polyak_update(target, online, 0.0)["w"], [1.0, -2.0])


def test_ou_noise_reverts_to_zero_with_sqrt_dt_shocks():
    key = jax.random.PRNGKey(0)
    # Without shocks: n·(1 − θ·dt) = 1 · (1 − 0.15·0.01).
    assert float(ou_noise_step(jnp.ones(1), key, 0.0, 0.15, 0.01)[0]) == pytest.approx(0.9985)
    # One step from 0 is N(0, σ²·dt): std 0.5·0.1 = 0.05.
    steps = ou_noise_step(jnp.zeros(20_000), key, 0.5, 0.15, 0.01)
    assert float(jnp.std(steps)) == pytest.approx(0.05, rel=0.03)


def test_gsde_std_expln():
    log_std = jnp.array([-1.0, 0.0, 1.0])
    np.testing.assert_allclose(gsde_std(log_std, False), np.exp([-1, 0, 1]), rtol=1e-6)
    # expln: exp below 0, log1p(x) + 1 above (continuous at 0).
    np.testing.assert_allclose(
        gsde_std(log_std, True), [math.exp(-1), 1, math.log(2) + 1], rtol=1e-5
    )


def test_torch_init_is_uniform_in_one_over_sqrt_fan_in():
    net = Network(hidden_sizes=(256,), out_size=1, weight_init="torch")
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 16)))["params"]
    first, out = params["Dense_0"], params["Dense_1"]
    for layer, fan_in in ((first, 16), (out, 256)):
        bound = 1 / math.sqrt(fan_in)
        for w in (layer["kernel"], layer["bias"]):
            assert float(jnp.max(jnp.abs(w))) <= bound
    # U(±b) has std b/√3.
    assert float(jnp.std(first["kernel"])) == pytest.approx(0.25 / math.sqrt(3), rel=0.05)
    features, q = net.apply({"params": params}, jnp.ones((3, 16)))
    assert features.shape == (3, 256) and q.shape == (3, 1)


def test_critics_are_independent_networks_in_one_stack():
    critic = Network(hidden_sizes=(8,), out_size=1)
    obs, action = jnp.ones((5, 3)), jnp.zeros((5, 2))
    params = critic_init(critic, jax.random.PRNGKey(0), 2, obs[:1], action[:1])
    q = critic_apply(critic, params, obs, action)
    assert q.shape == (2, 5)
    assert float(jnp.abs(q[0] - q[1]).max()) > 1e-3
    one = jax.tree.map(lambda p: p[1], params)
    np.testing.assert_allclose(q[1], critic.apply(one, jnp.ones((5, 5)).at[:, 3:].set(0))[1][:, 0])


def _traj():
    # 2 steps × 2 envs; env 0 is truncated at step 0, env 1 terminates at step 1.
    return Trajectory(
        aux={},
        action=jnp.array([[[2.0], [-2.0]], [[0.0], [1.0]]]),
        reward=jnp.array([[1.0, 2.0], [3.0, 4.0]]),
        terminated=jnp.array([[False, False], [False, True]]),
        truncated=jnp.array([[True, False], [False, False]]),
        final_obs=jnp.arange(4.0).reshape(2, 2, 1) + 10,
        last_obs=jnp.zeros((2, 1)),
    )


def test_rollout_transitions_bootstrap_on_truncation_only_when_asked():
    obs = jnp.arange(4.0).reshape(2, 2, 1)
    low, high = jnp.array([-2.0]), jnp.array([2.0])
    batch = rollout_transitions(_traj(), obs, low, high, bootstrap_on_truncation=True)
    np.testing.assert_array_equal(batch["done"], [0, 0, 0, 1])  # time-major, env-minor
    np.testing.assert_allclose(batch["action"][:, 0], [1, -1, 0, 0.5])
    np.testing.assert_array_equal(batch["next_obs"][:, 0], [10, 11, 12, 13])
    np.testing.assert_array_equal(batch["reward"], [1, 2, 3, 4])
    batch = rollout_transitions(_traj(), obs, low, high, bootstrap_on_truncation=False)
    np.testing.assert_array_equal(batch["done"], [1, 0, 0, 1])


def test_latest_means_keep_the_previous_value_when_nothing_ran():
    values = {"a": jnp.array([1.0, 3.0, 5.0]), "b": jnp.array([7.0, 9.0, 0.0])}
    ran = {"a": jnp.array([1.0, 0.0, 1.0]), "b": jnp.zeros(3)}
    out = latest_means(values, ran, {"a": jnp.float32(-1), "b": jnp.float32(42)})
    assert float(out["a"]) == 3.0 and float(out["b"]) == 42.0


def test_run_if_skips_with_zero_metrics():
    def steps(carry, keys):
        return carry + keys.sum(), {"loss": keys * 2.0}

    carry, metrics = run_if(jnp.asarray(False), steps, jnp.float32(1), jnp.ones(3))
    assert float(carry) == 1.0 and metrics["loss"].tolist() == [0, 0, 0]
    carry, metrics = run_if(jnp.asarray(True), steps, jnp.float32(1), jnp.ones(3))
    assert float(carry) == 4.0 and metrics["loss"].tolist() == [2, 2, 2]
