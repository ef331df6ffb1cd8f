"""The report as one self-contained HTML file (figures inline), plus summary.json beside it."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from rlcheck.experiment.importing import ALIGNMENT
from rlcheck.experiment.store import Store
from rlcheck.report import ablation as ablation_numbers
from rlcheck.report.analysis import analyze
from rlcheck.report.diagnostics import gradient_figure, landscape_figure, table_rows
from rlcheck.report.figures import (
    Png,
    ablation_figures,
    algo_colors,
    env_figures,
    generalization_heatmap,
    robustness_figure,
    sweep_figures,
)
from rlcheck.report.format import (
    NA,
    Footnotes,
    fmt,
    fmt_count,
    fmt_interval,
    fmt_level,
    fmt_p_value,
    fmt_pct,
    fmt_rate,
    fmt_seconds,
    fmt_steps,
)

SECTIONS = {
    "verdict": "Verdict",
    "learning-curves": "Learning curves",
    "final-scores": "Final scores",
    "failure-rates": "Failure rates",
    "performance-profiles": "Performance profiles",
    "improvement": "Probability of improvement",
    "sample-efficiency": "Sample efficiency",
    "sensitivity": "Sensitivity",
    "ablation": "Ablation",
    "reliability": "Reliability",
    "robustness": "Robustness",
    "cost": "Cost",
    "provenance": "Provenance",
}

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:0 auto;max-width:1180px;
  padding:0 20px 40px}
h1{font-size:24px;margin:20px 0 4px}
h2{font-size:19px;margin:30px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
nav{font-size:13px;margin:8px 0 12px}
nav a{margin-right:12px;color:#1f5fa8;text-decoration:none}
.meta,.note{color:#555;font-size:13px}
.verdict{background:#f4f8fc;border-left:4px solid #1f77b4;padding:8px 14px;margin:10px 0}
.verdict p{margin:4px 0}
.verdict ul{margin:4px 0;padding-left:20px}
.bad{color:#b00020}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:12px}
figure{margin:0}
figure img{width:100%;max-width:max-content;height:auto;border:1px solid #eee}
table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}
th,td{padding:3px 9px;border-bottom:1px solid #e5e5e5;text-align:right;vertical-align:top}
th{background:#f6f6f6}
td.l,th.l{text-align:left}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}
details{margin:6px 0}
"""


class Markup(str):
    """HTML built by this module from escaped parts; every other string is escaped."""


def write_report(
    directory: str | Path,
    output: str | Path | None = None,
    *,
    analysis: dict | None = None,
    video: bool = False,
) -> tuple[Path, Path]:
    """Writes the HTML report and summary.json of the results in ``directory``.

    Args:
      directory: a results directory (holding results.sqlite).
      output: where to write the HTML; default ``directory/report.html``.
      analysis: ``analyze(store)`` of that directory, if already computed.
      video: embed clips of each unit's best, median and worst seed (rlcheck/report/videos.py;
        summary.json's "videos" describes them).

    Returns:
      (path of the HTML report, path of summary.json).
    """
    directory = Path(directory)
    if analysis is None:
        store = Store(directory, create=False)
        try:
            analysis = analyze(store)
        finally:
            store.close()
    videos = None
    if video:
        from rlcheck.report.videos import unit_clips, without_uris

        videos = unit_clips(directory, analysis)
        analysis = {**analysis, "videos": without_uris(videos)}
    json_path = directory / "summary.json"
    # allow_nan=False: the analysis holds None for missing numbers, so NaN here is a bug.
    json_path.write_text(json.dumps(analysis, indent=1, allow_nan=False) + "\n")
    html_path = Path(output) if output is not None else directory / "report.html"
    html_path.write_text(render_html(analysis, videos), encoding="utf-8")
    return html_path, json_path


# Shown (before the cost) only where some env reports a hidden performance
# (rlcheck.envs.jax_env.PERFORMANCE); generalization (after robustness) only where the analysis
# has it (rlcheck/report/generalization.py); diagnostics (after those) where rlcheck diagnose
# wrote some.
OPTIONAL_SECTIONS = {
    "performance": "Hidden performance",
    "generalization": "Generalization",
    "diagnostics": "Diagnostics",
    "videos": "Episodes",
}


def render_html(analysis: dict[str, Any], videos: dict[str, Any] | None = None) -> str:
    """The whole page, every user-provided string HTML-escaped.

    Args:
      analysis: the result of ``analyze``.
      videos: the clips to embed (rlcheck/report/videos.py ``unit_clips``), after the final
        scores; None: none.

    Returns:
      A complete HTML document that needs no other file and no network.
    """
    colors = algo_colors(analysis)
    settings = analysis["settings"]
    figures = {
        env["env"]: env_figures(env, colors, settings["confidence"]) for env in analysis["envs"]
    }
    envs = analysis["envs"]
    units = sum(len(e["algos"]) + len(e["failed_units"]) for e in envs)
    shown = dict(SECTIONS)
    if any(e.get("reports_performance") for e in envs):
        keys = list(SECTIONS)
        at = keys.index("cost")
        shown = {k: SECTIONS.get(k) or OPTIONAL_SECTIONS[k] for k in [*keys[:at], "performance"]}
        shown.update({k: SECTIONS[k] for k in keys[at:]})
    if analysis.get("generalization"):
        shown = _after(shown, "robustness", "generalization")
    if analysis.get("diagnostics"):  # rlcheck diagnose wrote some
        shown = _after(
            shown, "generalization" if "generalization" in shown else "robustness", "diagnostics"
        )
    if videos is not None:
        shown = _after(shown, "final-scores", "videos")
    parts = [
        Markup('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'),
        Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        # An empty icon, so the browser does not look for favicon.ico next to the file.
        Markup('<link rel="icon" href="data:,">'),
        _tag("title", f"rlcheck report: {Path(analysis['directory']).name}"),
        Markup(f"<style>{_CSS}</style></head><body>"),
        _tag("h1", "rlcheck report"),
        _tag(
            "p",
            f"{analysis['directory']} · {len(envs)} env(s) · {units} unit(s)",
            cls="meta",
        ),
        Markup(
            "<nav>"
            + "".join(f'<a href="#{key}">{title}</a>' for key, title in shown.items())
            + "</nav>"
        ),
        _verdict_section(analysis),
        _figure_section(
            "learning-curves", analysis, figures, "learning_curves", _curves_note(settings)
        ),
        _figure_section(
            "final-scores", analysis, figures, "final_scores", _final_note(settings), _final_table
        ),
        _videos_section(videos),
        _figure_section(
            "failure-rates",
            analysis,
            figures,
            "failure_rates",
            _failure_note(settings),
            _failure_table,
        ),
        _figure_section(
            "performance-profiles", analysis, figures, "profile", _profile_note(settings)
        ),
        _figure_section(
            "improvement",
            analysis,
            figures,
            "improvement",
            _improvement_note(settings),
            _pair_table,
        ),
        _figure_section(
            "sample-efficiency",
            analysis,
            figures,
            "sample_efficiency",
            _efficiency_note(settings),
            _efficiency_table,
        ),
        _sensitivity_section(analysis),
        _ablation_section(analysis),
        _reliability_section(analysis),
        _robustness_section(analysis, colors),
        _generalization_section(analysis) if "generalization" in shown else Markup(""),
        _diagnostics_section(analysis) if "diagnostics" in shown else Markup(""),
        _performance_section(analysis, figures) if "performance" in shown else Markup(""),
        _cost_section(analysis),
        _provenance_section(analysis),
        Markup("</body></html>\n"),
    ]
    return "\n".join(parts)


