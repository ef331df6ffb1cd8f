"""The report's clips: best, median and worst seed per unit, within the stated size."""

import base64
import json
import re

import imageio.v2 as imageio
import pytest

from rlcheck.report.html import write_report
from rlcheck.report.videos import CLIP_BYTES, CLIP_FRAMES, REPORT_BYTES
from tests.helpers.trained import shared_copy

# imageio's reader starts ffmpeg with subprocess, whose fork JAX warns about (ffmpeg runs no JAX).
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return shared_copy(tmp_path_factory)


def test_the_report_embeds_small_clips_of_every_unit(trained, tmp_path):
    plain, _ = write_report(trained, tmp_path / "plain.html")
    html, summary = write_report(trained, tmp_path / "video.html", video=True)
    videos = json.loads(summary.read_text())["videos"]
    # Four units, each with a best and a median/worst clip (two seeds each).
    assert len(videos["clips"]) == 8 and not videos["left_out"]
    assert {tuple(c["picks"]) for c in videos["clips"]} == {("best",), ("median", "worst")}
    assert all(
        c["bytes"] <= CLIP_BYTES and c["shown_steps"] <= CLIP_FRAMES for c in videos["clips"]
    )
    added = html.stat().st_size - plain.stat().st_size
    # The stated limit, base64 included; these 8 clips of CartPole are far below it.
    assert sum(c["bytes"] for c in videos["clips"]) * 4 / 3 < added <= REPORT_BYTES
    assert added < 300_000
    page = html.read_text()
    uris = re.findall(r'<video src="data:video/mp4;base64,([^"]+)"', page)
    assert len(uris) == 8
    # The embedded clip is a real video, cut at CLIP_FRAMES steps, half size.
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(base64.b64decode(uris[0]))
    reader = imageio.get_reader(clip)
    try:
        assert reader.count_frames() == videos["clips"][0]["shown_steps"]
        assert reader.get_meta_data()["size"] == (300, 200)
    finally:
        reader.close()
    assert "uri" not in videos["clips"][0]  # summary.json stays light
