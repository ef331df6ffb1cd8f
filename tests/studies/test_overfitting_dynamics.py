import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rlcheck.experiment.generalization import check_training_values
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.robustness import request_from_spec
from rlcheck.experiment.spec import parse_spec
from rlcheck.studies import overfitting_dynamics as study
from rlcheck.studies.base import StudyResults
from tests.studies.synthetic import unit

ENV = "gymnax:CartPole-v1"
VALUES = [0.05, 0.5, 2.0]


def _evaluated(key: str, returns: list[list[float]], params=None, randomize=None):
    """A unit and its robustness row: seed i's mean return at each of VALUES is returns[i]."""
    u = dataclasses.replace(
        unit(ENV, "ppo", [r[1] for r in returns], label="PPO"),
        key=key,
        params=params or {},
        randomize=randomize or {},
    )
    per_value = np.asarray(returns, float)[:, :, None].repeat(2, axis=2)  # 2 equal episodes
    row = {
        "request": "r",
        "unit_key": key,
        "spec": {"vary": "length", "values": VALUES, "training_value": 0.5},
        "seeds": list(range(len(returns))),
        "returns": per_value,
    }
    return u, row


def _results(*evaluated):
    return StudyResults(Path("."), [u for u, _ in evaluated], robustness=[r for _, r in evaluated])


# Trained at 0.5: 500, 480, 490, 470 there (IQM of 4: the middle two, 485); on 0.05 and 2.0 each
# seed's mean is exactly 400 less (100, 80, 90, 70: IQM 85), so the paired gap is 400 [400, 400].
DEFAULT = [[50, 500, 150], [60, 480, 100], [90, 490, 90], [40, 470, 100]]


def test_the_gap_the_randomized_policy_and_the_sentence():
    # Randomized: 300, 310, 320, 330 on the default policy's test range (IQM 315): 230 more
    # than the default policy there, 170 below its own-length return (every resample > 0).
    randomized = [[300 + 10 * i, 100, 300 + 10 * i] for i in range(4)]
    finding = study.analyze(
        _results(
            _evaluated("default", DEFAULT),
            _evaluated("at-0.05", [[400, 50, 20]] * 4, params={"length": 0.05}),
            _evaluated("at-2", [[20, 60, 450]] * 4, params={"length": 2.0}),
            _evaluated("dr", randomized, randomize={"length": [0.05, 2.0]}),
        )
    )
    default = finding.numbers["rows"]["length = 0.5 (default)"]
    assert default["train_return"][0] == pytest.approx(485.0)
    assert default["test_return"][0] == pytest.approx(85.0)
    assert default["gap"] == pytest.approx((400.0, 400.0, 400.0))
    r = finding.numbers["randomization"]
    assert r["randomized_on_test_range"][0] == pytest.approx(315.0)
    assert r["versus_default_on_test_range"][0] == pytest.approx(230.0)
    assert r["versus_default_on_test_range"][1] > 0
    assert r["remaining_gap"][0] == pytest.approx(170.0) and r["remaining_gap"][1] > 0
    assert r["verdict"] == study.NARROWS
    # The randomized unit trained on the whole grid: nothing to test it on, so no gap.
    assert "gap" not in finding.numbers["rows"]["length ~ U[0.05, 2]"]
    assert finding.sentence.startswith(
        "On CartPole-v1, PPO trained at pole half-length 0.5 returned 485 [95% CI"
    )
    assert "a generalization gap of 400 [95% CI 400, 400]" in finding.sentence
    assert "randomization narrows it but does not close it." in finding.sentence
    # One line per policy over the lengths, and the specialists each at their own length.
    names = [s.name for s in finding.chart.series]
    assert names == [
        "trained at length = 0.5 (default)",
        "trained at length ~ U[0.05, 2]",
        "trained at each length, played there",
    ]
    specialists = finding.chart.series[-1].points
    assert [(p.x, p.point) for p in specialists] == [(0.05, 400.0), (0.5, 485.0), (2.0, 450.0)]
    assert finding.numbers["trained_there"]["2"] == pytest.approx((450.0, 450.0, 450.0))


def test_randomization_that_reaches_the_default_return_closes_the_gap():
    randomized = [[480, 100, 480], [490, 100, 490], [500, 100, 500], [470, 100, 470]]
    finding = study.analyze(
        _results(
            _evaluated("default", DEFAULT),
            _evaluated("dr", randomized, randomize={"length": [0.05, 2.0]}),
        )
    )
    assert finding.numbers["randomization"]["verdict"] == study.CLOSES
    assert finding.sentence.endswith("randomization closes it.")


def test_no_gap_and_no_help_from_randomization_say_they_disagree_with_the_texts():
    flat = [[480, 500, 480], [470, 480, 470], [490, 490, 490], [460, 470, 460]]
    randomized = [[400, 400, 400], [410, 410, 410], [420, 420, 420], [430, 430, 430]]
    finding = study.analyze(
        _results(
            _evaluated("default", flat),
            _evaluated("dr", randomized, randomize={"length": [0.05, 2.0]}),
        )
    )
    # Gaps per seed 20, 10, 0, 10: paired IQM difference 485 − 475 = 10, its CI reaching 0.
    gap = finding.numbers["rows"]["length = 0.5 (default)"]["gap"]
    assert gap[0] == pytest.approx(10.0) and gap[1] <= 0
    assert "(not shown above 0, unlike the texts' claim)" in finding.sentence
    assert finding.sentence.endswith("randomization had no gap to close.")


def test_the_verdict_rule():
    assert study.verdict((10, -1, 20), (5, 1, 9), (1, -1, 3)) == study.NO_GAP
    assert study.verdict((10, 1, 20), (5, -1, 9), (1, -1, 3)) == study.DOES_NOT_NARROW
    assert study.verdict((10, 1, 20), (5, 1, 9), (1, 0.5, 3)) == study.NARROWS
    assert study.verdict((10, 1, 20), (5, 1, 9), (1, -1, 3)) == study.CLOSES


def test_without_robustness_rows_nothing_is_measured():
    finding = study.analyze(StudyResults(Path("."), [unit(ENV, "ppo", [500.0, 480.0])]))
    assert finding.sentence.startswith("No policy trained at the default pole length")


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_specs_train_at_each_length_and_randomized_with_every_length_on_the_grid(quick):
    scale = study.STUDY.scale(quick)
    (data,) = study.specs(scale)
    lengths = study.QUICK_LENGTHS if quick else study.LENGTHS
    envs = data["env"]
    assert [e.get("params", {}).get("length", 0.5) for e in envs[:-1]] == list(lengths)
    assert "params" not in envs[lengths.index(0.5)]
    assert envs[-1]["randomize"] == {"length": [0.05, 2.0]}
    assert data["budget"] == (100_000 if quick else 500_000)
    spec = parse_spec(data, "study")
    request = request_from_spec(spec.robustness, "study")
    assert len(request.values) == (5 if quick else 40)
    # Every training length lies on the grid (else no gap could be measured).
    check_training_values(request, plan_units(spec, "study"), "study")