# ---- building blocks ----------------------------------------------------------------------


def _e(value: Any) -> str:
    if isinstance(value, Markup):
        return value
    return escape("—" if value is None else str(value), quote=True)


def _tag(name: str, content: Any, cls: str | None = None) -> Markup:
    attribute = f' class="{cls}"' if cls else ""
    return Markup(f"<{name}{attribute}>{_e(content)}</{name}>")


def _join(*parts: Any) -> Markup:
    return Markup("".join(_e(p) for p in parts))


def _table(headers: list[str], rows: list[list[Any]], left: int = 1) -> Markup:
    """A table; the first ``left`` columns (names) are left-aligned, the numbers right."""

    def cell(tag: str, i: int, value: Any) -> str:
        return f"<{tag}{' class=l' if i < left else ''}>{_e(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _section(key: str, *content: Any) -> Markup:
    body = "".join(_e(c) for c in content)
    title = SECTIONS.get(key) or OPTIONAL_SECTIONS[key]
    return Markup(f'<section id="{key}"><h2>{title}</h2>{body}</section>')


def _footnotes(notes: Footnotes) -> Markup:
    """The reasons of a table's n/a cells, under it."""
    if not notes.reasons:
        return Markup("")
    return _join(*(_tag("p", line, cls="note") for line in notes.lines()))


def _figure_section(
    key: str,
    analysis: dict[str, Any],
    figures: dict[str, dict[str, Png | None]],
    figure: str,
    note: str,
    table: Any = None,
) -> Markup:
    """A section's note, its figure per env and, given ``table(env, settings)``, a table per
    env."""
    envs, settings = analysis["envs"], analysis["settings"]
    blocks = []
    images = []
    for env in envs:
        png = figures[env["env"]][figure]
        if png is not None:
            alt = _e(f"{SECTIONS[key]} on {env['env']}")
            images.append(
                Markup(
                    f'<figure><img src="{png.uri}" width="{png.width}" height="{png.height}" '
                    f'alt="{alt}"></figure>'
                )
            )
    if images:
        blocks.append(Markup('<div class="grid">' + "".join(images) + "</div>"))
    elif envs:
        blocks.append(_tag("p", "Nothing to show for the stored results.", cls="note"))
    if table is not None:
        for env in envs:
            if env["algos"]:
                blocks += [_tag("h3", env["env"]), table(env, settings)]
    return _section(key, _tag("p", note, cls="note"), *blocks)


# ---- sections -----------------------------------------------------------------------------


def _verdict_section(analysis: dict[str, Any]) -> Markup:
    blocks: list[Any] = []
    for env in analysis["envs"]:
        verdict = env["verdict"]
        items = [_tag("li", clause) for clause in verdict["algos"]]
        pairs = [_tag("li", sentence) for sentence in verdict["comparisons"]]
        blocks.append(
            _join(
                Markup('<div class="verdict">'),
                _tag("h3", env["env"]),
                _tag("p", verdict["lead"]),
                Markup("<ul>"),
                *items,
                Markup("</ul>"),
                *([Markup("<ul>"), *pairs, Markup("</ul>")] if pairs else []),
                *(_tag("p", note, cls="bad") for note in verdict["notes"]),
                Markup("</div>"),
            )
        )
    if not analysis["envs"] and analysis.get("sweep"):
        blocks.append(
            _tag(
                "p",
                "Every unit stored here is a sweep's tuning configuration (see Sensitivity); "
                "no unit ran on seeds of its own (fresh_seeds = 0), so there is no verdict.",
            )
        )
    elif not analysis["envs"]:
        blocks.append(_tag("p", "No unit is stored in this directory."))
    failed = analysis["failed_units"]
    if failed:
        blocks.append(_tag("h3", "Failed units (no results)"))
        blocks.append(
            _table(
                ["env", "algo", "reason", "seeds", "attempts"],
                [[f["env"], f["algo"], f["reason"], f["seeds"], f["attempts"]] for f in failed],
                left=3,
            )
        )
    settings = analysis["settings"]
    alpha = fmt(settings["alpha"])
    blocks.append(_tag("p", settings["diverged_treatment"], cls="note"))
    blocks.append(
        _tag(
            "p",
            f'"A is better than B" is claimed only when the {_level(settings)} CI of P(A > B) '
            "excludes 0.5 and, with more than two algos on an env, the Mann–Whitney test of the "
            f"pair stays below α = {alpha} after Holm–Bonferroni correction. Seeds needed: "
            f"one-sided Welch test at α = {alpha} with {fmt_pct(settings['power'])} power for "
            "the observed difference in mean final return (Colas et al. 2018).",
            cls="note",
        )
    )
    return _section("verdict", *blocks)


