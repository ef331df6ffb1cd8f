"""The ``rlcheck`` command: run specs, quick comparisons, the demo, verdicts, sweeps and
studies; import, list and export results; evaluate stored policies under perturbations;
diagnose on-policy units."""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
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
EnvPackages = Annotated[
    str | None,
    typer.Option(
        "--env-packages",
        help="comma-separated packages to import first, for envs they register (minigrid,ale_py)",
    ),
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

ExecutorName = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="where units train: local (worker processes on this machine) or ray (Ray tasks "
        "on a cluster, see --address; pip install 'rlcheck[ray]'); default: the spec's "
        "executor, else local",
    ),
]
Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="the Ray cluster to run on, as `ray start --head` prints it (implies --executor "
        "ray; default: RAY_ADDRESS, else a Ray instance started on this machine for the run)",
    ),
]
Retries = Annotated[
    int | None,
    typer.Option(
        "--retries",
        min=0,
        help="Ray: times a unit's task runs again after its worker process or node died "
        "(default 2); then the unit is recorded as failed",
    ),
]


# The training options rlcheck sweep ENV and rlcheck ablate ENV share (None: the default).
Steps = Annotated[int | None, typer.Option(min=1, help="env steps per seed (default 100000)")]
Checkpoints = Annotated[
    int | None, typer.Option(min=1, help="evaluations during training (default 20)")
]
EvalEpisodes = Annotated[
    int | None, typer.Option(min=1, help="episodes per evaluation (default 8)")
]


@dataclass(frozen=True)
class _Placement:
    """Where the command running now trains its units (set by :func:`_runs_units`)."""

    executor: str | None = None
    address: str | None = None
    retries: int | None = None


_placement = _Placement()


def _runs_units(command: Any) -> Any:
    """Give a command that runs units (through _execute or _sweep, which read them) the
    options --executor, --address and --retries: one decorator line per command."""
    signature = inspect.signature(command, eval_str=True)
    added = {"executor": ExecutorName, "address": Address, "retries": Retries}

    @functools.wraps(command)
    def with_placement(
        *args: Any,
        executor: str | None = None,
        address: str | None = None,
        retries: int | None = None,
        **kwargs: Any,
    ) -> Any:
        global _placement
        _placement = _Placement(executor, address, retries)
        return command(*args, **kwargs)

    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
        for name, hint in added.items()
    ]
    with_placement.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    with_placement.__annotations__ = {
        **{name: p.annotation for name, p in signature.parameters.items()},
        **added,
    }
    return with_placement


@app.command()
@_runs_units
def run(
    spec: Annotated[Path, typer.Argument(help="experiment spec (TOML)")],
    out: Out = None,
    workers: Workers = None,
    env_packages: EnvPackages = None,
) -> None:
    """Run every algo of a spec on every env of it; stored units are skipped (resume)."""
    from rlcheck.experiment.spec import load_spec

    parsed = load_spec(spec)
    if env_packages:
        from rlcheck.envs import import_packages

        import_packages(_packages(env_packages))
        extra = [p for p in _packages(env_packages) if p not in parsed.import_]
        parsed = parsed.model_copy(update={"import_": [*parsed.import_, *extra]})
    if parsed.sweep is not None:
        raise UserError(f"{spec}: this spec has a [sweep] table; run it with rlcheck sweep {spec}")
    if parsed.ablate is not None:
        raise UserError(
            f"{spec}: this spec has an [ablate] table; run it with rlcheck ablate {spec}"
        )
    _run(parsed, str(spec), out or Path("runs") / spec.stem, workers)


def _packages(names: str | None) -> list[str]:
    return [n.strip() for n in (names or "").split(",") if n.strip()]


@app.command()
def robustness(
    directory: Annotated[Path, typer.Argument(help="results directory")],
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="NAME=VALUES: an env parameter (length, masspole, gravity… of the env's "
            "params; a MuJoCo env's gravity, mass_scale, friction_scale) or obs_noise, "
            "action_noise, action_delay; VALUES: A:B:N (N evenly spaced), A:B:N:log or a,b,c",
        ),
    ] = None,
    episodes: Annotated[int, typer.Option(min=1, help="episodes per seed and value")] = 32,
    obs_noise: Annotated[
        float,
        typer.Option(min=0, help="std of Gaussian noise on every observation, held fixed"),
    ] = 0.0,
    action_noise: Annotated[
        float,
        typer.Option(
            min=0,
            help="held fixed: probability of a random action (discrete actions) or std of "
            "Gaussian noise in half action ranges (continuous)",
        ),
    ] = 0.0,
    action_delay: Annotated[
        int, typer.Option(min=0, help="env steps between choosing an action and its effect")
    ] = 0,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="draw the episodes from this seed (default: each policy replays the episodes "
            "of its final evaluation)",
        ),
    ] = None,
) -> None:
    """Evaluate every stored policy while one thing about the world varies (on Gymnasium envs,
    physics only: a MuJoCo model's gravity, mass_scale, friction_scale).

    Stored results are reused: the same request again only evaluates units added since.
    Writes the report's robustness section and summary.json's "robustness".
    """
    from rlcheck.experiment.ranges import parse_vary
    from rlcheck.experiment.spec import RobustnessSpec, validation_message
    from rlcheck.experiment.store import Store

    source = "rlcheck robustness"
    if not vary:
        raise UserError(
            f"{source}: --vary NAME=VALUES is required (e.g. --vary length=0.05:2.0:32)"
        )
    if len(vary) > 1:
        raise UserError(
            f"{source}: --vary once per request (got {len(vary)}); run again for another"
        )
    name, _ = parse_vary(vary[0], "--vary")  # the name, and the values' syntax, checked
    try:
        spec = RobustnessSpec.model_validate(
            {
                "vary": {name: vary[0].partition("=")[2]},
                "episodes": episodes,
                "obs_noise": obs_noise,
                "action_noise": action_noise,
                "action_delay": action_delay,
                "seed": seed,
            }
        )
    except ValidationError as e:
        raise UserError(validation_message(e, source)) from None
    Store(directory, create=False).close()  # exists, or a one-line error
    _set_results_directory(directory)
    store = Store(directory)
    try:
        _robustness(store, spec, source)
    finally:
        store.close()
    from rlcheck.report.html import write_report

    html, summary = write_report(directory)
    typer.echo(f"Report: {html}  ·  numbers: {summary}")


