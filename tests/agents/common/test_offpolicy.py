import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.agents.common.normalize import RunningMeanStd, rms_init
from rlcheck.agents.common.offpolicy import (
    every_nth,
    gradient_steps_once_started,
    latest_means,
    prepare_obs,
    replay_capacity,
    rollout_transitions,
    run_if,
    sample_minibatch,
    step_internals,
    track_obs,
    transition_buffer,
    uniform_until_learning_starts,
)
from rlcheck.agents.common.replay import replay_add
from rlcheck.core import Trajectory
from rlcheck.registry import make_agent

PENDULUM = envs.make("Pendulum-v1").spec
TINY = {"hidden_sizes": (8, 8), "batch_size": 4, "learning_starts": 0}


def test_replay_capacity_is_capped_at_whole_updates_of_the_run():
    # 2 envs × 3 steps per update: 1000 env steps are 166 whole updates, 996 transitions.
    assert replay_capacity(1_000_000, 1000, 6) == 996
    assert replay_capacity(50, 1000, 6) == 50
    assert replay_capacity(1_000_000, 4, 6) == 6  # at least one update's worth


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_agents_buffer_is_capped_at_what_the_run_collects(algo):
    agent = make_agent(algo, PENDULUM, {**TINY, "num_envs": 2, "train_frequency": 3}, 1000)
    buffer = agent.init(jax.random.PRNGKey(0), agent.hparams()).buffer
    assert agent.capacity == 996
    assert {k: v.shape for k, v in buffer.data.items()} == {
        "obs": (996, 3),
        "action": (996, 1),
        "reward": (996,),
        "next_obs": (996, 3),
        "done": (996,),
    }
    assert make_agent(algo, PENDULUM, {**TINY, "buffer_size": 50}, 1000).capacity == 50


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_agents_critics_are_independent_and_take_actions_in_their_units(algo):
    agent = make_agent(algo, PENDULUM, {**TINY, "n_critics": 3}, 1000)
    critic = agent.init(jax.random.PRNGKey(0), agent.hparams()).learner.critic
    kernels = critic["params"]["Dense_0"]["kernel"]
    assert kernels.shape == (3, 3 + 1, 8)  # (critics, obs + action, hidden)
    assert not np.array_equal(kernels[0], kernels[1])
    # Pendulum's torque box is [-2, 2]: the env-unit critics see twice the policy's action.
    assert agent._critic_units(jnp.array([0.5])).tolist() == [1.0]
    unit = make_agent(algo, PENDULUM, {**TINY, "action_units": "unit"}, 1000)
    assert unit._critic_units(jnp.array([0.5])).tolist() == [0.5]


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


def test_minibatch_prepares_both_observations_and_keeps_the_rest():
    buffer = transition_buffer(8, (2, 2), 1)
    assert buffer.data["obs"].shape == (8, 2, 2) and buffer.data["action"].shape == (8, 1)
    batch = rollout_transitions(
        _traj()._replace(final_obs=jnp.full((2, 2, 2, 2), 7.0)),
        jnp.arange(16.0).reshape(2, 2, 2, 2),
        jnp.array([-2.0]),
        jnp.array([2.0]),
        True,
    )
    buffer = replay_add(buffer, batch)
    mb = sample_minibatch(buffer, jax.random.PRNGKey(0), 64, lambda x: x.reshape(-1, 4) * 10)
    assert mb["obs"].shape == mb["next_obs"].shape == (64, 4)
    # Each sampled row is one stored transition: obs 4·slot…4·slot+3 (×10), reward slot + 1.
    slot = mb["reward"].astype(int) - 1
    np.testing.assert_array_equal(mb["obs"][:, 0], 40.0 * slot)
    np.testing.assert_array_equal(mb["next_obs"], 70.0)
    assert set(np.asarray(slot).tolist()) == {0, 1, 2, 3}  # only the filled slots


def test_prepare_obs_normalizes_clips_and_flattens():
    rms = RunningMeanStd(jnp.array([[1.0, 2.0]]), jnp.array([[4.0, 0.25]]), jnp.asarray(5.0))
    obs = jnp.array([[[3.0, 2.5]], [[1.0, 100.0]]])  # (batch 2, obs shape (1, 2))
    out = prepare_obs(obs, rms, 10.0, True, (1, 2))
    # (3 − 1)/2 = 1, (2.5 − 2)/0.5 = 1; (100 − 2)/0.5 = 196 is clipped to 10.
    np.testing.assert_allclose(out, [[1.0, 1.0], [0.0, 10.0]], rtol=1e-6)
    np.testing.assert_array_equal(prepare_obs(obs, rms, 10.0, False, (1, 2)), obs.reshape(2, 2))


