import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from rlcheck import envs
from rlcheck.agents.common.actor_critic import actor_critic_targets
from rlcheck.core import Trajectory
from rlcheck.diagnostics.gradient import (
    combine,
    cosine,
    env_gradient_sums,
    estimator_weights,
    gradient_quality,
    gradient_sums,
    own_estimator,
    reference_estimator,
)
from rlcheck.diagnostics.learner import learner_for
from rlcheck.diagnostics.rollouts import advantages, collect, values_of
from rlcheck.errors import UserError
from rlcheck.registry import make_agent
from tests.diagnostics.toy_envs import bandit_gradient, make_bandit

# The linear-Gaussian policy of the bandit tests: mean w·x + c, log-std.
W, C, LOG_STD = np.array([0.3, -0.2]), 0.1, -0.5


@pytest.fixture(scope="module")
def bandit():
    """REINFORCE without baseline or normalization (its weights are the rewards) with a linear
    policy on the Gaussian bandit, parameters set to (W, C, LOG_STD); 32 seeds' states, all
    with those parameters."""
    env = make_bandit()
    overrides = {"hidden_sizes": (), "baseline": False, "norm_adv": False, "num_steps": 64}
    agent = make_agent("reinforce", env.spec, overrides, 10_000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    actor = {
        "net": {
            "params": {
                "Dense_0": {
                    "kernel": jnp.asarray(W[:, None], jnp.float32),
                    "bias": jnp.asarray([C], jnp.float32),
                }
            }
        },
        "log_std": jnp.asarray([LOG_STD], jnp.float32),
    }
    state = state.replace(params={"actor": actor})
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (32, *jnp.shape(x))), state)
    return agent, state, states, env