def _robustness(store: Any, spec: Any, source: str) -> None:
    """Run a robustness request on ``store`` and print one line per unit."""
    from rlcheck.experiment.policies import describe_unit
    from rlcheck.experiment.robustness import request_from_spec, run_robustness
    from rlcheck.experiment.workers import configure_jax
    from rlcheck.report.terminal import console

    request = request_from_spec(spec, source)
    configure_jax()
    for outcome in run_robustness(store, request, source):
        what = describe_unit(outcome.row)
        if outcome.status == "done":
            line = f"evaluated in {outcome.seconds:.1f} s"
        elif outcome.status == "stored":
            line = "already stored"
        else:
            line = f"not evaluated: {outcome.reason}"
        console.print(f"robustness: {what}: {line}", markup=False)


@app.command()
@_runs_units
def diagnose(
    target: Annotated[
        Path, typer.Argument(help="results directory, or a spec (TOML) to run first")
    ],
    at: Annotated[
        str, typer.Option(help="fractions of training to diagnose at, e.g. 0.25,0.5,1.0")
    ] = "0.25,0.5,1.0",
    which: Annotated[
        str, typer.Option(help="diagnostics: any of gradient,value,landscape,trust")
    ] = "gradient,value,landscape,trust",
    seeds: Annotated[int, typer.Option(min=1, help="diagnose each unit's first N seeds")] = 8,
    batch_sizes: Annotated[
        str, typer.Option(help="D1: pairs per gradient estimate (multiples of 512)")
    ] = "512,2048",
    estimates: Annotated[int, typer.Option(min=2, help="D1: estimates per batch size")] = 4,
    reference_pairs: Annotated[
        int, typer.Option(min=512, help="D1: pairs of each of the two reference gradients")
    ] = 2**14,
    mc_states: Annotated[int, typer.Option(min=1, help="D2: states whose V^π is estimated")] = 32,
    mc_rollouts: Annotated[int, typer.Option(min=1, help="D2: rollouts per state")] = 8,
    landscape_pairs: Annotated[
        str, typer.Option(help="D3: FEW,MANY pairs of the surrogate and return (× 512)")
    ] = "512,4096",
    landscape_steps: Annotated[
        int, typer.Option(min=3, help="D3: grid points along each axis")
    ] = 5,
    seed: Annotated[int, typer.Option(min=0, help="seed of the diagnostics' rollouts")] = 0,
    out: Out = None,
    workers: Workers = None,
) -> None:
    """Diagnose PPO, A2C, TRPO and REINFORCE units (JAX-native envs) at fractions of training:
    gradient quality, value quality, landscape, trust region.

    Each unit is trained again exactly as stored to each fraction (stored policies lack the
    critic); results are stored and reused, and written to the report's Diagnostics section
    and summary.json's "diagnostics".
    """
    from rlcheck.diagnostics import diagnose as d
    from rlcheck.experiment.store import Store

    source = "rlcheck diagnose"
    few, many = d.parse_sizes(landscape_pairs, "--landscape-pairs", 2)
    request = d.Request(
        at=d.parse_fractions(at),
        which=d.parse_which(which),
        seeds=seeds,
        batch_sizes=d.parse_sizes(batch_sizes, "--batch-sizes"),
        estimates=estimates,
        reference_pairs=d.parse_sizes(str(reference_pairs), "--reference-pairs")[0],
        mc_states=mc_states,
        mc_rollouts=mc_rollouts,
        landscape_pairs=(few, many),
        landscape_steps=landscape_steps,
        seed=seed,
    )
    if target.is_dir():
        if out is not None:
            raise UserError(f"--out: {target} is a results directory; its diagnostics go there")
        Store(target, create=False).close()  # holds results, or a one-line error
        directory = target
    else:
        from rlcheck.experiment.plan import plan_units
        from rlcheck.experiment.spec import load_spec

        spec = load_spec(target)
        if spec.sweep is not None:
            raise UserError(f"{target}: diagnose a spec without a [sweep] table")
        d.check_planned(plan_units(spec, str(target)), f"{source} {target}")
        directory = out or Path("runs") / target.stem
        _run(spec, str(target), directory, workers)
    _set_results_directory(directory)
    _diagnose(directory, request, source)
    from rlcheck.report.html import write_report

    html, summary = write_report(directory)
    typer.echo(f"Report: {html}  ·  numbers: {summary}")


