"""The generalization gap and domain randomization's verdict, by hand on synthetic stored
robustness returns; the section and the heatmap in the report and summary.json."""

import io
import json

import numpy as np
import pytest
from rich.console import Console

from rlcheck.report.generalization import (
    CLOSES,
    DOES_NOT_NARROW,
    NARROWS,
    NO_GAP,
    NO_TEST,
    _verdict,
)
from rlcheck.report.html import write_report
from rlcheck.report.summary_terminal import print_summary
from tests.report.synthetic import open_store, write_unit

ENV = "CartPole-v1"
LENGTHS = [0.05, 0.5, 1.0, 2.0]
SEEDS = 8
# Seed s of each unit returns BASE + s at each length (the same in both of its episodes), so
# every gap is the same for every seed and each IQM is BASE + 3.5 (seeds 2…5 of 0…7).
UNITS = {
    # env label: (meta, training value stored by robustness, BASE at each length)
    "L=0.5": ({}, 0.5, [40.0, 400.0, 300.0, 110.0]),
    "L=0.05": ({"env_params": {"length": 0.05}}, 0.05, [400.0, 200.0, 100.0, 60.0]),
    # Generalizes: its test range (mean 400) is as good as its training value.
    "L=2": ({"env_params": {"length": 2.0}}, 2.0, [395.0, 400.0, 405.0, 400.0]),
    "DR": ({"env_randomize": {"length": [0.05, 2.0]}}, 0.5, [410.0, 300.0, 400.0, 400.0]),
}


def _robustness_spec(training_value: float) -> dict:
    return {
        "vary": "length",
        "values": LENGTHS,
        "log": False,
        "episodes": 2,
        "obs_noise": 0.0,
        "action_noise": 0.0,
        "action_delay": 0,
        "seed": None,
        "training_value": training_value,
    }


def _write(directory, units=UNITS):
    store, run_id = open_store(directory)
    seeds = np.arange(SEEDS)
    for label, (meta, training_value, base) in units.items():
        write_unit(store, run_id, ENV, "ppo", 400.0 + seeds, env_label=label, meta=meta)
        returns = np.repeat((np.array(base)[None, :] + seeds[:, None])[:, :, None], 2, axis=2)
        store.write_robustness(
            "request",
            f"{label}/ppo",
            _robustness_spec(training_value),
            seeds.tolist(),
            returns,
            0.1,
        )
    store.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("generalization")
    _write(directory)
    html, summary = write_report(directory)
    return html.read_text(), json.loads(summary.read_text())


@pytest.fixture(scope="module")
def group(report):
    (study,) = report[1]["generalization"]
    assert (study["vary"], study["values"]) == ("length", LENGTHS)
    (group,) = study["groups"]
    return group


def test_units_are_ordered_default_fixed_randomized_with_their_ranges(group):
    assert (group["env_id"], group["algo"]) == (ENV, "ppo")
    units = group["units"]
    assert [u["env"] for u in units] == ["L=0.5", "L=0.05", "L=2", "DR"]
    assert [u["training"]["text"] for u in units] == [
        "length = 0.5 (default)",
        "length = 0.05",
        "length = 2",
        "length ~ U[0.05, 2]",
    ]
    assert [u["train_values"] for u in units] == [[0.5], [0.05], [2.0], LENGTHS]
    assert units[0]["test_values"] == [0.05, 1.0, 2.0]
    assert units[3]["test_values"] == []


@pytest.mark.parametrize(
    ("index", "train", "test"),
    [(0, 400.0, 150.0), (1, 400.0, 120.0), (2, 400.0, 400.0)],
)
def test_gap_by_hand(group, index, train, test):
    unit = group["units"][index]
    assert unit["train_return"]["point"] == pytest.approx(train + 3.5)
    assert unit["test_return"]["point"] == pytest.approx(test + 3.5)
    gap = unit["gap"]
    # Paired over seeds: every seed's gap is the same, so the interval has no width.
    assert (gap["point"], gap["low"], gap["high"]) == pytest.approx((train - test,) * 3)
    assert gap["n"] == SEEDS
    # Unpaired, the seeds' own spread (0…7) would widen the ranges' intervals.
    assert unit["train_return"]["low"] < unit["train_return"]["point"] - 0.5


