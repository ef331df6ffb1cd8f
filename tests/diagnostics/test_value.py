import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from rlcheck.diagnostics.value import baseline_variance, fit_value, mre, nmse, value_quality
from rlcheck.registry import make_agent
from tests.diagnostics.toy_envs import exact_values, make_tabular

GAMMA = 0.9
SEEDS = 2
# Episodes of the tabular MDP outlast 50 steps with probability 0.8^50 ≈ 1e-5: a tail of 50
# completes them (its time limit, 200, would too, at 4× the cost).
TAIL = 50


def test_mre_and_nmse_by_hand():
    target = jnp.array([1.0, -2.0, 4.0])
    prediction = jnp.array([1.5, -1.0, 4.0])
    # |0.5|/1, |1|/2, 0 → 1/3;  squared errors 0.25, 1, 0 over Var(y) = (0 + 9 + 9)/3
    assert float(mre(prediction, target)) == pytest.approx(1 / 3)
    assert float(nmse(prediction, target)) == pytest.approx((1.25 / 3) / 6, rel=1e-6)
    # A target of 0 has no relative error: left out of MRE, kept in NMSE.
    target0, prediction0 = jnp.append(target, 0.0), jnp.append(prediction, 1.0)
    assert float(mre(prediction0, target0)) == pytest.approx(1 / 3)
    # Weights count samples: the first twice.
    weight = jnp.array([2.0, 1.0, 1.0])
    assert float(mre(prediction, target, weight)) == pytest.approx((2 * 0.5 + 0.5) / 4)
    y = np.array([1.0, 1.0, -2.0, 4.0])
    assert float(nmse(prediction, target, weight)) == pytest.approx(
        (0.25 * 2 + 1) / 4 / np.var(y), rel=1e-6
    )


@pytest.fixture(scope="module")
def tabular():
    """PPO with a linear (tabular, on one-hot states) policy and critic on the 5-state MDP,
    γ = 0.9, the critic set to 2·V^π: a known-wrong value function. Returns the agent, its
    states (2 seeds, identical), the env and V^π."""
    env = make_tabular()
    overrides = {
        "hidden_sizes": (),
        "gamma": GAMMA,
        "num_envs": 4,
        "num_steps": 32,
        "norm_adv": False,  # so that the zero baseline is the plain return
    }
    agent = make_agent("ppo", env.spec, overrides, 10_000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    actor = state.params["actor"]["params"]["Dense_0"]
    logits = np.asarray(actor["kernel"], np.float64) + np.asarray(actor["bias"], np.float64)
    v_true = exact_values(scipy.special.softmax(logits, axis=1), GAMMA)
    critic = {
        "params": {
            "Dense_0": {
                "kernel": jnp.asarray(2 * v_true[:, None], jnp.float32),
                "bias": jnp.zeros(1),
            }
        }
    }
    state = state.replace(params={**state.params, "critic": critic})
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (SEEDS, *jnp.shape(x))), state)
    return agent, states, env, v_true


@pytest.fixture(scope="module")
def fitted(tabular):
    agent, states, env, _ = tabular
    params, info = fit_value(
        agent,
        states,
        env,
        env.params,
        jax.random.PRNGKey(3),
        pairs=2**16,
        tail=TAIL,
        window=64,
        epochs=20,
        batch_size=512,
        learning_rate=1e-2,
    )
    return params, info


@pytest.fixture(scope="module")
def quality(tabular, fitted):
    agent, states, env, _ = tabular
    return value_quality(
        agent,
        states,
        env,
        env.params,
        jax.random.PRNGKey(1),
        num_states=128,
        mc_rollouts=512,
        heldout_envs=4,
        window=64,
        tail=TAIL,
        fitted=fitted[0],
    )


def test_monte_carlo_values_of_cloned_states_converge_to_the_exact_values(tabular, quality):
    _, _, _, v_true = tabular
    per_state = quality["states"]
    s = np.argmax(per_state["x"], axis=-1)  # the one-hot observation is the state
    assert len(np.unique(s)) == 5  # every state was drawn
    # Each estimate is unbiased with the spread it reports: over the 2 × 128 drawn states the
    # z-scores have mean 0 (± 4/√256) and mean square 1.
    z = (per_state["mc_value"] - v_true[s]) / (per_state["mc_std"] / np.sqrt(512))
    assert abs(np.mean(z)) < 0.25 and 0.7 < np.mean(z**2) < 1.35
    # Pooling the draws of each state (≈ 50 × 512 rollouts) pins V^π(s) down.
    for state in range(5):
        pooled = np.mean(per_state["mc_value"][s == state])
        assert pooled == pytest.approx(v_true[state], abs=0.03), state


