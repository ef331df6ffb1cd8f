"""Every study's specs, quick and full, plan into units as ``rlcheck study run`` would (a spec
with a [sweep] table: its sweeps, each configuration of a grid checked; with an [ablate] table:
every cell)."""

import numpy as np
import pytest

from rlcheck.experiment.ablate import plan_ablations
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.sweep import plan_sweeps
from rlcheck.studies import studies


def _units(spec, name):
    if spec.ablate is not None:
        plan = plan_ablations(spec, name)
        cells = [a.unit(i, a.seeds) for a in plan.ablations for i in range(len(a.cells))]
        return [*plan.units, *cells]
    if spec.sweep is None:
        return plan_units(spec, name)
    plan = plan_sweeps(spec, name)
    return [*plan.units, *(s.default_unit(s.tuning_seeds) for s in plan.sweeps)]


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
@pytest.mark.parametrize("name", list(studies()))
def test_specs_plan_into_units(name, quick):
    study = studies()[name]
    scale = study.scale(quick)
    units = [unit for data in study.specs(scale) for unit in _units(parse_spec(data, name), name)]
    assert units
    assert all(
        len(u.seeds) == scale.seeds for u in units if u.env.id.startswith("gymnasium:") is False
    )
    # Every unit evaluates at checkpoints strictly after one another (the report needs it).
    for unit in units:
        assert np.all(np.diff(unit.schedule.checkpoint_env_steps) > 0)
