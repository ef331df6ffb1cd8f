"""Training and test ranges of a generalization study: conditions, the check before training,
and real units (the random policy, cheap to compile) trained three ways and evaluated."""

import json

import numpy as np
import pytest

from rlcheck.cli import main
from rlcheck.experiment.generalization import TrainingCondition, training_condition
from rlcheck.experiment.robustness import request_from_spec, run_robustness
from rlcheck.experiment.spec import RobustnessSpec
from rlcheck.experiment.store import Store
from rlcheck.report.html import write_report
from tests.helpers.trained import train

RANDOM = '[[algo]]\nname = "random"\n[algo.config]\nnum_envs = 2\nnum_steps = 16\n'


LENGTHS = "0.05,0.5,2.0"


def _spec(envs: str, vary: str = LENGTHS, episodes: int = 2) -> str:
    return (
        "seeds = 2\nbudget = 320\nworkers = 1\n[eval]\ncheckpoints = 2\nepisodes = 2\n"
        f"final_episodes = {episodes}\n{envs}{RANDOM}"
        f'[robustness]\nvary = {{ length = "{vary}" }}\nepisodes = {episodes}\n'
    )


def _env(label: str, extra: str = "") -> str:
    return f'[[env]]\nid = "CartPole-v1"\nlabel = "{label}"\n{extra}'


def test_conditions_and_their_ranges():
    assert training_condition("length", {}, {}, 0.5) == TrainingCondition("default", 0.5, 0.5)
    fixed = training_condition("length", {"length": 2.0, "masspole": 0.2}, {}, 0.5)
    assert fixed == TrainingCondition("fixed", 2.0, 2.0)
    # A randomized range wins over a fixed value of the same field (it replaces it per episode).
    randomized = training_condition("length", {"length": 2.0}, {"length": [0.1, 1.0]}, 0.5)
    assert randomized == TrainingCondition("randomized", 0.1, 1.0)
    grid = np.linspace(0.05, 2.0, 40)  # 0.5 only to float rounding
    assert np.flatnonzero(TrainingCondition("default", 0.5, 0.5).contains(grid)).tolist() == [9]
    inside = randomized.contains(grid)
    assert grid[inside].min() == pytest.approx(0.1) and grid[inside].max() == pytest.approx(1.0)
    assert inside.sum() == 19  # 0.10, 0.15, …, 1.00: bounds included


@pytest.mark.parametrize(
    ("envs", "vary", "expected"),
    [
        (
            _env("short", "params = { length = 0.07 }\n") + _env("default"),
            LENGTHS,
            "robustness: vary length: the values hold not 0.07, the value env 'short' trains at "
            "(params.length); its generalization gap needs its training value on the grid",
        ),
        (
            _env("dr", "randomize = { length = [0.6, 0.9] }\n") + _env("default"),
            LENGTHS,
            "the values hold no value in [0.6, 0.9], the range env 'dr' trains at "
            "(randomize.length)",
        ),
        (
            _env("long", "params = { length = 2.0 }\n") + _env("default"),
            "0.05:2.0:32",  # misses 0.5
            "the values hold not 0.5, the value env 'default' trains at (its default)",
        ),
    ],
)
def test_a_grid_missing_a_training_value_exits_2_before_training(
    tmp_path, capsys, envs, vary, expected
):
    spec = tmp_path / "spec.toml"
    spec.write_text(_spec(envs, vary))
    out = tmp_path / "out"
    code = main(["run", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expected in err, err
    assert not out.exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Random policies trained at the default length, at 2.0 and randomized over [0.05, 2.0],
    then evaluated at three lengths and reported (in this process; the command line's own
    wiring is main's, and its check before training is tested above)."""
    random = {"name": "random", "config": {"num_envs": 2, "num_steps": 16}}
    spec = {
        "seeds": [0, 1],
        "budget": 320,
        "eval": {"checkpoints": 2, "episodes": 2, "final_episodes": 4},
        "env": [
            {"id": "CartPole-v1", "label": "default"},
            {"id": "CartPole-v1", "label": "long", "params": {"length": 2.0}},
            {"id": "CartPole-v1", "label": "dr", "randomize": {"length": [0.05, 2.0]}},
        ],
        "algo": [random],
    }
    directory = train(tmp_path_factory.mktemp("generalization"), spec)
    store = Store(directory)
    try:
        request = request_from_spec(RobustnessSpec(vary={"length": LENGTHS}, episodes=4), "t")
        assert [o.status for o in run_robustness(store, request, "t")] == ["done"] * 3
    finally:
        store.close()
    write_report(directory)
    return directory


def test_a_unit_trained_at_changed_params_is_evaluated_from_them(trained):
    store = Store(trained, create=False)
    try:
        units = {u["env_label"]: u for u in store.units()}
        assert units["long"]["meta"]["env_params"] == {"length": 2.0}
        assert units["dr"]["meta"]["env_randomize"] == {"length": [0.05, 2.0]}
        rows = {r["unit_key"]: r for r in store.robustness()}
        long = rows[units["long"]["key"]]
        assert long["spec"]["training_value"] == 2.0
        # At its own length each seed replays its final evaluation: the policy was rebuilt with
        # the env it trained on (the other lengths change only the length).
        finals = np.stack(
            [store.array(long["unit_key"], s, "final_episode_returns") for s in long["seeds"]]
        )
        np.testing.assert_array_equal(long["returns"][:, 2], finals)
        assert rows[units["default"]["key"]]["spec"]["training_value"] == 0.5
        assert "training_range" not in rows[units["default"]["key"]]["spec"]
        assert rows[units["dr"]["key"]]["spec"]["training_range"] == [0.05, 2.0]
    finally:
        store.close()


def test_the_run_reports_generalization(trained):
    summary = json.loads((trained / "summary.json").read_text())
    (study,) = summary["generalization"]
    (group,) = study["groups"]
    assert [u["env"] for u in group["units"]] == ["default", "long", "dr"]
    assert [u["train_values"] for u in group["units"]] == [[0.5], [2.0], [0.05, 0.5, 2.0]]
    for unit in group["units"][:2]:
        gap = unit["gap"]
        assert gap["low"] <= gap["point"] <= gap["high"] and gap["n"] == 2
    assert [c["versus_training"] for c in group["randomization"]] == [
        "length = 0.5 (default)",
        "length = 2",
    ]
    assert 'id="generalization"' in (trained / "report.html").read_text()
    # Robustness has no one training value to show for the randomized unit.
    (robustness,) = summary["robustness"]
    dr = next(e for e in robustness["envs"] if e["env"] == "dr")
    assert dr["training_range"] == [0.05, 2.0]
    assert dr["algos"][0]["at_training_value"] is None
    assert "drawn from [0.05, 2]" in dr["algos"][0]["at_training_value_reason"]
