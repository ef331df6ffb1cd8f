"""The findings page and docs/findings.md, from study directories with synthetic results."""

import re

import pytest

from rlcheck.errors import UserError
from rlcheck.report.findings import write_findings
from rlcheck.studies import get_study
from rlcheck.studies.run import FIGURE, default_directory, prepare
from tests.report.synthetic import open_store, write_unit

PNG = b"\x89PNG\r\n\x1a\n"


def _study(root, name, quick, units):
    study = get_study(name)
    directory = root / default_directory(study, quick)
    prepare(directory, study, study.scale(quick, seeds=4))
    store, run_id = open_store(directory)
    for env, algo, finals in units:
        write_unit(store, run_id, env, algo, finals)
    store.close()
    return directory


@pytest.fixture
def root(tmp_path):
    pendulum = [("Pendulum-v1", "td3", [-150.0, -160.0, -900.0, -140.0])]
    _study(tmp_path, "seed-failures", True, pendulum)
    _study(tmp_path, "seed-failures", False, pendulum)
    cartpole = [("CartPole-v1", "ars", [500.0] * 4), ("CartPole-v1", "ppo", [100.0] * 4)]
    _study(tmp_path, "black-box-search", True, cartpole)
    return tmp_path


def test_the_page_has_each_study_run_with_figure_sentence_cost_and_report_link(root):
    page, markdown = write_findings(root / "runs" / "studies")
    assert markdown is None and page == root / "runs" / "studies" / "findings.html"
    html = page.read_text()
    sections = re.findall(r'<section id="([^"]+)">', html)
    # In the order of `rlcheck study list`; a full version before its quick one.
    assert sections == ["black-box-search", "seed-failures", "seed-failures"]
    assert html.count('src="data:image/png;base64,') == 3
    assert "TD3 1/4 (25%, 95% CI" in html
    assert "ARS beat PPO, the better RL method, on CartPole-v1" in html
    assert 'href="black-box-search-quick/report.html"' in html
    assert "quick version, 4 seeds per method" in html and "full version" in html
    assert "http://" not in html and "https://" not in html
    figure = root / "runs" / "studies" / "seed-failures-quick" / FIGURE
    assert figure.read_bytes().startswith(PNG)


def test_markdown_with_its_figures_beside_it(root, tmp_path):
    docs = tmp_path / "docs"
    page, markdown = write_findings(
        root / "runs" / "studies", docs / "f.html", docs / "findings.md"
    )
    text = markdown.read_text()
    assert text.startswith("# Findings")
    assert (
        "![Seed failure rates on Pendulum (Irpan's 3 of 10)](findings/seed-failures-quick.png)"
        in text
    )
    assert (docs / "findings" / "seed-failures-quick.png").read_bytes().startswith(PNG)
    assert "`rlcheck study run seed-failures --quick`" in text
    # The page's report links are relative to where the page is.
    assert 'href="../runs/studies/seed-failures/report.html"' in page.read_text()


def test_a_root_without_studies_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="no study results here"):
        write_findings(tmp_path)
