"""The HTML report: self-contained, every user string escaped, valid JSON beside it, renders."""

import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from rlcheck.report.html import SECTIONS, write_report
from tests.report.synthetic import open_store, write_failed_unit, write_unit

ENV = "<script>alert(1)</script>"
ALGO = "<img src=x onerror=alert(1)>"
REASON = "<b>boom</b> & </td>"
SPEC = {"env": [{"id": ENV}], "note": "</pre><script>alert(2)</script>"}
LENGTHS = [0.25, 0.5, 1.0, 2.0]
SHAPE = [0.2, 1.0, 0.8, 0.1]  # the return at each length, relative to the training one
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _write_results(directory: Path) -> None:
    store, run_id = open_store(directory, SPEC)
    ppo = 20 + np.arange(8.0)
    write_unit(store, run_id, ENV, "ppo", ppo, label=ALGO, threshold=24.0, diverged=[0])
    write_unit(store, run_id, ENV, "random", np.arange(8.0) / 4, threshold=24.0)
    write_unit(store, run_id, ENV, "ppo", ppo - 0.5, label="$\\alpha$ & co", threshold=24.0)
    write_failed_unit(store, run_id, ENV, "dqn", REASON)
    # A robustness request over the pole length: seed s returns (10 + s)·SHAPE at each value.
    spec = {
        "vary": "length",
        "values": LENGTHS,
        "log": False,
        "episodes": 2,
        "obs_noise": 0.0,
        "action_noise": 0.0,
        "action_delay": 0,
        "seed": None,
        "training_value": 0.5,
    }
    seeds = list(range(1, 8))  # seed 0 diverged in training
    returns = np.array([[[(10 + s) * f] * 2 for f in SHAPE] for s in seeds])
    store.write_robustness("request", f"{ENV}/{ALGO}", spec, seeds, returns, 0.5)
    store.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("results")
    _write_results(directory)
    html_path, json_path = write_report(directory)
    return directory, html_path, json_path


def test_paths(report):
    directory, html_path, json_path = report
    assert html_path == directory / "report.html"
    assert json_path == directory / "summary.json"


def test_user_strings_are_escaped(report):
    html = report[1].read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;boom&lt;/b&gt; &amp; &lt;/td&gt;" in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "$\\alpha$ &amp; co" in html


def test_page_is_self_contained(report):
    html = report[1].read_text()
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    images = [link for link in links if link.startswith("data:image/png;base64,")]
    assert len(images) == 7
    assert all(link.startswith(("data:", "#")) for link in links)
    assert "http://" not in html and "https://" not in html
    for key in SECTIONS:
        assert f'<section id="{key}">' in html


def test_summary_json_is_strict_json(report):
    text = report[2].read_text()

    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    summary = json.loads(text, parse_constant=reject)
    (env,) = summary["envs"]
    assert env["env"] == ENV
    ppo = next(a for a in env["algos"] if a["label"] == ALGO)
    assert ppo["per_seed"][0]["final_return"] is None
    assert ppo["iqm"]["n"] == 7
    assert summary["failed_units"][0]["reason"] == REASON


def test_summary_json_has_the_robustness_curves(report):
    (study,) = json.loads(report[2].read_text())["robustness"]
    assert (study["vary"], study["values"], study["log"]) == ("length", LENGTHS, False)
    (env,) = study["envs"]
    assert (env["env"], env["training_value"]) == (ENV, 0.5)
    (ppo,) = env["algos"]
    assert ppo["label"] == ALGO and ppo["n"] == 7
    # IQM of 11 … 17 (the middle five of seven): 14, at the training value where SHAPE is 1.
    assert ppo["at_training_value"]["point"] == pytest.approx(14.0)
    np.testing.assert_allclose(ppo["curve"]["iqm"], 14.0 * np.array(SHAPE))
    assert ppo["worst"] == {"value": 2.0, "iqm": pytest.approx(1.4)}
    # Trapezoids of SHAPE over the lengths: 0.15 + 0.45 + 0.45 = 1.05, over a width of 1.75.
    np.testing.assert_allclose(ppo["normalized_area"]["per_seed"], 0.6 * (10 + np.arange(1, 8)))
    low, point, high = (ppo["normalized_area"][k] for k in ("low", "point", "high"))
    assert point == pytest.approx(0.6 * 14)
    assert low < point < high


def test_without_robustness_the_summary_says_why(tmp_path):
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, "CartPole-v1", "ppo", [1.0, 2.0])
    store.close()
    html, json_path = write_report(tmp_path)
    summary = json.loads(json_path.read_text())
    assert summary["robustness"] is None
    assert summary["robustness_reason"].startswith("no robustness evaluation in this directory")
    assert "rlcheck robustness DIR --vary NAME=VALUES" in html.read_text()


def test_report_is_deterministic_and_output_can_move(report, tmp_path):
    directory, html_path, json_path = report
    html, summary = html_path.read_bytes(), json_path.read_bytes()
    other_html, other_json = write_report(directory, tmp_path / "elsewhere.html")
    assert other_html == tmp_path / "elsewhere.html"
    assert other_json == json_path
    assert other_html.read_bytes() == html
    assert json_path.read_bytes() == summary