def test_randomized_unit_has_no_test_range(group):
    dr = group["units"][3]
    assert dr["gap"] is None and dr["gap_reason"] == NO_TEST
    assert dr["test_return"] is None
    # Its training range is the whole grid: mean(410, 300, 400, 400) + 3.5.
    assert dr["train_return"]["point"] == pytest.approx(377.5 + 3.5)


def test_domain_randomization_against_each_policy_trained_at_one_value(group):
    by_versus = {c["versus_training"]: c for c in group["randomization"]}
    assert list(by_versus) == ["length = 0.5 (default)", "length = 0.05", "length = 2"]
    default = by_versus["length = 0.5 (default)"]
    # On the default's test range (0.05, 1, 2): DR mean(410, 400, 400), the default 150.
    assert default["test_values"] == [0.05, 1.0, 2.0]
    assert default["randomized_on_test_range"]["point"] == pytest.approx(403.3333 + 3.5)
    assert default["on_test_range"]["point"] == pytest.approx(403.3333 - 150.0)
    assert default["on_test_range"]["low"] > 0
    # At 0.5 DR returns 300 against the default's 400, but on the default's test range it is
    # 3.3 above the default's training return: nothing is left of the gap.
    assert default["at_training_value"]["point"] == pytest.approx(-100.0)
    remaining = default["remaining_gap"]
    assert remaining["point"] == pytest.approx(-3.3333, abs=1e-3)
    assert remaining["low"] < 0
    assert default["verdict"] == CLOSES
    # On 0.05's test range (0.5, 1, 2): DR mean(300, 400, 400) = 366.7, below its 400.
    short = by_versus["length = 0.05"]
    assert short["remaining_gap"]["point"] == pytest.approx(33.3333, abs=1e-3)
    assert short["remaining_gap"]["low"] > 0
    assert short["verdict"] == NARROWS
    assert by_versus["length = 2"]["verdict"] == NO_GAP


@pytest.mark.parametrize(
    ("gap", "on_test", "remaining", "verdict"),
    [
        ((0.0, 0.0), (5.0, 9.0), (-1.0, 1.0), NO_GAP),
        ((5.0, 9.0), (-1.0, 3.0), (-1.0, 1.0), DOES_NOT_NARROW),
        ((5.0, 9.0), (1.0, 3.0), (1.0, 2.0), NARROWS),
        ((5.0, 9.0), (1.0, 3.0), (-1.0, 2.0), CLOSES),
    ],
)
def test_verdict_reads_the_intervals(gap, on_test, remaining, verdict):
    def interval(bounds):
        return {"low": bounds[0], "high": bounds[1]}

    assert _verdict(interval(gap), interval(on_test), interval(remaining)) == verdict
    assert _verdict(None, interval(on_test), None) == NO_GAP


def test_the_report_has_the_section_and_the_heatmap(report):
    html = report[0]
    assert '<section id="generalization"><h2>Generalization</h2>' in html
    assert '<a href="#generalization">Generalization</a>' in html
    # After robustness, in the page and in the navigation.
    assert html.index('<section id="robustness">') < html.index('<section id="generalization">')
    assert html.index('href="#robustness"') < html.index('href="#generalization"')
    assert 'alt="Generalization over length: ppo on CartPole-v1"' in html
    assert "length ~ U[0.05, 2]" in html and CLOSES in html


def test_no_section_without_chosen_training_values(tmp_path):
    # Robustness of default-trained units alone is not a generalization study.
    _write(tmp_path, {"L=0.5": UNITS["L=0.5"]})
    html, summary = write_report(tmp_path)
    assert "generalization" not in json.loads(summary.read_text())
    assert 'id="generalization"' not in html.read_text()


def test_the_terminal_summary_has_the_gaps_and_the_verdicts(report):
    out = Console(file=io.StringIO(), width=200)
    print_summary(report[1], out)
    text = out.file.getvalue()
    assert "Generalization over length: ppo on CartPole-v1 (95% CIs)" in text
    assert "length = 0.05" in text and "280 [280, 280]" in text
    assert "length ~ U[0.05, 2] vs length = 0.5 (default): 253 [" in text
    assert CLOSES in text and NARROWS in text