def _level(settings: dict[str, Any]) -> str:
    return fmt_level(settings["confidence"])


def _curves_note(settings: dict[str, Any]) -> str:
    return (
        "Thick line: IQM over seeds of the mean evaluation return at each checkpoint; band: "
        f"pointwise {_level(settings)} stratified-bootstrap CI (whole runs resampled, "
        f"{fmt_count(settings['band_reps'])} replicates); thin lines: every seed; red dotted "
        "lines: diverged seeds (not in the IQM). x: env steps actually taken by each checkpoint."
    )


def _final_note(settings: dict[str, Any]) -> str:
    return (
        "Final return: each seed's mean over its final evaluation episodes. Every seed is a "
        f"point; boxes show quartiles; diamonds the IQM with its {_level(settings)} "
        "stratified-bootstrap CI; red crosses at the bottom: diverged seeds."
    )


def _final_table(env: dict[str, Any], settings: dict[str, Any]) -> Markup:
    notes = Footnotes()

    def value(described: dict[str, Any], key: str) -> str:
        if described[key] is None:
            return notes.na(described[f"{key}_reason"])
        return fmt(described[key])

    rows = []
    for a in env["algos"]:
        final = a["final"]
        spread = value(final, "mean")
        if final["n"]:
            spread += f" ± {value(final, 'std')}"
        rows.append(
            [
                a["label"],
                # One policy given to `rlcheck evaluate`: its seeds are evaluation seeds.
                f"{a['seeds']} (evaluation)"
                if a.get("seeds_are") == "evaluation seeds"
                else a["seeds"],
                len(a["diverged"]),
                spread,
                value(final, "median"),
                value(final, "min"),
                value(final, "max"),
                fmt_interval(a["iqm"]) if a["iqm"] else notes.na(a["iqm_reason"]),
                a["iqm"]["n"] if a["iqm"] else 0,
            ]
        )
    headers = ["algo", "seeds", "diverged", "mean ± std", "median", "min", "max"]
    return _join(_table([*headers, f"IQM [{_level(settings)} CI]", "n"], rows), _footnotes(notes))


def _failure_note(settings: dict[str, Any]) -> str:
    level = _level(settings)
    return (
        f"Share of seeds whose final return misses each criterion, with {level} Wilson "
        "intervals. Solve threshold: the env's reward threshold (Gymnasium registry, or the "
        f"spec). No better than random: final return at or below the upper end of the {level} "
        "t interval of the random baseline's mean return over all its final evaluation "
        "episodes on the same env. Diverged seeds count as failures."
    )


def _failure_table(env: dict[str, Any], settings: dict[str, Any]) -> Markup:
    """One row per algo and criterion the env has (a solve threshold, a random baseline's
    bound); n/a where a criterion does not apply to an algo."""
    notes = Footnotes()
    rows = []
    names = {"solve": "solve threshold", "random": "no better than random"}
    applies = [c for c in names if any(a["failure"][c] is not None for a in env["algos"])]
    for a in env["algos"]:
        for criterion in applies:
            rate = a["failure"][criterion]
            if rate is None:
                rows.append(
                    [
                        a["label"],
                        names[criterion],
                        None,
                        notes.na(a["failure"][f"{criterion}_reason"]),
                    ]
                )
            else:
                rows.append(
                    [
                        a["label"],
                        rate["criterion"],
                        f"{rate['failures']}/{rate['n']}",
                        fmt_rate(rate),
                    ]
                )
    if not rows:
        reasons = {a["failure"][f"{c}_reason"] for a in env["algos"] for c in names}
        return _tag("p", "No failure criterion: " + "; ".join(sorted(reasons)) + ".", cls="note")
    return _join(
        _table(
            ["algo", "criterion", "failed", f"failure rate [{_level(settings)} CI]"], rows, left=2
        ),
        _footnotes(notes),
    )


def _profile_note(settings: dict[str, Any]) -> str:
    return (
        "Fraction of seeds whose final return exceeds τ, for every τ between the lowest and "
        f"highest final return on the env, with pointwise {_level(settings)} "
        f"stratified-bootstrap bands ({fmt_count(settings['band_reps'])} replicates). A "
        "diverged seed never exceeds τ."
    )


def _improvement_note(settings: dict[str, Any]) -> str:
    return (
        "P(A > B): the chance that a seed of A ends with a higher final return than a seed of "
        f"B (ties count ½), with a {_level(settings)} stratified-bootstrap CI "
        f"({fmt_count(settings['reps'])} replicates); bold cells exclude 0.5. Each pair "
        "is resampled once: P(B > A) = 1 − P(A > B), so its interval is the mirror image. "
        "Mann–Whitney p-values are Holm–Bonferroni adjusted over the pairs of the env."
    )


def _pair_table(env: dict[str, Any], settings: dict[str, Any]) -> Markup:
    notes = Footnotes()

    def p_value(pair: dict[str, Any], key: str) -> str:
        if pair[key] is None:
            return notes.na(pair[f"{key}_reason"])
        return fmt_p_value(pair[key])

    rows = []
    for p in env["comparisons"]["pairs"]:
        needed = p["seeds_needed"]
        if p["better"] is not None:
            decision, seeds = f"{p['better']} better", None
        else:
            decision = "not distinguishable"
            if p["held_back"] == "holm":
                decision += " (CI excludes 0.5, Holm p does not)"
            elif p["held_back"] == "too few seeds":
                decision += " (fewer than 2 seeds)"
            if needed is None or needed["note"]:
                seeds = None if needed is None else needed["note"]
            elif needed["seeds"] is not None:
                seeds = f"~{needed['seeds']} (Δ = {fmt(needed['effect'])})"
            else:
                seeds = f"> {needed['more_than']} (Δ = {fmt(needed['effect'])})"
        rows.append(
            [
                p["a"],
                p["b"],
                fmt_interval(p["p_a_beats_b"], 2),
                p_value(p, "mann_whitney_p"),
                p_value(p, "holm_p"),
                decision,
                seeds,
            ]
        )
    if not rows:
        return _tag("p", "Only one algo has results on this env.", cls="note")
    headers = ["A", "B", f"P(A > B) [{_level(settings)} CI]", "Mann–Whitney p", "Holm p"]
    return _join(_table([*headers, "decision", "seeds needed"], rows, left=2), _footnotes(notes))


