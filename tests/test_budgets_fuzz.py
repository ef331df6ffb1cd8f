"""Small and odd budgets never crash: every algorithm and baseline on CartPole-v1 and Pendulum-v1,
with steps, checkpoints, seeds and evaluation episodes drawn from a fixed-seed sample, is either
planned into checkpoints at strictly increasing env steps or refused in one line; `rlcheck quick`
on a sample of them ends with exit 0 and a valid report, or exit 2 and one line.

Training costs a compilation (5–15 s) per case, so CI runs `rlcheck quick` on a fixed-seed
shuffle of the (algorithm, env) pairs until it has trained on a few; ``RLCHECK_FUZZ_ALL=1`` runs
it on every pair.
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3

import numpy as np
import pytest

from rlcheck import envs
from rlcheck.cli import main
from rlcheck.errors import UserError
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.registry import ALGORITHMS, action_space_kind

ENVS = ("CartPole-v1", "Pendulum-v1")
SEED = 14
PLANS_PER_PAIR = 12
# Cases `rlcheck quick` trains in CI (those it refuses cost no training): about a minute of
# one core.
QUICK_TRAINED = 3
# Issue 14's first report: 20 checkpoints 250 steps apart, 512 steps per update (a traceback).
ISSUE_14 = {"steps": 5000, "checkpoints": 20, "seeds": 4, "eval_episodes": 8}
PAIRS = [
    (algo, env)
    for env in ENVS
    for algo, info in ALGORITHMS.items()
    if action_space_kind(envs.make(env).spec) in info.action_spaces
]


def _draw(rng: random.Random) -> dict[str, int]:
    """Steps log-uniform in [1, 20,000] (so most are small, and half of them odd), checkpoints
    in [1, 50], seeds in [1, 5], evaluation episodes in [1, 4]."""
    return {
        "steps": round(10 ** rng.uniform(0, math.log10(20_000))),
        "checkpoints": rng.randint(1, 50),
        "seeds": rng.randint(1, 5),
        "eval_episodes": rng.randint(1, 4),
    }


@pytest.mark.parametrize(("algo", "env"), PAIRS, ids=[f"{a}-{e}" for a, e in PAIRS])
def test_small_budgets_are_planned_without_repeated_checkpoints_or_refused(algo, env):
    rng = random.Random(f"{SEED}-{algo}-{env}")
    for _ in range(PLANS_PER_PAIR):
        draw = _draw(rng)
        data = {
            "seeds": draw["seeds"],
            "budget": draw["steps"],
            "eval": {"checkpoints": draw["checkpoints"], "episodes": draw["eval_episodes"]},
            "env": [{"id": env}],
            "algo": [{"name": algo}],
        }
        try:
            (unit,) = plan_units(parse_spec(data, "fuzz"), "fuzz")
        except UserError as e:
            assert "\n" not in str(e), draw
            continue
        schedule = unit.schedule
        assert np.all(np.diff(schedule.checkpoint_env_steps) > 0), draw
        assert np.all(np.diff(schedule.grid) > 0) and schedule.grid[-1] == draw["steps"], draw
        assert unit.checkpoints == len(schedule.grid) <= draw["checkpoints"], draw
        merged = unit.checkpoints < draw["checkpoints"]
        planner = ALGORITHMS[algo].kind == "planner"
        assert (unit.note is not None) == (merged and not planner), draw


@pytest.mark.slow
def test_quick_at_small_budgets_reports_or_refuses_in_one_line(capsys, tmp_path):
    rng = random.Random(SEED)
    cases = [(algo, env, _draw(rng)) for algo, env in PAIRS]
    every = os.environ.get("RLCHECK_FUZZ_ALL") == "1"
    if not every:
        rng.shuffle(cases)
    assert _quick(capsys, tmp_path / "issue", "random", "CartPole-v1", ISSUE_14) == 0
    trained = 0
    for i, (algo, env, draw) in enumerate(cases):
        if trained == QUICK_TRAINED and not every:
            break
        trained += _quick(capsys, tmp_path / str(i), algo, env, draw) == 0
    assert every or trained == QUICK_TRAINED


def _quick(capsys, out, algo, env, draw) -> int:
    """Runs ``rlcheck quick`` on one case and checks how it ended; returns its exit code."""
    args = ["quick", env, "--algos", algo, "--out", str(out), "--workers", "0"]
    for name, value in draw.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    case = " ".join(args)
    code = main(args)
    err = capsys.readouterr().err
    assert code in (0, 2), f"{case}: exit {code}: {err}"
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("rlcheck"), f"{case}: {err}"
        assert not out.exists(), case
        return code
    assert (out / "report.html").stat().st_size > 0, case

    def reject(constant):
        raise ValueError(f"{case}: summary.json holds {constant}")

    summary = json.loads((out / "summary.json").read_text(), parse_constant=reject)
    (result,) = summary["envs"][0]["algos"]
    assert result["seeds"] == draw["seeds"], case
    db = sqlite3.connect(out / "results.sqlite")
    evals = db.execute("SELECT seed, step FROM scalars WHERE metric = 'eval_return'").fetchall()
    db.close()
    curve = result["curve"]
    if curve is None:  # planners: evaluated once, at the end
        assert evals == [], case
        return code
    steps = curve["env_steps"]
    assert np.all(np.diff(steps) > 0) and len(steps) <= draw["checkpoints"], case
    assert len(evals) == draw["seeds"] * len(steps), case
    return code
