"""The ``rlcheck`` command: run specs, quick comparisons, the demo, verdicts and studies; list and
export results."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from rlcheck.errors import EnvWarning, UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="rlcheck: does deep RL work on your problem? Numbers you can defend.",
)

DEMO_BUDGET = 300_000
# Exit codes (README.md): all done; some unit failed; bad input; an internal error (a bug:
# one line on stderr, the traceback in a log file); interrupted.
EXIT_FAILED_UNITS = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130

# The results directory of the command running, where an internal error's log goes; set by
# the commands that have one (main resets it).
_results_directory: Path | None = None

Out = Annotated[
    Path | None,
    typer.Option("--out", help="results directory (resumes if it already holds results)"),
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=0,
        help="processes each unit's seeds are split across (default: one per "
        "CPU core; 0 trains in this process)",
    ),
]


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="experiment spec (TOML)")],
    out: Out = None,
    workers: Workers = None,
) -> None:
    """Run every algo of a spec on every env of it; stored units are skipped (resume)."""
    from rlcheck.experiment.spec import load_spec

    parsed = load_spec(spec)
    _run(parsed, str(spec), out or Path("runs") / spec.stem, workers)


@app.command()
def quick(
    env: Annotated[
        str,
        typer.Argument(
            help="env id, e.g. CartPole-v1, gymnasium:Hopper-v5 or my_pkg.envs:make_env"
        ),
    ],
    algos: Annotated[str, typer.Option(help="comma-separated algorithms")] = "ppo,random",
    seeds: Annotated[int, typer.Option(min=1, help="seeds per algorithm")] = 16,
    steps: Annotated[int, typer.Option(min=1, help="env steps per seed")] = 100_000,
    checkpoints: Annotated[int, typer.Option(min=1, help="evaluations during training")] = 20,
    eval_episodes: Annotated[int, typer.Option(min=1, help="episodes per evaluation")] = 8,
    out: Out = None,
    workers: Workers = None,
) -> None:
    """Compare algorithms on one env without writing a spec."""
    from rlcheck.experiment.spec import parse_spec

    names = [a.strip() for a in algos.split(",") if a.strip()]
    if not names:
        raise UserError("--algos: give at least one algorithm, e.g. --algos ppo,random")
    _check_algos(names)
    data = {
        "seeds": seeds,
        "budget": steps,
        "eval": {"checkpoints": checkpoints, "episodes": eval_episodes},
        "env": [{"id": env}],
        "algo": [{"name": n} for n in names],
    }
    spec = parse_spec(data, "rlcheck quick")
    default_out = Path("runs") / (
        "quick-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in env)
    )
    _run(spec, "rlcheck quick", out or default_out, workers)


@app.command()
def demo(out: Out = None, workers: Workers = None) -> None:
    """PPO against the random policy on CartPole-v1, 16 seeds."""
    from rlcheck.experiment.spec import parse_spec

    data = {
        "seeds": 16,
        "budget": DEMO_BUDGET,
        "env": [{"id": "CartPole-v1"}],
        "algo": [{"name": "ppo"}, {"name": "random"}],
    }
    _run(parse_spec(data, "rlcheck demo"), "rlcheck demo", out or Path("runs") / "demo", workers)


@app.command()
def verdict(
    env: Annotated[
        str,
        typer.Argument(
            help="env id, e.g. CartPole-v1, gymnasium:Pendulum-v1 or my_pkg.envs:make_env"
        ),
    ],
    budget: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="env steps per seed for every learner (default: each method's own, from "
            "rlcheck.experiment.battery.BUDGETS)",
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="seeds per method")] = 16,
    out: Out = None,
    workers: Workers = None,
) -> None:
    """Can RL solve ENV, how reliably, at what cost — and does a simpler method do as well?

    Runs every RL algorithm that fits the env's actions, the random policy, policy search
    (ARS, CMA-ES) and the planners the env allows (LQR, MCTS, MPC with the true model), then
    writes the report and DIR/verdict.md.
    """
    import json

    from rlcheck.experiment.battery import battery
    from rlcheck.experiment.spec import parse_spec
    from rlcheck.report.headline import env_headline, markdown
    from rlcheck.report.terminal import console

    plan = battery(env, seeds, budget)
    specs = [parse_spec(data, "rlcheck verdict") for data in plan.specs]
    target = out or Path("runs") / (
        "verdict-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in env)
    )
    recorded = {"verdict": env, "seeds": seeds, "budget": budget, "specs": plan.specs}
    failed, analysis = _execute(specs, "rlcheck verdict", target, workers, recorded)
    headlines = [env_headline(e, analysis["settings"]) for e in analysis["envs"]]
    (target / "verdict.md").write_text(markdown(headlines, plan.skipped))
    (target / "verdict.json").write_text(
        json.dumps({"envs": headlines, "skipped": plan.skipped}, indent=1) + "\n"
    )
    for h in headlines:
        console.print(f"[bold]rlcheck verdict[/bold] {h['headline']}")
        for line in h["lines"]:
            console.print(f"  · {line}", markup=False)
    for what, why in plan.skipped:
        console.print(f"  · not run: {what}: {why}", markup=False)
    console.print(f"Verdict: {target / 'verdict.md'}")
    if failed:
        raise typer.Exit(EXIT_FAILED_UNITS)


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="results directory")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file (default DIR/report.html)")
    ] = None,
) -> None:
    """Write the report (DIR/report.html and DIR/summary.json) and print the verdict."""
    from rlcheck.experiment.store import Store
    from rlcheck.report.html import write_report
    from rlcheck.report.summary_terminal import print_summary
    from rlcheck.report.terminal import console

    store = Store(directory, create=False)
    _set_results_directory(directory)
    analysis = print_summary(store, console)
    html, summary = write_report(directory, output, analysis=analysis)
    store.close()
    console.print(f"Report: {html}  ·  numbers: {summary}")


@app.command("ls")
def list_units(directory: Annotated[Path, typer.Argument(help="results directory")]) -> None:
    """List the units stored in a results directory and their status."""
    from rlcheck.experiment.store import Store
    from rlcheck.report.terminal import units_table

    store = Store(directory, create=False)
    _set_results_directory(directory)
    units_table(store)
    store.close()


@app.command()
def algos(
    fields: Annotated[
        bool,
        typer.Option(
            "--fields",
            help="instead, the Config fields several algorithms share: meaning, unit, and "
            "where each is traced or static",
        ),
    ] = False,
) -> None:
    """List the algorithms and baselines, the actions each handles and its presets; then
    rlcheck's own envs."""
    from rlcheck.registry import ALGORITHMS
    from rlcheck.report.terminal import algorithms_table, fields_table, own_envs_table

    if fields:
        fields_table(ALGORITHMS)
    else:
        algorithms_table(ALGORITHMS)
        own_envs_table()


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="results directory")],
    format: Annotated[str, typer.Option("--format", "-f", help="csv, parquet or npz")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
    internals: Annotated[
        bool, typer.Option(help="also the per-update internals (approx KL, clip fraction, …)")
    ] = False,
) -> None:
    """Write the results as a tidy table (algo, env, config, seed, step, metric, value)."""
    from rlcheck.experiment.export import FORMATS
    from rlcheck.experiment.export import export as write
    from rlcheck.experiment.store import Store

    if format not in FORMATS:
        raise UserError(f"--format: unknown format '{format}' (choose {', '.join(FORMATS)})")
    store = Store(directory, create=False)
    _set_results_directory(directory)
    target = output or directory / f"results.{format}"
    n = write(store, format, target, internals)
    store.close()
    typer.echo(f"wrote {n} rows to {target}")


