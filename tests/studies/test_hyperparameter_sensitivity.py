import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rlcheck import stats
from rlcheck.studies import hyperparameter_sensitivity as study
from rlcheck.studies.base import StudyResults
from tests.studies.synthetic import unit


def _sweep(env: str, algo: str, tuning: list[list[float]], chosen=None, default=None, diverged=()):
    """Units and the stored record of one random-search sweep: a tuning unit per configuration
    (its seeds' finals), and the fresh-seed units of the chosen and default configurations."""
    units, members = [], []
    roles = [("tuning", i, finals) for i, finals in enumerate(tuning)]
    roles += [(role, -1, f) for role, f in (("chosen", chosen), ("default", default)) if f]
    for role, trial, finals in roles:
        key = f"{env}-{algo}-{role}-{trial}"
        bad = diverged if (role, trial) == ("tuning", 0) else ()
        u = unit(f"gymnax:{env}", algo, finals, diverged=bad)
        units.append(dataclasses.replace(u, key=key))
        members.append({"unit_key": key, "role": role, "trial": trial, "settings": {}})
    definition = {"env_id": f"gymnax:{env}", "algo": algo, "budget": 100_000}
    return units, {"id": key, "definition": definition, "units": members}


def _results(*swept):
    return StudyResults(Path("."), [u for us, _ in swept for u in us], [s for _, s in swept])


def test_the_share_that_solves_is_a_wilson_interval_over_configurations():
    # Scores (IQM of 4 seeds = mean of the middle two): 490, 480, 300, 500; the first
    # configuration has a diverged seed (−∞): its middle two are 480 and 500 → 490.
    cartpole = _sweep(
        "CartPole-v1",
        "ppo",
        [[500, 480, 500, 480], [480, 480, 480, 480], [300, 300, 300, 300], [500] * 4],
        chosen=[500, 490, 480, 500],
        default=[400, 420, 380, 410],
        diverged=[1],
    )
    finding = study.analyze(_results(cartpole))
    row = finding.numbers["rows"]["CartPole-v1: PPO"]
    assert (row["solved"], row["n"], row["rate"]) == (3, 4, 0.75)
    low, high = stats.wilson_interval(3, 4, 0.95)
    assert (row["low"], row["high"]) == pytest.approx((low, high))
    assert row["best_tuning_score"] == 500.0
    # Fresh seeds: IQM(chosen) = 495, IQM(default) = 405.
    gap = row["gap"]
    assert gap["point"] == pytest.approx(90.0)
    assert (gap["chosen_fresh_iqm"], gap["default_fresh_iqm"]) == pytest.approx((495.0, 405.0))
    assert finding.sentence.startswith(
        "Of randomly drawn configurations, 3/4 (75%, 95% CI 30%–95%) of PPO's on CartPole-v1 "
        "(score ≥ 475 after 100k env steps) solved the task"
    )
    assert "was 90 [95% CI" in finding.sentence and "(the best is better)" in finding.sentence
    (series,) = finding.chart.series
    assert [p.x for p in series.points] == ["CartPole-v1: PPO"]


def test_the_score_of_a_configuration_is_the_iqm_with_diverged_seeds_at_minus_infinity():
    u = unit("gymnax:Acrobot-v1", "ppo", [-80.0, -90.0, -100.0, -70.0], diverged=[0])
    # Seeds −∞, −90, −100, −70: the middle two are −100 and −90.
    assert study.score(u) == pytest.approx(-95.0)


def test_a_gap_whose_interval_holds_zero_is_not_told_apart():
    acrobot = _sweep(
        "Acrobot-v1",
        "ppo",
        [[-90, -95], [-500, -500]],
        chosen=[-90, -150, -80],
        default=[-100, -85, -140],
    )
    finding = study.analyze(_results(acrobot))
    row = finding.numbers["rows"]["Acrobot-v1: PPO"]
    assert (row["solved"], row["n"]) == (1, 2)
    assert "for PPO on Acrobot-v1 (not told apart)" in finding.sentence


def test_a_sweep_whose_every_configuration_diverged_solves_none():
    swept = _sweep("CartPole-v1", "ppo", [[500.0, 500.0]], diverged=[0, 1])
    row = study.analyze(_results(swept)).numbers["rows"]["CartPole-v1: PPO"]
    assert (row["solved"], row["n"], row["best_tuning_score"]) == (0, 1, None)


def test_no_finished_configuration_measures_nothing():
    assert study.analyze(_results()).sentence.startswith("No sweep finished")


def test_specs_quick_and_full():
    quick = study.specs(study.STUDY.scale(quick=True))
    full = study.specs(study.STUDY.scale(quick=False))
    assert [(s["env"][0]["id"], s["algo"][0]["name"]) for s in quick] == [
        ("CartPole-v1", "ppo"),
        ("Acrobot-v1", "ppo"),
    ]
    assert [(s["env"][0]["id"], s["algo"][0]["name"]) for s in full][-1] == ("CartPole-v1", "dqn")
    sweep = quick[0]["sweep"]
    assert (sweep["method"], sweep["trials"], sweep["fresh_seeds"]) == ("random", 16, 4)
    assert full[0]["sweep"]["trials"] == 64 and full[0]["budget"] == 500_000
    assert quick[1]["env"][0]["solve_threshold"] == -100.0
    assert np.isclose(quick[0]["env"][0]["solve_threshold"], 475.0)
