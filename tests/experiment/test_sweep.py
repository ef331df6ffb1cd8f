import numpy as np
import pytest

from rlcheck.drivers.fused import FusedDriver
from rlcheck.errors import UserError
from rlcheck.experiment.execute import Executor
from rlcheck.experiment.plan import UnitGroup, plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store
from rlcheck.experiment.sweep import FRESH_SEED_OFFSET, groups, plan_sweeps, run_sweep

# The shapes of tests/helpers/cli.py's TINY_PPO, so the CLI tests share the compiled programs.
TINY = {"num_envs": 2, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1}
TINY_RANDOM = {"num_envs": 2, "num_steps": 16}


def _spec(vary, entries=None, seeds=2, env=None, **sweep):
    return parse_spec(
        {
            "seeds": seeds,
            "budget": 320,
            "eval": {"checkpoints": 2, "episodes": 2, "final_episodes": 2},
            "env": [env or {"id": "CartPole-v1"}],
            "algo": entries or [{"name": "ppo", "config": TINY}],
            "sweep": {"vary": vary, **{"fresh_seeds": 2, **sweep}},
        },
        "spec.toml",
    )


def _sweep(store, spec, workers=0):
    plan = plan_sweeps(spec, "spec.toml")
    (sweep,) = plan.sweeps
    with Executor(store, store.start_run({}, {}), workers=workers) as executor:
        executor.run(list(plan.units))
        return sweep, run_sweep(sweep, store, executor)


@pytest.fixture
def driver_runs(monkeypatch):
    """How many fused programs ran (each FusedDriver.run compiles and runs one)."""
    calls = []
    run = FusedDriver.run

    def counted(self, seeds, *args, **kwargs):
        calls.append(len(seeds))
        return run(self, seeds, *args, **kwargs)

    monkeypatch.setattr(FusedDriver, "run", counted)
    return calls


def test_fresh_seeds_are_disjoint_from_the_tuning_seeds():
    (sweep,) = plan_sweeps(_spec({"learning_rate": "1e-3,1e-2"}, seeds=8), "s").sweeps
    assert sweep.tuning_seeds == tuple(range(8))
    assert sweep.fresh_seeds == (FRESH_SEED_OFFSET, FRESH_SEED_OFFSET + 1)
    spec = _spec({"learning_rate": "1e-3,1e-2"}, seeds=[0, 3, FRESH_SEED_OFFSET + 5])
    (sweep,) = plan_sweeps(spec, "s").sweeps
    assert sweep.fresh_seeds == (FRESH_SEED_OFFSET + 6, FRESH_SEED_OFFSET + 7)
    assert not set(sweep.fresh_seeds) & set(sweep.tuning_seeds)


def test_traced_values_share_a_program_and_a_static_field_splits_them():
    spec = _spec({"learning_rate": "1e-4:1e-2:3:log", "update_epochs": "1,2"})
    (sweep,) = plan_sweeps(spec, "s").sweeps
    units = [sweep.unit(v, "tuning", sweep.tuning_seeds) for v in _grid(sweep)]
    planned = groups(units)
    # Three learning rates vmapped together, once per value of the static update_epochs.
    assert [len(g.units) for g in planned] == [3, 3]
    assert {u.config["update_epochs"] for u in planned[0].units} == {1}
    assert len({u.key for u in units}) == 6
    assert planned[0].rows == [(i, s) for i in range(3) for s in (0, 1)]
    host = _spec({"learning_rate": "1e-3,1e-2"}, env={"id": "gymnasium:CartPole-v1"})
    (sweep,) = plan_sweeps(host, "s").sweeps
    units = [sweep.unit(v, "tuning", sweep.tuning_seeds) for v in _grid(sweep)]
    # Gymnasium envs run their configurations one unit at a time.
    assert not any(isinstance(g, UnitGroup) for g in groups(units))


def _grid(sweep):
    from rlcheck.experiment.sweep import grid

    return grid(sweep.parameters)


def test_a_plain_entry_keeps_its_unit_key_and_params_or_a_scale_change_it():
    import hashlib
    import json

    from rlcheck.experiment.plan import RESULTS_FORMAT

    spec = _spec({"learning_rate": "1e-3,1e-2"})
    (unit,) = plan_units(spec.model_copy(update={"sweep": None}), "s")
    # The identity hashed before env params and reward scales existed (and before the
    # trust-region monitor and checkpoint policies, which stay out of it at their defaults).
    identity = {
        "format": RESULTS_FORMAT,
        "env": "CartPole-v1",
        "env_kwargs": {},
        "algo": "ppo",
        "config": {k: v for k, v in unit.config.items() if k != "trust_region_monitor"},
        "seeds": [0, 1],
        "budget": 320,
        "eval": {
            k: v for k, v in spec.eval.model_dump().items() if k != "keep_checkpoint_policies"
        },
    }
    old = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    assert unit.key == old
    keys = {old}
    for env in ({"params": {"length": 0.25}}, {"reward_scale": 10.0}):
        changed = spec.model_copy(
            update={"sweep": None, "env": [spec.env[0].model_copy(update=env)]}
        )
        keys.add(plan_units(changed, "s")[0].key)
    assert len(keys) == 3


