import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

from rlcheck import envs
from rlcheck.agents.common.trust_region import (
    TRUST_REGION_INTERNALS,
    backtracking_line_search,
    categorical_kl,
    fisher_vector_product,
    gaussian_kl,
    trust_region_internals,
)
from rlcheck.core import Trajectory
from rlcheck.registry import make_agent

STATES = jnp.array([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2], [0.0, 1.0]])


def test_categorical_kl_by_hand():
    # p = (1/4, 3/4), q = (1/2, 1/2)
    kl = categorical_kl(jnp.array([0.0, math.log(3.0)]), jnp.zeros(2))
    assert float(kl) == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel=1e-5)
    assert float(categorical_kl(jnp.array([0.3, -1.0]), jnp.array([0.3, -1.0]))) == 0.0


def test_gaussian_kl_by_hand():
    # KL(N(1, 1) ‖ N(0, 2²)) = ln 2 + (1 + 1) / 8 − ½, plus a second, identical dimension (0)
    kl = gaussian_kl(
        jnp.array([1.0, 0.0]),
        jnp.array([0.0, 0.3]),
        jnp.array([0.0, 0.0]),
        jnp.array([math.log(2.0), 0.3]),
    )
    assert float(kl) == pytest.approx(math.log(2.0) + 0.25 - 0.5, rel=1e-5)


def _categorical_policy(theta):
    return STATES @ theta.reshape(2, 3)  # logits of 3 actions


def test_fisher_vector_product_matches_the_explicit_fisher_of_a_categorical_policy():
    theta = jnp.array([0.2, -0.1, 0.4, 0.3, 0.0, -0.5])
    old = _categorical_policy(theta)

    def mean_kl(t):
        return jnp.mean(categorical_kl(old, _categorical_policy(t)))

    # F = E_s Σ_a π(a|s) ∇log π(a|s) ∇log π(a|s)ᵀ, from the Jacobian of every log-probability.
    jac = jax.jacobian(lambda t: jax.nn.log_softmax(_categorical_policy(t)))(theta)  # (4, 3, 6)
    probs = jax.nn.softmax(old)
    fisher = jnp.einsum("sa,sai,saj->ij", probs, jac, jac) / STATES.shape[0]

    v = jnp.array([1.0, -2.0, 0.5, 0.0, 3.0, -1.0])
    np.testing.assert_allclose(
        fisher_vector_product(mean_kl, theta, v, 0.0), fisher @ v, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        fisher_vector_product(mean_kl, theta, v, 0.1), fisher @ v + 0.1 * v, rtol=1e-4, atol=1e-6
    )


def test_fisher_vector_product_matches_the_explicit_fisher_of_a_gaussian_policy():
    # mean = s·w (one action dim), log-std a free parameter: θ = (w1, w2, log_std).
    theta = jnp.array([0.5, -0.2, -0.7])

    def gaussian(t):
        return STATES @ t[:2], jnp.full((STATES.shape[0],), t[2])

    old_mean, old_log_std = gaussian(theta)

    def mean_kl(t):
        mean, log_std = gaussian(t)
        # one action dimension: a trailing axis of size 1
        kl = gaussian_kl(old_mean[:, None], old_log_std[:, None], mean[:, None], log_std[:, None])
        return jnp.mean(kl)

    # The Fisher of a Gaussian in (mean, log-std) is diag(1/σ², 2); in θ it is Jᵀ diag Jacobian.
    sigma2 = math.exp(2 * -0.7)
    fisher = np.zeros((3, 3))
    for s in np.asarray(STATES):
        j = np.array([[s[0], s[1], 0.0], [0.0, 0.0, 1.0]])
        fisher += j.T @ np.diag([1 / sigma2, 2.0]) @ j
    fisher /= STATES.shape[0]
    v = jnp.array([0.3, 1.0, -2.0])
    np.testing.assert_allclose(
        fisher_vector_product(mean_kl, theta, v, 0.0), fisher @ np.asarray(v), rtol=1e-4
    )


def test_line_search_takes_the_largest_step_inside_the_kl_bound():
    # kl(f) = 0.04 f², bound 0.01: fractions 1, 0.8, 0.64, 0.512 are too far, 0.4096 is not.
    search = backtracking_line_search(lambda f: (f, 0.04 * f**2), jnp.asarray(0.0), 0.01, 0.8, 10)
    assert bool(search.accepted)
    assert int(search.steps) == 5
    assert float(search.fraction) == pytest.approx(0.8**4)
    assert float(search.kl) == pytest.approx(0.04 * 0.8**8, rel=1e-5)
    assert float(search.kl) < 0.01


def test_line_search_needs_an_improvement_of_the_surrogate():
    # surrogate(f) = f − 2f² improves on 0 only for f < ½: fractions 1, ½ fail, ¼ passes.
    search = backtracking_line_search(
        lambda f: (f - 2 * f**2, 0.0 * f), jnp.asarray(0.0), 0.01, 0.5, 10
    )
    assert int(search.steps) == 3
    assert float(search.fraction) == pytest.approx(0.25)
    assert float(search.surrogate) == pytest.approx(0.125)


def test_line_search_rejects_when_no_step_improves():
    search = backtracking_line_search(lambda f: (-f, 0.0 * f), jnp.asarray(0.0), 0.01, 0.8, 10)
    assert not bool(search.accepted)
    assert float(search.fraction) == 0.0
    assert int(search.steps) == 10
    assert float(search.kl) == 0.0
    assert float(search.surrogate) == 0.0


