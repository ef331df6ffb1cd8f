"""The ablation section, from synthetic stores: each cell's numbers, main effects and two-way
interactions against a hand computation, n/a with a reason for a cell not run, and the section
in summary.json, the HTML page and the terminal."""

import json
import warnings

import numpy as np
import pytest

from rlcheck.report.analysis import analyze
from rlcheck.report.html import write_report
from tests.report.synthetic import open_store, write_unit

ENV = "Odd-v0"
REPS, BAND_REPS = 2000, 100
A, B = "clip_vloss", "normalize_reward"
TOGGLES = [{"name": A, "on": True, "off": False}, {"name": B, "on": True, "off": False}]


def _definition(design, cells, learning_rates=(), seeds=(0, 1, 2)):
    return {
        "kind": "ablation",
        "name": f"ppo on {ENV}",
        "env": ENV,
        "env_id": ENV,
        "algo": "ppo",
        "algo_label": "ppo",
        "design": design,
        "toggles": TOGGLES,
        "cells": [list(c) for c in cells],
        "learning_rates": list(learning_rates),
        "tuning_seeds": [0, 1] if learning_rates else [],
        "seeds": list(seeds),
        "budget": 1000,
        "objective": "IQM" if learning_rates else None,
    }


def _label(off, rate=None):
    text = ("off: " + ", ".join(off)) if off else "all on"
    return f"ppo [{text}{'' if rate is None else f'; learning_rate={rate}'}]"


def _report(tmp_path, definition, finals, tuning=None, diverged=None):
    """Stores each cell's reported finals (None: not run) and, given, each cell's tuning
    finals per learning rate; returns summary.json and the HTML."""
    store, run_id = open_store(tmp_path)
    members = []
    for index, off in enumerate(definition["cells"]):
        rates = definition["learning_rates"]
        for rate in rates:
            label = _label(off, rate)
            write_unit(store, run_id, ENV, "ppo", tuning[index][rate], label=label)
            members.append((f"{ENV}/{label}", "tuning", index, {"cell": index, "off": off}))
            members[-1][3]["learning_rate"] = rate
        if finals[index] is None:
            continue
        chosen = max(rates, key=lambda r: np.mean(tuning[index][r])) if rates else None
        label = _label(off)
        write_unit(
            store,
            run_id,
            ENV,
            "ppo",
            finals[index],
            label=label,
            diverged=(diverged or {}).get(index, ()),
        )
        settings = {"cell": index, "off": off, "learning_rate": chosen}
        members.append((f"{ENV}/{label}", "cell", index, settings))
    store.write_sweep("a1", definition)
    store.write_sweep_units("a1", members)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = analyze(store, reps=REPS, band_reps=BAND_REPS)
        html_path, json_path = write_report(tmp_path, analysis=analysis)
    store.close()
    return json.loads(json_path.read_text()), html_path.read_text()


# Cell order of a factorial: all on, B off, A off, both off. Means 20, 5, 50, 2.
FACTORIAL = [(), (B,), (A,), (A, B)]
FINALS = [[10.0, 20.0, 30.0], [0.0, 10.0], [40.0, 50.0, 60.0], [1.0, 2.0, 3.0, 99.0]]


def test_factorial_main_effects_and_interactions_match_a_hand_computation(tmp_path):
    tuning = [{1e-3: [1.0, 2.0], 1e-2: [3.0, 4.0]} for _ in FACTORIAL]
    tuning[2] = {1e-3: [9.0, 9.0], 1e-2: [3.0, 4.0]}
    summary, html = _report(
        tmp_path,
        _definition("factorial", FACTORIAL, learning_rates=(1e-3, 1e-2)),
        FINALS,
        tuning,
        diverged={3: (3,)},  # the 99 diverged: left out of the mean
    )
    (ablation,) = summary["ablation"]
    cells = ablation["cells"]
    assert [c["mean"]["point"] for c in cells] == pytest.approx([20.0, 5.0, 50.0, 2.0])
    assert [c["seeds"] for c in cells] == [3, 2, 3, 4]
    assert [c["diverged"] for c in cells] == [0, 0, 0, 1]
    assert [c["learning_rate"] for c in cells] == [1e-2, 1e-2, 1e-3, 1e-2]
    assert [t["score"] for t in cells[2]["tuning"]] == pytest.approx([9.0, 3.5])
    effects = {e["field"]: e["effect"] for e in ablation["main_effects"]}
    # A: (20 + 5)/2 − (50 + 2)/2; B: (20 + 50)/2 − (5 + 2)/2.
    assert effects[A]["point"] == pytest.approx(-13.5)
    assert effects[B]["point"] == pytest.approx(31.5)
    # The smallest B effect any resample can give: (10 + 40)/2 − (10 + 3)/2 = 18.5.
    assert 18.5 <= effects[B]["low"] < 31.5 < effects[B]["high"] <= 44.5
    assert effects[A]["low"] < -13.5 < effects[A]["high"]
    (pair,) = ablation["interactions"]
    assert pair["fields"] == [A, B]
    assert pair["interaction"]["point"] == pytest.approx((20 + 2 - 5 - 50) / 2)
    assert pair["a_when_b_on"]["point"] == pytest.approx(20 - 50)
    assert pair["a_when_b_off"]["point"] == pytest.approx(5 - 2)
    assert pair["b_when_a_on"]["point"] == pytest.approx(20 - 5)
    assert pair["b_when_a_off"]["point"] == pytest.approx(50 - 2)
    half = (pair["a_when_b_on"]["point"] - pair["a_when_b_off"]["point"]) / 2
    assert pair["interaction"]["point"] == pytest.approx(half)
    # Only the all-on cell is among the env's algos; the rest is in the Ablation section.
    (env,) = summary["envs"]
    assert [a["label"] for a in env["algos"]] == ["ppo [all on]"]
    assert summary["cost"]["ablation"]["env_steps"] > 0
    assert '<section id="ablation">' in html and 'href="#ablation"' in html
    assert html.count('alt="ablation of ppo on Odd-v0"') == 3
    assert "normalize_reward helps: switching it off changes the mean final return by -31.5" in html


def test_one_at_a_time_effects_and_a_cell_not_run(tmp_path):
    cells = [(), (A,), (B,)]
    summary, html = _report(
        tmp_path, _definition("one-at-a-time", cells), [FINALS[0], FINALS[2], None]
    )
    (ablation,) = summary["ablation"]
    effects = {e["field"]: e for e in ablation["main_effects"]}
    assert effects[A]["effect"]["point"] == pytest.approx(20.0 - 50.0)
    assert (effects[A]["on_cells"], effects[A]["off_cells"]) == (1, 1)
    assert effects[B]["effect"] is None
    assert effects[B]["effect_reason"] == (
        "cell 'off: normalize_reward' has no usable seed "
        "(not run yet (the ablation was interrupted))"
    )
    assert ablation["cells"][2]["mean_reason"] == "not run yet (the ablation was interrupted)"
    assert ablation["interactions"] is None
    assert ablation["interactions_reason"].startswith("a one-at-a-time design")
    assert "clip_vloss hurts: switching it off changes the mean final return by +30" in html


def test_contrasts_are_a_pure_function_of_the_seed(tmp_path):
    definition = _definition("factorial", FACTORIAL)
    first, _ = _report(tmp_path / "a", definition, FINALS)
    again, _ = _report(tmp_path / "b", definition, FINALS)
    assert first["ablation"][0]["main_effects"] == again["ablation"][0]["main_effects"]