def _efficiency_note(settings: dict[str, Any]) -> str:
    return (
        "Fraction of seeds whose evaluation return has reached the threshold at some "
        f"checkpoint by each env step, with {_level(settings)} Wilson bands. Seeds that never "
        "reach it are censored at the budget (never dropped); diverged seeds count as never "
        "reaching it."
    )


def _efficiency_table(env: dict[str, Any], settings: dict[str, Any]) -> Markup:
    efficiency = env["sample_efficiency"]
    if efficiency is None:
        return _tag("p", f"{NA}: {env['sample_efficiency_reason']}.", cls="note")
    notes = Footnotes()
    rows = []
    for a in env["algos"]:
        label = a["label"]
        if label not in efficiency["algos"]:
            # No learning curve (a planner): every column is n/a for the same reason.
            na = notes.na(a["curve_reason"])
            rows.append([label, na, na, na, na])
            continue
        e = efficiency["algos"][label]
        reached = [s["env_steps"] for s in e["per_seed"] if s["env_steps"] is not None]
        median = e["median_env_steps"]
        none = "no seed reached it"
        rows.append(
            [
                label,
                f"{e['reached']}/{e['n']}",
                fmt_steps(median) if median is not None else notes.na(e["median_env_steps_reason"]),
                fmt_steps(min(reached)) if reached else notes.na(none),
                fmt_steps(max(reached)) if reached else notes.na(none),
            ]
        )
    threshold = f"threshold {fmt(efficiency['threshold'])} ({efficiency['source']})"
    return _join(
        _tag("p", threshold, cls="note"),
        _table(["algo", "reached", "median env steps", "fastest", "slowest reached"], rows),
        _footnotes(notes),
    )


def _sensitivity_section(analysis: dict[str, Any]) -> Markup:
    """Per sweep: what tuning is worth on fresh seeds, the share of the swept space that solves
    the env or beats random, the final return against each swept value, the heatmap of a grid
    of two, and every configuration."""
    sweeps = analysis.get("sweep") or []
    if not sweeps:
        note = "No sweep in this directory: rlcheck sweep varies hyperparameters, env parameters "
        note += "or the reward scale and shows here how much the result moves."
        return _section("sensitivity", _tag("p", note, cls="note"))
    settings = analysis["settings"]
    level = _level(settings)
    blocks: list[Any] = [
        _tag(
            "p",
            "Each configuration of a sweep trains on the tuning seeds; its score is the IQM of "
            f"their final returns ({level} stratified-bootstrap CI; a seed that diverged ranks "
            "below all in the objective that chooses the best configuration, and is left out "
            "of the IQM shown). Tuning is not evaluation: the chosen (best) configuration and "
            "the default one are then run on fresh seeds, disjoint from the tuning seeds, and "
            "only those runs enter the other sections and the verdict. Gap: IQM of the chosen "
            "minus IQM of the default on the fresh seeds, with a bootstrap CI (each resampled "
            f"apart). Shares of the swept space: configurations whose score reaches the solve "
            f"threshold or exceeds the random bound, with {level} Wilson intervals (a grid is "
            "its own population; random draws are a sample of the space; TPE's are neither). "
            "Figures: every configuration a small point with its CI; black: the IQM of every "
            "seed of every configuration at that value; dotted green: the default value.",
            cls="note",
        )
    ]
    for sweep in sweeps:
        figures = sweep_figures(sweep, level)
        notes = Footnotes()

        def cell(value: Any, reason_of: dict[str, Any], key: str, notes: Footnotes = notes) -> str:
            if value is None:
                return notes.na(reason_of[f"{key}_reason"])
            return fmt_interval(value)

        chosen = sweep["chosen"]
        rows: list[list[Any]] = []
        if chosen is None:
            rows.append(["chosen configuration", notes.na(sweep["chosen_reason"]), None])
        else:
            rows += [
                ["chosen configuration", _values_text(chosen["values"]), None],
                [
                    "tuning score of the chosen (tuning seeds)",
                    cell(chosen["tuning"], chosen, "tuning"),
                    chosen["tuning"]["n"] if chosen["tuning"] else None,
                ],
                [
                    "chosen, fresh seeds",
                    cell(chosen["fresh"], chosen, "fresh"),
                    chosen["fresh"]["n"] if chosen["fresh"] else None,
                ],
            ]
        default = sweep["default"]
        rows.append(
            [
                "default, fresh seeds",
                cell(default["fresh"], default, "fresh"),
                default["fresh"]["n"] if default["fresh"] else None,
            ]
        )
        gap = sweep["gap"]
        rows.append(["gap: chosen − default (fresh seeds)", cell(gap, sweep, "gap"), None])
        for key, what in (
            ("fraction_solved", "share of the swept space that solves the env"),
            ("fraction_beats_random", "share of the swept space that beats random"),
        ):
            share = sweep[key]
            value = (
                notes.na(sweep[f"{key}_reason"])
                if share is None
                else f"{share['count']}/{share['n']} = {fmt_rate(share)}"
            )
            rows.append([what, value, share["n"] if share else None])
        method = sweep["method"]
        seeds = (
            f"{len(sweep['tuning_seeds'])} tuning seeds, {len(sweep['fresh_seeds'])} fresh "
            f"seeds ({_seed_range(sweep['fresh_seeds'])})"
        )
        cost = sweep["cost"]
        meta = (
            f"{method}: {sweep['configs_done']} of {cost['configs']} configurations done, "
            f"{seeds}; tuning took {fmt_count(cost['env_steps'])} env steps and "
            f"{fmt_seconds(cost['wall_s'])} in {cost['programs']} compiled program(s)."
        )
        images = [png for png in figures["parameters"].values() if png is not None]
        if figures["heatmap"] is not None:
            images.append(figures["heatmap"])
        blocks += [
            _tag("h3", sweep["name"]),
            _tag("p", meta, cls="note"),
            _table(["", f"IQM final return [{level} CI]", "n"], rows),
            _footnotes(notes),
        ]
        if sweep["heatmap"] is None:
            blocks.append(_tag("p", f"Heatmap: {NA}: {sweep['heatmap_reason']}.", cls="note"))
        if images:
            blocks.append(
                Markup(
                    '<div class="grid">'
                    + "".join(
                        f'<figure><img src="{png.uri}" width="{png.width}" '
                        f'height="{png.height}" alt="{_e("sensitivity of " + sweep["name"])}">'
                        "</figure>"
                        for png in images
                    )
                    + "</div>"
                )
            )
        blocks.append(_configs_table(sweep, level))
    return _section("sensitivity", *blocks)


