import jax
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.host import HostDriver
from rlcheck.registry import make_agent

TINY_PPO = {"num_envs": 2, "num_steps": 32, "num_minibatches": 2, "update_epochs": 2}


def _driver(algo, env_id, budget, overrides=None, checkpoints=4, **env_kwargs):
    env = envs.make(env_id, **env_kwargs)
    agent = make_agent(algo, env.spec, overrides or {}, budget)
    schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, checkpoints, algo)
    plan = EvalPlan(checkpoints=checkpoints, episodes=4, final_episodes=16)
    return HostDriver(agent, env, schedule, plan)


def test_random_policy_on_gymnasium_cartpole():
    results, timings = _driver("random", "gymnasium:CartPole-v1", 2048).run([0, 1])
    assert results["eval_returns"].shape == (2, 4, 4)
    assert 15 < results["final_returns"].mean() < 30
    assert results["train_episodes"].sum() > 100
    assert timings["eval_s"] <= timings["run_s"]


def test_same_seeds_give_identical_results():
    d = _driver("ppo", "gymnasium:CartPole-v1", 512, TINY_PPO)
    a, _ = d.run([5, 6])
    b, _ = d.run([5, 6])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_the_compiled_step_passes_only_what_act_uses():
    d = _driver("ppo", "gymnasium:Pendulum-v1", 2048)  # normalizes observations
    d.run([0])
    # act reads the two networks, log-std, observation statistics and obs_clip, and writes the
    # observation statistics (mean, var, count) only.
    assert len(d._act.changes) == 3
    assert len(d._act.reads) < len(d._act.shapes) / 2


def test_eval_envs_are_built_once_per_run_and_reset_to_each_episodes_seed():
    from tests.helpers import envs as helper_envs

    built = {}
    for checkpoints in (2, 8):
        d = _driver("random", "tests.helpers.envs:make_counted_cartpole", 2048, None, checkpoints)
        helper_envs.CREATED.clear()
        results, _ = d.run([0, 1])
        built[checkpoints] = len(helper_envs.CREATED)
    # Rebuilding per evaluation would cost 2 seeds × 4 episodes more envs per checkpoint.
    assert built[2] == built[8]
    fresh = _driver("random", "gymnasium:CartPole-v1", 2048, None, 8).run([0, 1])[0]
    for key in ("eval_returns", "final_returns"):
        np.testing.assert_array_equal(results[key], fresh[key])


def test_an_env_that_raises_propagates_its_error():
    d = _driver("random", "tests.helpers.envs:make_exploding_cartpole", 2048, after=100)
    with pytest.raises(RuntimeError, match="simulator exploded"):
        d.run([0])


@pytest.mark.slow
def test_host_driver_learns_cartpole():
    results, _ = _driver("ppo", "gymnasium:CartPole-v1", 50_000).run([0, 1, 2, 3])
    finals = results["final_returns"].mean(axis=1)
    # Random play scores ~22; CleanRL-default PPO reaches a few hundred after 50k steps.
    assert finals.min() > 150, finals


def test_update_writes_the_states_in_place():
    # An off-policy agent's replay buffer is most of its state; without donation every update
    # would copy it. Donated inputs are deleted by the call, and the run still works after it.
    overrides = {"learning_starts": 50, "buffer_size": 1000}
    d = _driver("sac", "gymnasium:Pendulum-v1", 300, overrides, checkpoints=1)
    seen = []
    update = None

    def spy(states, traj, keys):
        seen.append(jax.tree.leaves(states.buffer))
        return update(states, traj, keys)

    original_compile = d._compile

    def compile_and_spy(*args):
        nonlocal update
        original_compile(*args)
        update, d._update = d._update, spy

    d._compile = compile_and_spy
    results, _ = d.run([0, 1])
    assert len(seen) == d.schedule.num_updates > 100
    assert all(x.is_deleted() for leaves in seen for x in leaves)
    assert np.isfinite(results["final_returns"]).all()


def _rewards_seen(driver, seeds):
    """Runs ``driver`` and returns the rewards of every trajectory its update was given."""
    seen = []
    compile_all = driver._compile

    def compile_and_watch(states, obs, keys):
        compile_all(states, obs, keys)
        update = driver._update

        def watched(states, traj, keys):
            seen.append(np.asarray(traj.reward))
            return update(states, traj, keys)

        driver._update = watched

    driver._compile = compile_and_watch
    results, _ = driver.run(seeds)
    return results, np.stack(seen)


def test_reward_scale_changes_what_the_learner_sees_not_the_returns_recorded():
    plain, rewards = _rewards_seen(_driver("random", "gymnasium:CartPole-v1", 1024), [0])
    d = _driver("random", "gymnasium:CartPole-v1", 1024)
    d.reward_scale = 100.0
    scaled, scaled_rewards = _rewards_seen(d, [0])
    # CartPole pays 1 per step: the update sees 100s, the recorded returns stay in env units.
    assert (rewards == 1.0).all() and (scaled_rewards == 100.0).all()
    for key in ("eval_returns", "final_returns", "train_return_sum", "train_episodes"):
        np.testing.assert_array_equal(scaled[key], plain[key], err_msg=key)


def test_hidden_performance_reported_in_info_is_summed_beside_the_returns():
    env_id = "tests.helpers.envs:make_cartpole_with_performance"
    results, _ = _driver("random", env_id, 512).run([0, 1])
    np.testing.assert_array_equal(results["final_performance"], 2 * results["final_returns"])
    np.testing.assert_array_equal(results["eval_performance"], 2 * results["eval_returns"])
    plain, _ = _driver("random", "gymnasium:CartPole-v1", 512).run([0, 1])
    assert "final_performance" not in plain and "eval_performance" not in plain
