"""``rlcheck ablate`` end to end: bad input is one line and exit code 2; a tiny ablation writes
its Ablation section and summary.json's ``ablation``, and resumes without training."""

import json

import pytest

from rlcheck.cli import main
from tests.helpers.cli import spec_text


def _one_line_error(capsys, argv, expected):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expected in err, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--fields", "clip_vlos"], "--fields: ppo has no config field 'clip_vlos'; did you mean"),
        (["--fields", "gamma"], "--fields: gamma is not a toggle (ablate switches boolean"),
        (["--fields", "num_envs"], "--fields: num_envs is not a toggle"),
        (["--lr-grid", "0:1e-2:4"], "--lr-grid: learning rates must be above 0"),
        (["--lr-grid", "-1e-3,1e-3"], "--lr-grid: learning rates must be above 0"),
        (["--lr-grid", "0:1e-2:4:log"], "--lr-grid: a log range needs bounds above 0"),
        (["--lr-grid", "1e-3", "--fresh-seeds", "0"], "--fresh-seeds: an lr grid picks"),
        (["--design", "full"], "--design: unknown design 'full'"),
        (["--algo", "pp"], "--algo: unknown algorithm 'pp'"),
        (["--algo", "cem"], "--algo: cem is not an RL algorithm"),
        (["--fields", ","], "--fields: give at least one field"),
    ],
)
def test_bad_ablations_exit_2_with_one_line(capsys, tmp_path, argv, expected):
    _one_line_error(capsys, ["ablate", "CartPole-v1", *argv, "--out", str(tmp_path)], expected)


ABLATE = """
[ablate]
fields = ["max_grad_norm"]
"""


def test_ablate_specs_and_run_specs_do_not_mix(capsys, tmp_path):
    ablated = tmp_path / "ablated.toml"
    ablated.write_text(spec_text() + ABLATE)
    plain = tmp_path / "plain.toml"
    plain.write_text(spec_text())
    _one_line_error(capsys, ["run", str(ablated)], "has an [ablate] table; run it with rlcheck")
    _one_line_error(capsys, ["ablate", str(plain)], "plain.toml: no [ablate] table")
    _one_line_error(
        capsys,
        ["ablate", str(ablated), "--design", "factorial"],
        "--design: a spec gives its ablation in its [ablate] table",
    )
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(spec_text() + '[ablate]\nfields = ["gae_lambda"]\n')
    _one_line_error(capsys, ["ablate", str(wrong)], "wrong.toml: ablate.fields: gae_lambda is not")


def test_a_tiny_ablation_writes_its_section_and_resumes(capsys, tmp_path):
    spec = tmp_path / "ablate.toml"
    spec.write_text(spec_text() + ABLATE)
    out = tmp_path / "out"
    assert main(["ablate", str(spec), "--out", str(out), "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    assert "Ablation: ppo on CartPole-v1 (one-at-a-time)" in printed
    summary = json.loads((out / "summary.json").read_text())
    (ablation,) = summary["ablation"]
    assert ablation["design"] == "one-at-a-time" and ablation["seeds"] == [0, 1]
    assert ablation["toggles"] == [{"name": "max_grad_norm", "on": 0.5, "off": "inf"}]
    assert [c["name"] for c in ablation["cells"]] == ["all on", "off: max_grad_norm"]
    assert all(c["mean"]["n"] == 2 and 0 < c["mean"]["point"] <= 500 for c in ablation["cells"])
    (effect,) = ablation["main_effects"]
    means = [c["mean"]["point"] for c in ablation["cells"]]
    assert effect["effect"]["point"] == pytest.approx(means[0] - means[1])
    html = (out / "report.html").read_text()
    assert '<section id="ablation">' in html and "main effect: on − off" in html

    assert main(["ablate", str(spec), "--out", str(out), "--workers", "0"]) == 0
    assert capsys.readouterr().out.count("already stored, skipped") == 2