def _values_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {fmt(v) if isinstance(v, float) else v}" for k, v in values.items())


def _seed_range(seeds: list[int]) -> str:
    if not seeds:
        return "none"
    return f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def _configs_table(sweep: dict[str, Any], level: str) -> Markup:
    """Every configuration, best first (in a collapsed block)."""
    notes = Footnotes()
    names = [p["name"] for p in sweep["parameters"]]
    configs = sorted(
        sweep["configs"],
        key=lambda c: (c["objective"] is None, -(c["objective"] or 0.0)),
    )
    rows = []
    for c in configs:
        iqm = fmt_interval(c["iqm"]) if c["iqm"] else notes.na(c["iqm_reason"])
        values = [
            fmt(v) if isinstance(v, float) else str(v) for v in (c["values"].get(n) for n in names)
        ]
        rows.append([*values, iqm, c.get("usable_seeds"), fmt(c["objective"]), c["unit_key"]])
    table = _table([*names, f"IQM [{level} CI]", "n", "objective", "unit"], rows, left=0)
    return _join(
        Markup("<details><summary>"),
        f"All {len(configs)} configurations, best first",
        Markup("</summary>"),
        table,
        _footnotes(notes),
        Markup("</details>"),
    )


def _ablation_section(analysis: dict[str, Any]) -> Markup:
    """Per ablation (rlcheck/report/ablation.py): its findings, the survival of final returns
    per cell and per toggle, the main effects, the interactions and every cell."""
    ablations = analysis.get("ablation") or []
    if not ablations:
        note = "No ablation in this directory: rlcheck ablate switches implementation details "
        note += "off one at a time or in every combination and shows here what each one is worth."
        return _section("ablation", _tag("p", note, cls="note"))
    blocks: list[Any] = [_tag("p", ablation_numbers.NOTE, cls="note")]
    level = _level(analysis["settings"])
    for ablation in ablations:
        notes = Footnotes()
        blocks += [
            _tag("h3", ablation["name"]),
            _tag("p", ablation_numbers.describe(ablation), cls="note"),
            _join(
                Markup("<ul>"),
                *(_tag("li", s) for s in ablation_numbers.findings(ablation)),
                Markup("</ul>"),
            ),
        ]
        images = [png for png in ablation_figures(ablation, level).values() if png is not None]
        if images:
            alt = _e(f"ablation of {ablation['name']}")
            blocks.append(
                Markup(
                    '<div class="grid">'
                    + "".join(
                        f'<figure><img src="{png.uri}" width="{png.width}" '
                        f'height="{png.height}" alt="{alt}"></figure>'
                        for png in images
                    )
                    + "</div>"
                )
            )
        for headers, rows in ablation_numbers.tables(ablation, notes.na).values():
            blocks.append(_table(headers, rows))
        blocks.append(_footnotes(notes))
        if ablation["interactions"] is None:
            reason = ablation["interactions_reason"]
            blocks.append(_tag("p", f"Interactions: {NA}: {reason}.", cls="note"))
    return _section("ablation", *blocks)


_RELIABILITY = [
    (
        "dispersion_across_time",
        "DT ↓",
        "IQR of the detrended curve (Δreturn per 1k steps) in "
        "sliding windows of a quarter of training; median over windows per seed",
    ),
    ("short_term_risk", "SRT ↑", "lower 5% CVaR of Δreturn per 1k steps between checkpoints"),
    ("long_term_risk", "LRT ↓", "upper 5% CVaR of the drawdown below the best return so far"),
    ("dispersion_across_runs", "DR ↓", "IQR across seeds of the return at the last checkpoint"),
    ("risk_across_runs", "RR ↑", "lower 5% CVaR across seeds of the return at the last checkpoint"),
    (
        "dispersion_across_rollouts",
        "DF ↓",
        "IQR of each trained policy's final evaluation episode returns",
    ),
    (
        "risk_across_rollouts",
        "RF ↑",
        "lower 5% CVaR of each trained policy's final evaluation episode returns",
    ),
]


def _reliability_section(analysis: dict[str, Any]) -> Markup:
    settings = analysis["settings"]
    blocks: list[Any] = [
        _tag(
            "p",
            "Reliability metrics of Chan et al. (ICLR 2020). Per-seed metrics (DT, SRT, LRT, DF, "
            f"RF) show the IQM over seeds [{_level(settings)} stratified-bootstrap CI, "
            f"{fmt_count(settings['band_reps'])} replicates]; DR and RR are computed across "
            "seeds. ↓: lower is more reliable; ↑: higher is. Diverged seeds are left out; n says "
            "how many seeds each uses.",
            cls="note",
        )
    ]
    for env in analysis["envs"]:
        rows = []
        notes = Footnotes()
        for a in env["algos"]:
            metrics = a["reliability"]
            row: list[Any] = [a["label"]]
            for key, _, _ in _RELIABILITY:
                value = metrics[key]
                if value is None:
                    row.append(notes.na(metrics[f"{key}_reason"]))
                elif "low" in value:
                    row.append(fmt_interval(value))
                else:
                    row.append(fmt(value["point"]))
            n = [v["n"] for v in metrics.values() if isinstance(v, dict) and "n" in v]
            row.append(max(n) if n else 0)
            rows.append(row)
        blocks += [
            _tag("h3", env["env"]),
            _table(["algo", *(name for _, name, _ in _RELIABILITY), "n"], rows),
            _footnotes(notes),
        ]
    definitions = "".join(
        f"<li><b>{escape(name)}</b>: {escape(text)}</li>" for _, name, text in _RELIABILITY
    )
    blocks.append(Markup(f'<ul class="note">{definitions}</ul>'))
    return _section("reliability", *blocks)


