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
    assert len(images) == 6
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
    assert images_ok == [True] * 6
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
