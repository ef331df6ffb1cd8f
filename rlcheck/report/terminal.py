"""What the terminal shows: progress while units run, and tables of what is stored."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rlcheck.experiment.store import Store
from rlcheck.glossary import GLOSSARY, UNITS, field_uses
from rlcheck.report.format import Footnotes, fmt, fmt_count, fmt_seconds

# Not a terminal (CI logs, pipes): rich would assume 80 columns and wrap the tables.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


class RichProgress:
    """A bar over units and one over each running unit's checkpoints × seeds (several run at
    once on the Ray executor)."""

    def __init__(self, num_units: int):
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._units = self._progress.add_task("units", total=num_units)
        self._bars: dict[str, Any] = {}  # unit key → its bar; a group's units share one

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start_unit(self, unit: Any, total: int) -> None:
        name = escape(f"{unit.algo.display} on {unit.env.name}")
        self._bars[unit.key] = self._progress.add_task(f"  {name}", total=total)

    def start_group(self, units: Any, total: int) -> None:
        """Units trained together in one program (a sweep's configurations)."""
        first = units[0]
        name = escape(f"{first.algo.name} on {first.env.name}: {len(units)} configurations")
        bar = self._progress.add_task(f"  {name}", total=total)
        self._bars.update({unit.key: bar for unit in units})

    def expect(self, more: int) -> None:
        """``more`` units than announced (a sweep plans its units as it goes)."""
        task = next(t for t in self._progress.tasks if t.id == self._units)
        self._progress.update(self._units, total=(task.total or 0) + more)

    def advance(self, unit_key: str, n: int = 1) -> None:
        if unit_key in self._bars:
            self._progress.advance(self._bars[unit_key], n)

    def end_unit(self, unit: Any, outcome: Any) -> None:
        bar = self._bars.pop(unit.key, None)
        if bar is not None and bar not in self._bars.values():
            self._progress.remove_task(bar)
        self._progress.advance(self._units)
        name = escape(f"{unit.algo.display} on {unit.env.name}")
        seeds = len(unit.seeds)
        if outcome.status == "stored":
            console.print(f"[dim]· {name}: already stored, skipped[/dim]")
        elif outcome.status == "done":
            wall = fmt_seconds(outcome.wall_s)
            console.print(f"[green]✓[/green] {name}: {seeds} seeds in {wall}")
        else:
            console.print(f"[red]✗ {name}: failed: {escape(outcome.reason or '')}[/red]")


def summary_table(store: Store, unit_keys: list[str] | None = None) -> None:
    """Per (env, algo): final return over the seeds that did not diverge, and failures."""
    table = Table(title="Final return (mean over each seed's final evaluation episodes)")
    for column in ("env", "algo", "seeds", "mean ± std", "median", "min", "max", "failed seeds"):
        table.add_column(column, justify="left" if column in ("env", "algo") else "right")
    wanted = None if unit_keys is None else set(unit_keys)
    notes, footnotes = [], Footnotes()
    for unit in store.units():
        if wanted is not None and unit["key"] not in wanted:
            continue
        env, algo = escape(unit["env_label"]), escape(unit["algo_label"])
        n = len(unit["seeds"])
        if unit["status"] != "done":
            table.add_row(env, algo, str(n), "[red]unit failed[/red]", "", "", "", f"{n}/{n}")
            notes.append(f"{algo} on {env}: {escape(unit['reason'] or '')}")
            continue
        rows = store.seed_rows(unit["key"])
        finals = np.array([r for _, status, r, _ in rows if status == "ok"])
        diverged = sum(status != "ok" for _, status, _, _ in rows)
        if len(finals):
            if len(finals) > 1:
                spread = fmt(finals.std(ddof=1))
            else:
                spread = footnotes.na("needs at least 2 usable seeds; this unit has 1")
            stats = (
                f"{fmt(finals.mean())} ± {spread}",
                fmt(np.median(finals)),
                fmt(finals.min()),
                fmt(finals.max()),
            )
        else:
            stats = (footnotes.na("every seed diverged"),) * 4
        failed = f"{diverged}/{n}" + (" diverged" if diverged else "")
        table.add_row(env, algo, str(n), *stats, failed)
    console.print(table)
    for line in footnotes.lines():
        console.print(f"[dim]{escape(line)}[/dim]")
    for note in notes:
        console.print(f"[red]failed:[/red] {note}")


def algorithms_table(algorithms: dict[str, Any]) -> None:
    """Every algorithm by name (``rlcheck algos``): actions it handles, presets, summary."""
    table = Table(title="Algorithms (rlcheck quick --algos NAME, or [[algo]] name = NAME)")
    for column in ("name", "actions", "presets", "what"):
        table.add_column(column)
    for name, info in algorithms.items():
        table.add_row(
            name,
            ", ".join(sorted(info.action_spaces)),
            ", ".join(info.presets) or "—",
            escape(info.summary),
        )
    console.print(table)


def own_envs_table() -> None:
    """rlcheck's own envs (``rlcheck algos``): the failure-mode envs, by id, with what each is."""
    import sys

    from rlcheck.envs.failure import ENVS

    table = Table(
        title='rlcheck\'s own envs (JAX-native; each reports info["performance"], its hidden '
        "performance)"
    )
    for column in ("env id", "what"):
        table.add_column(column)
    for name, cls in ENVS.items():
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        table.add_row(f"rlcheck:{name}", escape(doc))
    console.print(table)


def studies_table(studies: dict[str, Any]) -> None:
    """Every study (``rlcheck study list``): name, what it tests, its two versions' costs."""
    table = Table(title="Studies (rlcheck study run NAME [--quick])")
    for column in ("name", "what it tests", "quick", "full"):
        table.add_column(column, overflow="fold")
    for name, study in studies.items():
        table.add_row(
            name,
            escape(study.title),
            f"{study.quick_seeds} seeds, ~{study.quick_seconds:.0f} s",
            f"{study.seeds} seeds, ~{study.expected(False).removeprefix('about ')}",
        )
    console.print(table)


def fields_table(algorithms: dict[str, Any]) -> None:
    """The glossary (``rlcheck algos --fields``): every Config field name several algorithms
    share, its unit and meaning, and the algorithms where it is traced (an array value inside
    the compiled program, so one program can vary it) or static (it sets shapes or program
    structure); then what each unit counts."""
    uses = field_uses({name: info.config_cls for name, info in algorithms.items()})
    table = Table(
        title="Config fields several algorithms share (rlcheck.glossary); traced: one compiled "
        "program can vary it, static: it changes shapes or structure"
    )
    for column in ("field", "unit"):
        table.add_column(column, no_wrap=True)
    for column in ("meaning", "traced in", "static in"):
        table.add_column(column, ratio=2 if column == "meaning" else 1, overflow="fold")
    for name, term in GLOSSARY.items():
        where = uses.get(name, [])
        traced = ", ".join(u.algorithm for u in where if u.traced) or "—"
        static = ", ".join(u.algorithm for u in where if not u.traced) or "—"
        table.add_row(name, term.unit, escape(term.meaning), traced, static)
    console.print(table)
    console.print(
        "rlcheck sweep: on JAX-native envs, the traced fields of an RL algorithm, env "
        "parameters (env.NAME) and the reward scale (env.reward_scale) vary inside one "
        "vmapped program, configurations × seeds; a static field makes one program per value. "
        "On Gymnasium envs, and for baselines, each configuration runs as a unit of its own.",
        markup=False,
    )
    legend = Table(title="Units")
    for column in ("unit", "what it counts"):
        legend.add_column(column)
    for unit, what in UNITS.items():
        legend.add_row(unit, escape(what))
    console.print(legend)


def _policies(unit: dict) -> str:
    """Which policies a unit keeps (``rlcheck.load_policy`` reads them): the final ones, or
    the one of every checkpoint too."""
    meta = unit["meta"] or {}
    if unit["status"] != "done":
        return ""
    if "policy" not in meta:
        return "not stored"  # written before rlcheck kept policies
    if meta["policy"] is None:
        return "none (planner)"
    return "checkpoints" if meta["policy"].get("checkpoints") else "final"


def units_table(store: Store) -> None:
    """Every stored unit and its status (``rlcheck ls``)."""
    table = Table(title=f"Units in {escape(str(store.directory))}")
    columns = ("unit", "env", "algo", "seeds", "budget", "status", "policies", "wall", "stored at")
    for column in columns:
        table.add_column(column)
    for u in store.units():
        status = (
            u["status"]
            if u["status"] == "done"
            else f"[red]{u['status']}[/red]: {escape(u['reason'] or '')}"
        )
        diverged = sum(s != "ok" for _, s, _, _ in store.seed_rows(u["key"]))
        if diverged:
            status += f" ({diverged} diverged)"
        if "import" in (u["meta"] or {}):
            status += " (imported)"
        if evaluated := (u["meta"] or {}).get("evaluate"):
            status += f" (evaluated: {evaluated['seeds_are']})"
        table.add_row(
            u["key"],
            escape(u["env_label"]),
            escape(u["algo_label"]),
            str(len(u["seeds"])),
            fmt_count(u["budget"]),
            status,
            _policies(u),
            fmt_seconds(u["wall_s"]) if u["wall_s"] is not None else "",
            u["created_at"],
        )
    console.print(table)
    failures = store.failures()
    if failures:
        console.print(
            f"{len(failures)} failed attempt(s) on record (kept even when a later "
            "attempt succeeded)."
        )