def _performance_section(
    analysis: dict[str, Any], figures: dict[str, dict[str, Png | None]]
) -> Markup:
    """Proxy return and hidden performance side by side, with the gap and its CI, for the envs
    that report a performance."""
    settings = analysis["settings"]
    level = _level(settings)
    note = (
        "Hidden performance: the sum over an episode of what the env reports in "
        'info["performance"] each step, what its designer wanted as opposed to the reward the '
        "agent maximised "
        "(rlcheck's failure-mode envs; your own envs may report it too). Per seed, the mean over "
        "its final evaluation episodes; shown as the mean over seeds with a "
        f"{level} stratified-bootstrap CI ({fmt_count(settings['reps'])} replicates). Gap: "
        "each seed's final return minus its performance, averaged over seeds; a large gap with "
        "a high return is reward hacking. Diverged seeds are left out."
    )
    blocks: list[Any] = [_tag("p", note, cls="note")]
    envs = [e for e in analysis["envs"] if e.get("reports_performance")]
    images = []
    for env in envs:
        png = figures[env["env"]]["performance"]
        if png is not None:
            alt = _e(f"Hidden performance on {env['env']}")
            images.append(
                Markup(
                    f'<figure><img src="{png.uri}" width="{png.width}" height="{png.height}" '
                    f'alt="{alt}"></figure>'
                )
            )
    if images:
        blocks.append(Markup('<div class="grid">' + "".join(images) + "</div>"))
    for env in envs:
        notes = Footnotes()
        rows = []
        for a in env["algos"]:
            perf = a["performance"]
            if perf is None:
                na = notes.na(a["performance_reason"])
                rows.append([a["label"], a["seeds"], na, na, na, 0])
                continue
            rows.append(
                [
                    a["label"],
                    a["seeds"],
                    fmt_interval(perf["return"]),
                    fmt_interval(perf["performance"]),
                    fmt_interval(perf["gap"]),
                    perf["return"]["n"],
                ]
            )
        headers = [
            "algo",
            "seeds",
            f"final return [{level} CI]",
            f"hidden performance [{level} CI]",
            f"gap: return − performance [{level} CI]",
            "n",
        ]
        blocks += [_tag("h3", env["env"]), _table(headers, rows), _footnotes(notes)]
    return _section("performance", *blocks)


def _robustness_section(analysis: dict[str, Any], colors: dict[str, str]) -> Markup:
    studies = analysis["robustness"]
    if studies is None:
        return _section(
            "robustness", _tag("p", f"{NA}: {analysis['robustness_reason']}.", cls="note")
        )
    level = _level(analysis["settings"])
    blocks: list[Any] = [
        _tag(
            "p",
            "Stored policies evaluated while one thing about the world varies. Thick line: IQM "
            f"over seeds of each seed's mean return at each value; band: pointwise {level} "
            "stratified-bootstrap CI; thin lines: every seed; dotted line: the value during "
            "training. Each seed plays the same episodes (the same keys) at every value, so the "
            "curves differ only by what varies. Normalized area: the area under each seed's "
            "curve divided by the width of the range (on a log axis where the values are "
            "log-spaced), i.e. the seed's mean return over the range; IQM over seeds. Seeds "
            "that diverged in training are left out.",
            cls="note",
        )
    ]
    for study in studies:
        values = study["values"]
        held = [
            f"{name} {fmt(study[name])}"
            for name in ("obs_noise", "action_noise", "action_delay")
            if study[name]
        ]
        spacing = "log-spaced" if study["log"] else "values"
        title = (
            f"{study['vary']}, {study['what']}: {len(values)} {spacing} from "
            f"{fmt(min(values))} to {fmt(max(values))}, {study['episodes']} episodes per seed "
            "and value" + (f"; held fixed: {', '.join(held)}" if held else "")
        )
        blocks.append(_tag("h3", title))
        images = []
        for env in study["envs"]:
            png = robustness_figure(study, env, colors)
            alt = _e(f"Robustness to {study['vary']} on {env['env']}")
            images.append(
                Markup(
                    f'<figure><img src="{png.uri}" width="{png.width}" height="{png.height}" '
                    f'alt="{alt}"></figure>'
                )
            )
        blocks.append(Markup('<div class="grid">' + "".join(images) + "</div>"))
        for env in study["envs"]:
            notes = Footnotes()
            rows = []
            for a in env["algos"]:
                at = a["at_training_value"]
                area = a["normalized_area"]
                rows.append(
                    [
                        a["label"],
                        a["n"],
                        fmt_interval(at) if at else notes.na(a["at_training_value_reason"]),
                        f"{fmt(a['worst']['iqm'])} at {fmt(a['worst']['value'])}",
                        fmt_interval(area) if area else notes.na(a["normalized_area_reason"]),
                    ]
                )
            headers = [
                "algo",
                "seeds",
                f"at training value {fmt(env['training_value'])} [{level} CI]"
                if not env.get("training_range")
                else f"at training value [{level} CI]",
                "lowest IQM (at value)",
                f"normalized area [{level} CI]",
            ]
            blocks += [_tag("h3", env["env"]), _table(headers, rows), _footnotes(notes)]
    return _section("robustness", *blocks)


