import numpy as np
import pytest

from rlcheck import stats
from rlcheck.studies import seed_failures
from tests.studies.synthetic import results, unit

ENV = "gymnax:Pendulum-v1"


def test_failure_rates_carry_wilson_intervals_and_a_diverged_seed_fails():
    ddpg = unit(ENV, "ddpg", [-150.0] * 7 + [-900.0] * 3)
    td3 = unit(ENV, "td3", [-160.0, -170.0, -150.0, -180.0], diverged=[0])
    finding = seed_failures.analyze(results(ddpg, td3))
    rates = finding.numbers["failure_rates"]
    assert (rates["ddpg"]["failed"], rates["ddpg"]["n"]) == (3, 10)
    assert (rates["td3"]["failed"], rates["td3"]["n"]) == (1, 4)
    # Wilson (1927) for 3/10 at 95%: [0.108, 0.603] (by hand: centre 0.3555, half-width 0.2477).
    assert rates["ddpg"]["low"] == pytest.approx(0.1078, abs=1e-3)
    assert rates["ddpg"]["high"] == pytest.approx(0.6032, abs=1e-3)
    assert "DDPG 3/10 (30%, 95% CI 11%–60%)" in finding.sentence
    assert "TD3 1/4 (25%" in finding.sentence
    assert "against Irpan's 3 of 10 for NAF" in finding.sentence


def test_seeds_needed_is_the_welch_power_analysis_of_the_observed_difference():
    rng = np.random.default_rng(0)
    ddpg = unit(ENV, "ddpg", -300 + 60 * rng.standard_normal(10))
    td3 = unit(ENV, "td3", -220 + 60 * rng.standard_normal(10))
    finding = seed_failures.analyze(results(ddpg, td3))
    needed = finding.numbers["seeds_needed"]["ddpg vs td3"]
    effect = abs(ddpg.finals.mean() - td3.finals.mean())
    assert needed["effect"] == pytest.approx(effect)
    assert needed["seeds"] == stats.seeds_needed(ddpg.finals, td3.finals, effect, 0.05, 0.8, 200)
    assert 2 < needed["seeds"] < 50
    assert f"would take about {needed['seeds']} seeds each" in finding.sentence


def test_the_chart_shows_each_rate_beside_irpans():
    finding = seed_failures.analyze(results(unit(ENV, "td3", [-150.0, -900.0])))
    ours, irpan = finding.chart.series
    assert [p.x for p in ours.points] == ["TD3"] and ours.points[0].point == 0.5
    assert irpan.points[0].point == 0.3


def test_specs_quick_and_full():
    quick = seed_failures.specs(seed_failures.STUDY.scale(quick=True))
    full = seed_failures.specs(seed_failures.STUDY.scale(quick=False))
    assert [a["name"] for a in quick[0]["algo"]] == ["ddpg", "td3"]
    assert [a["name"] for a in full[0]["algo"]] == ["ddpg", "td3", "sac"]
    assert quick[0]["seeds"] == 10 and full[0]["seeds"] == 30
    ddpg = full[0]["algo"][0]["config"]
    # DDPG is TD3 at rejax's settings less TD3's three additions.
    assert (ddpg["n_critics"], ddpg["policy_delay"], ddpg["target_policy_noise"]) == (1, 1, 0.0)
    assert ddpg["hidden_sizes"] == (64, 64) and ddpg["learning_starts"] == 1_000
