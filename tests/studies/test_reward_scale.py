import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rlcheck import stats
from rlcheck.studies import reward_scale as study
from rlcheck.studies.base import StudyResults
from tests.studies.synthetic import unit

ENV = "gymnax:Pendulum-v1"


def _swept(label: str, finals_by_scale: dict[float, list[float]]):
    """Units of one algorithm's reward-scale sweep and the sweep's stored record."""
    units, members = [], []
    for i, (scale, finals) in enumerate(finals_by_scale.items()):
        key = f"{label}-{i}"
        units.append(dataclasses.replace(unit(ENV, "ppo", finals, label=label), key=key))
        members.append(
            {"unit_key": key, "role": "tuning", "trial": i, "settings": {study.REWARD_SCALE: scale}}
        )
    sweep = {"id": label, "definition": {"algo_label": label}, "units": members}
    return units, sweep


def _results(*swept):
    units = [u for us, _ in swept for u in us]
    return StudyResults(Path("."), units, [s for _, s in swept])


def test_the_cost_of_the_worst_scale_and_the_sentence():
    norm = _swept(study.PPO_NORM, {0.01: [-200, -210], 1.0: [-190, -200], 100.0: [-220, -240]})
    raw = _swept(study.PPO_RAW, {0.01: [-200, -202], 1.0: [-195, -205], 100.0: [-1300, -1320]})
    finding = study.analyze(_results(norm, raw))
    rows = finding.numbers["rows"]
    # With normalization: means −205, −195, −230; the worst is × 100, 35 below scale 1.
    cost = rows[study.PPO_NORM]["cost"]
    assert cost["worst_scale"] == 100.0 and cost["point"] == pytest.approx(35.0)
    expected = stats.mean_difference_interval(
        np.array([-190.0, -200.0]), np.array([-220.0, -240.0]), 20_000, 0.95, 0
    )
    assert (cost["low"], cost["high"]) == pytest.approx((expected.low, expected.high))
    assert rows[study.PPO_RAW]["cost"]["point"] == pytest.approx(1110.0)
    assert rows[study.PPO_NORM]["final_return"]["0.01"]["interval"][0] == pytest.approx(-205.0)
    assert finding.sentence.startswith(
        "On Pendulum-v1, with the reward multiplied by 0.01 to 100, the mean final return"
    )
    assert "PPO, no reward normalization 1,110 [95% CI" in finding.sentence
    assert "reward normalization made PPO less sensitive to the scale" in finding.sentence
    chart = finding.chart
    assert chart.categories == ["reward × 0.01", "reward × 1", "reward × 100"]
    assert [s.name for s in chart.series] == [study.PPO_NORM, study.PPO_RAW]


def test_overlapping_costs_are_not_told_apart():
    norm = _swept(study.PPO_NORM, {1.0: [-190, -260, -200], 100.0: [-230, -200, -300]})
    raw = _swept(study.PPO_RAW, {1.0: [-195, -250, -205], 100.0: [-240, -210, -290]})
    finding = study.analyze(_results(norm, raw))
    assert "could not be told apart here" in finding.sentence


def test_scale_one_as_the_worst_costs_nothing():
    finding = study.analyze(_results(_swept("TD3", {0.1: [-150, -160], 1.0: [-200, -210]})))
    assert finding.numbers["rows"]["TD3"]["cost"]["point"] == 0.0
    assert "TD3 nothing (scale 1 was its worst)" in finding.sentence


def test_without_scale_one_nothing_is_measured():
    finding = study.analyze(_results(_swept("TD3", {0.01: [-200, -300]})))
    assert finding.sentence.startswith("No algorithm finished at scale 1")


def test_specs_quick_and_full():
    quick = study.specs(study.STUDY.scale(quick=True))
    full = study.specs(study.STUDY.scale(quick=False))
    assert quick[0]["sweep"]["vary"] == {"env.reward_scale": [0.01, 1.0, 100.0]}
    assert full[0]["sweep"]["vary"] == {"env.reward_scale": [0.01, 0.1, 1.0, 10.0, 100.0]}
    assert quick[0]["sweep"]["fresh_seeds"] == 0
    assert [a["label"] for a in full[0]["algo"]] == [study.PPO_NORM, study.PPO_RAW]
    assert [a["config"]["normalize_reward"] for a in full[0]["algo"]] == [True, False]
    assert [a["label"] for a in quick[1]["algo"]] == ["TD3"]
    assert [a["label"] for a in full[1]["algo"]] == ["TD3", "SAC"]
    assert (full[0]["budget"], full[1]["budget"]) == (100_000, 20_000)
    assert (quick[0]["seeds"], full[0]["seeds"]) == (3, 10)