def test_trust_region_internals_equal_numpy():
    rng = np.random.default_rng(0)
    log_ratio = rng.normal(0.0, 0.3, 1000).astype(np.float32)
    kl = rng.exponential(0.01, 1000).astype(np.float32)
    got = trust_region_internals(jnp.asarray(log_ratio), jnp.asarray(kl))
    assert list(got) == list(TRUST_REGION_INTERNALS)
    ratio = np.exp(log_ratio.astype(np.float64))
    want = [ratio.max(), np.percentile(ratio, 99), ratio.mean(), kl.mean(), kl.max()]
    np.testing.assert_allclose([float(got[k]) for k in TRUST_REGION_INTERNALS], want, rtol=1e-5)


def _numpy_mlp(params: dict, x: np.ndarray) -> np.ndarray:
    """A flax MLP's forward pass in float64 numpy: tanh hidden layers, linear output."""
    layers = [params["params"][f"Dense_{i}"] for i in range(len(params["params"]))]
    for i, layer in enumerate(layers):
        x = x @ np.asarray(layer["kernel"], np.float64) + np.asarray(layer["bias"], np.float64)
        if i < len(layers) - 1:
            x = np.tanh(x)
    return x


def _numpy_log_prob_and_kl(actor_old, actor_new, x, action, continuous):
    """log π_new(a|s) and KL(π_old ‖ π_new) per sample, computed with numpy and scipy."""
    out_old, out_new = _numpy_mlp(actor_old["net"], x), _numpy_mlp(actor_new["net"], x)
    if continuous:
        std_old = np.exp(np.asarray(actor_old["log_std"], np.float64))
        std_new = np.exp(np.asarray(actor_new["log_std"], np.float64))
        log_new = scipy.stats.norm.logpdf(action, out_new, std_new).sum(-1)
        log_old = scipy.stats.norm.logpdf(action, out_old, std_old).sum(-1)
        kl = (
            np.log(std_new / std_old) + (std_old**2 + (out_old - out_new) ** 2) / (2 * std_new**2)
        ).sum(-1) - 0.5 * action.shape[-1]
        return log_new, log_old, kl
    p_old = scipy.special.softmax(out_old, axis=-1)
    p_new = scipy.special.softmax(out_new, axis=-1)
    rows = np.arange(len(action))
    kl = scipy.stats.entropy(p_old, p_new, axis=-1)
    return np.log(p_new[rows, action]), np.log(p_old[rows, action]), kl


def _actor(algo: str, params: dict) -> dict:
    if algo != "ppo":
        return params["actor"]
    return {
        "net": params["actor"],
        **({"log_std": params["log_std"]} if "log_std" in params else {}),
    }


MONITORED = [
    ("ppo", "CartPole-v1", {"num_envs": 2, "num_steps": 16, "num_minibatches": 2}),
    ("ppo", "Pendulum-v1", {"num_envs": 2, "num_steps": 16, "num_minibatches": 2}),
    ("trpo", "CartPole-v1", {"num_envs": 2, "num_steps": 16, "critic_batch_size": 16}),
    ("a2c", "Pendulum-v1", {"num_envs": 2, "num_steps": 16, "learning_rate": 0.05}),
]


@pytest.mark.parametrize(("algo", "env_id", "overrides"), MONITORED)
def test_agents_log_the_ratio_and_kl_of_their_update_against_a_direct_computation(
    algo, env_id, overrides
):
    """On a fixed batch, the logged internals equal numpy/scipy's ratio and KL between the
    actor before the update (which collected the batch) and after it. Off by default."""
    env = envs.make(env_id)
    assert not set(TRUST_REGION_INTERNALS) & set(make_agent(algo, env.spec, {}, 1).metric_names)
    overrides = {"hidden_sizes": (8,), "trust_region_monitor": True, **overrides}
    agent = make_agent(algo, env.spec, overrides, 10_000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    obs = jax.random.normal(jax.random.PRNGKey(1), (16, 2, *env.spec.obs_shape))
    steps = []
    for t in range(16):
        state, action, aux = agent.act(state, obs[t], jax.random.PRNGKey(100 + t))
        steps.append((aux, action))
    aux, action = jax.tree.map(lambda *xs: jnp.stack(xs), *steps)
    reward = jax.random.normal(jax.random.PRNGKey(2), (16, 2))
    no = jnp.zeros((16, 2), bool)
    traj = Trajectory(aux, action, reward, no, no, obs, obs[-1])
    new_state, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(3))

    x = np.asarray(aux["x"], np.float64).reshape(32, -1)
    a = np.asarray(action).reshape(32, *action.shape[2:])
    continuous = not env.spec.discrete
    log_new, log_old, kl = _numpy_log_prob_and_kl(
        _actor(algo, state.params),
        _actor(algo, new_state.params),
        x,
        a.astype(np.float64) if continuous else a,
        continuous,
    )
    if "log_prob" in aux:  # the log-probabilities of collection time
        np.testing.assert_allclose(log_old, np.asarray(aux["log_prob"]).ravel(), atol=1e-5)
    ratio = np.exp(log_new - log_old)
    want = [ratio.max(), np.percentile(ratio, 99), ratio.mean(), kl.mean(), kl.max()]
    got = [float(metrics[k]) for k in TRUST_REGION_INTERNALS]
    assert list(agent.metric_names[-5:]) == list(TRUST_REGION_INTERNALS)
    np.testing.assert_allclose(got[:3], want[:3], rtol=1e-4)
    np.testing.assert_allclose(got[3:], want[3:], rtol=1e-3, atol=1e-7)
    assert ratio.max() > 1.0 + 1e-4 and kl.max() > 1e-6  # the update moved the policy
