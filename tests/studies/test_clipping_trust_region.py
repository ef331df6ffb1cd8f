import dataclasses

import numpy as np
import pytest

from rlcheck.studies import clipping_trust_region as study
from tests.studies.synthetic import results, unit

ENV = "gymnax:Acrobot-v1"
NAMES = ("loss", "ratio_max", "ratio_p99", "ratio_mean", "kl_mean", "kl_max")


def _with_internals(label: str, algo: str, ratio_max: np.ndarray, kl_mean: np.ndarray):
    """A unit whose seeds logged ``ratio_max`` and ``kl_mean`` (seeds, updates)."""
    seeds, updates = ratio_max.shape
    internals = np.zeros((seeds, updates, len(NAMES)))
    internals[:, :, NAMES.index("ratio_max")] = ratio_max
    internals[:, :, NAMES.index("kl_mean")] = kl_mean
    base = unit(ENV, algo, [-90.0] * seeds, label=label)
    return dataclasses.replace(
        base,
        internals=internals,
        metric_names=NAMES,
        update_env_steps=np.arange(1, updates + 1) * 2048,
    )


def test_shares_medians_and_the_sentence_from_the_logged_internals():
    # PPO: 4 seeds × 4 updates; seed i has i + 1 of its 4 updates above 1.2 (then 1.1), so the
    # shares are 1/4, 2/4, 3/4, 4/4: mean 0.625. Mean KL per update 0.01 × (seed + 1).
    ppo_ratio = np.array([[1.5 if u <= i else 1.1 for u in range(4)] for i in range(4)])
    ppo_kl = np.repeat(0.01 * np.arange(1, 5)[:, None], 4, axis=1)
    noclip = np.full((4, 4), 8.0)
    trpo = np.full((4, 4), 1.3)
    finding = study.analyze(
        results(
            _with_internals("PPO", "ppo", ppo_ratio, ppo_kl),
            _with_internals("PPO, no clipping", "ppo", noclip, ppo_kl),
            _with_internals("TRPO", "trpo", trpo, np.full((4, 4), 0.005)),
        )
    )
    rows = finding.numbers["rows"]
    ppo = rows["Acrobot-v1: PPO"]
    assert ppo["share_ratio_above"][0] == pytest.approx(0.625)
    # Per-seed medians of the max ratio: 1.1, 1.3, 1.5, 1.5 (median of 4: mean of the middle
    # two); their median over seeds: 1.4.
    assert ppo["ratio_max_median"][0] == pytest.approx(1.4)
    assert ppo["ratio_max_largest"][0] == pytest.approx(1.5)
    assert ppo["kl_mean_median"][0] == pytest.approx(0.025)
    assert rows["Acrobot-v1: PPO, no clipping"]["ratio_max_median"][0] == pytest.approx(8.0)
    assert rows["Acrobot-v1: TRPO"]["kl_mean_median"][0] == pytest.approx(0.005)
    sentence = finding.sentence
    assert sentence.startswith("On Acrobot-v1, PPO's largest ratio left 1 + ε = 1.2 in 62% [95% CI")
    assert "without clipping the median largest ratio was 8 [95% CI 8, 8]" in sentence
    assert "TRPO's (KL bound 0.01) 1.3" in sentence
    # One line per variant over the updates, on a log axis with 1 + ε drawn.
    assert [s.name for s in finding.chart.series] == [
        "Acrobot-v1: PPO",
        "Acrobot-v1: PPO, no clipping",
        "Acrobot-v1: TRPO",
    ]
    assert [p.x for p in finding.chart.series[0].points] == [2048.0, 4096.0, 6144.0, 8192.0]
    assert finding.chart.series[0].points[0].point == pytest.approx(1.5)
    assert finding.chart.log and finding.chart.references[0][0] == pytest.approx(1.2)


def test_a_share_below_half_says_it_disagrees_with_the_paper():
    ratio = np.full((6, 5), 1.1)
    finding = study.analyze(results(_with_internals("PPO", "ppo", ratio, np.full((6, 5), 1e-3))))
    assert "in 0% [95% CI 0%, 0%] of its updates (fewer than half, unlike Engstrom" in (
        finding.sentence
    )


def test_without_logged_internals_nothing_is_measured():
    finding = study.analyze(results(unit(ENV, "ppo", [-90.0, -95.0], label="PPO")))
    assert finding.sentence.startswith("No PPO unit logged")


def test_specs_quick_and_full():
    quick = study.specs(study.STUDY.scale(quick=True))
    full = study.specs(study.STUDY.scale(quick=False))
    assert [s["env"][0]["id"] for s in quick] == ["Acrobot-v1"]
    assert [s["env"][0]["id"] for s in full] == ["Acrobot-v1", "CartPole-v1"]
    assert (quick[0]["budget"], full[0]["budget"]) == (30 * 2048, 60 * 2048)
    labels = [a["label"] for a in quick[0]["algo"]]
    assert labels == ["PPO", "PPO, no clipping", "TRPO"]
    assert all(a["config"]["trust_region_monitor"] for a in quick[0]["algo"])
    assert quick[0]["algo"][1]["config"]["clip_coef"] == 1e6
    assert quick[0]["algo"][2]["config"]["max_kl"] == 0.01