study_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The background texts' claims about deep RL, run as studies: list, run, report.",
)
app.add_typer(study_app, name="study")


@study_app.command("list")
def study_list() -> None:
    """List the studies: name, what each tests, and what its quick and full versions cost."""
    from rlcheck.report.terminal import studies_table
    from rlcheck.studies import studies

    studies_table(studies())


@study_app.command("run")
def study_run(
    name: Annotated[str, typer.Argument(help="the study, as `rlcheck study list` names it")],
    seeds: Annotated[
        int | None,
        typer.Option(min=2, help="seeds per method (default: the study's, quick or full)"),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="the reduced version (≤ 2 minutes on two cores)")
    ] = False,
    out: Out = None,
    workers: Workers = None,
) -> None:
    """Run a study: its units, the full report, then its finding (one sentence with a number and
    its CI) and its figure."""
    import time

    from rich.markup import escape

    from rlcheck.experiment.spec import parse_spec
    from rlcheck.report.findings import write_figure
    from rlcheck.report.terminal import console
    from rlcheck.studies import get_study
    from rlcheck.studies.run import conclude, default_directory, prepare

    study = get_study(name)
    scale = study.scale(quick, seeds)
    target = out or default_directory(study, quick)
    version = "quick" if quick else "full"
    source = f"rlcheck study run {name}"
    specs_data = study.specs(scale)
    specs = [parse_spec(data, source) for data in specs_data]
    prepare(target, study, scale)
    console.print(
        f"[bold]study {name}[/bold] ({version} version, {scale.seeds} seeds per method): "
        f"{study.expected(quick)}"
    )
    console.print(f"Claim: {study.claim}", markup=False)
    start = time.perf_counter()
    recorded = {"study": name, "quick": quick, "seeds": scale.seeds, "specs": specs_data}
    failed, _ = _execute(specs, source, target, workers, recorded)
    record = conclude(target, time.perf_counter() - start)
    figure = write_figure(target, record)
    console.print(f"[bold]Finding[/bold] ({name}, {version}): {escape(record['sentence'])}")
    console.print(f"Figure: {figure}  ·  finding: {target / 'finding.json'}", markup=False)
    if failed:
        raise typer.Exit(EXIT_FAILED_UNITS)