def _diagnostics_section(analysis: dict[str, Any]) -> Markup:
    """What ``rlcheck diagnose`` measured (rlcheck/report/diagnostics.py): per unit, its figures,
    one sentence per finding and a table of every number with its interval."""
    blocks: list[Any] = [
        _tag(
            "p",
            "The agent's full state re-trained to fractions of its run (same spec, seeds and "
            "keys) and measured as Ilyas, Engstrom et al. (2020) did: D1 gradient quality, D2 "
            "value quality, D3 the landscape along the update, D4 the trust region of one "
            "update. Mean over seeds [95% percentile-bootstrap CI].",
            cls="note",
        )
    ]
    for entry in analysis["diagnostics"]:
        blocks.append(_tag("h3", f"{entry['label']} on {entry['env']}"))
        images = [png for png in (gradient_figure(entry), landscape_figure(entry)) if png]
        blocks.append(
            Markup(
                '<div class="grid">'
                + "".join(
                    f'<figure><img src="{png.uri}" width="{png.width}" '
                    f'height="{png.height}" alt="{_e("Diagnostics of " + entry["label"])}">'
                    "</figure>"
                    for png in images
                )
                + "</div>"
            )
        )
        blocks.append(Markup("<ul>" + "".join(_tag("li", s) for s in entry["findings"]) + "</ul>"))
        headers = ["at", "", "quantity", "mean [95% CI]", "seeds"]
        blocks.append(_table(headers, table_rows(entry), left=3))
    return _section("diagnostics", *blocks)


def _cost_section(analysis: dict[str, Any]) -> Markup:
    rows = []
    for env in analysis["envs"]:
        for a in env["algos"]:
            c = a["cost"]
            rows.append(
                [
                    env["env"],
                    a["label"],
                    c["seeds"],
                    fmt_count(c["env_steps_per_seed"]),
                    fmt_count(c["env_steps_total"]),
                    fmt_count(c["simulator_calls"]),
                    fmt_seconds(c["wall_s"]),
                    fmt_seconds(c["compile_s"]),
                    c["workers"],
                    c["device"],
                    c["driver"],
                ]
            )
    for sweep in analysis.get("sweep") or []:
        c = sweep["cost"]
        rows.append(
            [
                sweep["env"],
                f"{sweep['algo_label']} tuning ({c['configs']} configurations)",
                len(sweep["tuning_seeds"]),
                fmt_count(sweep["budget"]),
                fmt_count(c["env_steps"]),
                None,
                fmt_seconds(c["wall_s"]),
                None,
                None,
                None,
                f"{c['programs']} program(s)",
            ]
        )
    total = analysis["cost"]
    note = (
        f"Total: {fmt_count(total['env_steps'])} env steps, {fmt_seconds(total['wall_s'])} wall "
        "time. "
        "Wall time is the whole unit (all seeds trained together, compile included); compile "
        "time is the longest compilation among the unit's worker processes. Simulator calls "
        "are the model steps a planner takes on its copy of the env (MPC, MCTS; LQR's "
        "linearization), summed over seeds; —: the method calls no simulator."
    )
    return _section(
        "cost",
        _table(
            [
                "env",
                "algo",
                "seeds",
                "env steps / seed",
                "env steps total",
                "simulator calls",
                "wall time",
                "compile time",
                "workers",
                "device",
                "driver",
            ],
            rows,
            left=2,
        ),
        _tag("p", note, cls="note"),
    )


def _provenance_section(analysis: dict[str, Any]) -> Markup:
    blocks: list[Any] = []
    for i, p in enumerate(analysis["provenance"], 1):
        title = "Provenance" if len(analysis["provenance"]) == 1 else f"Provenance {i}"
        rows = [
            ["rlcheck commit", p["rlcheck_commit"]],
            ["working-directory commit", p["cwd_commit"]],
        ]
        rows += [[f"machine: {k}", v] for k, v in p["machine"].items()]
        rows += [[k, v] for k, v in p["versions"].items()]
        blocks += [
            _tag("h3", title),
            _table(["", "value"], rows, left=2),
            _tag("p", "Units: " + ", ".join(p["units"]), cls="note"),
        ]
    runs = analysis["runs"]
    if runs:
        blocks.append(_tag("h3", "Runs and their specs"))
        for run in runs:
            summary = (
                f"run {run['id']}: {run['status']}, started {run['started_at']}, "
                f"finished {run['finished_at'] or '—'}"
            )
            blocks.append(
                _join(
                    Markup("<details><summary>"),
                    summary,
                    Markup("</summary>"),
                    _tag("pre", json.dumps(run["spec"], indent=2)),
                    Markup("</details>"),
                )
            )
    units = [
        [a["unit_key"], env["env"], a["label"], a["algo"], json.dumps(a["overrides"]), a["budget"]]
        for env in analysis["envs"]
        for a in env["algos"]
    ]
    if units:
        blocks += [
            _tag("h3", "Units"),
            _table(["unit", "env", "algo", "algorithm", "config overrides", "budget"], units, 5),
        ]
    blocks += _imported_blocks(analysis)
    blocks += _evaluated_blocks(analysis)
    attempts = analysis["failed_attempts"]
    if attempts:
        blocks += [
            _tag("h3", "Failed attempts on record"),
            _table(
                ["unit", "run", "reason", "at"],
                [[a["unit_key"], a["run_id"], a["reason"], a["created_at"]] for a in attempts],
                left=3,
            ),
        ]
    return _section("provenance", *blocks)


def _imported_blocks(analysis: dict[str, Any]) -> list[Any]:
    """Units imported by ``rlcheck import``: their source, what was inferred, their files."""
    rows, files = [], {}
    for env in analysis["envs"]:
        for a in env["algos"]:
            imported = a.get("imported")
            if not imported:
                continue
            inferred = "; ".join(f"{k}: {v}" for k, v in imported["inferred"].items())
            rows.append([a["unit_key"], env["env"], a["label"], imported["what"], inferred or "—"])
            files[f"{a['label']} on {env['env']}"] = imported["runs"]
    if not rows:
        return []
    return [
        _tag("h3", "Imported units (not trained by rlcheck)"),
        _table(["unit", "env", "algo", "read from", "inferred"], rows, left=5),
        _tag("p", f"Curves on the unit's checkpoints: {ALIGNMENT}", cls="note"),
        _join(
            Markup("<details><summary>"),
            "Source files and their SHA-256, per seed",
            Markup("</summary>"),
            _tag("pre", json.dumps(files, indent=1)),
            Markup("</details>"),
        ),
    ]


