import dataclasses

import jax
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.drivers.common import EvalPlan, make_schedule, per_checkpoint
from rlcheck.drivers.fused import FusedDriver
from rlcheck.envs.params import replace_params, stack_params
from rlcheck.registry import make_agent

TINY_PPO = {"num_envs": 2, "num_steps": 32, "num_minibatches": 2, "update_epochs": 2}


def _driver(algo, env_id, budget, overrides=None, checkpoints=4, episodes=4, **env_kwargs):
    env = envs.make(env_id, **env_kwargs)
    agent = make_agent(algo, env.spec, overrides or {}, budget)
    schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, checkpoints, algo)
    plan = EvalPlan(checkpoints=checkpoints, episodes=episodes, final_episodes=16)
    return FusedDriver(agent, env, schedule, plan)


def test_random_policy_on_cartpole_scores_like_a_random_policy():
    results, _ = _driver("random", "CartPole-v1", 4096).run([0, 1])
    assert results["eval_returns"].shape == (2, 4, 4)
    assert results["final_returns"].shape == (2, 16)
    # A uniformly random CartPole policy lasts about 22 steps on average (Gymnasium docs).
    assert 15 < results["final_returns"].mean() < 30
    episodes = results["train_episodes"].sum(axis=1)
    returns = results["train_return_sum"].sum(axis=1) / episodes
    assert np.all((15 < returns) & (returns < 30))
    # 4096 steps of episodes ~22 long: about 180 finished episodes per seed.
    assert np.all((120 < episodes) & (episodes < 260))


def test_same_seeds_give_identical_results():
    d = _driver("ppo", "CartPole-v1", 1024, TINY_PPO)
    a, _ = d.run([3, 4])
    b, _ = d.run([3, 4])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_a_seed_in_a_batch_matches_the_seed_alone_up_to_float_rounding():
    # Measured (BENCHMARKS.md): batching changes summation order inside matmuls, so internals
    # differ by ~1e-5 after 100 CartPole updates; chaotic tasks amplify such differences.
    d = _driver("ppo", "CartPole-v1", 1024, TINY_PPO)
    batch, _ = d.run([0, 1, 2])
    alone, _ = d.run([1])
    np.testing.assert_allclose(batch["internals"][1], alone["internals"][0], rtol=1e-3, atol=1e-4)
    assert not np.array_equal(batch["internals"][0], batch["internals"][1])


def test_seeds_whose_parameters_blow_up_are_flagged():
    # Adam steps of size 1e30 push the weights, then the logits and values, past float32.
    d = _driver("ppo", "CartPole-v1", 1024, {**TINY_PPO, "learning_rate": 1e30})
    results, _ = d.run([0, 1])
    assert not results["params_finite"].any()
    assert not np.isfinite(results["internals"]).all()
    assert results["env_finite"].all()


def test_nan_observations_are_flagged():
    d = _driver("random", "tests.helpers.envs:make_line", 1024, nan_after=3)
    results, _ = d.run([0])
    assert not results["env_finite"].any()


def test_hyperparameters_enter_the_compiled_program_as_values():
    d = _driver("ppo", "CartPole-v1", 1024, TINY_PPO)
    keys = jax.numpy.stack([jax.random.PRNGKey(0)])
    train = jax.jit(jax.vmap(d.train, in_axes=(0, None, None)))
    hp = d.agent.hparams()
    compiled = train.lower(keys, hp, d.env.params).compile()
    slow = compiled(keys, {**hp, "learning_rate": np.float32(0.0)}, d.env.params)
    fast = compiled(keys, hp, d.env.params)
    # Learning rate 0, in the same compiled program: the losses are still evaluated, but the
    # policy never moves, so no minibatch sees a policy ratio other than 1 (KL exactly 0).
    kl = list(d.agent.metric_names).index("approx_kl")
    assert (slow["internals"][..., kl] == 0).all()
    assert (fast["internals"][..., kl] > 0).all()
    assert not np.allclose(slow["internals"], fast["internals"])


