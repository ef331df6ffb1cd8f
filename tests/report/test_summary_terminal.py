"""The terminal summary: IQM and failure rates with CIs per (env, algo), and the verdicts."""

import numpy as np
import pytest
from rich.console import Console

from rlcheck import stats
from rlcheck.report.analysis import analyze
from rlcheck.report.summary_terminal import print_summary
from tests.report.synthetic import open_store, write_failed_unit, write_unit

LABEL = "[red]ppo[/red]"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store, run_id = open_store(tmp_path_factory.mktemp("results"))
    write_unit(store, run_id, "Toy-v0", "ppo", 20 + np.arange(8.0), label=LABEL, threshold=22.0)
    write_unit(store, run_id, "Toy-v0", "random", np.arange(8.0) / 4, threshold=22.0)
    write_failed_unit(store, run_id, "Toy-v0", "dqn", "boom [bold]")
    yield store
    store.close()


def _printed(source) -> tuple[str, dict]:
    console = Console(record=True, width=250, color_system=None)
    analysis = print_summary(source, console)
    return console.export_text(), analysis


def test_rows_show_iqm_and_failure_rates_with_intervals(store):
    text, analysis = _printed(analyze(store, reps=2000, band_reps=200))
    ppo = next(a for a in analysis["envs"][0]["algos"] if a["label"] == LABEL)
    iqm = ppo["iqm"]
    assert f"{iqm['point']:.3g} [{iqm['low']:.3g}, {iqm['high']:.3g}]" in text
    # 20 and 21 end below 22: 2 of 8 unsolved.
    low, high = stats.wilson_interval(2, 8)
    assert f"2/8 = 25% [{100 * low:.0f}%, {100 * high:.0f}%]" in text
    assert "8/8 = 100% [68%, 100%]" in text
    assert "unsolved: final return < 22" in text
    assert "unit failed" in text


def test_markup_in_user_strings_is_printed_literally(store):
    text, _ = _printed(analyze(store, reps=2000, band_reps=200))
    assert LABEL in text
    assert f"verdict Toy-v0: {LABEL} 6/8 solved; random 0/8 solved; dqn failed | " in text
    assert f"{LABEL} > random" in text


def test_accepts_a_store_and_returns_its_analysis(store):
    _, analysis = _printed(store)
    assert [a["label"] for a in analysis["envs"][0]["algos"]] == [LABEL, "random"]
    assert analysis["settings"]["reps"] == 50_000


def test_costs_are_printed_beside_each_algo(store):
    text, _ = _printed(analyze(store, reps=2000, band_reps=200))
    # Synthetic units: 992 env steps per seed, 3.5 s wall, 1.25 s compiling, no simulator.
    row = next(line for line in text.splitlines() if "random" in line and "3.5 s" in line)
    cells = [c.strip() for c in row.strip().strip("│").split("│")]
    assert cells == ["Toy-v0", "random", "992", "—", "3.5 s", "1.2 s"]


def test_hidden_performance_table_only_where_an_env_reports_it(store, tmp_path):
    text, _ = _printed(analyze(store, reps=500, band_reps=100))
    assert "hidden performance" not in text
    boat, run_id = open_store(tmp_path)
    write_unit(boat, run_id, "Boat", "ppo", [50.0, 50.0, 50.0], performance=[0.0, 0.0, 0.0])
    text, _ = _printed(analyze(boat, reps=500, band_reps=100))
    boat.close()
    assert "Final return vs hidden performance (means, 95% CIs)" in text
    table = text[text.index("Final return vs hidden performance") :]
    row = next(line for line in table.splitlines() if "│ Boat" in line)
    cells = [c.strip() for c in row.strip(" │").split("│")]
    assert cells == ["Boat", "ppo", "50 [50, 50]", "0 [0, 0]", "50 [50, 50]", "3"]
