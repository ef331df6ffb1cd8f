import math

import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.ablate import (
    CODE_LEVEL,
    cells,
    pick_learning_rate,
    plan_ablations,
    programs,
    run_ablation,
)
from rlcheck.experiment.execute import Executor
from rlcheck.experiment.plan import UnitGroup
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store
from rlcheck.experiment.sweep import FRESH_SEED_OFFSET

# The shapes of tests/helpers/cli.py's TINY_PPO, so the tests share the compiled programs.
TINY = {"num_envs": 2, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1}


def _spec(seeds=2, budget=320, entries=None, **ablate):
    return parse_spec(
        {
            "seeds": seeds,
            "budget": budget,
            "eval": {"checkpoints": 2, "episodes": 2, "final_episodes": 2},
            "env": [{"id": "CartPole-v1"}],
            "algo": entries or [{"name": "ppo", "config": TINY}],
            "ablate": ablate,
        },
        "spec.toml",
    )


def test_a_factorial_has_every_cell_once_and_one_at_a_time_each_field_off_alone():
    names = ["a", "b", "c"]
    factorial = cells(names, "factorial")
    assert len(factorial) == 8 == len({frozenset(c) for c in factorial})
    assert factorial[0] == () and factorial[-1] == ("a", "b", "c")
    assert cells(names, "one-at-a-time") == [(), ("a",), ("b",), ("c",)]


def test_default_fields_map_engstroms_optimizations_to_ppo_fields_and_off_values():
    (ablation,) = plan_ablations(_spec(), "s").ablations
    toggles = {t.name: (t.on, t.off) for t in ablation.toggles}
    assert tuple(toggles) == CODE_LEVEL
    assert toggles["weight_init"] == ("orthogonal", "lecun")
    assert toggles["activation"] == ("tanh", "relu")
    assert toggles["max_grad_norm"] == (0.5, math.inf)
    assert toggles["normalize_reward"] == (True, False)
    # One-at-a-time: all on, then each of the eight off alone.
    assert len(ablation.cells) == 9
    reference = ablation.unit(0, ablation.seeds).config
    assert reference["normalize_reward"] and reference["normalize_obs"]
    off = ablation.unit(CODE_LEVEL.index("max_grad_norm") + 1, ablation.seeds).config
    assert off["max_grad_norm"] == math.inf and off["clip_vloss"]


def test_tuning_and_reported_seeds_are_disjoint_with_an_lr_grid():
    (ablation,) = plan_ablations(
        _spec(seeds=[0, 5, 9], lr_grid="1e-3,1e-2", fresh_seeds=3), "s"
    ).ablations
    assert ablation.tuning_seeds == (0, 5, 9)
    assert ablation.seeds == (FRESH_SEED_OFFSET, FRESH_SEED_OFFSET + 1, FRESH_SEED_OFFSET + 2)
    assert not set(ablation.seeds) & set(ablation.tuning_seeds)
    (plain,) = plan_ablations(_spec(seeds=3), "s").ablations
    # Without a grid nothing is tuned: the cells are reported on the spec's seeds.
    assert plain.tuning_seeds == () and plain.seeds == (0, 1, 2)


def test_a_cells_learning_rates_and_traced_toggles_share_a_program():
    spec = _spec(fields=["clip_vloss", "max_grad_norm"], design="factorial", lr_grid="1e-3,1e-2")
    (ablation,) = plan_ablations(spec, "s").ablations
    units = [
        ablation.unit(i, ablation.tuning_seeds, rate, tuning=True)
        for i in range(len(ablation.cells))
        for rate in ablation.learning_rates
    ]
    planned = programs(units, batch=16)
    # clip_vloss is static (two programs); max_grad_norm and the learning rate are traced.
    assert [len(p.units) for p in planned] == [4, 4]
    assert {u.config["clip_vloss"] for u in planned[0].units} == {True}
    assert [len(p.units) if isinstance(p, UnitGroup) else 1 for p in programs(units, 3)] == [
        3,
        1,
        3,
        1,
    ]
    assert len({u.key for u in units}) == 8


def test_the_best_learning_rate_is_picked_and_ties_go_to_the_first():
    rates = (1e-4, 1e-3, 1e-2)
    assert pick_learning_rate([1.0, 3.0, 2.0], rates) == 1e-3
    assert pick_learning_rate([None, 2.0, 2.0], rates) == 1e-3
    assert pick_learning_rate([-math.inf, None, -math.inf], rates) == 1e-4
    assert pick_learning_rate([None, None, None], rates) is None