def test_a_batch_of_env_params_is_one_program_equal_to_each_value_alone():
    d = _driver("ppo", "CartPole-v1", 1024, TINY_PPO)
    values = [replace_params(d.env.params, length=x) for x in (0.25, 0.5, 2.0)]
    # Same seed throughout: the rows differ only by their params.
    batch, _ = d.run([0, 0, 0], env_params=values)
    traces = []

    def train(key, hparams, env_params):
        traces.append(None)
        return d.train(key, hparams, env_params)

    one = jax.jit(jax.vmap(train, in_axes=(0, None, 0)))
    keys = jax.numpy.stack([jax.random.PRNGKey(0)])
    for i, params in enumerate(values):
        rows = one(keys, d.agent.hparams(), stack_params([params]))
        alone = per_checkpoint({k: np.asarray(v) for k, v in rows.items()}, d.schedule)
        # Internals and the trained policy to the float rounding of batched matmuls (as for
        # seeds, above); the rest exactly. (train returns the policy as one vector, run as
        # one array per leaf, in the same order.)
        np.testing.assert_allclose(
            batch["internals"][i], alone["internals"][0], rtol=1e-3, atol=1e-4
        )
        leaves = [batch[k][i].ravel() for k in batch if k.startswith("policy/")]
        np.testing.assert_allclose(np.concatenate(leaves), alone["policy"][0], atol=1e-4)
        for key in sorted(set(alone) - {"internals", "policy"}):
            np.testing.assert_array_equal(batch[key][i], alone[key][0], err_msg=key)
    assert len(traces) == 1  # three params values, one compiled program
    assert not np.array_equal(batch["internals"][0], batch["internals"][2])
    assert not np.array_equal(batch["final_returns"][0], batch["final_returns"][2])


def test_evaluation_can_use_other_env_params_than_training():
    d = _driver("random", "CartPole-v1", 1024)
    default = d.env.params
    long_pole = replace_params(default, length=5.0)
    results, _ = d.run([0, 0], eval_params=[default, long_pole])
    # Training is the same (same seed, the env's own params); only the evaluations differ, and
    # a long pole falls slowly, so the same random policy lasts longer.
    np.testing.assert_array_equal(results["train_return_sum"][0], results["train_return_sum"][1])
    assert results["final_returns"][1].mean() > 2 * results["final_returns"][0].mean()
    assert results["eval_returns"][1].mean() > 2 * results["eval_returns"][0].mean()


@pytest.mark.parametrize("env_id", ["Breakout-MinAtar", "Catch-bsuite", "Pendulum-v1"])
def test_ppo_runs_on_other_observation_and_action_spaces(env_id):
    overrides = {**TINY_PPO, "num_envs": 2}
    results, _ = _driver("ppo", env_id, 128, overrides, checkpoints=1, episodes=1).run([0])
    assert np.isfinite(results["final_returns"]).all()
    assert results["params_finite"].all()


def test_a_batch_of_configurations_is_one_program_equal_to_each_configuration_alone():
    # Two learning rates × two seeds as rows of one vmapped program, against each
    # configuration's own run of the same seeds (its hyperparameters unbatched, as a plain unit
    # runs). Tolerance as for seeds in a batch (README "Reproducibility": internals within
    # ~1.5e-5 after 100 CartPole updates, returns identical): batching changes only the
    # summation order inside matmuls, so internals agree to rtol 1e-3 / atol 1e-4 and every
    # return, episode count and flag exactly.
    rates = (1e-4, 1e-3)
    drivers = [
        _driver("ppo", "CartPole-v1", 1024, {**TINY_PPO, "learning_rate": lr}) for lr in rates
    ]
    hparams = [d.agent.hparams() for d in drivers]
    seeds = [3, 4]
    batch, _ = drivers[0].run(seeds * len(rates), hparams=[hp for hp in hparams for _ in seeds])
    lr_column = list(drivers[0].agent.metric_names).index("learning_rate")
    for i, d in enumerate(drivers):
        alone, _ = d.run(seeds)
        rows = slice(i * len(seeds), (i + 1) * len(seeds))
        np.testing.assert_allclose(
            batch["internals"][rows], alone["internals"], rtol=1e-3, atol=1e-4
        )
        for key in sorted(set(alone) - {"internals"}):
            np.testing.assert_array_equal(batch[key][rows], alone[key], err_msg=key)
        # Each row learned with its own learning rate (logged before annealing moves it).
        np.testing.assert_array_equal(batch["internals"][rows, 0, lr_column], np.float32(rates[i]))
    assert not np.array_equal(batch["internals"][0], batch["internals"][2])


