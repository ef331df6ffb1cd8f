import numpy as np
import pytest

from rlcheck.experiment.execute import Executor
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store

TINY = {"num_envs": 2, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1}


def _run(tmp_path, envs, algos, budget=320):
    spec = parse_spec(
        {
            "seeds": 2,
            "budget": budget,
            "eval": {"checkpoints": 2, "episodes": 2, "final_episodes": 2},
            "env": [{"id": e} for e in envs],
            "algo": algos,
        },
        "spec",
    )
    store = Store(tmp_path)
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        outcomes = executor.run(plan_units(spec, "spec"))
    return store, outcomes


def test_diverged_seeds_are_recorded_with_the_update_where_they_broke(tmp_path):
    store, outcomes = _run(
        tmp_path, ["CartPole-v1"], [{"name": "ppo", "config": {**TINY, "learning_rate": 1e30}}]
    )
    assert [o.status for o in outcomes] == ["done"]
    rows = store.seed_rows(outcomes[0].unit.key)
    assert [status for _, status, _, _ in rows] == ["diverged", "diverged"]
    assert all("first non-finite internals after update" in reason for *_, reason in rows)


def test_an_env_producing_nan_fails_its_unit_and_the_rest_goes_on(tmp_path):
    store, outcomes = _run(
        tmp_path,
        ["tests.helpers.envs:make_line", "CartPole-v1"],
        [{"name": "random", "config": {"num_envs": 2, "num_steps": 16}}],
    )
    # The Line env is healthy by default; check that one, then a NaN-producing variant.
    assert [o.status for o in outcomes] == ["done", "done"]
    spec = parse_spec(
        {
            "seeds": 2,
            "budget": 320,
            "eval": {"checkpoints": 2, "episodes": 2},
            "env": [
                {"id": "tests.helpers.envs:make_line", "kwargs": {"nan_after": 2}},
                {"id": "Acrobot-v1"},
            ],
            "algo": [{"name": "random", "config": {"num_envs": 2, "num_steps": 16}}],
        },
        "spec",
    )
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        outcomes = executor.run(plan_units(spec, "spec"))
    assert [o.status for o in outcomes] == ["failed", "done"]
    assert "NaN/inf observation or reward (seeds [0, 1])" in outcomes[0].reason
    assert len(store.failures()) == 1


def test_results_are_stored_per_seed_and_checkpoint(tmp_path):
    store, outcomes = _run(tmp_path, ["CartPole-v1"], [{"name": "ppo", "config": TINY}])
    key = outcomes[0].unit.key
    (unit,) = store.units()
    assert unit["env_steps"] == 320 and unit["meta"]["driver"] == "fused"
    assert unit["meta"]["env_spec"]["solve_threshold"] == 475.0
    assert unit["provenance"]["versions"]["jax"]
    evals = [
        (seed, step) for _, seed, step, metric, _ in store.scalars(key) if metric == "eval_return"
    ]
    assert evals == [(0, 160), (0, 320), (1, 160), (1, 320)]
    assert store.array(key, 0, "eval_episode_returns").shape == (2, 2)
    assert store.array(key, 1, "internals").shape == (10, len(unit["meta"]["metric_names"]))
    np.testing.assert_array_equal(store.array(key, -1, "checkpoint_steps"), [160, 320])


class _Progress:
    """Records what the executor reports of a unit's seed-checkpoints."""

    def __init__(self):
        self.total = self.done = 0

    def start_unit(self, unit, total):
        self.total = total

    def advance(self, unit_key, n=1):
        self.done += n

    def end_unit(self, unit, outcome):
        pass


