from pathlib import Path

import numpy as np
import pytest

from rlcheck.studies import value_baseline as study
from rlcheck.studies.base import StudyResults, mean_interval


def _measured(old_vs_mc, target, pairwise, updates=8):
    """Measurements as ``measure`` writes them for one checkpoint: per-seed MREs, and pairwise
    cosines (seeds, baselines zero/agent/fitted, sizes 512/2048)."""
    seeds = len(old_vs_mc)
    mre = {
        "old_vs_mc": old_vs_mc,
        "new_vs_target_train": target,
        "return_vs_mc": [0.05] * seeds,
        "fitted_vs_mc": [0.1] * seeds,
    }
    checkpoint = {
        "updates": updates,
        "training_return": [200.0 + 10 * i for i in range(seeds)],
        "fit_nmse": [0.1] * seeds,
        "mre": mre,
        "nmse": mre,
        "baselines": ["zero", "agent", "fitted"],
        "pairwise_cosine": pairwise,
        "cosine_to_true": pairwise,
    }
    measurements = {"env": "CartPole-v1", "sizes": [512, 2048], "at": [checkpoint]}
    return StudyResults(Path("."), [], measurements=measurements)


def _cosines(zero, agent, fitted):
    """(seeds, 3, 2): each seed's cosine at 2,048 as given, at 512 a tenth of it."""
    at_batch = np.stack([zero, agent, fitted], axis=1)
    return np.stack([at_batch / 10, at_batch], axis=2).tolist()


def test_errors_and_baselines_at_the_last_checkpoint():
    pairwise = _cosines([0.1, 0.2], [0.3, 0.5], [0.8, 0.9])
    finding = study.analyze(_measured([0.5, 0.4], [0.05, 0.07], pairwise))
    (row,) = finding.numbers["rows"]
    assert row["mre"]["old_vs_mc"][0] == pytest.approx(0.45)
    assert row["mre"]["new_vs_target_train"] == pytest.approx(mean_interval(np.array([0.05, 0.07])))
    assert row["pairwise_cosine"]["agent"][0] == pytest.approx(0.4)
    assert row["pairwise_cosine"]["fitted"][0] == pytest.approx(0.85)
    assert row["training_return"][0] == pytest.approx(205.0)
    sentence = finding.sentence
    assert sentence.startswith(
        "On CartPole-v1 after 8 updates (training return 205), PPO's value network was off "
        "from Monte-Carlo V^π by a mean relative error of 45% [95% CI 40%, 50%], far from the "
        "true value, as Ilyas et al. (2020) found"
    )
    assert "one update fit its own GAE target to 6% [95% CI 5%, 7%]" in sentence
    assert "from 0.15 [95% CI 0.1, 0.2] without one to 0.4 [95% CI 0.3, 0.5]" in sentence
    assert "against 0.85 [95% CI 0.8, 0.9] with V* fitted" in sentence
    (series,) = finding.chart.series
    assert series.name == "after 8 updates"
    assert [p.x for p in series.points][:2] == [
        "MRE: agent's V vs V^π",
        "MRE: updated V vs its GAE target",
    ]
    assert len(series.points) == 7


def test_a_small_error_says_it_disagrees_with_the_paper():
    pairwise = _cosines([0.1, 0.1], [0.2, 0.2], [0.9, 0.9])
    finding = study.analyze(_measured([0.1, 0.12], [0.05, 0.05], pairwise))
    assert "closer to the true value than Ilyas et al. (2020) found" in finding.sentence


def test_nothing_measured():
    assert study.analyze(StudyResults(Path("."), [])).sentence.startswith("No checkpoint")


def test_settings_and_specs_quick_and_full():
    quick, full = study.STUDY.scale(quick=True), study.STUDY.scale(quick=False)
    assert study.settings(quick)["at"] == (8,) and study.settings(full)["at"] == (5, 10)
    assert 2048 in study.settings(quick)["sizes"] and 2048 in study.settings(full)["sizes"]
    assert study.specs(quick)[0]["budget"] == 8 * 2048
    assert study.specs(full)[0]["env"][0]["id"] == "CartPole-v1"
    assert study.STUDY.measure is study.measure