def test_tpe_runs_each_batch_as_one_program_and_resumes_without_training(tmp_path, driver_runs):
    spec = _spec(
        {"learning_rate": "1e-4:1e-2:2:log", "ent_coef": "0:0.1:2"},
        method="tpe",
        trials=4,
        batch=2,
    )
    store = Store(tmp_path)
    _, ran = _sweep(store, spec)
    # Two batches of two configurations, then chosen and default on the fresh seeds: three
    # programs of 2 configurations × 2 seeds each.
    assert ran["programs"] == 2
    assert driver_runs == [4, 4, 4]
    members = store.sweeps()[0]["units"]
    tuning = [m for m in members if m["role"] == "tuning"]
    assert [m["trial"] for m in tuning] == [0, 1, 2, 3]
    done = {u["key"]: u for u in store.units()}
    scores = {}
    for m in tuning:
        unit = done[m["unit_key"]]
        assert unit["seeds"] == [0, 1] and unit["meta"]["program"]["rows"] == 4
        assert unit["config"]["learning_rate"] == pytest.approx(m["settings"]["learning_rate"])
        scores[m["unit_key"]] = np.mean(sorted(f for _, _, f, _ in store.seed_rows(m["unit_key"])))
    chosen = next(m for m in members if m["role"] == "chosen")
    best = max(tuning, key=lambda m: scores[m["unit_key"]])
    assert chosen["settings"] == best["settings"] == ran["chosen"]
    fresh = (FRESH_SEED_OFFSET, FRESH_SEED_OFFSET + 1)
    for role in ("chosen", "default"):
        key = next(m["unit_key"] for m in members if m["role"] == role)
        assert done[key]["seeds"] == list(fresh)
    default = done[next(m["unit_key"] for m in members if m["role"] == "default")]
    assert default["config"]["learning_rate"] == 2.5e-4 and default["algo_label"] == "ppo default"

    # Run again: the same proposals (seeded sampler, the same scores told), all stored.
    _, again = _sweep(store, spec)
    assert driver_runs == [4, 4, 4]
    assert again["chosen"] == ran["chosen"]
    assert {o.status for o in again["tuning"] + again["fresh"]} == {"stored"}
    store.close()


def test_an_env_parameter_sweep_equals_runs_at_each_value(tmp_path):
    entries = [{"name": "random", "config": TINY_RANDOM}]
    spec = _spec({"env.length": "0.25,2.0"}, entries, algos=["random"], fresh_seeds=0)
    store = Store(tmp_path / "sweep")
    _sweep(store, spec)
    members = store.sweeps()[0]["units"]
    for member in members:
        length = member["settings"]["env.length"]
        plain = spec.model_copy(
            update={
                "sweep": None,
                "env": [spec.env[0].model_copy(update={"params": {"length": length}})],
            }
        )
        (unit,) = plan_units(plain, "s")
        # The same unit by key: a sweep's configuration is the unit a plain run would be.
        assert unit.key == member["unit_key"]
        alone = Store(tmp_path / f"alone-{length}")
        with Executor(alone, alone.start_run({}, {}), workers=0) as executor:
            executor.run([unit])
        for seed in (0, 1):
            np.testing.assert_array_equal(
                store.array(unit.key, seed, "final_episode_returns"),
                alone.array(unit.key, seed, "final_episode_returns"),
            )
        alone.close()
    short, long = (store.array(m["unit_key"], 0, "final_episode_returns") for m in members)
    # A long pole falls slowly: the same random policy lasts longer.
    assert long.mean() > 2 * short.mean()
    store.close()


def test_a_reward_scale_sweep_reports_returns_in_the_envs_units(tmp_path):
    entries = [{"name": "random", "config": TINY_RANDOM}]
    spec = _spec({"env.reward_scale": "0.01,1,100"}, entries, algos=["random"], fresh_seeds=0)
    store = Store(tmp_path)
    _sweep(store, spec)
    members = store.sweeps()[0]["units"]
    finals = [store.seed_rows(m["unit_key"]) for m in members]
    assert finals[0] == finals[1] == finals[2]
    assert len({m["unit_key"] for m in members}) == 3
    store.close()


