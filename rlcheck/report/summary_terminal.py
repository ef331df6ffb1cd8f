"""The end-of-run summary in the terminal: IQM and failure rates with CIs, costs, and the
verdicts."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rlcheck.experiment.store import Store
from rlcheck.report.analysis import analyze
from rlcheck.report.format import (
    Footnotes,
    fmt,
    fmt_interval,
    fmt_level,
    fmt_rate,
    fmt_seconds,
    fmt_steps,
)
from rlcheck.report.terminal import console as default_console


def print_summary(source: Store | dict[str, Any], console: Console | None = None) -> dict:
    """Prints, per (env, algo), the IQM and failure rates with their confidence intervals and
    the costs, then each env's verdict. A number that could not be computed shows as n/a, with
    its reason below the table.

    Args:
      source: a results store, or its ``analyze`` result when already computed.
      console: where to print; default: the console of ``rlcheck.report.terminal``.

    Returns:
      The analysis, so that the caller can pass it on to ``write_report``.
    """
    analysis = source if isinstance(source, dict) else analyze(source)
    out = console or default_console
    level = fmt_level(analysis["settings"]["confidence"])
    table = Table(title=f"IQM final return and failure rates ({level} CIs)")
    for column in (
        "env",
        "algo",
        "seeds",
        f"IQM [{level} CI]",
        f"unsolved [{level} CI]",
        f"≤ random [{level} CI]",
    ):
        table.add_column(column, justify="left" if column in ("env", "algo") else "right")
    notes = Footnotes()
    for env in analysis["envs"]:
        for algo in env["algos"]:
            seeds = str(algo["seeds"])
            if algo.get("seeds_are") == "evaluation seeds":
                seeds += " (evaluation)"  # one policy given to `rlcheck evaluate`
            if algo["diverged"]:
                seeds += f" ({len(algo['diverged'])} diverged)"
            failure = algo["failure"]
            iqm = algo["iqm"]
            table.add_row(
                escape(env["env"]),
                escape(algo["label"]),
                seeds,
                escape(fmt_interval(iqm) if iqm is not None else notes.na(algo["iqm_reason"])),
                escape(_rate(failure, "solve", notes)),
                escape(_rate(failure, "random", notes)),
            )
        for failed in env["failed_units"]:
            table.add_row(escape(env["env"]), escape(failed["algo"]), "", "[red]unit failed[/red]")
    out.print(table)
    for line in notes.lines():
        out.print(f"[dim]{escape(line)}[/dim]")
    if any(env.get("reports_performance") for env in analysis["envs"]):
        out.print(_performance_table(analysis, level))
    out.print(_cost_table(analysis))
    for env in analysis["envs"]:
        thresholds = []
        if env["solve_threshold"] is not None:
            thresholds.append(f"unsolved: final return < {fmt(env['solve_threshold'])}")
        if env["random_bound"] is not None:
            thresholds.append(
                f"≤ random: final return ≤ {fmt(env['random_bound'])} (upper end of the {level} "
                f"CI of {escape(env['random_baseline'])}'s mean return)"
            )
        if thresholds:
            out.print(f"[dim]{escape(env['env'])}: {'; '.join(thresholds)}[/dim]")
    for sweep in analysis.get("sweep") or []:
        _sweep_table(sweep, level, out)
    for study in analysis.get("generalization") or []:
        _generalization_tables(study, level, out)
    for env in analysis["envs"]:
        out.print(f"[bold]verdict[/bold] {escape(env['verdict']['short'])}")
    return analysis


# The terminal lists this many configurations of a sweep, best first; the report lists all.
SWEEP_ROWS = 10


def _sweep_table(sweep: dict[str, Any], level: str, out: Console) -> None:
    """A sweep's best configurations, then what tuning is worth on fresh seeds and the share of
    the swept space that solves the env or beats random."""
    names = [p["name"] for p in sweep["parameters"]]
    cost = sweep["cost"]
    out.print(
        f"[bold]Sweep: {escape(sweep['name'])}[/bold] ({sweep['method']}, "
        f"{sweep['configs_done']}/{cost['configs']} configurations × "
        f"{len(sweep['tuning_seeds'])} tuning seeds, {cost['programs']} program(s)); best "
        "first, IQM of the tuning seeds' final returns"
    )
    table = Table()
    for column in (*names, f"IQM [{level} CI]", "n"):
        table.add_column(escape(column), justify="right")
    notes = Footnotes()
    ranked = sorted(
        (c for c in sweep["configs"] if c["objective"] is not None),
        key=lambda c: -c["objective"],
    )
    for c in ranked[:SWEEP_ROWS]:
        values = [_value(c["values"].get(n)) for n in names]
        iqm = fmt_interval(c["iqm"]) if c["iqm"] else notes.na(c["iqm_reason"])
        table.add_row(*(escape(v) for v in values), escape(iqm), str(c["usable_seeds"]))
    out.print(table)
    if len(ranked) > SWEEP_ROWS:
        out.print(f"[dim]… {len(ranked) - SWEEP_ROWS} more configurations in the report[/dim]")
    chosen, default, gap = sweep["chosen"], sweep["default"], sweep["gap"]
    lines = []
    if chosen is None:
        lines.append(f"chosen: {notes.na(sweep['chosen_reason'])}")
    else:
        text = ", ".join(f"{k}={_value(v)}" for k, v in chosen["values"].items())
        tuning = _interval(chosen["tuning"], chosen.get("tuning_reason"), notes)
        fresh = _interval(chosen["fresh"], chosen.get("fresh_reason"), notes)
        lines.append(f"chosen [{text}]: tuning seeds {tuning}; fresh seeds {fresh}")
    lines.append(
        f"default: fresh seeds {_interval(default['fresh'], default.get('fresh_reason'), notes)}"
    )
    lines.append(
        f"gap chosen − default (fresh seeds): {_interval(gap, sweep.get('gap_reason'), notes)}"
    )
    for key, what in (("fraction_solved", "solves"), ("fraction_beats_random", "beats random")):
        share = sweep[key]
        value = (
            notes.na(sweep[f"{key}_reason"])
            if share is None
            else f"{share['count']}/{share['n']} = {fmt_rate(share)}"
        )
        lines.append(f"share of the swept space that {what}: {value}")
    for line in lines:
        out.print(f"  {escape(line)}")
    for line in notes.lines():
        out.print(f"[dim]{escape(line)}[/dim]")


def _value(value: Any) -> str:
    return fmt(value) if isinstance(value, float) else str(value)


def _interval(estimate: dict[str, Any] | None, reason: str | None, notes: Footnotes) -> str:
    if estimate is None:
        return notes.na(reason or "")
    return fmt_interval(estimate)


def _rate(failure: dict[str, Any], criterion: str, notes: Footnotes) -> str:
    rate = failure[criterion]
    if rate is None:
        return notes.na(failure[f"{criterion}_reason"])
    return f"{rate['failures']}/{rate['n']} = {fmt_rate(rate)}"


def _performance_table(analysis: dict[str, Any], level: str) -> Table:
    """Proxy return against hidden performance, with the gap, on the envs that report it."""
    table = Table(title=f"Final return vs hidden performance (means, {level} CIs)")
    for column in ("env", "algo", "final return", "hidden performance", "gap", "n"):
        table.add_column(column, justify="left" if column in ("env", "algo") else "right")
    for env in analysis["envs"]:
        if not env.get("reports_performance"):
            continue
        for algo in env["algos"]:
            perf = algo["performance"]
            cells = ["n/a"] * 3 + ["0"]
            if perf is not None:
                cells = [
                    fmt_interval(perf["return"]),
                    fmt_interval(perf["performance"]),
                    fmt_interval(perf["gap"]),
                    str(perf["return"]["n"]),
                ]
            table.add_row(escape(env["env"]), escape(algo["label"]), *map(escape, cells))
    return table


def _cost_table(analysis: dict[str, Any]) -> Table:
    """Env steps and simulator calls per seed, wall and compile time of each unit: a planner's
    zero env steps and its many model calls side by side with a learner's env steps."""
    table = Table(title="Cost (wall: the whole unit, all seeds together, compiling included)")
    for column in ("env", "algo", "env steps / seed", "simulator calls / seed", "wall", "compile"):
        table.add_column(column, justify="left" if column in ("env", "algo") else "right")
    for env in analysis["envs"]:
        for algo in env["algos"]:
            c = algo["cost"]
            calls = c["simulator_calls"]
            table.add_row(
                escape(env["env"]),
                escape(algo["label"]),
                fmt_steps(c["env_steps_per_seed"]),
                "—" if calls is None else fmt_steps(calls / max(c["seeds"], 1)),
                fmt_seconds(c["wall_s"]),
                fmt_seconds(c["compile_s"]),
            )
    return table


def _generalization_tables(study: dict[str, Any], level: str, out: Console) -> None:
    """Per algo × env id: each training condition's return on its training and test range and
    the gap, then domain randomization's verdict against each single-value policy."""
    for group in study["groups"]:
        table = Table(
            title=f"Generalization over {study['vary']}: {group['algo']} on {group['env_id']} "
            f"({level} CIs)"
        )
        for column in ("trained with", "training range", "test range", "gap"):
            table.add_column(column, justify="left" if column == "trained with" else "right")
        notes = Footnotes()
        for u in group["units"]:
            cells = [
                fmt_interval(u[k]) if u[k] is not None else notes.na(u[f"{k}_reason"])
                for k in ("train_return", "test_return", "gap")
            ]
            table.add_row(escape(u["training"]["text"]), *map(escape, cells))
        out.print(table)
        for line in notes.lines():
            out.print(f"[dim]{escape(line)}[/dim]")
        for c in group["randomization"]:
            if c["verdict"] is not None:
                out.print(
                    f"{escape(c['randomized_training'])} vs {escape(c['versus_training'])}: "
                    f"{fmt_interval(c['on_test_range'])} on its test range: {c['verdict']}"
                )
