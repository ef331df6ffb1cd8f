import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.stats import norm

from rlcheck.agents.common.continuous_control import (
    Network,
    action_noise,
    adam,
    adam_step,
    bound_log_std,
    box_to_unit,
    critic_apply,
    critic_init,
    critic_loss,
    critic_step,
    critic_units,
    deterministic_actor_loss,
    gsde_std,
    ou_noise_step,
    polyak_update,
    squashed_gaussian,
    tanh_log_det_jacobian,
    target_policy_smoothing,
    td_target,
    unit_to_box,
)


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


def test_critic_units_are_the_box_or_unchanged():
    low, high = jnp.array([-2.0, 0.0]), jnp.array([2.0, 10.0])
    a = jnp.array([0.5, -1.0])
    np.testing.assert_allclose(critic_units(a, "env", low, high), [1.0, 0.0])
    np.testing.assert_array_equal(critic_units(a, "unit", low, high), a)


def test_normal_action_noise_leaves_the_ou_state_alone():
    state = jnp.zeros((20_000, 1))
    noise, after = action_noise("normal", state, jax.random.PRNGKey(0), 0.3, 0.15, 0.01, False)
    assert float(jnp.std(noise)) == pytest.approx(0.3, rel=0.03)
    assert after is state


def test_ou_action_noise_steps_the_process_unless_held():
    state = jnp.ones((2, 1))
    key = jax.random.PRNGKey(0)
    noise, after = action_noise("ou", state, key, 0.5, 0.15, 0.01, False)
    np.testing.assert_array_equal(noise, ou_noise_step(state, key, 0.5, 0.15, 0.01))
    np.testing.assert_array_equal(after, noise)
    held, after = action_noise("ou", state, key, 0.5, 0.15, 0.01, jnp.asarray(True))
    np.testing.assert_array_equal(held, state)
    np.testing.assert_array_equal(after, state)


def test_target_policy_smoothing_clips_the_noise_then_the_action():
    key = jax.random.PRNGKey(0)
    action = jnp.full(10_000, 0.2)
    smoothed = target_policy_smoothing(action, key, 100.0, 0.5)
    # Huge noise is clipped to ±0.5 around the action: almost all of it lands on the edges.
    assert float(smoothed.min()) == pytest.approx(-0.3)
    assert float(smoothed.max()) == pytest.approx(0.7)
    assert float(jnp.mean(jnp.abs(smoothed - 0.2) > 0.49)) > 0.99
    near_edge = target_policy_smoothing(jnp.full(10_000, 0.9), key, 100.0, 0.5)
    assert float(near_edge.max()) == 1.0  # then the action is clipped to [-1, 1]
    small = target_policy_smoothing(action, key, 0.2, 0.5) - 0.2
    # N(0, 0.2²) clipped at 2.5σ: std ≈ 0.2·0.986.
    assert float(jnp.std(small)) == pytest.approx(0.197, rel=0.03)
    # σ = 0 (DDPG): the target actor's action itself.
    np.testing.assert_array_equal(target_policy_smoothing(action, key, 0.0, 0.5), action)


def _constant_critics(values):
    """Two critics on 1-d observations and actions: Q_i = values[i] everywhere."""
    critic = Network(hidden_sizes=(4,), out_size=1)
    params = critic_init(critic, jax.random.PRNGKey(0), 2, jnp.zeros((1, 1)), jnp.zeros((1, 1)))
    params = jax.tree.map(jnp.zeros_like, params)
    params["params"]["Dense_1"]["bias"] = jnp.asarray(values, jnp.float32).reshape(2, 1)
    return critic, params


def test_critic_loss_sums_the_critics_mean_squared_errors():
    critic, params = _constant_critics([1.0, -2.0])
    target = jnp.array([0.0, 3.0])
    obs = action = jnp.zeros((2, 1))
    loss, q = critic_loss(critic, params, obs, action, target)
    # Critic 1: mean((1 − 0)², (1 − 3)²) = 2.5; critic 2: mean(4, 25) = 14.5.
    assert float(loss) == pytest.approx(17.0)
    np.testing.assert_array_equal(q, [[1, 1], [-2, -2]])


def test_critic_step_is_one_adam_step_on_that_loss():
    critic, params = _constant_critics([1.0, -2.0])
    hparams = {"critic_learning_rate": jnp.float32(0.1), "optimizer_eps": jnp.float32(1e-8)}
    opt_state = adam(hparams["critic_learning_rate"], hparams).init(params)
    obs = action = jnp.zeros((2, 1))
    target = jnp.array([0.0, 3.0])
    new, _, values = critic_step(critic, params, opt_state, obs, action, target, hparams)
    # Adam's first step moves each parameter with a gradient by the learning rate, against the
    # gradient's sign: biases toward the mean target 1.5, 1 → 1.1 and −2 → −1.9.
    np.testing.assert_allclose(new["params"]["Dense_1"]["bias"][:, 0], [1.1, -1.9], rtol=1e-5)
    assert float(values["critic_loss"]) == pytest.approx(17.0)
    assert float(values["q_mean"]) == pytest.approx(-0.5)
    # ∂loss/∂bias_i = 2·mean(Q_i − y): −1 and −7; the zero kernels get no gradient (zero inputs).
    assert float(values["critic_grad_norm"]) == pytest.approx(np.hypot(1.0, 7.0), rel=1e-5)


def test_adam_step_is_optax_adam_and_clips_when_asked():
    params = {"w": jnp.array([1.0, -1.0])}
    grads = {"w": jnp.array([3.0, 4.0])}
    hparams = {"optimizer_eps": jnp.float32(1e-8)}
    opt = optax.adam(0.1, eps=1e-8)
    expected = optax.apply_updates(params, opt.update(grads, opt.init(params), params)[0])
    got, _ = adam_step(grads, adam(0.1, hparams).init(params), params, 0.1, hparams)
    np.testing.assert_allclose(got["w"], expected["w"], rtol=1e-6)
    # Global-norm clipping at 1 scales the gradient (norm 5) to [0.6, 0.8] first.
    clipped = {**hparams, "max_grad_norm": jnp.float32(1.0)}
    state = adam(0.1, clipped).init(params)
    _, state = adam_step(grads, state, params, 0.1, clipped)
    np.testing.assert_allclose(state[1][0].mu["w"], [0.06, 0.08], rtol=1e-5)


def test_deterministic_actor_loss_is_minus_the_first_critic():
    critic, params = _constant_critics([4.0, -7.0])
    loss = deterministic_actor_loss(critic, params, jnp.zeros((3, 1)), jnp.zeros((3, 1)))
    assert float(loss) == -4.0
