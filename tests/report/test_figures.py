"""Figures: one PNG per kind and env, drawn at 1.5× their display size, nothing when empty."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from rlcheck.report.analysis import analyze
from rlcheck.report.figures import algo_colors, chart_figure, env_figures
from tests.report.synthetic import open_store, write_unit


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    store, run_id = open_store(tmp_path_factory.mktemp("results"))
    write_unit(store, run_id, "A-v0", "ppo", 10 + np.arange(6.0), threshold=12.0, diverged=[1])
    # Matplotlib reads "$…$" as math; a label with one "$" must still be drawn as text.
    write_unit(store, run_id, "A-v0", "random", np.arange(6.0), label="cost $5", threshold=12.0)
    write_unit(store, run_id, "B-v0", "ppo", [1.0, 2.0, 3.0])
    result = analyze(store, reps=500, band_reps=100)
    store.close()
    return result


def _image(png) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(png.uri.split(",", 1)[1])))


def test_colours_are_shared_across_envs(analysis):
    colors = algo_colors(analysis)
    assert list(colors) == ["ppo", "cost $5"]
    assert colors["ppo"] != colors["cost $5"]


def test_every_figure_is_drawn_at_one_and_a_half_times_its_display_size(analysis):
    figures = env_figures(analysis["envs"][0], algo_colors(analysis), 0.95)
    assert set(figures) == {
        "learning_curves",
        "final_scores",
        "failure_rates",
        "profile",
        "improvement",
        "sample_efficiency",
        "performance",
    }
    assert figures.pop("performance") is None  # no hidden performance in these results
    for png in figures.values():
        image = _image(png)
        assert image.format == "PNG"
        assert image.size == pytest.approx((1.5 * png.width, 1.5 * png.height), abs=1)
        assert len(image.convert("RGB").getcolors(1 << 16)) > 10


def test_figures_without_data_are_left_out(analysis):
    env = analysis["envs"][1]
    figures = env_figures(env, algo_colors(analysis), 0.95)
    assert figures["improvement"] is None
    assert figures["failure_rates"] is None
    assert figures["sample_efficiency"] is None
    assert figures["learning_curves"] is not None


@pytest.mark.parametrize("kind", ["intervals", "lines"])
def test_a_studys_chart_is_drawn_from_its_data(kind):
    x = (
        ["a: PPO", "b: a label long enough to be cut short in a tick"]
        if kind == "intervals"
        else [5, 10]
    )
    chart = {
        "kind": kind,
        "title": "a $title$",
        "value_label": "value",
        "category_label": "size",
        "series": [
            {"name": "one", "points": [{"x": x[0], "point": 1.0, "low": 0.5, "high": 2.0}]},
            {"name": "two", "points": [{"x": x[1], "point": 3.0, "low": None, "high": None}]},
        ],
        "references": [(0.5, "reference")],
        "log": False,
    }
    image = _image(chart_figure(chart))
    assert image.format == "PNG" and len(image.convert("RGB").getcolors(1 << 16)) > 10
