from pathlib import Path

import numpy as np
import pytest

from rlcheck.studies import gradient_concentration as study
from rlcheck.studies.base import StudyResults, mean_interval


def _measured(pairwise, to_true, refused=None, updates=(10, 20)):
    """Measurements as ``measure`` writes them: per checkpoint, (seeds, sizes) cosines."""
    at = []
    for u, p, t in zip(updates, pairwise, to_true, strict=True):
        seeds = len(p)
        at.append(
            {
                "updates": u,
                "env_steps": u * 2048,
                "training_return": [-100.0 - i for i in range(seeds)],
                "pairwise_cosine": p,
                "cosine_to_true": t,
                "true_vs_true": [0.99] * seeds,
                "refused": refused or [False] * seeds,
            }
        )
    return StudyResults(
        Path("."),
        [],
        measurements={"env": "Acrobot-v1", "sizes": [512, 2048, 8192], "at": at},
    )


def test_the_sentence_reads_the_last_checkpoint_at_the_agents_batch():
    pairwise = [[[0.1, 0.3, 0.7]] * 2, [[0.0, 0.2, 0.6], [0.1, 0.3, 0.7]]]
    to_true = [[[0.3, 0.5, 0.8]] * 2, [[0.2, 0.4, 0.7], [0.3, 0.5, 0.8]]]
    finding = study.analyze(_measured(pairwise, to_true))
    last = finding.numbers["rows"][-1]
    cell = last["by_size"]["2048"]
    assert cell["pairwise_cosine"][0] == pytest.approx(0.25)
    assert cell["cosine_to_true"][0] == pytest.approx(0.45)
    assert last["training_return"][0] == pytest.approx(-100.5)
    expected = mean_interval(np.array([0.2, 0.3]))
    assert cell["pairwise_cosine"] == pytest.approx(expected)
    assert finding.sentence.startswith(
        "On Acrobot-v1 after 20 updates (training return -100), PPO's gradient estimates from "
        "2,048 pairs, its batch, had an average pairwise cosine of 0.25 [95% CI 0.2, 0.3]: "
        "poorly concentrated, as Ilyas et al. (2020) found"
    )
    assert "cosine to the true gradient was 0.45" in finding.sentence
    assert "0.65 [0.6, 0.7] pairwise at 8,192" in finding.sentence
    # Two lines per checkpoint, over log2 of the pairs.
    assert len(finding.chart.series) == 4
    assert [p.x for p in finding.chart.series[0].points] == [9.0, 11.0, 13.0]


def test_refused_references_are_left_out_and_said():
    pairwise = [[[0.7, 0.8, 0.9]] * 2]
    to_true = [[[np.nan] * 3, [0.6, 0.8, 0.9]]]
    finding = study.analyze(_measured(pairwise, to_true, [True, False], updates=(20,)))
    assert finding.numbers["rows"][0]["by_size"]["2048"]["cosine_to_true"][0] == 0.8
    assert "well concentrated, unlike Ilyas et al." in finding.sentence
    assert "(1 of 2 seeds' references disagreed and were left out)" in finding.sentence


def test_nothing_measured():
    finding = study.analyze(StudyResults(Path("."), []))
    assert finding.sentence.startswith("No checkpoint was measured")


def test_specs_and_settings_quick_and_full():
    quick, full = study.STUDY.scale(quick=True), study.STUDY.scale(quick=False)
    assert study.settings(quick)["at"] == (10, 20) and study.settings(full)["at"][-1] == 60
    assert study.settings(full)["reference"] == 2**18
    assert study.specs(quick)[0]["budget"] == 20 * 2048
    config = study.specs(full)[0]["algo"][0]["config"]
    assert config["num_steps"] == 2048 and "trust_region_monitor" not in config
    assert study.STUDY.measure is study.measure
