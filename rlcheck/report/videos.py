"""The report's clips (``rlcheck report --video``): per unit, one episode each of its best, median
and worst seed by final return, as small H.264 MP4s embedded in the page.

Kept small on purpose: at most :data:`CLIP_FRAMES` steps a clip, every :data:`SCALE`-th pixel
(CartPole: 300 × 200), a clip over :data:`CLIP_BYTES` left out, and no more clips once the
report's clips reach :data:`REPORT_BYTES` (6 units × 3 clips ≤ 4.5 MB). Measured on CartPole:
a 200-step clip is ≈ 10–20 KB.
"""

from __future__ import annotations

import base64
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from rlcheck.errors import UserError
from rlcheck.experiment.store import Store
from rlcheck.experiment.watch import PICKS, pick_seed, watch_episode, write_video
from rlcheck.report.format import fmt

CLIP_FRAMES = 200
SCALE = 2
CLIP_BYTES = 250_000
REPORT_BYTES = 5_000_000
LIMITS = (
    f"each clip at most {CLIP_FRAMES} steps, every {SCALE}nd pixel, ≤ {CLIP_BYTES // 1000} KB; "
    f"≤ {REPORT_BYTES // 1_000_000} MB of clips per report"
)


def unit_clips(directory: Path, analysis: dict[str, Any]) -> dict[str, Any]:
    """Clips of the best, median and worst seed of every unit the report shows.

    Returns:
        {"clips": [{unit_key, env, label, picks, seed, final_return, episode_return, steps,
        shown_steps, bytes, uri}], "left_out": [{unit_key, env, label, reason}], "limits"}:
        a unit with no stored policy, or an env that cannot be drawn, is left out with the
        reason; ``uri`` is the clip as a data: URI (summary.json leaves it out).
    """
    clips: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = []
    total = 0
    store = Store(directory, create=False)
    try:
        rows = {r["key"]: r for r in store.units()}
        with tempfile.TemporaryDirectory() as scratch:
            for env in analysis["envs"]:
                for algo in env["algos"]:
                    row = rows[algo["unit_key"]]
                    where = {"unit_key": row["key"], "env": env["env"], "label": algo["label"]}
                    picks: dict[int, list[str]] = {}
                    try:
                        for pick in PICKS:
                            picks.setdefault(pick_seed(store, row, pick), []).append(pick)
                        for seed, names in picks.items():
                            if total >= REPORT_BYTES:
                                raise UserError(f"the report's clips reached {REPORT_BYTES} bytes")
                            clip = _clip(store, row, seed, Path(scratch) / "clip.mp4")
                            if clip["bytes"] > CLIP_BYTES:
                                reason = f"seed {seed}'s clip is {clip['bytes']} bytes"
                                left_out.append({**where, "reason": reason})
                                continue
                            total += clip["bytes"]
                            final = next(
                                p["final_return"] for p in algo["per_seed"] if p["seed"] == seed
                            )
                            clips.append({**where, "picks": names, "final_return": final, **clip})
                    except UserError as e:
                        left_out.append({**where, "reason": str(e)})
    finally:
        store.close()
    return {"clips": clips, "left_out": left_out, "limits": LIMITS}


def _clip(store: Store, row: dict[str, Any], seed: int, path: Path) -> dict[str, Any]:
    episode = watch_episode(store, row, seed, max_frames=CLIP_FRAMES)
    write_video(episode, path, scale=SCALE)
    data = path.read_bytes()
    return {
        "seed": seed,
        "episode_return": episode.episode_return,
        "steps": episode.steps,
        "shown_steps": episode.drawn,
        "bytes": len(data),
        "uri": "data:video/mp4;base64," + base64.b64encode(data).decode(),
    }


def without_uris(videos: dict[str, Any]) -> dict[str, Any]:
    """The clips' description for summary.json (no video data)."""
    return {
        **videos,
        "clips": [{k: v for k, v in c.items() if k != "uri"} for c in videos["clips"]],
    }


def videos_body(videos: dict[str, Any]) -> str:
    """The section's body as HTML, every user-provided string escaped: a note, then per unit
    its clips side by side."""
    parts = [
        f'<p class="note">One episode of each unit\'s best, median and worst seed by final '
        f"return (its final policy, acting as in evaluation; a fresh episode, so its return "
        f"may differ from the seed's final return). {escape(videos['limits'])}.</p>"
    ]
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for clip in videos["clips"]:
        by_unit.setdefault(clip["unit_key"], []).append(clip)
    for clips in by_unit.values():
        first = clips[0]
        parts.append(f"<h3>{escape(first['label'])} on {escape(first['env'])}</h3>")
        figures = []
        for c in clips:
            caption = (
                f"{' / '.join(c['picks'])}: seed {c['seed']}, final return "
                f"{fmt(c['final_return'])}; this episode {fmt(c['episode_return'])} in "
                f"{c['steps']} steps"
                + (f" (first {c['shown_steps']} shown)" if c["shown_steps"] < c["steps"] else "")
            )
            figures.append(
                f'<figure><video src="{c["uri"]}" autoplay loop muted playsinline controls>'
                f"</video><figcaption>{escape(caption)}</figcaption></figure>"
            )
        parts.append('<div class="grid">' + "".join(figures) + "</div>")
    for left in videos["left_out"]:
        parts.append(
            f'<p class="note">{escape(left["label"])} on {escape(left["env"])}: no clip '
            f"({escape(left['reason'])}).</p>"
        )
    return "".join(parts)
