"""The report of degenerate results: every metric is a number or n/a with its reason — in the
analysis, summary.json, the HTML page and the terminal — and never an exception."""

import json
import warnings

import numpy as np
import pytest
from rich.console import Console

from rlcheck.report.analysis import RELIABILITY_METRICS, analyze
from rlcheck.report.html import write_report
from rlcheck.report.summary_terminal import print_summary
from rlcheck.report.terminal import summary_table
from tests.report.synthetic import BUDGET, checkpoint_steps, open_store, write_unit

ENV = "Odd-v0"
REPS, BAND_REPS = 500, 100
# Metrics the analysis may leave out, each then with a "<name>_reason".
METRICS = {
    "iqm",
    "mean",
    "std",
    "median",
    "min",
    "max",
    "solve",
    "random",
    "curve",
    "band",
    "random_bound",
    "profile",
    "sample_efficiency",
    "mann_whitney_p",
    "holm_p",
    "median_env_steps",
    *RELIABILITY_METRICS,
}


def _check_reasons(value, where="summary"):
    """Every missing metric has a reason beside it, and every reason a missing metric."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_reasons(item, f"{where}[{i}]")
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key == "matrix":  # keyed by algo label; the diagonal is None
            continue
        if key.endswith("_reason"):
            metric = key.removesuffix("_reason")
            assert value.get(metric, "absent") is None, f"{where}.{key} beside a value"
            assert isinstance(item, str) and item, f"{where}.{key} is empty"
        elif key in METRICS and item is None:
            assert value.get(f"{key}_reason"), f"{where}.{key} is None without a reason"
        _check_reasons(item, f"{where}.{key}")


def _report(tmp_path, *units):
    """Stores ``units`` (write_unit keyword arguments), then builds every part of the report
    with warnings as errors; returns (summary.json parsed, HTML, terminal text)."""
    store, run_id = open_store(tmp_path)
    for unit in units:
        write_unit(store, run_id, ENV, **unit)
    console = Console(record=True, width=250, color_system=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = analyze(store, reps=REPS, band_reps=BAND_REPS)
        print_summary(analysis, console)
        html_path, json_path = write_report(tmp_path, analysis=analysis)
    store.close()

    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    summary = json.loads(json_path.read_text(), parse_constant=reject)
    _check_reasons(summary)
    return summary, html_path.read_text(), console.export_text()


def _algo(summary, label):
    (env,) = summary["envs"]
    return next(a for a in env["algos"] if a["label"] == label)


def _terminal_table(tmp_path, finals, diverged=()):
    store, run_id = open_store(tmp_path / "table")
    write_unit(store, run_id, ENV, "ppo", finals, diverged=diverged)
    console = Console(record=True, width=250, color_system=None)
    from rlcheck.report import terminal

    original, terminal.console = terminal.console, console
    try:
        summary_table(store)
    finally:
        terminal.console = original
        store.close()
    return console.export_text()


def test_one_checkpoint(tmp_path):
    summary, html, _ = _report(
        tmp_path,
        {"algo": "ppo", "finals": [1.0, 2.0, 3.0], "threshold": 2.5, "steps": [BUDGET]},
        {"algo": "random", "finals": [0.0, 0.5, 1.0], "threshold": 2.5, "steps": [BUDGET]},
    )
    ppo = _algo(summary, "ppo")
    assert ppo["curve"]["env_steps"] == [BUDGET - 8]
    assert ppo["curve"]["band"]["n"] == 3
    reliability = ppo["reliability"]
    reason = "needs at least 2 checkpoints; this unit has 1"
    for key in ("short_term_risk", "long_term_risk", "dispersion_across_runs", "risk_across_runs"):
        assert reliability[key] is None and reliability[f"{key}_reason"] == reason
    assert reliability["dispersion_across_rollouts"]["point"] == pytest.approx(2.0)
    assert "n/a (1)</td>" in html and f"(1) {reason}" in html


def test_three_checkpoints_leave_no_window_for_dispersion_across_time(tmp_path):
    summary, _, _ = _report(
        tmp_path, {"algo": "ppo", "finals": [1.0, 2.0, 3.0], "steps": checkpoint_steps(3)}
    )
    reliability = _algo(summary, "ppo")["reliability"]
    assert reliability["dispersion_across_time"] is None
    assert reliability["dispersion_across_time_reason"] == (
        "needs at least 4 checkpoints; this unit has 3"
    )
    assert reliability["short_term_risk"]["n"] == 3


def test_constant_curves(tmp_path):
    finals = [3.0, 4.0, 5.0, 6.0]
    flat = np.repeat(np.array(finals)[:, None], 5, axis=1)
    summary, _, _ = _report(tmp_path, {"algo": "ppo", "finals": finals, "curves": flat})
    reliability = _algo(summary, "ppo")["reliability"]
    # A flat curve never changes and never falls from its peak.
    assert reliability["short_term_risk"]["point"] == 0.0
    assert reliability["long_term_risk"]["point"] == 0.0
    assert reliability["dispersion_across_time"]["point"] == 0.0
    assert reliability["dispersion_across_runs"]["point"] == pytest.approx(1.5)


def test_all_seeds_equal(tmp_path):
    same = {"finals": [3.0] * 4, "episode_offsets": np.zeros(5), "threshold": 2.0}
    summary, _, text = _report(
        tmp_path, {"algo": "ppo", **same}, {"algo": "random", "label": "random", **same}
    )
    (env,) = summary["envs"]
    (pair,) = env["comparisons"]["pairs"]
    assert pair["p_a_beats_b"] == {"point": 0.5, "low": 0.5, "high": 0.5}
    assert pair["better"] is None
    assert pair["seeds_needed"]["note"] == "identical mean final returns"
    ppo = _algo(summary, "ppo")
    assert ppo["final"]["std"] == 0.0
    assert ppo["iqm"] == {"point": 3.0, "low": 3.0, "high": 3.0, "n": 4}
    # Every random episode returned 3: the bound of its mean is 3, and 3 is no better.
    assert env["random_bound"] == 3.0
    assert ppo["failure"]["random"]["failures"] == 4
    assert ppo["reliability"]["dispersion_across_rollouts"]["point"] == 0.0
    assert "verdict Odd-v0:" in text


def test_a_seed_that_diverged_before_its_first_checkpoint(tmp_path):
    finals = np.array([5.0, 6.0, 7.0])
    curves = finals[:, None] * np.linspace(0.2, 1.0, 5)
    curves[1] = np.nan
    summary, _, _ = _report(
        tmp_path,
        {"algo": "ppo", "finals": finals, "curves": curves, "diverged": [1]},
        {"algo": "random", "finals": [0.0, 0.5, 1.0]},
    )
    ppo = _algo(summary, "ppo")
    assert ppo["usable_seeds"] == 2
    assert ppo["curve"]["band"]["n"] == 2
    assert ppo["curve"]["seeds"][1] == {"seed": 1, "diverged": True, "returns": [None] * 5}
    assert ppo["reliability"]["short_term_risk"]["n"] == 2
    # The two others beat random; the diverged seed counts as a failure.
    assert ppo["failure"]["random"]["failures"] == 1


def test_every_seed_diverged(tmp_path):
    nan = np.full((3, 5), np.nan)
    summary, html, text = _report(
        tmp_path,
        {"algo": "ppo", "finals": [1.0, 2.0, 3.0], "curves": nan, "diverged": [0, 1, 2]},
        {"algo": "random", "finals": [0.0, 0.5, 1.0]},
    )
    ppo = _algo(summary, "ppo")
    assert ppo["iqm"] is None and ppo["iqm_reason"] == "every seed diverged"
    assert ppo["final"]["mean"] is None and ppo["final"]["mean_reason"] == "every seed diverged"
    assert ppo["curve"]["band"] is None and ppo["curve"]["band_reason"] == "every seed diverged"
    for key in RELIABILITY_METRICS:
        assert ppo["reliability"][f"{key}_reason"] == "every seed diverged"
    assert ppo["failure"]["random"]["failures"] == 3
    assert "(1) every seed diverged" in html
    row = next(line for line in text.splitlines() if "ppo" in line and "diverged)" in line)
    assert "n/a (1)" in row and "(1) every seed diverged" in text


def test_every_seed_of_every_algo_diverged(tmp_path):
    nan = np.full((2, 5), np.nan)
    summary, _, _ = _report(
        tmp_path,
        {"algo": "ppo", "finals": [1.0, 2.0], "curves": nan, "diverged": [0, 1]},
        {"algo": "random", "finals": [0.0, 0.5], "curves": nan, "diverged": [0, 1]},
    )
    (env,) = summary["envs"]
    assert env["profile"] is None and env["profile_reason"] == "no seed has a usable final return"
    assert env["random_bound"] is None
    assert env["random_bound_reason"] == (
        "the random baseline has fewer than 2 usable final evaluation episodes"
    )
    assert _algo(summary, "ppo")["failure"]["random_reason"] == env["random_bound_reason"]


def test_one_seed(tmp_path):
    summary, html, _ = _report(
        tmp_path,
        {"algo": "ppo", "finals": [3.0], "threshold": 2.0},
        {"algo": "random", "finals": [1.0], "threshold": 2.0},
    )
    ppo = _algo(summary, "ppo")
    one = "needs at least 2 usable seeds; this unit has 1"
    assert ppo["final"]["std"] is None and ppo["final"]["std_reason"] == one
    assert ppo["reliability"]["dispersion_across_runs_reason"] == one
    assert ppo["reliability"]["short_term_risk"]["n"] == 1
    (pair,) = summary["envs"][0]["comparisons"]["pairs"]
    assert pair["mann_whitney_p"] is None
    assert pair["mann_whitney_p_reason"] == "needs at least 2 seeds per algo"
    assert "needs at least 2 seeds per algo" in html


def test_one_seed_in_the_final_return_table(tmp_path):
    text = _terminal_table(tmp_path, [3.0])
    assert "3 ± n/a (1)" in text
    assert "(1) needs at least 2 usable seeds; this unit has 1" in text


def test_every_seed_diverged_in_the_final_return_table(tmp_path):
    text = _terminal_table(tmp_path, [3.0, 4.0], diverged=[0, 1])
    row = next(line for line in text.splitlines() if "2/2 diverged" in line)
    assert row.count("n/a (1)") == 4 and "(1) every seed diverged" in text


def test_checkpoints_at_repeated_env_steps_stored_before_they_were_merged(tmp_path):
    # What rlcheck stored for 20 checkpoints closer than one update, before merging them.
    repeated = np.array([512, 512, 1024, 1024, 1536])
    summary, html, _ = _report(
        tmp_path, {"algo": "random", "finals": [1.0, 2.0], "env_steps": repeated}
    )
    reliability = _algo(summary, "random")["reliability"]
    assert reliability["short_term_risk"] is None
    assert reliability["short_term_risk_reason"] == "checkpoints at repeated env steps"
    assert "checkpoints at repeated env steps" in html


def test_no_checkpoints_and_no_threshold(tmp_path):
    summary, html, text = _report(
        tmp_path,
        {"algo": "lqr", "finals": [5.0, 6.0], "steps": []},
        {"algo": "random", "finals": [0.0, 1.0]},
    )
    lqr = _algo(summary, "lqr")
    assert lqr["curve"] is None
    assert lqr["curve_reason"] == "no checkpoints: the method is evaluated once, at the end"
    assert lqr["reliability"]["short_term_risk_reason"] == lqr["curve_reason"]
    assert lqr["failure"]["solve"] is None
    assert "lqr" not in summary["envs"][0]["sample_efficiency"]["algos"]
    assert "no checkpoints: the method is evaluated once, at the end" in html
    assert "the env has no solve threshold" in text
