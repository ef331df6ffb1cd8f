"""`rlcheck verdict` end to end: the battery run, the headline and the files it writes."""

import json

import pytest

from tests.helpers.cli import rlcheck


@pytest.mark.slow
def test_verdict_end_to_end_on_cartpole(tmp_path):
    out = tmp_path / "verdict"
    result = rlcheck(
        "verdict", "CartPole-v1", "--seeds", "2", "--budget", "2048", "--out", str(out), timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rlcheck verdict" in result.stdout
    written = json.loads((out / "verdict.json").read_text())
    (env,) = written["envs"]
    assert env["env"] == "CartPole-v1"
    simpler = {s["algo"]: s for s in env["simpler"]}
    assert {"ars", "cma_es", "lqr"} <= set(simpler)
    assert "0 env steps per seed, 5 simulator calls per seed" in simpler["lqr"]["sentence"]
    assert (out / "verdict.md").read_text().startswith("# rlcheck verdict")
    assert (out / "report.html").exists()