def _diagnose(directory: Path, request: Any, source: str) -> None:
    """Run a diagnose request on the units stored in ``directory``; one line per unit."""
    from rlcheck.diagnostics import diagnose as d
    from rlcheck.experiment.policies import describe_unit
    from rlcheck.experiment.store import Store
    from rlcheck.experiment.workers import configure_jax
    from rlcheck.report.terminal import console

    store = Store(directory)
    try:
        found = d.candidates(store)
        usable = d.check_candidates(found, f"{source} {directory}")
        for c in found:
            if c.plan is None:
                console.print(
                    f"diagnose: {describe_unit(c.row)}: skipped: {c.reason}", markup=False
                )
        configure_jax()
        for outcome in d.run_diagnose(store, usable, request):
            what = describe_unit(outcome.row)
            if outcome.status == "stored":
                line = "already stored"
            else:
                line = f"diagnosed in {outcome.seconds:.1f} s"
                if outcome.replay_matches is False:
                    line += (
                        "; warning: re-trained to the end it does not replay the stored final "
                        "returns (another machine or version?)"
                    )
            console.print(f"diagnose: {what}: {line}", markup=False)
    finally:
        store.close()


@app.command()
@_runs_units
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
    env_packages: EnvPackages = None,
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
        "import": _packages(env_packages),
    }
    from rlcheck.envs import import_packages

    import_packages(data["import"])
    spec = parse_spec(data, "rlcheck quick")
    _run(spec, "rlcheck quick", out or _default_out("quick", env), workers)


@app.command()
@_runs_units
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
@_runs_units
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
    env_packages: EnvPackages = None,
) -> None:
    """Can RL solve ENV, how reliably, at what cost — and does a simpler method do as well?

    Runs every RL algorithm that fits the env's actions, the random policy, policy search
    (ARS, CMA-ES) and the planners the env allows (LQR, MCTS, MPC with the true model), then
    writes the report and DIR/verdict.md.
    """
    import json

    from rlcheck.envs import import_packages
    from rlcheck.experiment.battery import battery
    from rlcheck.experiment.spec import parse_spec
    from rlcheck.report.headline import env_headline, markdown
    from rlcheck.report.terminal import console

    packages = _packages(env_packages)
    import_packages(packages)
    plan = battery(env, seeds, budget)
    specs = [parse_spec({**data, "import": packages}, "rlcheck verdict") for data in plan.specs]
    target = out or _default_out("verdict", env)
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
@_runs_units
def sweep(
    target: Annotated[
        str,
        typer.Argument(
            help="a spec with a [sweep] table (SPEC.toml), or an env id to sweep with the "
            "options below"
        ),
    ],
    algo: Annotated[
        str | None,
        typer.Option(help="algorithm(s) to sweep, comma-separated (default ppo)"),
    ] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=VALUES, repeatable: a Config field (learning_rate=1e-4:1e-2:16:log), an "
            "env parameter (env.length=0.25:1.0:4) or the reward scale "
            "(env.reward_scale=0.01,0.1,1,10,100). VALUES: A:B:N (N evenly spaced), "
            "A:B:N:log (log-spaced) or a,b,c. Traced fields (rlcheck algos --fields), env "
            "parameters and the reward scale vary inside one vmapped program with the seeds; "
            "a static field (num_envs, hidden_sizes…) makes one program per value"
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="grid (every combination; default), random (--trials draws: uniform in "
            "A:B, log-uniform in A:B:N:log, one of a list) or tpe (Optuna's TPE)"
        ),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="configurations to try (random, tpe)")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="configurations per vmapped program (default 16); TPE proposes this many "
            "before it learns from their scores",
        ),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(min=1, help="tuning seeds per configuration (default 8)")
    ] = None,
    steps: Steps = None,
    fresh_seeds: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="seeds, disjoint from the tuning seeds, that the chosen and the default "
            "configuration are run on after tuning (default 16; 0: none)",
        ),
    ] = None,
    checkpoints: Checkpoints = None,
    eval_episodes: EvalEpisodes = None,
    sampler_seed: Annotated[
        int | None, typer.Option(help="seed of random search's and TPE's draws (default 0)")
    ] = None,
    random: Annotated[
        bool,
        typer.Option(
            "--random/--no-random",
            help="also run the random policy (the report's 'beats random' needs it)",
        ),
    ] = True,
    out: Out = None,
    workers: Workers = None,
) -> None:
    """Sweep hyperparameters, env parameters or the reward scale: how much does the result
    move? Tunes on the tuning seeds (objective: the IQM of their final returns), then runs the
    best and the default configuration on fresh seeds, and reports the sensitivity (rlcheck
    sweep SPEC.toml, or rlcheck sweep ENV --vary)."""
    from rlcheck.experiment.spec import load_spec, parse_spec

    flags = {
        "--algo": algo,
        "--vary": vary,
        "--method": method,
        "--trials": trials,
        "--batch": batch,
        "--seeds": seeds,
        "--steps": steps,
        "--fresh-seeds": fresh_seeds,
        "--checkpoints": checkpoints,
        "--eval-episodes": eval_episodes,
        "--sampler-seed": sampler_seed,
    }
    path = _spec_target(target, flags, "sweep")
    if path is not None:
        _sweep(load_spec(path), str(path), out or Path("runs") / path.stem, workers, cli=False)
        return
    if not vary:
        raise UserError("--vary: give at least one, e.g. --vary learning_rate=1e-4:1e-2:8:log")
    if method is not None and method not in ("grid", "random", "tpe"):
        raise UserError(f"--method: unknown method '{method}' (choose grid, random or tpe)")
    names = _algo_names(algo)
    varied: dict[str, str] = {}
    for item in vary:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise UserError(
                f"--vary {item}: write NAME=VALUES, e.g. --vary learning_rate=1e-4:1e-2:8:log"
            )
        if name in varied:
            raise UserError(f"--vary {name}: given twice")
        varied[name] = values
    settings: dict[str, Any] = {"vary": varied, "algos": names}
    for key, value in (
        ("method", method),
        ("trials", trials),
        ("batch", batch),
        ("fresh_seeds", fresh_seeds),
        ("sampler_seed", sampler_seed),
    ):
        if value is not None:
            settings[key] = value
    data = {
        "seeds": seeds or 8,
        "budget": steps or 100_000,
        "eval": {"checkpoints": checkpoints or 20, "episodes": eval_episodes or 8},
        "env": [{"id": target}],
        "algo": [{"name": n} for n in names]
        + ([{"name": "random"}] if random and "random" not in names else []),
        "sweep": settings,
    }
    spec = parse_spec(data, "rlcheck sweep")
    _sweep(spec, "rlcheck sweep", out or _default_out("sweep", target), workers, cli=True)


