"""Quick studies end to end through the real command: units, report, finding, figure, page.

Running every quick study takes about twenty minutes on two cores, too long for CI; these run
two of them whole at 2 seeds: reward-hacking (which exercises the failure-mode envs and the
hidden-performance plumbing too) with the findings page over it, and value-baseline (a study
that measures after its units: the diagnostics at a checkpoint). Studies with a [sweep] table
run through the same code as ``rlcheck sweep`` (tests/test_cli.py). Every study's
specs are planned (tests/studies/test_specs.py) and its analysis checked on synthetic results
(tests/studies/test_<name>.py).
"""

import json

import pytest

from tests.helpers.cli import rlcheck

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_quick_study_ends_in_its_sentence_figure_and_findings_page(tmp_path):
    out = tmp_path / "runs" / "reward-hacking"
    run = rlcheck(
        "study",
        "run",
        "reward-hacking",
        "--quick",
        "--seeds",
        "2",
        "--out",
        str(out),
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "study reward-hacking (quick version, 2 seeds per method): about" in run.stdout
    assert "Finding (reward-hacking, quick): On the boat race" in " ".join(run.stdout.split())
    record = json.loads((out / "finding.json").read_text())
    assert record["quick"] is True and record["seeds"] == 2
    assert "[95% CI" in record["sentence"] and record["sentence"].endswith(".")
    assert record["cost"]["units"] == 6 and record["cost"]["env_steps"] > 0
    assert (out / "finding.png").read_bytes().startswith(PNG)
    html = (out / "report.html").read_text()
    assert '<section id="performance">' in html  # the full report shows hidden performance
    summary = json.loads((out / "summary.json").read_text())
    boat = next(e for e in summary["envs"] if e["env"] == "rlcheck:BoatRace-v0")
    assert all(a["performance"] is not None for a in boat["algos"])

    page = tmp_path / "findings.html"
    report = rlcheck(
        "study",
        "report",
        "--root",
        str(tmp_path / "runs"),
        "-o",
        str(page),
        "--markdown",
        str(tmp_path / "docs" / "findings.md"),
    )
    assert report.returncode == 0, report.stderr
    text = page.read_text()
    assert record["sentence"].replace("'", "&#x27;") in text
    assert 'href="runs/reward-hacking/report.html"' in text
    assert (tmp_path / "docs" / "findings" / "reward-hacking-quick.png").exists()


@pytest.mark.slow
def test_a_quick_study_that_measures_after_its_units(tmp_path):
    """value-baseline at 2 seeds: its PPO units, then its diagnostics (Study.measure) into
    measurements.json, then the finding from both."""
    out = tmp_path / "value-baseline"
    run = rlcheck(
        "study", "run", "value-baseline", "--quick", "--seeds", "2", "--out", str(out), timeout=900
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Measuring (the study's diagnostics)" in run.stdout
    measured = json.loads((out / "measurements.json").read_text())
    (checkpoint,) = measured["at"]
    assert checkpoint["updates"] == 8 and len(checkpoint["mre"]["old_vs_mc"]) == 2
    record = json.loads((out / "finding.json").read_text())
    assert record["sentence"].startswith("On CartPole-v1 after 8 updates")
    assert "[95% CI" in record["sentence"] and record["cost"]["units"] == 1
    assert (out / "finding.png").read_bytes().startswith(PNG)