def test_degenerate_results_render_without_warnings(tmp_path):
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, "Odd-v0", "ppo", [5.0, 6.0], diverged=[0, 1], label="all diverged")
    write_unit(store, run_id, "Odd-v0", "ppo", [3.0], label="one seed")
    write_unit(store, run_id, "Odd-v0", "random", [1.0, 1.0, 1.0], label="ties")
    store.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, json_path = write_report(tmp_path)
    (env,) = json.loads(json_path.read_text())["envs"]
    diverged = env["algos"][0]
    assert diverged["iqm"] is None and diverged["curve"]["band"] is None
    assert diverged["failure"]["random"]["failures"] == 2
    assert "no seed has a usable final return" in env["verdict"]["text"]
    held_back = {frozenset((p["a"], p["b"])): p["held_back"] for p in env["comparisons"]["pairs"]}
    assert held_back == {
        frozenset(("all diverged", "one seed")): "too few seeds",
        frozenset(("one seed", "ties")): "too few seeds",
        # P(ties > all diverged) = 1, but 3 against 2 seeds cannot pass Holm (exact p = 0.2).
        frozenset(("all diverged", "ties")): "holm",
    }


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_page_renders_in_headless_chromium(report):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: problems.append(f"dialog {d.message}") or d.dismiss())
            page.goto(report[1].as_uri())
            verdict = page.inner_text("#verdict")
            for key, title in SECTIONS.items():
                assert page.locator(f"#{key} h2").inner_text() == title
            images_ok = page.evaluate(
                "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
            )
            body = page.inner_text("body")
            shot = page.screenshot()
        finally:
            browser.close()
    assert problems == []
    assert f"{ALGO} is better than random" in verdict
    assert ENV in body and REASON in body
    assert images_ok == [True] * 7
    colours = Image.open(io.BytesIO(shot)).convert("RGB").getcolors(1 << 20)
    assert len(colours) > 200


@pytest.mark.slow
def test_report_of_a_unit_whose_env_raises(tmp_path):
    from rlcheck.cli import main

    out = tmp_path / "results"
    args = ["quick", "tests.report.broken_env:make_broken", "--algos", "ppo,random"]
    args += ["--seeds", "2", "--steps", "2000", "--checkpoints", "2", "--eval-episodes", "2"]
    assert main([*args, "--out", str(out), "--workers", "0"]) == 1
    html_path, json_path = write_report(out)
    summary = json.loads(json_path.read_text())
    reasons = {f["algo"]: f["reason"] for f in summary["failed_units"]}
    assert reasons == dict.fromkeys(("ppo", "random"), "RuntimeError: simulator <crashed> & burned")
    (env,) = summary["envs"]
    assert env["algos"] == []
    assert "ppo failed on this env and has no results" in env["verdict"]["text"]
    html = html_path.read_text()
    assert "simulator &lt;crashed&gt; &amp; burned" in html
    assert "<crashed>" not in html


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A tiny PPO run trained by rlcheck, with TensorBoard logging, and SB3's PPO runs (RL
    Zoo's folders, tests/data/import) imported beside it."""
    from rlcheck.cli import main
    from tests.helpers.cli import spec_text

    directory = tmp_path_factory.mktemp("mixed")
    spec = directory / "spec.toml"
    spec.write_text(spec_text() + "[logging]\ntensorboard = true\n")
    results = directory / "results"
    assert main(["run", str(spec), "--out", str(results), "--workers", "0"]) == 0
    zoo = Path(__file__).parents[1] / "data" / "import" / "zoo" / "logs" / "ppo"
    assert main(["import", str(zoo), "--out", str(results)]) == 0
    return results


@pytest.mark.slow
def test_imported_units_sit_beside_trained_ones(mixed):
    summary = json.loads((mixed / "summary.json").read_text())
    (env,) = summary["envs"]
    assert [a["label"] for a in env["algos"]] == ["ppo", "ppo (imported)"]
    assert env["budgets"] == [320, 4096]
    text = env["verdict"]["text"]
    assert "ppo (imported) was imported from SB3 Monitor files" in text
    assert "unequal budgets (ppo (imported) 4.1k, ppo 320 env steps per seed)" in text
    html = (mixed / "report.html").read_text()
    assert "Imported units (not trained by rlcheck)" in html
    assert "RL Zoo&#x27;s folder layout logs/ALGO/ENV_N" in html
    # [logging] tensorboard = true: one run per trained seed, curves and internals.
    from rlcheck.experiment.tensorboard import read_scalars

    (events,) = (mixed / "tensorboard" / "CartPole-v1" / "ppo" / "seed_1").glob("events.*")
    assert {"eval_return", "final_return", "internals/approx_kl"} <= set(read_scalars(events))


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_imported_and_trained_report_renders_in_headless_chromium(mixed):
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto((mixed / "report.html").as_uri())
            verdict = page.inner_text("#verdict")
            provenance = page.inner_text("#provenance")
            images_ok = page.evaluate(
                "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
            )
        finally:
            browser.close()
    assert problems == []
    assert "ppo (imported) was imported from SB3 Monitor files" in verdict
    assert "Imported units (not trained by rlcheck)" in provenance
    assert images_ok and all(images_ok)


def test_hidden_performance_section_only_where_an_env_reports_it(tmp_path, report):
    assert 'id="performance"' not in report[1].read_text()
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, "Boat", "ppo", [50.0, 50.0, 50.0], performance=[0.0, 2.0, 100.0])
    write_unit(store, run_id, "Boat", "random", [-60.0, -62.0, -61.0])
    store.close()
    html = write_report(tmp_path)[0].read_text()
    assert '<section id="performance">' in html and 'href="#performance"' in html
    section = html[html.index('<section id="performance">') :]
    section = section[: section.index("</section>")]
    assert section.count("data:image/png;base64,") == 1
    assert "<td>50 [50, 50]</td><td>34 [" in section
    # The random unit stored no performance: n/a with the reason below the table.
    assert "reports no hidden performance" in section