@app.command()
@_runs_units
def ablate(
    target: Annotated[
        str,
        typer.Argument(
            help="a spec with an [ablate] table (SPEC.toml), or an env id to ablate with the "
            "options below"
        ),
    ],
    algo: Annotated[
        str | None, typer.Option(help="algorithm(s) to ablate, comma-separated (default ppo)")
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            help="Config toggles to switch off, comma-separated: boolean fields, weight_init "
            "(orthogonal → lecun), activation (tanh → relu), max_grad_norm (the entry's → inf). "
            "Default: Engstrom et al.'s code-level optimizations (clip_vloss, normalize_reward, "
            "weight_init, anneal_lr, normalize_obs, max_grad_norm, norm_adv, activation)"
        ),
    ] = None,
    design: Annotated[
        str | None,
        typer.Option(
            help="one-at-a-time (all on, then each toggle off alone; default) or factorial "
            "(all 2^k cells)"
        ),
    ] = None,
    lr_grid: Annotated[
        str | None,
        typer.Option(
            help="learning rates tried in every cell (1e-4:1e-2:4:log, or a,b,c), vmapped with "
            "the seeds; each cell's best on the tuning seeds is reported on fresh seeds"
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(min=1, help="seeds per cell (the tuning seeds with --lr-grid; default 8)"),
    ] = None,
    fresh_seeds: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="with --lr-grid: seeds, disjoint from the tuning seeds, each cell is reported "
            "on at its chosen learning rate (default 8)",
        ),
    ] = None,
    steps: Steps = None,
    checkpoints: Checkpoints = None,
    eval_episodes: EvalEpisodes = None,
    batch: Annotated[
        int | None,
        typer.Option(min=1, help="configurations (cell × learning rate) per program (default 16)"),
    ] = None,
    out: Out = None,
    workers: Workers = None,
) -> None:
    """Ablate implementation details: switch Config toggles off one at a time or in every
    combination, and report each one's main effect (and, factorial, the two-way interactions)
    on the final return with bootstrap CIs (rlcheck ablate SPEC.toml, or rlcheck ablate ENV)."""
    from rlcheck.experiment.spec import load_spec, parse_spec

    flags = {
        "--algo": algo,
        "--fields": fields,
        "--design": design,
        "--lr-grid": lr_grid,
        "--seeds": seeds,
        "--fresh-seeds": fresh_seeds,
        "--steps": steps,
        "--checkpoints": checkpoints,
        "--eval-episodes": eval_episodes,
        "--batch": batch,
    }
    path = _spec_target(target, flags, "ablate")
    if path is not None:
        _ablate(load_spec(path), str(path), out or Path("runs") / path.stem, workers, cli=False)
        return
    if design is not None and design not in ("one-at-a-time", "factorial"):
        raise UserError(f"--design: unknown design '{design}' (choose one-at-a-time or factorial)")
    names = _algo_names(algo)
    settings: dict[str, Any] = {"algos": names}
    if fields is not None:
        settings["fields"] = [f.strip() for f in fields.split(",") if f.strip()]
        if not settings["fields"]:
            raise UserError("--fields: give at least one field, e.g. --fields clip_vloss")
    for key, value in (
        ("design", design),
        ("lr_grid", lr_grid),
        ("fresh_seeds", fresh_seeds),
        ("batch", batch),
    ):
        if value is not None:
            settings[key] = value
    data = {
        "seeds": seeds or 8,
        "budget": steps or 100_000,
        "eval": {"checkpoints": checkpoints or 20, "episodes": eval_episodes or 8},
        "env": [{"id": target}],
        "algo": [{"name": n} for n in names],
        "ablate": settings,
    }
    spec = parse_spec(data, "rlcheck ablate")
    _ablate(spec, "rlcheck ablate", out or _default_out("ablate", target), workers, cli=True)


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="results directory")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file (default DIR/report.html)")
    ] = None,
    video: Annotated[
        bool,
        typer.Option(
            "--video/--no-video",
            help="embed a short clip of each unit's best, median and worst seed (≤ 5 MB in all; "
            "pip install 'rlcheck[video]')",
        ),
    ] = False,
) -> None:
    """Write the report (DIR/report.html and DIR/summary.json) and print the verdict."""
    from rlcheck.experiment.store import Store
    from rlcheck.report.html import write_report
    from rlcheck.report.summary_terminal import print_summary
    from rlcheck.report.terminal import console

    store = Store(directory, create=False)
    _set_results_directory(directory)
    analysis = print_summary(store, console)
    store.close()
    html, summary = write_report(directory, output, analysis=analysis, video=video)
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
    format: Annotated[
        str, typer.Option("--format", "-f", help="csv, parquet, npz, rliable or tensorboard")
    ] = "csv",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="file to write (tensorboard: a folder)"),
    ] = None,
    internals: Annotated[
        bool, typer.Option(help="also the per-update internals (approx KL, clip fraction, …)")
    ] = False,
    tensorboard: Annotated[
        Path | None,
        typer.Option(
            "--tensorboard", help="write TensorBoard runs (one per seed) to this folder instead"
        ),
    ] = None,
    curves: Annotated[
        bool,
        typer.Option(help="rliable: learning curves (runs × tasks × checkpoints), not finals"),
    ] = False,
) -> None:
    """Write the results as a tidy table (algo, env, config, seed, step, metric, value), as
    rliable's score arrays, or as TensorBoard runs."""
    from rlcheck.experiment.export import FORMATS
    from rlcheck.experiment.export import export as write
    from rlcheck.experiment.store import Store

    if tensorboard is not None:
        format, output = "tensorboard", tensorboard
    if format not in (*FORMATS, "rliable", "tensorboard"):
        choices = ", ".join((*FORMATS, "rliable", "tensorboard"))
        raise UserError(f"--format: unknown format '{format}' (choose {choices})")
    store = Store(directory, create=False)
    _set_results_directory(directory)
    if format in ("rliable", "tensorboard"):
        _export_external(store, format, output, curves)
        store.close()
        return
    target = output or directory / f"results.{format}"
    n = write(store, format, target, internals)
    store.close()
    typer.echo(f"wrote {n} rows to {target}")


