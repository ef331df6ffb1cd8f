"""Quick studies end to end through the real command: units, report, finding, figure, page.

Every study's quick version runs here whole at 2 seeds per method (the fewest its statistics
take), compiling what its default seed count compiles: reward-hacking (which exercises the
failure-mode envs and the hidden-performance plumbing too) with the findings page over it, and
value-baseline (a study that measures after its units: the diagnostics at a checkpoint) with
checks of their own, the other eleven through the checks every finding must pass. Every
study's specs are planned (tests/studies/test_specs.py) and its analysis checked on synthetic
results (tests/studies/test_<name>.py), where the sentences' numbers are checked.
"""

import json

import pytest

from rlcheck.studies import studies
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


WHOLE = ("reward-hacking", "value-baseline")  # run whole by the tests above


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in studies() if name not in WHOLE])
def test_every_quick_study_ends_in_its_sentence_and_figure(tmp_path, name):
    out = tmp_path / name
    run = rlcheck("study", "run", name, "--quick", "--seeds", "2", "--out", str(out), timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"study {name} (quick version, 2 seeds per method): about" in run.stdout
    record = json.loads((out / "finding.json").read_text())
    assert record["study"] == name and record["quick"] is True and record["seeds"] == 2
    assert " ".join(record["sentence"].split()) in " ".join(run.stdout.split())
    # One sentence, with a number and its interval.
    assert "CI" in record["sentence"] and record["sentence"].endswith(".")
    assert any(ch.isdigit() for ch in record["sentence"])
    assert record["cost"]["units"] >= 1 and record["cost"]["command_wall_s"] > 0
    assert (out / "finding.png").read_bytes().startswith(PNG)
    assert (out / "report.html").exists() and (out / "summary.json").exists()