@pytest.mark.parametrize(
    ("vary", "sweep", "message"),
    [
        (
            {"learning_rat": "1e-3,1e-2"},
            {},
            "spec.toml: sweep.vary.learning_rat: ppo has no such config field; did you mean "
            "'learning_rate'?",
        ),
        (
            {"env.lenght": "0.25,0.5"},
            {},
            "spec.toml: sweep.vary.env.lenght: unknown env parameter 'lenght' of cartpole "
            "EnvParams; did you mean 'length'?",
        ),
        ({"env": {"total_mass": "1,2"}}, {}, "env parameter 'total_mass' of cartpole"),
        ({"learning_rate": "0:1e-2:4:log"}, {}, "a log range needs bounds above 0"),
        ({"ent_coef": "0:1:0"}, {}, "sweep.vary.ent_coef: N in '0:1:0' must be at least 1"),
        ({"num_envs": "1:8:4"}, {}, "num_envs takes whole numbers, and 1:8:4 gives 3.33333"),
        ({"target_kl": "none,0.01"}, {}, "None switches target_kl off"),
        ({"env.reward_scale": "0,1"}, {}, "sweep.vary.env.reward_scale: reward scales must be"),
        ({"learning_rate": "1e-3,1e-2"}, {"method": "random"}, "sweep.trials: required with"),
        ({"learning_rate": "1e-3,1e-2"}, {"method": "tpe"}, "sweep.trials: required with"),
        ({"learning_rate": "1e-3,1e-2"}, {"trials": 4}, "sweep.trials: grid tries every"),
        ({"learning_rate": "1e-3,1e-2"}, {"algos": ["sac"]}, "sweep.algos: no algo entry 'sac'"),
        ({"activation": "tanh,gelu"}, {}, "activation: Input should be 'tanh', 'relu' or"),
    ],
)
def test_bad_sweeps_are_one_line_errors_naming_the_field(vary, sweep, message):
    with pytest.raises(UserError) as error:
        plan_sweeps(_spec(vary, **sweep), "spec.toml")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_env_parameters_need_a_jax_native_env():
    spec = _spec({"env.length": "0.25,0.5"}, env={"id": "gymnasium:CartPole-v1"})
    with pytest.raises(UserError, match=r"JAX-native .* gymnasium:CartPole-v1 is a Gymnasium"):
        plan_sweeps(spec, "spec.toml")


def test_random_search_draws_from_the_ranges_with_a_fixed_seed():
    from rlcheck.experiment.sweep import ask, make_study

    vary = {"learning_rate": "1e-5:1e-1:3:log", "ent_coef": "0:0.5:2", "update_epochs": "1:9:2"}
    spec = _spec({**vary, "gamma": "0.9,0.99"}, method="random", trials=200)
    (sweep,) = plan_sweeps(spec, "s").sweeps

    def draws():
        study = make_study(sweep)
        return [ask(study, sweep)[1] for _ in range(200)]

    values = draws()
    assert values == draws()  # the sampler seed fixes the draws (a resumed sweep redraws them)
    lr = np.log10([v["learning_rate"] for v in values])
    assert lr.min() >= -5 and lr.max() <= -1
    # Log-uniform: each decade gets about a quarter of the draws (binomial, 200 × 1/4 ± 4σ).
    counts = np.histogram(lr, bins=4, range=(-5, -1))[0]
    assert counts.min() > 50 - 4 * 6.2 and counts.max() < 50 + 4 * 6.2
    ent = np.array([v["ent_coef"] for v in values])
    assert 0 <= ent.min() and ent.max() <= 0.5 and abs(ent.mean() - 0.25) < 0.05
    epochs = {v["update_epochs"] for v in values}
    assert epochs == set(range(1, 10))  # whole numbers from 1 to 9, not just the grid's 1 and 9
    assert {v["gamma"] for v in values} == {0.9, 0.99}


def test_a_drawn_configuration_the_algorithm_rejects_is_not_run(tmp_path):
    class NoTraining:
        """Stands in for the executor: stores nothing, so every score is None."""

        def run(self, items):
            self.items = items
            return []

    entries = [{"name": "dqn", "config": {"distributional": True}}]
    spec = _spec({"v_min": "0:200:2"}, entries, method="random", trials=6, batch=6)
    (sweep,) = plan_sweeps(spec, "s").sweeps
    store, executor = Store(tmp_path), NoTraining()
    ran = run_sweep(sweep, store, executor)
    # v_max is 100: a drawn v_min at or above it is rejected with DQN's own message.
    assert ran["rejected"] and all(r["values"]["v_min"] >= 100 for r in ran["rejected"])
    assert "v_min = " in ran["rejected"][0]["reason"]
    tuning = [m for m in store.sweeps()[0]["units"] if m["role"] == "tuning"]
    assert len(tuning) + len(ran["rejected"]) == 6
    assert all(m["settings"]["v_min"] < 100 for m in tuning)
    assert ran["chosen"] is None  # nothing was stored, so nothing scored
    store.close()