def _export_external(store: Any, format: str, output: Path | None, curves: bool) -> None:
    from rlcheck.experiment.external import write_rliable, write_tensorboard

    if format == "tensorboard":
        target = output or store.directory / "tensorboard"
        n = write_tensorboard(store, target)
        typer.echo(f"wrote {n} TensorBoard runs (one per seed) to {target}")
        return
    target = output or store.directory / "results.rliable.npz"
    description = write_rliable(store, target, curves)
    shape = "runs × tasks × checkpoints" if curves else "runs × tasks"
    typer.echo(
        f"wrote {len(description['algorithms'])} algorithms ({shape}; tasks: "
        f"{', '.join(description['tasks'])}) to {target}; axes in {target.with_suffix('.json')}"
    )
    if description["left_out_envs"]:
        left = ", ".join(description["left_out_envs"])
        typer.echo(f"left out (not every algorithm has a unit there): {left}")


@app.command("import")
def import_(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="files or folders: SB3 Monitor CSVs and RL Zoo logs, TensorBoard event files, "
            "tidy CSV/Parquet tables (algo, env, seed, step, return), rliable .npz/.npy scores"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="results directory (created or added to)")],
    env: Annotated[
        str | None,
        typer.Option(help="env id of every run (score arrays: task names, comma-separated)"),
    ] = None,
    algo: Annotated[str | None, typer.Option(help="algorithm name of every run")] = None,
    seed_from: Annotated[
        str | None,
        typer.Option(help="regular expression over each run's path; its first group is the seed"),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            help="TensorBoard scalar holding the return (default: charts/episodic_return, "
            "then rollout/ep_rew_mean)"
        ),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(min=1, help="env steps per seed (default: the last step a seed logged)"),
    ] = None,
    checkpoints: Annotated[
        int, typer.Option(min=1, help="checkpoints of the common grid the curves are put on")
    ] = 20,
) -> None:
    """Store runs rlcheck did not train as units, for report, export, ls and the statistics.

    One unit per algorithm × env, each run a seed; curves go on a common grid of checkpoints.
    Importing the same files again changes nothing.
    """
    from rich.markup import escape

    from rlcheck.experiment.importing import import_runs
    from rlcheck.experiment.readers import Options
    from rlcheck.experiment.store import Store
    from rlcheck.report.format import fmt_count
    from rlcheck.report.html import write_report
    from rlcheck.report.summary_terminal import print_summary
    from rlcheck.report.terminal import console

    _set_results_directory(out if out.is_dir() else None)
    options = Options(env=env, algo=algo, seed_from=seed_from, tag=tag)
    imported = import_runs(sources, out, options, budget, checkpoints)
    _set_results_directory(out)
    for unit in imported:
        what = f"{unit.algo} on {unit.env}: {unit.seeds} seeds from {unit.format}"
        steps = f"{fmt_count(unit.budget)} env steps per seed" if unit.budget else "no env steps"
        if unit.stored:
            console.print(f"[green]✓[/green] {escape(what)}, {steps}")
        else:
            console.print(f"[dim]· {escape(what)}: already imported, skipped[/dim]")
        for folder in unit.set_aside:
            console.print(
                f"[dim]  · {escape(folder)}: the same run's TensorBoard log, left out (its "
                "Monitor files hold every episode)[/dim]"
            )
    store = Store(out, create=False)
    analysis = print_summary(store, console)
    store.close()
    html, _ = write_report(out, analysis=analysis)
    console.print(f"Results: {out}  ·  report: {html}  ·  more: rlcheck ls {out}")


