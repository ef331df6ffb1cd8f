"""The sensitivity section of a sweep, from synthetic stores: the numbers (IQM per configuration,
shares of the swept space with Wilson intervals, the fresh-seed gap, the heatmap), and n/a with a
reason — never an exception — in the analysis, summary.json, the HTML page and the terminal."""

import json
import warnings

import numpy as np
import pytest
from rich.console import Console

from rlcheck import stats
from rlcheck.report.analysis import analyze
from rlcheck.report.html import write_report
from rlcheck.report.summary_terminal import print_summary
from tests.report.synthetic import open_store, write_unit

ENV = "Odd-v0"
REPS, BAND_REPS = 500, 100
# Metrics of a sweep that may be missing, each then with "<name>_reason" beside it.
SWEEP_METRICS = {
    "iqm",
    "chosen",
    "tuning",
    "fresh",
    "optimism",
    "gap",
    "fraction_solved",
    "fraction_beats_random",
    "heatmap",
}
LR = {"name": "learning_rate", "kind": "traced", "values": [1e-4, 1e-3], "scale": "log"}
ENT = {"name": "ent_coef", "kind": "traced", "values": [0.0, 0.1], "scale": "list"}


def _parameter(p, default):
    return {"low": None, "high": None, "integer": False, "default": default, **p}


def _definition(method="grid", parameters=(LR, ENT), fresh=(10_000, 10_001, 10_002, 10_003)):
    return {
        "name": f"ppo on {ENV}",
        "env": ENV,
        "env_id": ENV,
        "algo": "ppo",
        "algo_label": "ppo",
        "method": method,
        "trials": None,
        "batch": 16,
        "sampler_seed": 0,
        "parameters": [_parameter(p, p["values"][0]) for p in parameters],
        "tuning_seeds": [0, 1, 2, 3],
        "fresh_seeds": list(fresh),
        "budget": 1000,
        "objective": "IQM of the tuning seeds' final returns",
    }


def _check_reasons(value, where="sweep"):
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_reasons(item, f"{where}[{i}]")
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key.endswith("_reason"):
            assert value.get(key.removesuffix("_reason"), "absent") is None, f"{where}.{key}"
            assert isinstance(item, str) and item, f"{where}.{key} is empty"
        elif key in SWEEP_METRICS and item is None:
            assert value.get(f"{key}_reason"), f"{where}.{key} is None without a reason"
        _check_reasons(item, f"{where}.{key}")


def _report(tmp_path, definition, tuning, fresh=(), plain=()):
    """Stores tuning configurations ({values, finals, diverged?}), fresh-seed units ({role,
    values, finals}) and plain units (write_unit arguments), the sweep's rows, and builds every
    part of the report with warnings as errors; returns (summary.json, HTML, terminal text)."""
    store, run_id = open_store(tmp_path)
    members = []
    for i, config in enumerate(tuning):
        label = "ppo [" + ", ".join(f"{k}={v}" for k, v in config["values"].items()) + "]"
        if config.get("finals") is not None:
            write_unit(
                store,
                run_id,
                ENV,
                "ppo",
                config["finals"],
                label=label,
                threshold=config.get("threshold", 100.0),
                diverged=config.get("diverged", ()),
            )
        members.append((f"{ENV}/{label}", "tuning", i, config["values"]))
    for unit in fresh:
        label = f"ppo {unit['role']}"
        write_unit(store, run_id, ENV, "ppo", unit["finals"], label=label, threshold=100.0)
        members.append((f"{ENV}/{label}", unit["role"], -1, unit["values"]))
    for unit in plain:
        write_unit(store, run_id, ENV, **unit)
    store.write_sweep("s1", definition)
    store.write_sweep_units("s1", members)
    console = Console(record=True, width=250, color_system=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = analyze(store, reps=REPS, band_reps=BAND_REPS)
        print_summary(analysis, console)
        html_path, json_path = write_report(tmp_path, analysis=analysis)
    store.close()
    summary = json.loads(json_path.read_text())
    _check_reasons(summary.get("sweep"))
    return summary, html_path.read_text(), console.export_text()


GRID = [
    {"values": {"learning_rate": 1e-4, "ent_coef": 0.0}, "finals": [10, 20, 30, 40]},
    {"values": {"learning_rate": 1e-4, "ent_coef": 0.1}, "finals": [50, 60, 70, 80]},
    {"values": {"learning_rate": 1e-3, "ent_coef": 0.0}, "finals": [100, 110, 120, 130]},
    {"values": {"learning_rate": 1e-3, "ent_coef": 0.1}, "finals": [90, 95, 100, 400]},
]
FRESH = [
    {"role": "chosen", "values": GRID[2]["values"], "finals": [200.0, 210.0, 190.0, 205.0]},
    {"role": "default", "values": GRID[0]["values"], "finals": [100.0, 90.0, 110.0, 95.0]},
]
RANDOM = {"algo": "random", "finals": [0.0, 0.5, 1.0], "threshold": 100.0}


def test_a_grid_sweep_shows_every_configuration_the_fresh_gap_and_the_shares(tmp_path):
    summary, html, text = _report(tmp_path, _definition(), GRID, FRESH, [RANDOM])
    (sweep,) = summary["sweep"]
    # Tuning configurations are in the sweep's section, not among the env's algos.
    (env,) = summary["envs"]
    assert [a["label"] for a in env["algos"]] == ["ppo chosen", "ppo default", "random"]
    iqms = [c["iqm"]["point"] for c in sweep["configs"]]
    assert iqms == pytest.approx([stats.iqm(np.array(c["finals"])[:, None]) for c in GRID])
    assert iqms == pytest.approx([25.0, 65.0, 115.0, 97.5])
    assert sweep["chosen"]["values"] == GRID[2]["values"]
    assert sweep["chosen"]["tuning"]["point"] == pytest.approx(115.0)
    assert sweep["chosen"]["fresh"]["point"] == pytest.approx(202.5)
    assert sweep["default"]["fresh"]["point"] == pytest.approx(97.5)
    assert sweep["gap"]["point"] == pytest.approx(105.0)
    assert sweep["gap"]["low"] > 0  # every fresh seed of the chosen beats every default one
    assert sweep["chosen"]["optimism"] == pytest.approx(115.0 - 202.5)
    # Solved: objective ≥ 100 for configurations 3 only (97.5 misses); Wilson over the grid.
    solved = sweep["fraction_solved"]
    assert (solved["count"], solved["n"]) == (1, 4)
    assert (solved["low"], solved["high"]) == pytest.approx(stats.wilson_interval(1, 4))
    beats = sweep["fraction_beats_random"]
    assert (beats["count"], beats["n"]) == (4, 4) and beats["bound"] == env["random_bound"]
    heat = sweep["heatmap"]
    assert (heat["x"], heat["y"]) == ("learning_rate", "ent_coef")
    assert np.array(heat["iqm"]) == pytest.approx(np.array([[25.0, 115.0], [65.0, 97.5]]))
    lr = sweep["per_parameter"]["learning_rate"]
    assert lr["log_axis"] and not sweep["per_parameter"]["ent_coef"]["log_axis"]
    # At learning rate 1e-3 every seed of both configurations pooled: 8 seeds.
    _, high = lr["marginal"]
    assert high["value"] == 1e-3 and high["configs"] == 2 and high["iqm"]["n"] == 8
    assert high["iqm"]["point"] == pytest.approx(
        stats.iqm(np.array([100, 110, 120, 130, 90, 95, 100, 400.0])[:, None])
    )
    assert '<section id="sensitivity">' in html and 'href="#sensitivity"' in html
    assert html.count('alt="sensitivity of ppo on Odd-v0"') == 3  # two parameters, one heatmap
    assert "Sweep: ppo on Odd-v0 (grid, 4/4 configurations × 4 tuning seeds" in text
    assert "gap chosen − default (fresh seeds): 105 [" in text
    assert "share of the swept space that solves: 1/4 = 25%" in text
    assert summary["cost"]["tuning"]["env_steps"] == 4 * 4 * 992


def test_a_directory_without_sweeps_has_no_section(tmp_path):
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, ENV, "ppo", [1.0, 2.0])
    html, json_path = write_report(tmp_path, analysis=analyze(store, reps=REPS, band_reps=100))
    summary = json.loads(json_path.read_text())
    assert "sweep" not in summary
    assert "No sweep in this directory" in html.read_text()
    store.close()