def test_obs_statistics_are_kept_only_when_normalizing():
    rms = rms_init((2,))
    obs = jnp.array([[1.0, 3.0], [3.0, 5.0]])
    seen = track_obs(rms, obs, True)
    np.testing.assert_allclose(seen.mean, [2.0, 4.0], rtol=1e-4)  # the 1e-4 prior count
    assert track_obs(rms, obs, False) is rms


def test_uniform_actions_until_learning_starts():
    action = jnp.full((1000, 1), 0.25)
    key = jax.random.PRNGKey(1)
    early = uniform_until_learning_starts(action, key, jnp.int32(9), jnp.float32(10))
    assert float(early.min()) < -0.9 and float(early.max()) > 0.9
    late = uniform_until_learning_starts(action, key, jnp.int32(10), jnp.float32(10))
    assert np.array_equal(late, action)


def test_random_until_learning_starts_switches_an_agents_warm_up():
    obs = jnp.zeros((1, 3))
    for algo in ("ddpg", "td3", "sac"):
        actions = {}
        for warm_up in (True, False):
            overrides = {**TINY, "learning_starts": 10, "random_until_learning_starts": warm_up}
            agent = make_agent(algo, PENDULUM, overrides, 1000)
            state = agent.init(jax.random.PRNGKey(0), agent.hparams())
            act = jax.vmap(agent.act, in_axes=(None, None, 0))
            _, action, _ = act(state, obs, jax.random.split(jax.random.PRNGKey(1), 500))
            actions[warm_up] = np.asarray(action)
        # Uniform on Pendulum's [-2, 2]: std 4/√12 ≈ 1.15; the untrained actor's noise is less.
        assert actions[True].std() == pytest.approx(4 / np.sqrt(12), rel=0.1), algo
        assert actions[False].std() < 0.9, algo


def test_every_nth_runs_the_step_when_due_with_zeros_between():
    def step(count):
        return count + 100, {"actor_loss": jnp.float32(-5.0), "actor_grad_norm": jnp.float32(2.0)}

    for count, due in [(1, False), (2, False), (3, True), (6, True)]:
        carry, values, ran = every_nth(3, jnp.int32(count), step, jnp.int32(count))
        assert int(carry) == count + 100 * due
        assert float(ran) == float(due)
        assert float(values["actor_loss"]) == (-5.0 if due else 0.0)
        assert float(values["actor_grad_norm"]) == (2.0 if due else 0.0)
    # due_at shifts the phase: counts 2, 5, … with n = 3 and due_at = 2.
    assert [float(every_nth(3, jnp.int32(c), step, 0, due_at=2)[2]) for c in range(6)] == [
        0,
        0,
        1,
        0,
        0,
        1,
    ]
    assert float(every_nth(1, jnp.int32(7), step, 0)[2]) == 1.0  # n = 1: every time


def test_step_internals_count_the_sometimes_part_only_when_it_ran():
    values, ran = step_internals({"critic_loss": 1.0}, {"actor_loss": -2.0}, jnp.float32(0))
    assert values == {"critic_loss": 1.0, "actor_loss": -2.0}
    assert float(ran["critic_loss"]) == 1.0 and float(ran["actor_loss"]) == 0.0


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


def test_gradient_steps_run_once_started_with_a_key_each():
    """A fake step: the carry counts steps and sums one uniform draw per key; 'odd' is only
    computed on odd step counts (as a delayed actor's internals)."""

    def gradient_step(carry, key):
        count, total = carry
        draw = jax.random.uniform(key)
        odd = (count % 2).astype(jnp.float32)
        internals = step_internals({"draw": draw}, {"odd": 10.0 * count.astype(jnp.float32)}, odd)
        return (count + 1, total + draw), internals

    key = jax.random.PRNGKey(3)
    previous = {"draw": jnp.float32(-1), "odd": jnp.float32(-2)}
    carry = (jnp.int32(0), jnp.float32(0))
    (count, total), metrics = gradient_steps_once_started(
        jnp.asarray(True), gradient_step, carry, key, 4, previous
    )
    draws = jax.vmap(jax.random.uniform)(jax.random.split(key, 4))
    assert int(count) == 4
    assert float(total) == pytest.approx(float(draws.sum()), rel=1e-6)
    assert float(metrics["draw"]) == pytest.approx(float(draws.mean()), rel=1e-6)
    assert float(metrics["odd"]) == 20.0  # counts 1 and 3: the mean of 10 and 30
    (count, total), metrics = gradient_steps_once_started(
        jnp.asarray(False), gradient_step, carry, key, 4, previous
    )
    assert int(count) == 0 and float(total) == 0.0
    assert {k: float(v) for k, v in metrics.items()} == {"draw": -1.0, "odd": -2.0}