@app.command()
def evaluate(
    policies: Annotated[
        list[str],
        typer.Argument(
            help="Python callables as module:function (observation → action) or "
            "Stable-Baselines3 model .zip files (with --trust-pickle); several: one per "
            "training run"
        ),
    ],
    env: Annotated[str, typer.Option("--env", help="env id, as for rlcheck run")],
    episodes: Annotated[int, typer.Option(min=1, help="episodes per seed")] = 32,
    seeds: Annotated[
        str | None,
        typer.Option(
            help="N or a,b,c: one policy: its evaluation seeds (default 16); several: each "
            "policy's training seed (default 0 … P-1)"
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="the name the report gives it (default: the function's)")
    ] = None,
    jit: Annotated[
        bool,
        typer.Option(
            "--jit",
            help="the policy is a pure jax.numpy function: compile it into the evaluation loop "
            "(JAX-native envs; default: call it one observation at a time)",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="results directory (created or added to; runs/evaluate)"),
    ] = None,
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle",
            help="load SB3 .zip files: SB3's loader unpickles parts of them, which can run any "
            "code the file names, so only for files you trust",
        ),
    ] = False,
    vecnormalize: Annotated[
        list[Path] | None,
        typer.Option(
            "--vecnormalize",
            help="SB3 VecNormalize statistics the zips were trained with (RL Zoo's "
            "vecnormalize.pkl; a pickle, so with --trust-pickle): one for every zip, or one "
            "per zip in order (repeat the option)",
        ),
    ] = None,
    env_packages: EnvPackages = None,
) -> None:
    """Evaluate policies rlcheck did not train under its evaluation protocol, store them as a
    unit and write the report with the same statistics as a run."""
    from rlcheck.envs import import_packages
    from rlcheck.experiment.evaluate import EVALUATION_SEEDS, evaluate_policies
    from rlcheck.experiment.store import Store
    from rlcheck.report.format import fmt
    from rlcheck.report.html import write_report
    from rlcheck.report.summary_terminal import print_summary
    from rlcheck.report.terminal import console

    import_packages(_packages(env_packages))
    target = out or Path("runs") / "evaluate"
    _set_results_directory(target if target.is_dir() else None)
    done = evaluate_policies(
        policies, env, target, episodes, seeds, label, jit, trust_pickle, vecnormalize
    )
    _set_results_directory(target)
    what = (
        f"1 policy, {len(done.seeds)} evaluation seeds"
        if done.seeds_are == EVALUATION_SEEDS
        else f"{len(done.seeds)} policies (training runs)"
    )
    if done.stored:
        how = "traced into" if done.traced else "called from"
        console.print(
            f"✓ {done.label} on {done.env}: {what} × {episodes} episodes, mean return "
            f"{fmt(float(done.returns.mean()))} ({done.seconds:.1f} s; {how} rlcheck's "
            "evaluation loop)",
            markup=False,
        )
    else:
        console.print(f"· {done.label} on {done.env}: already evaluated, skipped", markup=False)
    store = Store(target, create=False)
    analysis = print_summary(store, console)
    store.close()
    html, _ = write_report(target, analysis=analysis)
    console.print(f"Results: {target}  ·  report: {html}", markup=False)


@app.command()
def watch(
    directory: Annotated[Path, typer.Argument(help="results directory")],
    unit: Annotated[
        str | None,
        typer.Option(help="the unit: its key (prefix) or algo label (default: the only one)"),
    ] = None,
    seed: Annotated[
        str, typer.Option(help="best, median or worst by final return, or a seed number")
    ] = "best",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="FILE.mp4 or FILE.gif (default DIR/watch-…mp4)"),
    ] = None,
) -> None:
    """Play one episode of a stored policy and write it as a video, a frame per step."""
    import time

    from rlcheck.experiment.policies import describe_unit, find_unit
    from rlcheck.experiment.store import Store
    from rlcheck.experiment.watch import VideoWriter, pick_seed, watch_episode
    from rlcheck.experiment.workers import configure_jax
    from rlcheck.report.format import fmt

    start = time.perf_counter()
    configure_jax()  # watching the same unit again compiles nothing
    store = Store(directory, create=False)
    _set_results_directory(directory)
    try:
        if unit is None:
            rows = store.units()
            if len(rows) != 1:
                listing = ", ".join(f"{r['algo_label']} ({r['key'][:8]})" for r in rows)
                raise UserError(f"--unit: {directory} holds {len(rows)} units; name one: {listing}")
            row = rows[0]
        else:
            row = find_unit(store, unit)
        chosen = pick_seed(store, row, seed)
        target = output or directory / f"watch-{row['algo_label']}-seed{chosen}.mp4"
        writer = VideoWriter(target)
        try:
            episode = watch_episode(store, row, chosen, sink=writer)
        except BaseException:
            writer.close()
            target.unlink(missing_ok=True)  # no half-written video
            raise
        writer.close()
    finally:
        store.close()
    typer.echo(
        f"{describe_unit(row)}, seed {chosen} ({seed}): one episode, {episode.steps} steps, "
        f"return {fmt(episode.episode_return)} → {target} ({time.perf_counter() - start:.1f} s)"
    )


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
@_runs_units
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
    from rlcheck.studies.run import conclude, default_directory, measure, prepare

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
    requests = [spec.robustness for spec in specs if spec.robustness is not None]
    failed, _ = _execute(specs, source, target, workers, recorded, requests)
    if study.measure is not None:
        console.print("Measuring (the study's diagnostics)…", markup=False)
        measure(target, study, scale)
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


