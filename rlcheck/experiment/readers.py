"""Read runs that rlcheck did not train: tidy tables (CSV, Parquet), Stable-Baselines3 Monitor
files and RL Baselines3 Zoo log folders, TensorBoard event files, rliable score arrays.

Each reader returns :class:`Run`\\ s, one per training run (seed), with where each of its
algorithm, env and seed came from. Nothing is unpickled: numpy files are loaded with
``allow_pickle=False``, and no SB3 model or YAML file is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rlcheck.errors import UserError
from rlcheck.experiment.tensorboard import read_scalars

# Tags of the mean training-episode return, tried in this order: CleanRL logs every finished
# episode's return, SB3's logger the mean of the last 100 episodes after each rollout.
CURVE_TAGS = ("charts/episodic_return", "rollout/ep_rew_mean")
TABLE_COLUMNS = ("algo", "env", "seed", "step", "return")
# CleanRL names a run {env_id}__{exp_name}__{seed}__{unix time} (cleanrl/ppo.py).
_CLEANRL_RUN = re.compile(r"^(?P<env>.+?)__(?P<algo>.+?)__(?P<seed>\d+)__\d+$")
# SB3 names a TensorBoard run {ALGO}_{n}, n counting the runs in that folder.
_SB3_RUN = re.compile(r"^(?P<algo>[A-Za-z][A-Za-z0-9]*)_(?P<run>\d+)$")
# RL Zoo names a run's folder logs/{algo}/{env_id}_{n}, n counting the experiments.
_ZOO_RUN = re.compile(r"^(?P<env>.+)_(?P<run>\d+)$")
_SEED_IN_PATH = re.compile(r"seed[_=-]?(\d+)", re.IGNORECASE)
_ENV_ID = re.compile(r"-v\d+$")


@dataclass(frozen=True)
class Options:
    """What the user said about the sources (``rlcheck import`` flags); each overrides what
    would be inferred.

    Attributes:
      env: the env id of every run; for score arrays, the task names, comma-separated.
      algo: the algorithm name of every run.
      seed_from: a regular expression over each run's path whose first group is the seed.
      tag: the TensorBoard scalar holding the return.
    """

    env: str | None = None
    algo: str | None = None
    seed_from: str | None = None
    tag: str | None = None


@dataclass
class Run:
    """One training run (one seed) read from files.

    Attributes:
      algo, env, seed: who ran what (the seed is a label for the run).
      format: ``sb3-monitor``, ``tensorboard``, ``table`` or ``rliable``.
      files: the files read.
      steps, returns: the return curve as logged, steps ascending (empty for final scores).
      metric: what the returns are: ``train_return`` (training episodes), ``eval_return``,
        ``return`` (a table's column) or ``score`` (rliable).
      inferred: field → how it was found, for every field the user did not give.
      metrics: other series kept as they were logged: name → (steps, values).
      eval_steps, eval_episodes: evaluations, each with every episode's return.
      final: a final score given as such (rliable arrays without checkpoints).
      env_steps: False when ``steps`` count checkpoints rather than env steps (rliable).
    """

    algo: str
    env: str
    seed: int
    format: str
    files: list[Path]
    steps: np.ndarray
    returns: np.ndarray
    metric: str
    inferred: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    eval_steps: np.ndarray | None = None
    eval_episodes: np.ndarray | None = None
    final: float | None = None
    env_steps: bool = True


# ---- finding the sources ------------------------------------------------------------------


def read_sources(paths: list[Path], options: Options) -> list[Run]:
    """Every run in ``paths`` (files, or folders searched recursively).

    Raises:
      UserError: a path that does not exist, holds nothing importable, or a file that cannot
        be read; one line naming the file and what is wrong or missing.
    """
    runs: list[Run] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"{path}: no such file or directory")
        found = list(_runs_in(path, options))
        if not found:
            raise UserError(
                f"{path}: nothing to import (looked for *.monitor.csv, events.out.tfevents.*, "
                "*.csv, *.parquet, *.npz, *.npy)"
            )
        runs += found
    return runs


def _runs_in(path: Path, options: Options) -> Iterator[Run]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    monitors: dict[Path, list[Path]] = {}
    events: dict[Path, list[Path]] = {}
    for file in files:
        name = file.name
        if name.startswith("events.out.tfevents"):
            events.setdefault(file.parent, []).append(file)
        elif name.endswith("monitor.csv") or (name.endswith(".csv") and _is_monitor(file)):
            monitors.setdefault(file.parent, []).append(file)
        elif name == "evaluations.npz" and path.is_dir():
            continue  # read with the Monitor files of its folder
        elif file.suffix in (".csv", ".parquet"):
            yield from read_table(file, options)
        elif file.suffix in (".npz", ".npy"):
            yield from read_scores(file, options)
        elif not path.is_dir():
            raise UserError(
                f"{file}: not a file rlcheck imports (an SB3 Monitor CSV, a TensorBoard event "
                "file, a CSV or Parquet table, or rliable scores in .npz/.npy)"
            )
    for folder, group in monitors.items():
        yield read_monitor_run(folder, group, options)
    for folder, group in events.items():
        yield read_tensorboard_run(folder, group, options)


def _is_monitor(file: Path) -> bool:
    with file.open("rb") as f:
        return f.read(2) == b"#{"


# ---- identity: algo, env, seed ------------------------------------------------------------


def _seed_from_regex(where: Path, options: Options) -> int:
    assert options.seed_from is not None
    try:
        match = re.search(options.seed_from, where.as_posix())
    except re.error as e:
        raise UserError(f"--seed-from: invalid regular expression: {e}") from None
    if match is None or not match.groups():
        raise UserError(
            f"{where}: --seed-from '{options.seed_from}' does not match its path "
            "(the first group of the match is the seed)"
        )
    try:
        return int(match.group(1))
    except (TypeError, ValueError):
        raise UserError(
            f"{where}: --seed-from matched '{match.group(1)}', which is not a whole number"
        ) from None


def _identity(
    where: Path,
    options: Options,
    algo: tuple[str, str] | None,
    env: tuple[str, str] | None,
    seed: tuple[int, str] | None,
) -> tuple[str, str, int, dict[str, str]]:
    """(algo, env, seed, inferred): the user's flags first, then what the source says (each
    given as (value, how it was found)), then a seed written in the path as seed<N>."""
    inferred: dict[str, str] = {}
    missing = []
    if options.algo is not None:
        algo = (options.algo, "")
    if options.env is not None:
        env = (options.env, "")
    if options.seed_from is not None:
        seed = (_seed_from_regex(where, options), "")
    elif seed is None and (match := _SEED_IN_PATH.search(where.as_posix())):
        seed = (int(match.group(1)), f"'{match.group(0)}' in the path")
    if algo is None:
        missing.append("the algorithm (pass --algo NAME)")
    if env is None:
        missing.append("the env id (pass --env ID)")
    if seed is None:
        missing.append("the seed (pass --seed-from REGEX, its first group matching the seed)")
    if missing:
        raise UserError(f"{where}: cannot tell {'; '.join(missing)}")
    assert algo is not None and env is not None and seed is not None
    for name, (_, how) in (("algo", algo), ("env", env), ("seed", seed)):
        if how:
            inferred[name] = how
    return algo[0], env[0], seed[0], inferred


# ---- SB3 Monitor files and RL Zoo folders -------------------------------------------------


def _read_monitor_file(file: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON header and the r, l, t columns of one Monitor file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with file.open() as f:
        first = f.readline()
    try:
        header = json.loads(first[1:]) if first.startswith("#") else None
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict):
        raise UserError(f"{file}: not an SB3 Monitor file (its first line is not '#{{...}}' JSON)")
    try:
        table = pacsv.read_csv(file, read_options=pacsv.ReadOptions(skip_rows=1))
    except pa.ArrowInvalid as e:
        raise UserError(f"{file}: malformed Monitor CSV: {_first_line(e)}") from None
    columns = {}
    for name in ("r", "l", "t"):
        if name not in table.column_names:
            raise UserError(f"{file}: column '{name}' missing (an SB3 Monitor file has r, l, t)")
        column = table.column(name)
        numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        if column.null_count or not numeric:
            raise UserError(f"{file}: column '{name}' has empty or non-numeric values")
        columns[name] = column.to_numpy().astype(np.float64)
    return header, columns


def read_monitor_run(folder: Path, files: list[Path], options: Options) -> Run:
    """One run from the Monitor files of a folder (one per env of a vector env), as SB3's
    ``load_results`` and ``ts2xy(…, "timesteps")`` read them: episodes from every file in the
    order they ended (each file's ``t`` shifted by its start time), the step of an episode's
    end the running sum of episode lengths. An RL Zoo folder (``logs/ALGO/ENV_N``) names the
    algorithm, env and run; its ``evaluations.npz`` (EvalCallback) adds evaluations."""
    starts, returns, lengths, times, envs = [], [], [], [], set()
    for file in files:
        header, columns = _read_monitor_file(file)
        starts.append(float(header.get("t_start", 0.0)))
        returns.append(columns["r"])
        lengths.append(columns["l"])
        times.append(columns["t"])
        if header.get("env_id"):
            envs.add(str(header["env_id"]))
    shifted = [t + start - min(starts) for t, start in zip(times, starts, strict=True)]
    order = np.argsort(np.concatenate(shifted), kind="stable")
    episode_returns = np.concatenate(returns)[order]
    steps = np.cumsum(np.concatenate(lengths)[order]).astype(np.int64)
    where = folder if len(files) > 1 else files[0]
    if not len(steps):
        raise UserError(f"{where}: no episodes in the Monitor file(s)")
    if len(envs) > 1:
        raise UserError(f"{folder}: Monitor files of different envs: {', '.join(sorted(envs))}")
    algo = env = seed = None
    if envs:
        env = (envs.pop(), "the Monitor header's env_id")
    zoo = _ZOO_RUN.match(folder.name)
    if zoo is not None and (env is None or zoo["env"] == env[0]):
        algo = (folder.parent.name, "RL Zoo's folder layout logs/ALGO/ENV_N")
        env = env or (zoo["env"], "RL Zoo's folder layout logs/ALGO/ENV_N")
        seed = (int(zoo["run"]), f"RL Zoo's experiment number N in {folder.name}")
    algo_name, env_id, seed_value, inferred = _identity(where, options, algo, env, seed)
    run = Run(
        algo_name,
        env_id,
        seed_value,
        "sb3-monitor",
        list(files),
        steps,
        episode_returns,
        "train_return",
        inferred,
    )
    evaluations = folder / "evaluations.npz"
    if evaluations.exists():
        run.eval_steps, run.eval_episodes = _read_evaluations(evaluations)
        run.files.append(evaluations)
    return run


def _read_evaluations(file: Path) -> tuple[np.ndarray, np.ndarray]:
    """SB3 EvalCallback's evaluations.npz: timesteps (n,), results (n, episodes)."""
    data = _load_numpy(file)
    if not isinstance(data, dict) or not {"timesteps", "results"} <= set(data):
        raise UserError(f"{file}: an SB3 evaluations.npz holds 'timesteps' and 'results'")
    steps, results = data["timesteps"], data["results"]
    if results.ndim != 2 or steps.shape != results.shape[:1]:
        raise UserError(
            f"{file}: 'results' must be (evaluations, episodes) with one timestep each, "
            f"got {results.shape} and {steps.shape}"
        )
    order = np.argsort(steps, kind="stable")
    return steps[order].astype(np.int64), results[order].astype(np.float64)


# ---- TensorBoard ----------------------------------------------------------------------------


def read_tensorboard_run(folder: Path, files: list[Path], options: Options) -> Run:
    """One run from the event files of a folder (a run resumed writes several).

    The return is ``--tag`` or the first of :data:`CURVE_TAGS` found; every other scalar is
    kept as a metric. A CleanRL folder name gives the env, algorithm and seed; an SB3 one
    (``PPO_1``) the algorithm and a run number, and its parent folder the env when it is an
    env id (RL Zoo's ``logs/tensorboard/ENV/PPO_1``).
    """
    series: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for file in sorted(files):
        for tag, (steps, values) in read_scalars(file).items():
            series.setdefault(tag, ([], []))
            series[tag][0].append(steps)
            series[tag][1].append(values)
    merged = {}
    for tag, (steps, values) in series.items():
        all_steps, all_values = np.concatenate(steps), np.concatenate(values)
        order = np.argsort(all_steps, kind="stable")
        merged[tag] = (all_steps[order], all_values[order])
    where = folder if len(files) > 1 else files[0]
    wanted = (options.tag,) if options.tag else CURVE_TAGS
    tag = next((t for t in wanted if t in merged), None)
    if tag is None:
        have = ", ".join(sorted(merged)) or "none"
        looked = f"tag '{options.tag}'" if options.tag else " or ".join(CURVE_TAGS)
        hint = "" if options.tag else "; pass --tag TAG"
        raise UserError(f"{where}: no scalar {looked} (scalars: {have}){hint}")
    algo = env = seed = None
    if cleanrl := _CLEANRL_RUN.match(folder.name):
        how = "CleanRL's run name ENV__EXP__SEED__TIME"
        algo, env, seed = (cleanrl["algo"], how), (cleanrl["env"], how), (int(cleanrl["seed"]), how)
    elif sb3 := _SB3_RUN.match(folder.name):
        algo = (sb3["algo"].lower(), f"SB3's run name {folder.name}")
        seed = (int(sb3["run"]), f"SB3's run number in {folder.name} (not necessarily the seed)")
        if _ENV_ID.search(folder.parent.name):
            env = (folder.parent.name, "the parent folder's name (RL Zoo's tensorboard layout)")
    algo_name, env_id, seed_value, inferred = _identity(where, options, algo, env, seed)
    inferred["return"] = f"TensorBoard scalar '{tag}'"
    steps, values = merged.pop(tag)
    metric = "eval_return" if "eval" in tag else "train_return" if tag in CURVE_TAGS else "return"
    return Run(
        algo_name,
        env_id,
        seed_value,
        "tensorboard",
        sorted(files),
        steps,
        values,
        metric,
        inferred,
        metrics=merged,
    )


# ---- tidy tables ----------------------------------------------------------------------------


def read_table(file: Path, options: Options) -> list[Run]:
    """Runs from a tidy CSV or Parquet table, one row per logged return: columns ``algo, env,
    seed, step, return`` (``--algo``/``--env`` stand in for a missing algo or env column);
    every other numeric column is kept as a metric."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _read_table(file)
    given = {"algo": options.algo, "env": options.env}
    for name in TABLE_COLUMNS:
        if name not in table.column_names and given.get(name) is None:
            flag = f" (or pass --{name})" if name in given else ""
            raise UserError(
                f"{file}: column '{name}' missing{flag}; a tidy table has columns "
                f"{', '.join(TABLE_COLUMNS)}"
            )
    for name in ("seed", "step", "return"):
        column = table.column(name)
        numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        if not numeric:
            raise UserError(f"{file}: column '{name}' is not numeric ({column.type})")
        if name != "return" and column.null_count:
            raise UserError(f"{file}: column '{name}' has empty values")
        if name != "return" and pa.types.is_floating(column.type):
            values = column.to_numpy()
            if not np.all(values == np.round(values)):
                raise UserError(f"{file}: column '{name}' has values that are not whole numbers")
    extra = [
        c
        for c in table.column_names
        if c not in TABLE_COLUMNS
        and (
            pa.types.is_integer(table.column(c).type) or pa.types.is_floating(table.column(c).type)
        )
    ]

    def text(name: str) -> np.ndarray:
        if given.get(name) is not None:
            return np.full(table.num_rows, given[name], dtype=object)
        return np.asarray(pc.cast(table.column(name), pa.string()).to_pylist(), dtype=object)

    algos, envs = text("algo"), text("env")
    seeds = table.column("seed").to_numpy().astype(np.int64)
    steps = table.column("step").to_numpy().astype(np.int64)
    returns = table.column("return").to_numpy(zero_copy_only=False).astype(np.float64)
    runs = []
    keys = sorted({(str(a), str(e), int(s)) for a, e, s in zip(algos, envs, seeds, strict=True)})
    for algo, env, seed in keys:
        rows = (algos == algo) & (envs == env) & (seeds == seed)
        order = np.argsort(steps[rows], kind="stable")
        run_steps, run_returns = steps[rows][order], returns[rows][order]
        finite = np.isfinite(run_returns)
        metrics = {}
        for name in extra:
            values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            values = values[rows][order]
            keep = np.isfinite(values)
            metrics[name] = (run_steps[keep], values[keep])
        runs.append(
            Run(
                algo,
                env,
                seed,
                "table",
                [file],
                run_steps[finite],
                run_returns[finite],
                "return",
                metrics=metrics,
            )
        )
    return runs


def _read_table(file: Path):  # -> pyarrow.Table
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if file.suffix == ".parquet":
            return pq.read_table(file)
        return pacsv.read_csv(file)
    except (pa.ArrowInvalid, OSError) as e:
        kind = "Parquet file" if file.suffix == ".parquet" else "CSV file"
        raise UserError(f"{file}: malformed {kind}: {_first_line(e)}") from None


# ---- rliable score arrays -------------------------------------------------------------------


def _load_numpy(file: Path) -> np.ndarray | dict[str, np.ndarray]:
    try:
        data = np.load(file, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {key: data[key] for key in data.files}
        return data
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise UserError(
                f"{file}: holds pickled Python objects, which rlcheck never unpickles from "
                "an imported file; save the scores with np.savez(FILE, **scores) instead"
            ) from None
        raise UserError(f"{file}: not a numpy file: {_first_line(e)}") from None
    except (OSError, EOFError) as e:
        raise UserError(f"{file}: not a readable numpy file: {_first_line(e)}") from None


def read_scores(file: Path, options: Options) -> list[Run]:
    """Runs from rliable-style scores: an ``.npz`` of algorithm → (runs, tasks) final scores or
    (runs, tasks, checkpoints) curves, or one such array in an ``.npy`` (the algorithm:
    ``--algo`` or the file's name). Tasks are named by ``--env A,B,…`` or ``task-1``, …; runs
    are seeds 0, 1, …; checkpoints are counted, not in env steps (``--budget`` spreads them
    evenly over a budget)."""
    data = _load_numpy(file)
    if isinstance(data, dict):
        arrays = data
        if options.algo is not None and len(arrays) > 1:
            raise UserError(f"{file}: --algo names one algorithm, and the file holds {len(data)}")
        if options.algo is not None:
            arrays = {options.algo: next(iter(arrays.values()))}
    else:
        arrays = {options.algo or file.stem: data}
    if not arrays:
        raise UserError(f"{file}: holds no arrays")
    runs = []
    for algo, scores in arrays.items():
        if scores.ndim not in (2, 3) or not np.issubdtype(scores.dtype, np.number):
            raise UserError(
                f"{file}: '{algo}' must be numbers shaped (runs, tasks) or (runs, tasks, "
                f"checkpoints), got {scores.dtype} {scores.shape}"
            )
        tasks = scores.shape[1]
        names = _task_names(file, options, tasks)
        for t, task in enumerate(names):
            for r in range(scores.shape[0]):
                inferred = {"seed": "the run's row in the array"}
                if options.env is None:
                    inferred["env"] = "the task's column (pass --env A,B,… to name the tasks)"
                if not isinstance(data, dict) and options.algo is None:
                    inferred["algo"] = "the file's name"
                values = scores[r, t].astype(np.float64)
                if scores.ndim == 2:
                    run = Run(
                        algo,
                        task,
                        r,
                        "rliable",
                        [file],
                        np.zeros(0, np.int64),
                        np.zeros(0),
                        "score",
                        inferred,
                        final=float(values),
                    )
                else:
                    steps = np.arange(1, len(values) + 1, dtype=np.int64)
                    run = Run(
                        algo,
                        task,
                        r,
                        "rliable",
                        [file],
                        steps,
                        values,
                        "score",
                        inferred,
                        env_steps=False,
                    )
                runs.append(run)
    return runs


def _task_names(file: Path, options: Options, tasks: int) -> list[str]:
    if options.env is None:
        return [f"task-{i + 1}" for i in range(tasks)]
    names = [n.strip() for n in options.env.split(",")]
    if len(names) != tasks:
        raise UserError(
            f"{file}: --env names {len(names)} task(s), and the scores have {tasks} "
            "(one name per column, comma-separated)"
        )
    return names


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