def test_reward_scale_changes_what_the_learner_sees_not_the_returns_recorded():
    d = _driver("random", "CartPole-v1", 1024)
    plain, _ = d.run([0])
    scaled, _ = d.run([0, 0, 0], reward_scale=[1.0, 0.01, 100.0])
    # A random policy ignores rewards, so every row is the plain run, returns in env units.
    for key in ("eval_returns", "final_returns", "train_return_sum", "train_episodes"):
        for row in range(3):
            np.testing.assert_array_equal(scaled[key][row], plain[key][0], err_msg=key)
    assert plain["final_returns"].mean() > 5


def test_a_reward_scale_of_one_is_the_plain_run_and_ten_scales_the_value_targets():
    d = _driver("ppo", "CartPole-v1", 1024, TINY_PPO)
    plain, _ = d.run([3, 4])
    one, _ = d.run([3, 4], reward_scale=[1.0, 1.0])
    for key in plain:
        np.testing.assert_array_equal(one[key], plain[key], err_msg=key)
    ten, _ = d.run([3, 4], reward_scale=[10.0, 10.0])
    value_loss = list(d.agent.metric_names).index("value_loss")
    # The critic starts near 0, so the first update's value loss grows with the square of the
    # targets' scale; returns stay in the env's units (CartPole: 1 per step, ≤ 500).
    first = ten["internals"][:, 0, value_loss] / plain["internals"][:, 0, value_loss]
    assert np.all(first > 30), first
    assert ten["final_returns"].max() <= 500


def test_checkpoint_policies_leave_the_results_as_they_were():
    # 16 updates of 2 envs × 5 steps, checkpoints after updates 5, 10 and 16: intervals of
    # unequal length, so the shorter ones are padded with skipped updates.
    plain = _driver("a2c", "CartPole-v1", 160, {"num_envs": 2}, checkpoints=3)
    kept = FusedDriver(
        plain.agent,
        plain.env,
        plain.schedule,
        dataclasses.replace(plain.plan, keep_checkpoint_policies=True),
    )
    np.testing.assert_array_equal(plain.schedule.update_ends, [5, 10, 16])
    a, _ = plain.run([0, 1])
    b, _ = kept.run([0, 1])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    checkpoints = {k: v for k, v in b.items() if k.startswith("checkpoint_policy/")}
    assert checkpoints and not set(checkpoints) & set(a)
    for name, value in checkpoints.items():
        leaf = name.removeprefix("checkpoint_")
        assert value.shape == (2, 3, *a[leaf].shape[1:])
        # The last checkpoint follows the last update: its policy is the final one.
        np.testing.assert_array_equal(value[:, -1], a[leaf])
    kernel = "checkpoint_policy/actor/net/params/Dense_0/kernel"
    assert not np.array_equal(checkpoints[kernel][:, 0], checkpoints[kernel][:, 1])


def test_hidden_performance_is_summed_beside_the_returns_where_the_env_reports_it():
    line = "tests.helpers.envs:make_line"
    results, _ = _driver("random", line, 512, performance=True).run([0, 1])
    # The Line env's performance is minus its reward, step by step.
    np.testing.assert_array_equal(results["eval_performance"], -results["eval_returns"])
    np.testing.assert_array_equal(results["final_performance"], -results["final_returns"])
    assert results["eval_performance"].shape == results["eval_returns"].shape
    assert np.all(results["final_performance"] > 0)
    plain, _ = _driver("random", line, 512).run([0, 1])
    assert "eval_performance" not in plain and "final_performance" not in plain
    np.testing.assert_array_equal(plain["final_returns"], results["final_returns"])