def _default_out(command: str, target: str) -> Path:
    """runs/COMMAND-TARGET, the target's characters outside [A-Za-z0-9-_.] made "_"."""
    return Path("runs") / (
        f"{command}-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in target)
    )


def _spec_target(target: str, flags: dict[str, Any], table: str) -> Path | None:
    """The spec file rlcheck sweep/ablate TARGET names (None: TARGET is an env id); a spec
    with any of the ENV options in ``flags`` given is a one-line error."""
    if not (target.endswith(".toml") or Path(target).is_file()):
        return None
    given = [name for name, value in flags.items() if value is not None]
    if given:
        what = {"sweep": "sweep", "ablate": "ablation"}[table]
        raise UserError(
            f"{given[0]}: a spec gives its {what} in its [{table}] table; the options are for "
            f"rlcheck {table} ENV"
        )
    return Path(target)


def _algo_names(algo: str | None) -> list[str]:
    """--algo of rlcheck sweep/ablate ENV: comma-separated, checked (default ppo)."""
    names = [a.strip() for a in (algo or "ppo").split(",") if a.strip()]
    if not names:
        raise UserError("--algo: give at least one algorithm, e.g. --algo ppo")
    _check_algos(names, "--algo")
    return names


def _check_algos(names: list[str], option: str = "--algos") -> None:
    import difflib

    from rlcheck.registry import ALGORITHMS

    for name in names:
        if name not in ALGORITHMS:
            close = difflib.get_close_matches(name, ALGORITHMS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(
                f"{option}: unknown algorithm '{name}' (known: {', '.join(ALGORITHMS)}){hint}"
            )


def _run(spec: Any, source: str, out: Path, workers: int | None) -> None:
    requests = [spec.robustness] if spec.robustness is not None else []
    failed, _ = _execute([spec], source, out, workers, spec.model_dump(by_alias=True), requests)
    if failed:
        raise typer.Exit(EXIT_FAILED_UNITS)


def _execute(
    specs: list[Any],
    source: str,
    out: Path,
    workers: int | None,
    recorded: dict[str, Any],
    robustness: Sequence[Any] = (),
    cli: bool = False,
) -> tuple[bool, dict[str, Any]]:
    """Run every unit of ``specs`` into one results directory (a spec with a [sweep] or an
    [ablate] table: its plain units, then its sweeps or its ablations), then each
    ``robustness`` request (a spec's ``[robustness]`` table), print the summary and write the
    report; returns (whether some unit failed, the report's analysis). ``cli``: a sweep's
    settings came from ``rlcheck sweep``'s options (its errors name them)."""
    from rlcheck.experiment.ablate import plan_ablations, run_ablation
    from rlcheck.experiment.plan import plan_units
    from rlcheck.experiment.provenance import provenance
    from rlcheck.experiment.store import Store
    from rlcheck.experiment.sweep import plan_sweeps, run_sweep
    from rlcheck.experiment.workers import default_workers
    from rlcheck.report.html import write_report
    from rlcheck.report.summary_terminal import print_summary
    from rlcheck.report.terminal import RichProgress, console, summary_table

    kind = _executor_kind(specs[0].executor)
    units, sweeps, ablations = [], [], []
    # Bad input stops here, before anything trains: every sweep and ablation is planned first.
    for spec in specs:
        if spec.ablate is not None:
            planned = plan_ablations(spec, source, cli=cli)
            units += planned.units
            ablations += planned.ablations
        elif spec.sweep is None:
            units += plan_units(spec, source)
        else:
            plan = plan_sweeps(spec, source, cli=cli)
            units += plan.units
            sweeps += plan.sweeps
    if robustness:
        from rlcheck.experiment.generalization import check_training_values
        from rlcheck.experiment.robustness import check_units, request_from_spec

        # Before training: a mistake here would otherwise show after the whole run.
        where = f"{source}: robustness"
        every = units + [a.unit(i, a.seeds) for a in ablations for i in range(len(a.cells))]
        for table in robustness:
            request = request_from_spec(table, where)
            check_units(request, every, where)
            check_training_values(request, every, where)
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
            _executor(kind, store, run_id, workers, progress) as executor,
        ):
            outcomes = executor.run(units)
            shown = list(outcomes)
            for sweep in sweeps:
                ran = run_sweep(sweep, store, executor, progress.expect)
                for rejected in ran["rejected"]:
                    console.print(
                        f"note: configuration not run: {rejected['reason']}", markup=False
                    )
                outcomes += ran["tuning"] + ran["fresh"]
                shown += ran["fresh"]
            for ablation in ablations:
                ran = run_ablation(ablation, store, executor, progress.expect)
                outcomes += ran["tuning"] + ran["cells"]
                shown += ran["cells"]
        failed = [o for o in outcomes if o.status == "failed"]
        status = "failed" if failed else "done"
    except Exception:
        status = "crashed"  # an internal error; main logs it
        raise
    finally:
        store.finish_run(run_id, status)
    # A sweep's tuning configurations are in its own table (print_summary).
    summary_table(store, list(dict.fromkeys(o.unit.key for o in shown)))
    for table in robustness:
        # Its input was checked before training; what is left (every unit failed, every seed
        # diverged) is about the results, which the summary reports, not a bad spec.
        try:
            _robustness(store, table, f"{source}: robustness")
        except UserError as e:
            console.print(f"robustness not run: {e}", markup=False)
    if any(spec.logging.tensorboard for spec in specs):
        from rlcheck.experiment.external import write_tensorboard

        write_tensorboard(store, out / "tensorboard", [u.key for u in units])
        console.print(f"TensorBoard: tensorboard --logdir {out / 'tensorboard'}", markup=False)
    analysis = print_summary(store, console)
    html, _ = write_report(out, analysis=analysis)
    console.print(
        f"Results: {out}  ·  report: {html}  ·  more: rlcheck ls {out}, "
        f"rlcheck export {out} --format csv"
    )
    store.close()
    return bool(failed), analysis