def _numpy_estimates(n: int, k: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """reps × k independent estimates mean(r ∇log π) from n samples each, in numpy: per sample,
    ∇ over (log_std, bias, kernel) of log N(a; w·x + c, σ²) is ((a−μ)²/σ² − 1, (a−μ)/σ²,
    (a−μ)x/σ²)."""
    u, b, var = np.array([1.0, 0.5]), 0.5, np.exp(2 * LOG_STD)
    x = rng.normal(size=(reps, k, n, 2))
    mean = x @ W + C
    a = mean + np.sqrt(var) * rng.normal(size=mean.shape)
    r = -((a - x @ u - b) ** 2)
    z = (a - mean) / var
    per_sample = np.concatenate(
        [((a - mean) ** 2 / var - 1)[..., None], z[..., None], z[..., None] * x], axis=-1
    )
    return np.mean(r[..., None] * per_sample, axis=2)


def _numpy_pairwise_cosine(estimates: np.ndarray) -> float:
    unit = estimates / np.linalg.norm(estimates, axis=-1, keepdims=True)
    gram = unit @ unit.T
    k = len(estimates)
    return (gram.sum() - np.trace(gram)) / (k * (k - 1))


def test_the_reference_gradient_is_the_closed_form_gradient_of_the_bandit(bandit):
    agent, state, _, env = bandit
    learner = learner_for(agent)
    reference = reference_estimator()
    sums = env_gradient_sums(
        learner, state, env, env.params, jax.random.PRNGKey(1), (reference,), 64, 1, 2048, 256
    )
    pairs = 2048 * 64
    got = np.asarray(combine(jax.tree.map(lambda x: jnp.sum(x, 0), sums), pairs, (reference,))[0])
    true = np.asarray(ravel_pytree(bandit_gradient(W, C, LOG_STD, env.params))[0])
    # Per-sample gradients have a std of about 4 per coordinate here, so with 2^17 samples the
    # estimate is within about 0.03 of the truth per coordinate (|∇J| ≈ 2.5).
    np.testing.assert_allclose(got, true, atol=0.06)
    assert float(cosine(jnp.asarray(got), jnp.asarray(true))) > 0.999


def test_cosine_to_true_rises_to_one_and_concentration_matches_a_numpy_simulation(bandit):
    agent, _, states, env = bandit
    sizes, k = (16, 128, 1024), 20
    out = gradient_quality(
        agent,
        states,
        env,
        env.params,
        jax.random.PRNGKey(2),
        sizes=sizes,
        num_estimates=k,
        reference_size=2**14,
        window=16,
        group_envs=256,
    )
    assert out["pairwise_cosine"].shape == out["cosine_to_true"].shape == (32, 3)
    assert not out["refused"].any() and np.all(out["true_vs_true"] > 0.99)
    to_true = out["summary"]["cosine_to_true"].point
    assert to_true[0] < to_true[1] < to_true[2] and to_true[2] > 0.97
    # The expected average pairwise cosine of k estimates, simulated in numpy (400 sets), and
    # its spread s: the mean over 32 independent seeds is within 4·s/√32 of the expectation.
    rng = np.random.default_rng(0)
    got = out["summary"]["pairwise_cosine"].point
    for i, n in enumerate(sizes):
        sets = np.concatenate([_numpy_estimates(n, k, 50, rng) for _ in range(8)])
        cosines = np.array([_numpy_pairwise_cosine(e) for e in sets])
        spread = cosines.std() * np.sqrt(1 / 32 + 1 / len(cosines))
        assert abs(got[i] - cosines.mean()) < 4 * spread, (n, got[i], cosines.mean(), spread)
    # Low at 16 pairs, near 1 at 1024: the sizes are far apart next to the tolerance.
    assert got[0] < 0.5 and got[2] > 0.95


AGENTS = [
    ("ppo", {"num_envs": 2, "num_steps": 16, "num_minibatches": 2}),
    ("trpo", {"num_envs": 2, "num_steps": 16, "critic_batch_size": 16}),
    ("a2c", {"num_envs": 2, "num_steps": 16}),
    ("reinforce", {"num_envs": 2, "num_steps": 512}),
]


@pytest.mark.parametrize(("algo", "overrides"), AGENTS, ids=[a for a, _ in AGENTS])
def test_an_estimate_is_the_gradient_of_the_agents_surrogate_at_theta_old(algo, overrides):
    """The sums D1 combines give exactly jax.grad of the agent's surrogate (without its
    entropy bonus) at θ_old on the same pairs and weights."""
    env = envs.make("CartPole-v1")
    agent = make_agent(algo, env.spec, {"hidden_sizes": (8,), **overrides}, 10_000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    learner = learner_for(agent)
    window, tail = 32, 500
    estimator = own_estimator(learner)

    @jax.jit
    def both(state, key):
        rollout = collect(
            learner, state, learner.actor(state), env, env.params, key, 3, window + tail
        )
        sums = gradient_sums(learner, state, rollout, (estimator,), window)
        got = combine(jax.tree.map(lambda x: jnp.sum(x, 0), sums), 3 * window, (estimator,))[0]
        w = estimator_weights(learner, state, rollout, estimator, window, None)
        batch = {
            "x": rollout.x[:window].reshape(3 * window, -1),
            "action": rollout.action[:window].reshape(-1),
            "log_prob": rollout.log_prob[:window].reshape(-1),
            "advantages": w.reshape(-1),
        }
        grad = jax.grad(learner.surrogate)(learner.actor(state), state.hparams, batch, False)
        return got, ravel_pytree(grad)[0]

    got, want = both(state, jax.random.PRNGKey(1))
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-6 * float(jnp.abs(want).max()))
    assert float(jnp.linalg.norm(want)) > 0


def test_the_rollout_estimator_is_the_agents_own_gae_over_its_rollouts():
    """PPO with 16-step rollouts: on a 32-step window the estimator bootstraps at step 16
    exactly as two consecutive updates' GAE (actor_critic_targets) would."""
    env = envs.make("CartPole-v1")
    agent = make_agent("ppo", env.spec, {"hidden_sizes": (8,), "num_envs": 3, "num_steps": 16}, 1)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    learner = learner_for(agent)
    rollout = collect(
        learner, state, learner.actor(state), env, env.params, jax.random.PRNGKey(5), 3, 32
    )
    values = values_of(learner, state.params["critic"], rollout)
    got = advantages(learner, state, rollout, values, 32, "rollout", 0.95)
    for half, last in ((slice(0, 16), rollout.x[16]), (slice(16, 32), rollout.last_x)):
        traj = Trajectory(
            {"value": values[0][half]},
            rollout.action[half],
            rollout.reward[half],
            rollout.terminated[half],
            rollout.truncated[half],
            rollout.final_x[half],
            last,
        )
        _, want, _ = actor_critic_targets(agent.net, state, traj, agent.config)
        np.testing.assert_allclose(got[half], want, rtol=1e-5, atol=1e-5)
    assert bool(jnp.any(rollout.terminated[:32]))  # episodes end inside the window


def test_bad_requests_are_one_line_user_errors(bandit):
    agent, _, states, env = bandit
    with pytest.raises(UserError, match="multiples of the window"):
        gradient_quality(
            agent, states, env, env.params, jax.random.PRNGKey(0), sizes=(100,), window=64
        )
    dqn = make_agent("dqn", envs.make("CartPole-v1").spec, {}, 1000)
    with pytest.raises(UserError, match="'dqn' is not one of them"):
        learner_for(dqn)
    host = envs.make("gymnasium:CartPole-v1")
    ppo = make_agent("ppo", host.spec, {}, 1000)
    with pytest.raises(UserError, match="gymnasium:CartPole-v1 is a Gymnasium env: the diag"):
        gradient_quality(ppo, None, host, None, jax.random.PRNGKey(0))