@pytest.mark.parametrize("env", ["CartPole-v1", "gymnasium:CartPole-v1"])
def test_checkpoints_closer_than_one_update_are_stored_merged(tmp_path, env):
    # 32 env steps per update, 20 checkpoints requested every 16 steps: one per update.
    spec = parse_spec(
        {
            "seeds": 2,
            "budget": 320,
            "eval": {"checkpoints": 20, "episodes": 2, "final_episodes": 2},
            "env": [{"id": env}],
            "algo": [{"name": "random", "config": {"num_envs": 2, "num_steps": 16}}],
        },
        "spec",
    )
    (unit,) = plan_units(spec, "spec")
    assert unit.checkpoints == 10
    assert unit.note == (
        f"random on {env}: 20 checkpoints requested, 10 fit in 320 env steps at 32 env steps "
        "per update"
    )
    store, progress = Store(tmp_path), _Progress()
    with Executor(store, store.start_run({}, {}), workers=0, progress=progress) as executor:
        (outcome,) = executor.run([unit])
    assert outcome.status == "done", outcome.reason
    assert progress.total == progress.done == 2 * 10
    key = unit.key
    nominal = [48, *range(80, 320, 32), 320]
    np.testing.assert_array_equal(store.array(key, -1, "checkpoint_steps"), nominal)
    np.testing.assert_array_equal(
        store.array(key, -1, "checkpoint_env_steps"), np.arange(1, 11) * 32
    )
    evals = [(s, step) for _, s, step, m, _ in store.scalars(key) if m == "eval_return"]
    assert evals == [(s, step) for s in (0, 1) for step in nominal]
    assert store.array(key, 0, "eval_episode_returns").shape == (10, 2)
    # Every training episode that ended is counted in exactly one checkpoint's interval.
    assert store.array(key, 0, "train_episodes").shape == (10,)
    store.close()


@pytest.mark.parametrize(
    ("algo", "budget"),
    [
        ({"name": "ppo", "config": TINY}, 320),
        ({"name": "ars", "config": {"num_directions": 4}}, 2000),
    ],
    ids=["ppo", "ars"],
)
def test_domain_randomization_trains_every_kind_of_learner(tmp_path, algo, budget):
    randomize = {"length": [0.05, 2.0], "masspole": [0.05, 0.5]}
    spec = parse_spec(
        {
            "seeds": 2,
            "budget": budget,
            "eval": {"checkpoints": 2, "episodes": 4, "final_episodes": 4},
            "env": [
                {"id": "CartPole-v1", "label": "fixed"},
                {"id": "CartPole-v1", "label": "dr", "randomize": randomize},
            ],
            "algo": [algo],
        },
        "spec",
    )
    store = Store(tmp_path)
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        fixed, dr = executor.run(plan_units(spec, "spec"))
    assert (fixed.status, dr.status) == ("done", "done"), (fixed.reason, dr.reason)
    # Same seeds, same keys: only the physics differ, and so do the episodes.
    finals = [store.array(o.unit.key, 0, "final_episode_returns") for o in (fixed, dr)]
    assert not np.array_equal(*finals)


def test_hidden_performance_is_stored_beside_the_returns(tmp_path):
    store, outcomes = _run(
        tmp_path, ["rlcheck:BoatRace-v0"], [{"name": "random", "config": {"num_envs": 2}}]
    )
    key = outcomes[0].unit.key
    rows = [r for r in store.scalars(key) if r[3] in ("final_return", "final_performance")]
    finals = {(seed, metric): value for _, seed, _, metric, value in rows}
    for seed in (0, 1):
        returns = store.array(key, seed, "final_episode_returns")
        performance = store.array(key, seed, "final_episode_performance")
        assert finals[(seed, "final_performance")] == pytest.approx(performance.mean())
        assert finals[(seed, "final_return")] == pytest.approx(returns.mean())
        # A random boat bumps into walls and rarely follows an arrow: both below zero.
        assert np.all(performance < 0) and np.all(returns < 0)
        shape = store.array(key, seed, "eval_episode_returns").shape
        assert store.array(key, seed, "eval_episode_performance").shape == shape
    evaluations = sum(r[3] == "eval_return" for r in store.scalars(key))
    assert sum(r[3] == "eval_performance" for r in store.scalars(key)) == evaluations > 0