def test_one_configuration_with_one_seed_that_diverged(tmp_path):
    definition = _definition("tpe", parameters=(LR,), fresh=())
    tuning = [{"values": {"learning_rate": 1e-3}, "finals": [5.0], "diverged": [0]}]
    summary, html, text = _report(tmp_path, definition, tuning)
    (sweep,) = summary["sweep"]
    (config,) = sweep["configs"]
    assert config["iqm"] is None and config["iqm_reason"] == "every seed diverged"
    assert config["objective"] is None  # −∞ in the analysis, null in JSON
    assert sweep["fraction_solved_reason"].startswith("TPE's configurations are not a sample")
    assert sweep["chosen"]["tuning"] is None
    assert sweep["chosen"]["fresh_reason"] == "no fresh-seed evaluation (fresh_seeds = 0)"
    assert sweep["gap_reason"] == "no fresh-seed evaluation (fresh_seeds = 0)"
    assert sweep["heatmap_reason"] == "needs two parameters swept on a grid"
    assert "n/a (1)" in html and "n/a" in text
    assert summary["envs"] == []  # no unit ran on seeds of its own
    assert "Every unit stored here is a sweep&#x27;s tuning configuration" in html


def test_an_interrupted_sweep_and_a_one_seed_gap(tmp_path):
    definition = _definition(parameters=(LR,), fresh=(10_000,))
    tuning = [
        {"values": {"learning_rate": 1e-4}, "finals": [30.0]},
        {"values": {"learning_rate": 1e-3}, "finals": None},  # never stored
    ]
    fresh = [
        {"role": "chosen", "values": {"learning_rate": 1e-4}, "finals": [40.0]},
        {"role": "default", "values": {"learning_rate": 1e-4}, "finals": [41.0]},
    ]
    summary, _, text = _report(tmp_path, definition, tuning, fresh)
    (sweep,) = summary["sweep"]
    assert [c["status"] for c in sweep["configs"]] == ["done", "not run"]
    assert sweep["configs"][1]["iqm_reason"] == "not run yet (the sweep was interrupted)"
    assert sweep["configs_done"] == 1
    assert sweep["chosen"]["fresh"] == {"point": 40.0, "low": 40.0, "high": 40.0, "n": 1}
    assert sweep["gap_reason"] == "needs at least 2 usable fresh seeds of each configuration"
    assert sweep["heatmap_reason"] == "needs two swept parameters; this sweep has one"
    assert sweep["fraction_beats_random_reason"] == (
        "no random baseline on this env (add the random algo)"
    )
    assert "1/2 configurations" in text
