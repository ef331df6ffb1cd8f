"""The findings page: every study that has been run, with its figure, its sentence, its cost and
a link to its full report; and the same as Markdown (``docs/findings.md``)."""

from __future__ import annotations

import base64
import os
from html import escape
from pathlib import Path
from typing import Any

from rlcheck.errors import UserError
from rlcheck.report.figures import chart_figure
from rlcheck.report.format import fmt_count, fmt_seconds, fmt_steps
from rlcheck.studies.run import FIGURE, conclude, study_directories

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;color:#222;margin:0 auto;max-width:980px;
  padding:0 20px 40px}
h1{font-size:25px;margin:20px 0 4px}
h2{font-size:19px;margin:34px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta,.note{color:#555;font-size:13px}
.finding{background:#f4f8fc;border-left:4px solid #1f77b4;padding:8px 14px;margin:10px 0;
  font-size:16px}
.claim{font-style:italic;color:#444}
figure{margin:8px 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
a{color:#1f5fa8}
"""


def collect(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Each study results directory under ``root`` with its finding, analysed afresh from the
    stored results (``finding.json`` is rewritten).

    Raises:
        UserError: no study has been run under ``root``.
    """
    directories = [d for d in study_directories(root) if (d / "results.sqlite").exists()]
    if not directories:
        raise UserError(f"{root}: no study results here (run one: rlcheck study run NAME --quick)")
    return [(d, conclude(d)) for d in directories]


def write_figure(directory: Path, record: dict[str, Any]) -> Path:
    """The finding's figure as ``directory/finding.png``."""
    path = Path(directory) / FIGURE
    path.write_bytes(_png_bytes(record))
    return path


def _png_bytes(record: dict[str, Any]) -> bytes:
    uri = chart_figure(record["chart"]).uri
    return base64.b64decode(uri.split(",", 1)[1])


def _cost(record: dict[str, Any]) -> str:
    cost = record["cost"]
    wall = cost.get("command_wall_s")
    parts = [
        f"{'quick' if record['quick'] else 'full'} version, {record['seeds']} seeds per method",
        f"{fmt_seconds(wall)} wall" if wall is not None else None,
        f"{fmt_steps(cost['env_steps'])} env steps",
        f"{fmt_steps(cost['simulator_calls'])} simulator calls"
        if cost["simulator_calls"]
        else None,
        f"{fmt_count(cost['units'])} units",
    ]
    return " · ".join(p for p in parts if p)


def render_findings(entries: list[tuple[Path, dict[str, Any]]], page: Path) -> str:
    """The findings page as one self-contained HTML document; links to each study's full
    report are relative to where ``page`` is written."""
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        "<title>rlcheck findings</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>rlcheck findings</h1>",
        '<p class="meta">The claims of the background texts about deep RL, each run as a study '
        "(<code>rlcheck study run NAME</code>) and ending in one sentence with its number and "
        "95% confidence interval, whichever way it came out.</p>",
    ]
    for directory, record in entries:
        uri = chart_figure(record["chart"]).uri
        report = Path(os.path.relpath(directory / "report.html", page.parent)).as_posix()
        parts += [
            f'<section id="{escape(record["study"], quote=True)}">',
            f"<h2>{escape(record['study'])}: {escape(record['title'])}</h2>",
            f'<p class="claim">{escape(record["claim"])}</p>',
            f'<p class="finding">{escape(record["sentence"])}</p>',
            f'<figure><img src="{uri}" alt="{escape(record["title"], quote=True)}"></figure>',
            f'<p class="note">Cost: {escape(_cost(record))}. '
            f'<a href="{escape(report, quote=True)}">Full report</a> '
            f"({escape(str(directory))}).</p>",
            "</section>",
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render_markdown(entries: list[tuple[Path, dict[str, Any]]], figures: Path, page: Path) -> str:
    """The findings as Markdown, each figure a PNG file in ``figures``."""
    lines = [
        "# Findings",
        "",
        "The background texts' claims about deep RL, each run as an rlcheck study at its "
        "`--quick` scale on two CPU cores, and what came out: one sentence with its number and "
        "95% confidence interval per study, whichever way it went. Generated from real runs by "
        "`python benchmarks/studies.py` (do not edit by hand); a study's full version "
        "(`rlcheck study run NAME`) runs more seeds and larger budgets.",
        "",
    ]
    for directory, record in entries:
        png = figures / f"{record['study']}{'-quick' if record['quick'] else ''}.png"
        png.write_bytes(_png_bytes(record))
        image = Path(os.path.relpath(png, page.parent)).as_posix()
        lines += [
            f"## {record['study']}: {record['title']}",
            "",
            f"*Claim.* {record['claim']}",
            "",
            f"**Finding.** {record['sentence']}",
            "",
            f"![{record['title']}]({image})",
            "",
            f"Cost: {_cost(record)}. Run: `rlcheck study run {record['study']}"
            f"{' --quick' if record['quick'] else ''}` (results in "
            f"`{Path(os.path.relpath(directory)).as_posix()}`).",
            "",
        ]
    return "\n".join(lines)


def write_findings(
    root: Path, output: Path | None = None, markdown: Path | None = None
) -> tuple[Path, Path | None]:
    """Write the findings page (default ``root/findings.html``) and, given ``markdown``, the
    Markdown page with its figures in a folder beside it (``<name>/``, e.g. ``docs/findings/``).

    Returns:
        (the HTML page, the Markdown page or None).
    """
    entries = collect(root)
    page = output or Path(root) / "findings.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_findings(entries, page), encoding="utf-8")
    for directory, record in entries:
        write_figure(directory, record)
    if markdown is None:
        return page, None
    figures = markdown.parent / markdown.stem
    figures.mkdir(parents=True, exist_ok=True)
    markdown.write_text(render_markdown(entries, figures, markdown), encoding="utf-8")
    return page, markdown