@study_app.command("report")
def study_report(
    root: Annotated[
        Path, typer.Option("--root", help="where the studies' results directories are")
    ] = Path("runs") / "studies",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file (default ROOT/findings.html)"),
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="also write the findings as Markdown, figures in a folder beside it "
            "(docs/findings.md → docs/findings/)",
        ),
    ] = None,
) -> None:
    """The findings page: every study run under ROOT with its figure, sentence, cost and a link
    to its full report, in one offline HTML file."""
    from rlcheck.report.findings import write_findings
    from rlcheck.report.terminal import console

    _set_results_directory(root)
    page, md = write_findings(root, output, markdown)
    console.print(f"Findings: {page}" + (f"  ·  Markdown: {md}" if md else ""), markup=False)


def _check_algos(names: list[str]) -> None:
    import difflib

    from rlcheck.registry import ALGORITHMS

    for name in names:
        if name not in ALGORITHMS:
            close = difflib.get_close_matches(name, ALGORITHMS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(
                f"--algos: unknown algorithm '{name}' (known: {', '.join(ALGORITHMS)}){hint}"
            )


def _run(spec: Any, source: str, out: Path, workers: int | None) -> None:
    failed, _ = _execute([spec], source, out, workers, spec.model_dump())
    if failed:
        raise typer.Exit(EXIT_FAILED_UNITS)


def _execute(
    specs: list[Any], source: str, out: Path, workers: int | None, recorded: dict[str, Any]
) -> tuple[bool, dict[str, Any]]:
    """Run every unit of ``specs`` into one results directory, print the summary and write the
    report; returns (whether some unit failed, the report's analysis)."""
    from rlcheck.experiment.execute import Executor
    from rlcheck.experiment.plan import plan_units
    from rlcheck.experiment.provenance import provenance
    from rlcheck.experiment.store import Store
    from rlcheck.experiment.workers import default_workers
    from rlcheck.report.html import write_report
    from rlcheck.report.summary_terminal import print_summary
    from rlcheck.report.terminal import RichProgress, console, summary_table

    units = [unit for spec in specs for unit in plan_units(spec, source)]
    for unit in units:
        if unit.note is not None:
            console.print(f"note: {unit.note}", markup=False)
    if workers is None:
        first = specs[0]
        workers = (
            first.workers
            if first.workers is not None
            else default_workers(max(len(spec.seed_list) for spec in specs))
        )
    store = Store(out)
    _set_results_directory(out)
    run_id = store.start_run(recorded, provenance())
    status = "interrupted"
    try:
        with (
            RichProgress(len(units)) as progress,
            Executor(store, run_id, workers, progress) as executor,
        ):
            outcomes = executor.run(units)
        failed = [o for o in outcomes if o.status == "failed"]
        status = "failed" if failed else "done"
    except Exception:
        status = "crashed"  # an internal error; main logs it
        raise
    finally:
        store.finish_run(run_id, status)
    summary_table(store, [u.key for u in units])
    analysis = print_summary(store, console)
    html, _ = write_report(out, analysis=analysis)
    console.print(
        f"Results: {out}  ·  report: {html}  ·  more: rlcheck ls {out}, "
        f"rlcheck export {out} --format csv"
    )
    store.close()
    return bool(failed), analysis


def _one_line_warnings() -> None:
    """Show each :class:`EnvWarning` as one line on stderr, once: the env is made again for every
    unit, and each make warns. Other warnings show as Python shows them."""
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, EnvWarning):
            text = f"rlcheck: warning: {message}\n"
            if text in shown:
                return
            shown.add(text)
        else:
            text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(text)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input becomes one line on stderr and exit code 2, an internal error one
    line and exit code 3 (the traceback goes to a log file), never a traceback."""
    _one_line_warnings()
    _set_results_directory(None)
    try:
        code = app(args=argv, prog_name="rlcheck", standalone_mode=False)
    except UserError as e:
        print(f"rlcheck: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TyperException as e:  # usage errors: unknown option, bad value, missing argument
        ctx = getattr(e, "ctx", None)
        where = ctx.command_path if ctx is not None else "rlcheck"
        print(f"{where}: error: {e.format_message()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except typer.Exit as e:
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("rlcheck: interrupted; finished units are stored, rerun to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        log = _log_internal_error(e, sys.argv[1:] if argv is None else argv)
        print(f"rlcheck: internal error: {_what_failed(e)}; traceback in {log}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    return code if isinstance(code, int) else 0


def _set_results_directory(directory: Path | None) -> None:
    global _results_directory
    _results_directory = directory


def _what_failed(error: BaseException) -> str:
    """The error in one line, and where in rlcheck it was raised: the innermost frame of the
    package, so that a bug in the report names the report's function, not numpy's."""
    import traceback

    package = Path(__file__).resolve().parent
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if Path(f.filename).resolve().is_relative_to(package)]
    message = (str(error).strip().splitlines() or [""])[0]
    what = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if ours:
        where = Path(ours[-1].filename).resolve().relative_to(package.parent)
        what += f" (in {ours[-1].name}, {where}:{ours[-1].lineno})"
    return what


def _log_internal_error(error: BaseException, argv: list[str]) -> Path:
    """Writes the command and the traceback to a log file: in the results directory when the
    command has one, else in rlcheck's directory under the system's temp directory."""
    import datetime
    import tempfile
    import traceback

    directory = _results_directory
    if directory is None or not directory.is_dir():
        directory = Path(tempfile.gettempdir()) / "rlcheck"
        directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    log = directory / f"rlcheck-error-{stamp}.log"
    text = "".join(traceback.format_exception(error))
    log.write_text(f"rlcheck {' '.join(argv)}\n\n{text}")
    return log


if __name__ == "__main__":
    sys.exit(main())
