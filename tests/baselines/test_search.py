import numpy as np
import pytest

from rlcheck import envs
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.experiment.execute import Executor
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store
from rlcheck.registry import make_agent

COUNTDOWN = "tests.baselines.envs:make_countdown"
# ARS with 2 directions plays 4 episodes per generation; Countdown's last 7 steps: 28 steps.
ARS = {"num_directions": 2}


def _search(budget, checkpoints, seeds=(0, 1)):
    env = envs.make(COUNTDOWN)
    agent = make_agent("ars", env.spec, ARS, budget)
    schedule = make_schedule(budget, agent.num_envs * agent.rollout_len, checkpoints, "ars")
    results, _ = agent.run(env, schedule, EvalPlan(checkpoints, 2, 3), list(seeds))
    return results


def test_env_steps_are_counted_in_whole_generations():
    results = _search(budget=100, checkpoints=4)
    # Generations end at 28, 56, 84, 112 steps: the one crossing the budget is finished.
    assert results["env_steps"].tolist() == [112, 112]
    np.testing.assert_array_equal(results["checkpoint_env_steps"], [[28, 56, 84, 112]] * 2)
    np.testing.assert_array_equal(results["train_episodes"], [[4, 4, 4, 4]] * 2)
    np.testing.assert_array_equal(results["train_return_sum"], [[28.0] * 4] * 2)
    np.testing.assert_array_equal(results["eval_returns"], np.full((2, 4, 2), 7.0))
    np.testing.assert_array_equal(results["final_returns"], np.full((2, 3), 7.0))
    # Internals per checkpoint: generations done, mean and max population return, ν.
    np.testing.assert_allclose(results["internals"][0, :, 0], [1, 2, 3, 4])
    np.testing.assert_allclose(results["internals"][0, :, 1:3], 7.0)


def test_checkpoints_crossed_by_one_generation_share_its_evaluation():
    results = _search(budget=30, checkpoints=3)
    # grid 10, 20, 30: the first generation (28 steps) crosses two checkpoints.
    np.testing.assert_array_equal(results["checkpoint_env_steps"], [[28, 28, 56]] * 2)
    # Its 4 episodes are counted once, at the first of them.
    np.testing.assert_array_equal(results["train_episodes"], [[4, 0, 4]] * 2)
    assert results["env_steps"].tolist() == [56, 56]


def test_search_needs_a_jax_env():
    with pytest.raises(Exception, match="JAX-native envs only"):
        make_agent("cma_es", envs.make("gymnasium:CartPole-v1").spec, {}, 1000)


def test_costs_are_stored_with_the_unit(tmp_path):
    spec = parse_spec(
        {
            "seeds": 2,
            "budget": 100,
            "eval": {"checkpoints": 4, "episodes": 2, "final_episodes": 3},
            "env": [{"id": COUNTDOWN}],
            "algo": [
                {"name": "ars", "config": ARS},
                {"name": "random_shooting", "config": {"num_candidates": 3, "horizon": 2}},
            ],
        },
        "spec",
    )
    store = Store(tmp_path)
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        outcomes = executor.run(plan_units(spec, "spec"))
    assert [o.status for o in outcomes] == ["done", "done"]
    search, planner = (store.units()[i] for i in range(2))
    assert search["env_steps"] == 112 and search["meta"]["env_steps_per_seed"] == [112, 112]
    assert "simulator_calls" not in search["meta"]
    # The driver that ran them is recorded, not the one the env kind would have picked.
    assert search["meta"]["driver"] == planner["meta"]["driver"] == "baseline"
    key = search["key"]
    np.testing.assert_array_equal(store.array(key, 0, "checkpoint_env_steps"), [28, 56, 84, 112])
    # Unit-wide, the nominal grid (the report needs evenly spaced checkpoints).
    np.testing.assert_array_equal(store.array(key, -1, "checkpoint_env_steps"), [25, 50, 75, 100])
    # The planner: no training steps; 2 seeds × 3 episodes × 7 steps × (3 × 2) model steps.
    assert planner["env_steps"] == 0
    assert planner["meta"]["simulator_calls"] == 2 * 3 * 7 * 6
    assert planner["meta"]["simulator_calls_per_seed"] == [126, 126]
    metrics = {metric for _, _, _, metric, _ in store.scalars(planner["key"])}
    assert metrics == {"final_return"}


def test_search_records_hidden_performance_where_the_env_reports_it():
    env = envs.make("tests.helpers.envs:make_line", performance=True)
    agent = make_agent("ars", env.spec, ARS, 400)
    schedule = make_schedule(400, agent.num_envs * agent.rollout_len, 2, "ars")
    results, _ = agent.run(env, schedule, EvalPlan(2, 2, 3), [0, 1])
    np.testing.assert_array_equal(results["eval_performance"], -results["eval_returns"])
    np.testing.assert_array_equal(results["final_performance"], -results["final_returns"])
    assert "final_performance" not in _search(budget=100, checkpoints=2)