def _sweep(spec: Any, source: str, out: Path, workers: int | None, cli: bool) -> None:
    """Plan every sweep of ``spec`` (bad input stops here, before anything trains), run its
    plain units and its sweeps into ``out``, then print the summary and write the report."""
    if spec.sweep is None:
        from rlcheck.experiment.sweep import plan_sweeps

        plan_sweeps(spec, source, cli=cli)  # raises: the spec has no [sweep] table
    failed, _ = _execute([spec], source, out, workers, spec.model_dump(), cli=cli)
    if failed:
        raise typer.Exit(EXIT_FAILED_UNITS)


def _ablate(spec: Any, source: str, out: Path, workers: int | None, cli: bool) -> None:
    """Plan every ablation of ``spec`` (bad input stops here, before anything trains), run its
    plain units and its cells into ``out``, then print the summary and write the report."""
    from rlcheck.experiment.ablate import plan_ablations, run_ablation
    from rlcheck.experiment.provenance import provenance
    from rlcheck.experiment.store import Store
    from rlcheck.experiment.workers import default_workers
    from rlcheck.report.ablation import findings
    from rlcheck.report.html import write_report
    from rlcheck.report.summary_terminal import print_summary
    from rlcheck.report.terminal import RichProgress, console

    kind = _executor_kind(spec.executor)
    plan = plan_ablations(spec, source, cli=cli)
    if workers is None:
        workers = spec.workers if spec.workers is not None else default_workers(len(spec.seed_list))
    store = Store(out)
    _set_results_directory(out)
    run_id = store.start_run(spec.model_dump(), provenance())
    status = "interrupted"
    failed = False
    try:
        with (
            RichProgress(len(plan.units)) as progress,
            _executor(kind, store, run_id, workers, progress) as executor,
        ):
            outcomes = executor.run(list(plan.units))
            for ablation in plan.ablations:
                ran = run_ablation(ablation, store, executor, progress.expect)
                outcomes += ran["tuning"] + ran["cells"]
        failed = any(o.status == "failed" for o in outcomes)
        status = "failed" if failed else "done"
    except Exception:
        status = "crashed"
        raise
    finally:
        store.finish_run(run_id, status)
    analysis = print_summary(store, console)
    for ablation in analysis.get("ablation") or []:
        console.print(f"Ablation: {ablation['name']} ({ablation['design']})", markup=False)
        for sentence in findings(ablation):
            console.print(f"  {sentence}", markup=False)
    html, _ = write_report(out, analysis=analysis)
    console.print(
        f"Results: {out}  ·  report: {html}  ·  more: rlcheck ls {out}, "
        f"rlcheck export {out} --format csv"
    )
    store.close()
    if failed:
        raise typer.Exit(EXIT_FAILED_UNITS)


def _executor_kind(from_spec: str | None) -> str:
    """local or ray, from the command's options, else the spec's ``executor``; checks that Ray
    is installed before anything runs."""
    placement = _placement
    if placement.executor not in (None, "local", "ray"):
        raise UserError(
            f"--executor: unknown executor '{placement.executor}' (choose local or ray)"
        )
    kind = placement.executor or ("ray" if placement.address else from_spec or "local")
    if kind == "local" and placement.address is not None:
        raise UserError("--address: a Ray cluster's address goes with --executor ray")
    if kind == "local" and placement.retries is not None:
        raise UserError("--retries: only the Ray executor retries units (--executor ray)")
    if kind == "ray":
        from rlcheck.experiment.ray_executor import require_ray

        require_ray()
    return kind


def _executor(kind: str, store: Any, run_id: int, workers: int, progress: Any) -> Any:
    """The executor that runs this command's units: local worker processes, or Ray tasks."""
    if kind == "ray":
        from rlcheck.experiment.ray_executor import RETRIES, RayExecutor

        retries = RETRIES if _placement.retries is None else _placement.retries
        return RayExecutor(store, run_id, workers, progress, _placement.address, retries)
    from rlcheck.experiment.execute import Executor

    return Executor(store, run_id, workers, progress)


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
    global _placement
    _one_line_warnings()
    _set_results_directory(None)
    _placement = _Placement()
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
