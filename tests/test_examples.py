"""Every shipped example spec parses and plans (each configuration of a sweep included),
without training."""

from pathlib import Path

import numpy as np
import pytest

from rlcheck.experiment.ablate import plan_ablations
from rlcheck.experiment.generalization import check_training_values, training_condition
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.robustness import check_units, request_from_spec
from rlcheck.experiment.spec import load_spec
from rlcheck.experiment.sweep import grid, plan_sweeps

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.toml"))


def test_the_examples_are_there():
    names = {p.name for p in EXAMPLES}
    assert {
        "ppo-lr-entropy-cartpole.toml",
        "reward-scale-pendulum.toml",
        "generalization-cartpole.toml",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_example_spec_plans(path):
    spec = load_spec(path)
    if spec.ablate is not None:
        (ablation,) = plan_ablations(spec, str(path)).ablations
        assert len(ablation.cells) == 16 and len(ablation.learning_rates) == 4
        assert not set(ablation.seeds) & set(ablation.tuning_seeds)
        return
    if spec.sweep is None:
        assert plan_units(spec, str(path))
        return
    plan = plan_sweeps(spec, str(path))
    for sweep in plan.sweeps:
        configs = grid(sweep.parameters)
        assert len(configs) > 1
        assert not set(sweep.fresh_seeds) & set(sweep.tuning_seeds)
    if path.name == "reward-scale-pendulum.toml":
        assert [s.algo.display for s in plan.sweeps] == ["ppo", "ppo-raw", "sac"]
        assert [u.algo.name for u in plan.units] == ["random"]
    if path.name == "ppo-lr-entropy-cartpole.toml":
        (sweep,) = plan.sweeps
        assert len(grid(sweep.parameters)) == 32


def test_the_generalization_example_trains_four_ways_and_tests_on_the_lengths_grid():
    path = next(p for p in EXAMPLES if p.name == "generalization-cartpole.toml")
    spec = load_spec(path)
    units = plan_units(spec, str(path))
    conditions = [
        training_condition("length", u.env.params, u.env.randomize, 0.5).describe("length")
        for u in units
    ]
    assert conditions == [
        "length = 0.5 (default)",
        "length = 0.05",
        "length = 2",
        "length ~ U[0.05, 2]",
    ]
    assert {u.algo.name for u in units} == {"ppo"} and spec.budget >= 500_000
    request = request_from_spec(spec.robustness, str(path))
    assert len(request.values) == 40 and min(request.values) == 0.05
    for value in (0.05, 0.5, 2.0):
        assert np.isclose(request.values, value).any()
    check_units(request, units, str(path))
    check_training_values(request, units, str(path))
