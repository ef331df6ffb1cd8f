import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rlcheck import stats
from rlcheck.studies import code_level_optimizations as study
from rlcheck.studies.base import StudyResults
from tests.studies.synthetic import unit

ENV = "gymnax:CartPole-v1"
VC, RS = study.VALUE_CLIPPING, study.REWARD_SCALING
# The factorial's cells (the first toggle varying slowest) and their seeds' final returns:
# means 500, 120, 490, 210.
CELLS = [[], [RS], [VC], [VC, RS]]
FINALS = [[500, 500], [100, 140], [480, 500], [200, 220]]


def _ablation(env: str = ENV, finals=FINALS):
    units, members = [], []
    for index, (off, f) in enumerate(zip(CELLS, finals, strict=True)):
        key = f"{env}-{index}"
        units.append(dataclasses.replace(unit(env, "ppo", f, label="PPO"), key=key))
        settings = {"cell": index, "off": off, "learning_rate": 3e-4}
        members.append({"unit_key": key, "role": "cell", "trial": index, "settings": settings})
    definition = {"kind": "ablation", "env": env, "cells": CELLS}
    return units, {"id": env, "definition": definition, "units": members}


def test_main_effects_the_interaction_and_the_sentence():
    units, sweep = _ablation()
    finding = study.analyze(StudyResults(Path("."), units, [sweep]))
    effects = finding.numbers["envs"]["CartPole-v1"]["effects"]
    # Reward scaling: (500 + 490)/2 − (120 + 210)/2 = 330; value clipping: (500 + 120)/2 −
    # (490 + 210)/2 = −40; interaction: ((500 − 490) − (120 − 210))/2 = 50.
    assert effects[RS][0] == pytest.approx(330.0)
    assert effects[VC][0] == pytest.approx(-40.0)
    assert effects["interaction"][0] == pytest.approx(50.0)
    weights = np.array([[0.5, -0.5, 0.5, -0.5]])
    expected = stats.contrast_intervals(
        [np.array(f, float) for f in FINALS], weights, 20_000, 0.95, 0
    )
    assert effects[RS][1:] == pytest.approx((expected.low[0], expected.high[0]))
    cell = finding.numbers["envs"]["CartPole-v1"]["cells"]["off: normalize_reward"]
    assert cell["mean"][0] == pytest.approx(120.0) and cell["learning_rate"] == 3e-4
    assert finding.sentence.startswith(
        "On CartPole-v1, reward scaling's main effect on the mean final return was 330 [95% CI"
    )
    assert "(helped), value clipping's -40 [95% CI" in finding.sentence
    assert "their interaction 50 [95% CI" in finding.sentence
    assert "(as Engstrom et al. 2020 found on MuJoCo)." in finding.sentence
    chart = finding.chart
    both = "value clipping × reward scaling"
    assert chart.categories == ["value clipping", "reward scaling", both]
    assert [p.point for p in chart.series[0].points] == pytest.approx([-40.0, 330.0, 50.0])


def test_ppo_m_against_trpo_plus():
    units, sweep = _ablation()
    units += [
        unit(ENV, "ppo", [100.0, 120.0], label=study.PPO_M),
        unit(ENV, "trpo", [300.0, 320.0], label=study.TRPO_PLUS),
    ]
    finding = study.analyze(StudyResults(Path("."), units, [sweep]))
    versus = finding.numbers["envs"]["CartPole-v1"]["ppo_m_vs_trpo_plus"]
    assert versus["difference"][0] == pytest.approx(-200.0)
    assert "PPO-M minus TRPO+ -200 [95% CI -220, -180] (PPO-M not shown better" in (
        finding.sentence
    )


def test_reward_scaling_that_does_not_help_is_said_to_disagree_with_the_paper():
    units, sweep = _ablation(finals=[[100, 140], [500, 500], [200, 220], [480, 500]])
    finding = study.analyze(StudyResults(Path("."), units, [sweep]))
    assert finding.numbers["envs"]["CartPole-v1"]["effects"][RS][0] == pytest.approx(-330.0)
    assert "(hurt)" in finding.sentence
    assert "(unlike Engstrom et al. 2020 on MuJoCo, where reward scaling mattered" in (
        finding.sentence
    )


def test_a_cell_without_usable_seeds_leaves_the_effects_out():
    units, sweep = _ablation(finals=[[500, 500], [100, 140], [480, 500], [200, 220]])
    units[3] = unit(ENV, "ppo", [np.nan, np.nan], label="PPO", diverged=[0, 1])
    units[3] = dataclasses.replace(units[3], key=f"{ENV}-3")
    finding = study.analyze(StudyResults(Path("."), units, [sweep]))
    assert "effects" not in finding.numbers["envs"]["CartPole-v1"]
    assert finding.sentence.startswith("No ablation finished every cell")


def test_specs_quick_and_full():
    quick = study.specs(study.STUDY.scale(quick=True))
    full = study.specs(study.STUDY.scale(quick=False))
    assert [s["env"][0]["id"] for s in quick] == ["CartPole-v1"]
    assert [s["env"][0]["id"] for s in full] == ["Acrobot-v1", "CartPole-v1"]
    assert quick[0]["ablate"] == {
        "design": "factorial",
        "algos": ["PPO"],
        "fields": ["clip_vloss", "normalize_reward"],
    }
    assert full[0]["ablate"]["fields"] == [VC, RS, "anneal_lr", "weight_init"]
    assert full[0]["ablate"]["lr_grid"] == [1e-4, 3e-4, 1e-3]
    assert full[0]["ablate"]["fresh_seeds"] == 8
    assert [a["label"] for a in full[0]["algo"]] == ["PPO", "PPO-M", "TRPO+"]
    ppo_m = full[0]["algo"][1]["config"]
    assert ppo_m["clip_vloss"] is False and ppo_m["weight_init"] == "lecun"
    assert ppo_m["max_grad_norm"] == float("inf") and ppo_m["activation"] == "relu"
    assert (quick[0]["budget"], full[0]["budget"]) == (100_000, 200_000)