def _evaluated_blocks(analysis: dict[str, Any]) -> list[Any]:
    """Units of policies trained elsewhere, evaluated by ``rlcheck evaluate``: their functions,
    module files with SHA-256, what their seeds are and how the episodes were drawn."""
    rows = []
    for env in analysis["envs"]:
        for a in env["algos"]:
            evaluated = a.get("evaluated")
            if not evaluated:
                continue
            for p in evaluated["policies"]:
                seeds = f"{a['seeds']} {a['seeds_are']}, {evaluated['episodes']} episodes each"
                where = [a["unit_key"], env["env"], a["label"]]
                rows.append([*where, p["source"], p["seed"], p["file"], p["sha256"], seeds])
    if not rows:
        return []
    how = {
        e["episodes_from"]
        for env in analysis["envs"]
        for a in env["algos"]
        if (e := a.get("evaluated"))
    }
    return [
        _tag("h3", "Evaluated policies (trained elsewhere, evaluated by rlcheck evaluate)"),
        _table(
            ["unit", "env", "algo", "function", "seed", "file", "SHA-256", "seeds"], rows, left=8
        ),
        _tag("p", "Episodes: " + "; ".join(sorted(how)) + ".", cls="note"),
    ]


def _videos_section(videos: dict[str, Any] | None) -> Markup:
    if videos is None:
        return Markup("")
    from rlcheck.report.videos import videos_body

    return _section("videos", Markup(videos_body(videos)))


def _after(shown: dict[str, str], key: str, new: str) -> dict[str, str]:
    """``shown`` with the optional section ``new`` right after ``key``."""
    keys = list(shown)
    at = keys.index(key) + 1
    return {k: shown.get(k) or OPTIONAL_SECTIONS[k] for k in [*keys[:at], new, *keys[at:]]}


def _generalization_section(analysis: dict[str, Any]) -> Markup:
    from rlcheck.report.generalization import GAP, VERDICTS

    level = _level(analysis["settings"])
    blocks: list[Any] = [
        _tag(
            "p",
            "Policies trained at chosen values of an env parameter, or with it randomized per "
            "episode, evaluated over the robustness grid. A unit's training range is the grid "
            "values equal to its training value or inside its randomized range; its test range "
            "is every other value. A seed's return on a range is its mean return over the "
            f"range's values; IQM over seeds with {level} stratified-bootstrap CIs. The "
            f"{GAP}. Heatmap: IQM return of each training condition (row) at each value "
            "(column), the training range outlined in red.",
            cls="note",
        )
    ]
    for study in analysis["generalization"]:
        values = study["values"]
        blocks.append(
            _tag(
                "h3",
                f"{study['vary']}: {len(values)} values from {fmt(min(values))} to "
                f"{fmt(max(values))}, {study['episodes']} episodes per seed and value",
            )
        )
        for group in study["groups"]:
            png = generalization_heatmap(study, group)
            alt = _e(f"Generalization over {study['vary']}: {group['algo']} on {group['env_id']}")
            blocks.append(
                Markup(
                    f'<figure><img src="{png.uri}" width="{png.width}" height="{png.height}" '
                    f'alt="{alt}"></figure>'
                )
            )
            notes = Footnotes()
            rows = []
            for u in group["units"]:
                rows.append(
                    [
                        u["training"]["text"],
                        u["env"],
                        u["n"],
                        fmt_interval(u["train_return"])
                        if u["train_return"]
                        else notes.na(u["train_return_reason"]),
                        fmt_interval(u["test_return"])
                        if u["test_return"]
                        else notes.na(u["test_return_reason"]),
                        fmt_interval(u["gap"]) if u["gap"] else notes.na(u["gap_reason"]),
                    ]
                )
            headers = [
                "trained with",
                "env",
                "seeds",
                f"training range [{level} CI]",
                f"test range [{level} CI]",
                f"gap [{level} CI]",
            ]
            blocks += [
                _tag("h3", f"{group['algo']} on {group['env_id']}"),
                _table(headers, rows, left=2),
                _footnotes(notes),
            ]
            if group["randomization"]:
                blocks.append(_randomization_table(group, level))
        blocks.append(
            _tag("p", "; ".join(f"{k}: {v}" for k, v in VERDICTS.items()) + ".", cls="note")
        )
    return _section("generalization", *blocks)


def _randomization_table(group: dict[str, Any], level: str) -> Markup:
    notes = Footnotes()
    rows = []
    for c in group["randomization"]:
        if c["verdict"] is None:
            rows.append(
                [
                    c["randomized_training"],
                    c["versus_training"],
                    *[notes.na(c["verdict_reason"])] * 4,
                    "—",
                ]
            )
            continue
        at = c["at_training_value"]
        remaining = c["remaining_gap"]
        rows.append(
            [
                c["randomized_training"],
                c["versus_training"],
                fmt_interval(c["randomized_on_test_range"]),
                fmt_interval(c["on_test_range"]),
                fmt_interval(at) if at else notes.na(c["at_training_value_reason"]),
                fmt_interval(remaining) if remaining else notes.na(c["remaining_gap_reason"]),
                c["verdict"],
            ]
        )
    headers = [
        "randomized",
        "versus trained with",
        f"randomized on its test range [{level} CI]",
        f"difference there [{level} CI]",
        f"difference at its training value [{level} CI]",
        f"its training return − randomized on its test range [{level} CI]",
        "domain randomization",
    ]
    intro = _tag(
        "p",
        "Does domain randomization close the gap? Each randomized policy against each policy "
        "trained at one value: on that policy's test range, and at its training value "
        "(differences of IQMs, the two units' seeds resampled apart).",
        cls="note",
    )
    return _join(intro, _table(headers, rows, left=2), _footnotes(notes))