@pytest.mark.parametrize(
    ("ablate", "message"),
    [
        ({"fields": ["clip_vlos"]}, "ablate.fields: ppo has no config field 'clip_vlos'; did you"),
        ({"fields": ["gamma"]}, "ablate.fields: gamma is not a toggle"),
        ({"fields": ["norm_adv", "norm_adv"]}, "ablate.fields: norm_adv is given twice"),
        ({"lr_grid": "0:1e-2:4"}, "ablate.lr_grid: learning rates must be above 0"),
        ({"lr_grid": "-1e-3,1e-3"}, "ablate.lr_grid: learning rates must be above 0"),
        ({"lr_grid": "0:1e-2:4:log"}, "ablate.lr_grid: a log range needs bounds above 0"),
        ({"lr_grid": "1e-3", "fresh_seeds": 0}, "ablate.fresh_seeds: an lr grid picks"),
        ({"algos": ["dqn"]}, "ablate.algos: no algo entry 'dqn'"),
    ],
)
def test_bad_ablations_are_one_line_errors_naming_the_field(ablate, message):
    with pytest.raises(UserError, match=None) as error:
        plan_ablations(_spec(**ablate), "spec.toml")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_bad_lr_grid_type_is_one_line():
    with pytest.raises(UserError) as error:
        _spec(lr_grid=[1e-3, "x"])
    assert str(error.value) == (
        'spec.toml: ablate.lr_grid: must be text ("1e-4:1e-2:4:log", "a,b,c"), a number or a '
        "list of numbers"
    )


def test_other_algorithms_name_their_toggles():
    entries = [{"name": "dqn"}]
    with pytest.raises(UserError, match=r"ablate\.fields: the default toggles are PPO's"):
        plan_ablations(_spec(entries=entries), "spec.toml")
    (ablation,) = plan_ablations(_spec(entries=entries, fields=["double_q"]), "s").ablations
    assert [(t.name, t.on, t.off) for t in ablation.toggles] == [("double_q", True, False)]


def test_a_toggle_already_off_in_the_entry_is_refused():
    entries = [{"name": "ppo", "config": {**TINY, "max_grad_norm": math.inf}}]
    with pytest.raises(UserError, match="max_grad_norm is already off"):
        plan_ablations(_spec(entries=entries, fields=["max_grad_norm"]), "spec.toml")


def test_an_ablation_runs_each_cell_once_and_resumes_without_training(tmp_path, monkeypatch):
    # One tuning seed × 2 cells × 2 learning rates and 2 cells × 2 fresh seeds: both programs
    # have 4 rows, as the sweep and CLI tests' (one compilation, cached).
    spec = _spec(
        seeds=1, fields=["max_grad_norm"], design="factorial", lr_grid="1e-3,1e-2", fresh_seeds=2
    )
    (ablation,) = plan_ablations(spec, "spec.toml").ablations
    store = Store(tmp_path)
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        ran = run_ablation(ablation, store, executor)
    assert ran["programs"] == 2  # the tuning program, then the cells on the fresh seeds
    assert {o.status for o in ran["tuning"] + ran["cells"]} == {"done"}
    (stored,) = store.sweeps()
    assert stored["definition"]["kind"] == "ablation"
    members = stored["units"]
    cell_rows = [m for m in members if m["role"] == "cell"]
    assert sorted(m["settings"]["cell"] for m in cell_rows) == [0, 1]
    tuning = [m for m in members if m["role"] == "tuning"]
    assert sorted((m["settings"]["cell"], m["settings"]["learning_rate"]) for m in tuning) == [
        (0, 1e-3),
        (0, 1e-2),
        (1, 1e-3),
        (1, 1e-2),
    ]
    units = {u["key"]: u for u in store.units()}
    assert all(units[m["unit_key"]]["seeds"] == [0] for m in tuning)
    for m in cell_rows:
        unit = units[m["unit_key"]]
        assert unit["seeds"] == [FRESH_SEED_OFFSET, FRESH_SEED_OFFSET + 1]
        assert unit["config"]["learning_rate"] == m["settings"]["learning_rate"]
        off = "max_grad_norm" in m["settings"]["off"]
        assert unit["config"]["max_grad_norm"] == (math.inf if off else 0.5)
        # The reported learning rate is the cell's best on the tuning seed.
        scores = {
            t["settings"]["learning_rate"]: store.seed_rows(t["unit_key"])[0][2]
            for t in tuning
            if t["settings"]["cell"] == m["settings"]["cell"]
        }
        assert m["settings"]["learning_rate"] == max(scores, key=lambda r: (scores[r], -r))
    assert ran["learning_rates"] == [m["settings"]["learning_rate"] for m in cell_rows]

    from rlcheck.experiment import execute

    def refuse(*args, **kwargs):
        raise AssertionError("a stored cell was trained again")

    monkeypatch.setattr(execute, "train_rows", refuse)
    monkeypatch.setattr(execute, "train_seeds", refuse)
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        again = run_ablation(ablation, store, executor)
    assert {o.status for o in again["tuning"] + again["cells"]} == {"stored"}
    assert again["learning_rates"] == ran["learning_rates"]
    store.close()