def test_errors_of_a_known_wrong_value_equal_their_hand_computed_values(tabular, quality):
    """V = 2·V^π: |V − V^π| / |V^π| = 1 at every state, so MRE against V^π is 1; NMSE is
    mean(V^π²) / Var(V^π) over the drawn states. Against the Monte-Carlo estimate of V^π
    (512 rollouts per state) they hold to MC error."""
    _, _, _, v_true = tabular
    per_state = quality["states"]
    np.testing.assert_allclose(
        per_state["v_old"], 2 * v_true[np.argmax(per_state["x"], -1)], rtol=1e-6
    )
    # MC noise (relative standard error ≈ 0.1 per state) spreads each seed's MRE by ≈ 0.03
    # and biases it up by ≈ 0.02 (1/|V̂| is convex).
    np.testing.assert_allclose(quality["mre"]["old_vs_mc"], 1.0, atol=0.15)
    assert np.mean(quality["mre"]["old_vs_mc"]) == pytest.approx(1.0, abs=0.07)
    # NMSE = mean((2V − V̂)²) / Var(V̂) with V̂ = V + noise of variance se² per state: in
    # expectation (mean V² + mean se²) / (Var V + mean se²) over the drawn states.
    exact = v_true[np.argmax(per_state["x"], axis=-1)]
    se2 = np.mean(per_state["mc_std"] ** 2 / 512, axis=1)
    hand_nmse = (np.mean(exact**2, axis=1) + se2) / (np.var(exact, axis=1) + se2)
    np.testing.assert_allclose(quality["nmse"]["old_vs_mc"], hand_nmse, rtol=0.2)
    # The same numbers from the per-state arrays (what the summary is made of).
    mc = per_state["mc_value"]
    by_hand = np.mean(np.abs(per_state["v_old"] - mc) / np.abs(mc), axis=1)
    np.testing.assert_allclose(quality["mre"]["old_vs_mc"], by_hand, rtol=1e-5)
    # The single-rollout return is an unbiased but noisy estimate of V^π: the noise floor.
    assert np.all(quality["mre"]["return_vs_mc"] > 0.2)
    # One update moves V toward its targets from a value twice too large.
    assert np.all(quality["mre"]["new_vs_target_train"] < quality["mre"]["old_vs_target_train"])


def test_fitted_value_regresses_to_the_true_value(tabular, fitted, quality):
    _, _, _, v_true = tabular
    params, info = fitted
    v_star = np.asarray(params["params"]["Dense_0"]["kernel"])[..., 0] + np.asarray(
        params["params"]["Dense_0"]["bias"]
    )
    # Returns within an episode are correlated (≈ 4 steps each): ≈ 4000 effective samples per
    # state, a standard error ≈ 0.03 of each value, about 0.02 of the mean over 2 seeds.
    np.testing.assert_allclose(v_star, np.broadcast_to(v_true, v_star.shape), atol=0.12)
    np.testing.assert_allclose(v_star.mean(axis=0), v_true, atol=0.06)
    assert np.all(quality["mre"]["fitted_vs_mc"] < 0.08)
    assert np.all(info["train_nmse"] < 1.0)


def test_a_better_baseline_concentrates_the_gradient_estimates(tabular, fitted):
    agent, states, env, _ = tabular
    out = baseline_variance(
        agent,
        states,
        env,
        env.params,
        jax.random.PRNGKey(4),
        fitted=fitted[0],
        sizes=(256, 1024),
        num_estimates=10,
        reference_size=2**14,
        lam=1.0,
        window=64,
        tail=TAIL,
    )
    assert out["pairwise_cosine"].shape == (SEEDS, 3, 2)
    pairwise = out["summary"]["pairwise_cosine"].point
    zero, agent_v, v_star = (out["baselines"].index(b) for b in ("zero", "agent", "fitted"))
    # V* ≈ V^π removes the most variance; the critic at 2·V^π is as far off as no baseline.
    assert np.all(pairwise[v_star] > pairwise[zero]) and np.all(
        pairwise[v_star] > pairwise[agent_v]
    )
    assert not out["refused"].any()
