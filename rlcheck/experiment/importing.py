"""Store runs that rlcheck did not train (``rlcheck import``) as units beside its own: one unit per
algorithm × env, its runs as the unit's seeds, their curves on a common grid of checkpoints."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlcheck.envs.registry import bare_env_id
from rlcheck.errors import UserError
from rlcheck.experiment.provenance import provenance
from rlcheck.experiment.readers import Options, Run, read_sources
from rlcheck.experiment.store import Store, UnitRecord

# Bump when what an imported unit stores changes meaning, so re-importing the same files
# replaces units stored under the old meaning instead of skipping them.
IMPORT_FORMAT = 1
DEFAULT_CHECKPOINTS = 20
ALIGNMENT = (
    "each seed's value at a checkpoint is the mean of the values it logged after the previous "
    "checkpoint and up to this one (for per-episode returns: the episodes that ended there, "
    "as rlcheck's own train_return); where it logged none, its last value logged before; "
    "before its first value, none. The checkpoints are evenly spaced up to the budget from the "
    "first step by which every seed has logged a value (or budget / checkpoints, if later). "
    "Final return: the value at the last checkpoint, or the "
    "mean over the episodes of the last evaluation when the run logged evaluations."
)
FORMATS = {
    "sb3-monitor": "SB3 Monitor files",
    "tensorboard": "TensorBoard event files",
    "table": "a tidy table",
    "rliable": "rliable score arrays",
}


@dataclass(frozen=True)
class Imported:
    """What happened to one unit: stored now, or already there from an earlier import."""

    key: str
    algo: str
    env: str
    seeds: int
    budget: int
    format: str
    stored: bool
    # TensorBoard runs left out because the same run's Monitor files were imported.
    set_aside: tuple[str, ...] = ()


def align(steps: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Values logged at ``steps`` (ascending) on the checkpoint ``grid`` (see :data:`ALIGNMENT`).

    Args:
      steps: env steps of the logged values, ascending.
      values: the logged values.
      grid: checkpoint env steps, ascending.

    Returns:
      One value per checkpoint; NaN before the first logged value.
    """
    upto = np.searchsorted(steps, grid, side="right")
    since = np.concatenate([[0], upto[:-1]])
    sums = np.concatenate([[0.0], np.cumsum(values)])
    count = upto - since
    mean = (sums[upto] - sums[since]) / np.maximum(count, 1)
    last = np.where(upto > 0, values[np.maximum(upto - 1, 0)] if len(values) else np.nan, np.nan)
    return np.where(count > 0, mean, last)


def import_runs(
    paths: list[Path],
    out: Path,
    options: Options,
    budget: int | None = None,
    checkpoints: int = DEFAULT_CHECKPOINTS,
) -> list[Imported]:
    """Read every run in ``paths`` and store one unit per algorithm × env in ``out``.

    Re-importing the same files is a no-op: a unit's key hashes the files' contents and the
    options that shape its numbers, and units already stored are skipped.

    Args:
      paths: files or folders (searched recursively).
      out: the results directory (created, or added to).
      options: what the user said about the runs (``--env``, ``--algo``, ``--seed-from``,
        ``--tag``).
      budget: env steps per seed; default: the last step any seed of the unit logged.
      checkpoints: checkpoints of the common grid (score arrays keep their own).

    Returns:
      One :class:`Imported` per unit, in the order of first appearance.

    Raises:
      UserError: a source that cannot be read, a run whose algorithm, env or seed cannot be
        told, or two runs of one unit with the same seed; one line naming the file.
    """
    runs = read_sources(paths, options)
    units: dict[tuple[str, str], dict[int, Run]] = {}
    set_aside: dict[tuple[str, str], list[str]] = {}
    # An SB3 run logs both Monitor files and TensorBoard scalars (RL Zoo's logs/ holds both):
    # the Monitor files, which hold every episode and the evaluations, stand for the run.
    for run in sorted(runs, key=lambda r: r.format != "sb3-monitor"):
        seeds = units.setdefault((run.algo, run.env), {})
        other = seeds.get(run.seed)
        if other is not None and (other.format, run.format) == ("sb3-monitor", "tensorboard"):
            set_aside.setdefault((run.algo, run.env), []).append(str(run.files[0].parent))
            continue
        if run.seed in seeds:
            other = seeds[run.seed]
            raise UserError(
                f"{run.files[0]}: {run.algo} on {run.env} seed {run.seed} is also in "
                f"{other.files[0]}; name the seeds with --seed-from REGEX"
            )
        seeds[run.seed] = run
    hashes: dict[Path, str] = {}
    store = Store(out)
    try:
        done = store.done_keys()
        recorded = {
            "import": [str(p) for p in paths],
            "options": {**options.__dict__, "budget": budget, "checkpoints": checkpoints},
        }
        importer = provenance()
        run_id = store.start_run(recorded, importer)
        results = []
        for (algo, env), by_seed in units.items():
            seeds = dict(sorted(by_seed.items()))
            key = _unit_key(algo, env, seeds, options, budget, checkpoints, hashes)
            unit_budget = _budget(seeds, budget)
            first = next(iter(seeds.values()))
            stored = key not in done
            if stored:
                record, rows = _unit(key, algo, env, seeds, unit_budget, checkpoints, hashes)
                record.provenance = {"imported": True, "importer": importer}
                store.write_unit(run_id, record, *rows)
            aside = tuple(set_aside.get((algo, env), ()))
            results.append(
                Imported(key, algo, env, len(seeds), unit_budget, first.format, stored, aside)
            )
        store.finish_run(run_id, "done")
    finally:
        store.close()
    return results


def _sha256(path: Path, hashes: dict[Path, str]) -> str:
    if path not in hashes:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        hashes[path] = digest.hexdigest()
    return hashes[path]


def _unit_key(
    algo: str,
    env: str,
    seeds: dict[int, Run],
    options: Options,
    budget: int | None,
    checkpoints: int,
    hashes: dict[Path, str],
) -> str:
    """Content hash of what determines an imported unit's numbers: the files' bytes (not their
    paths) and the options that read them."""
    identity = {
        "format": f"import/{IMPORT_FORMAT}",
        "algo": algo,
        "env": env,
        "seeds": {str(s): sorted(_sha256(f, hashes) for f in r.files) for s, r in seeds.items()},
        "tag": options.tag,
        "budget": budget,
        "checkpoints": checkpoints,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def _budget(seeds: dict[int, Run], budget: int | None) -> int:
    """The given budget, else the last step any seed logged; 0 when the steps are not env steps
    (score arrays), which the report shows as unknown."""
    if budget is not None:
        return budget
    runs = list(seeds.values())
    if not all(r.env_steps for r in runs):
        return 0
    ends = [int(r.steps[-1]) for r in runs if len(r.steps)]
    ends += [int(r.eval_steps[-1]) for r in runs if r.eval_steps is not None and len(r.eval_steps)]
    return max(ends, default=0)


def _grid(
    seeds: dict[int, Run], budget: int, checkpoints: int, evaluated: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(checkpoint steps as stored, the same steps in each run's own units): evenly spaced up
    to the budget, from budget / checkpoints or, if later, the first step by which every seed
    has logged the curve's metric (so that every seed has a value at every checkpoint)."""
    first = next(iter(seeds.values()))
    if not first.env_steps:
        counted = max(len(r.steps) for r in seeds.values())
        own = np.arange(1, counted + 1, dtype=np.int64)
        if budget:
            return np.round(own * budget / counted).astype(np.int64), own
        return own, own
    if budget <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    logged = [r.eval_steps if evaluated else r.steps for r in seeds.values()]
    firsts = [int(steps[0]) for steps in logged if steps is not None and len(steps)]
    start = min(max([budget / checkpoints, *firsts]), budget)
    grid = np.unique(np.round(np.linspace(start, budget, checkpoints)))
    grid = grid[grid > 0].astype(np.int64)
    return grid, grid


def _unit(
    key: str,
    algo: str,
    env: str,
    seeds: dict[int, Run],
    budget: int,
    checkpoints: int,
    hashes: dict[Path, str],
) -> tuple[UnitRecord, tuple[list, list, list]]:
    """The record and the seed, scalar and array rows of one imported unit."""
    first = next(iter(seeds.values()))
    evaluated = all(r.eval_episodes is not None for r in seeds.values())
    grid, own = _grid(seeds, budget, checkpoints, evaluated)
    has_curves = len(grid) > 0 and any(len(r.steps) for r in seeds.values())
    curve_metric = "eval_return" if evaluated else first.metric
    seed_rows, scalars, arrays = [], [], []
    if has_curves:
        arrays += [(-1, "checkpoint_steps", grid), (-1, "checkpoint_env_steps", grid)]
    final_episodes = []
    for seed, run in seeds.items():
        curve = align(run.steps, run.returns, own) if has_curves else None
        if curve is not None:
            points = zip(grid, curve, strict=True)
            scalars += [(seed, int(s), run.metric, _value(v)) for s, v in points]
        final = run.final
        if evaluated:
            assert run.eval_steps is not None and run.eval_episodes is not None
            means = run.eval_episodes.mean(axis=1)
            scalars += [
                (seed, int(s), "eval_return", _value(v))
                for s, v in zip(grid, align(run.eval_steps, means, own), strict=True)
            ]
            last = np.searchsorted(run.eval_steps, budget, side="right") - 1
            if last >= 0:
                final = float(means[last])
                final_episodes.append((seed, run.eval_episodes[last]))
        elif curve is not None:
            final = float(curve[-1])
        for name, (steps, values) in run.metrics.items():
            scalars += [(seed, int(s), name, _value(v)) for s, v in zip(steps, values, strict=True)]
        scalars.append((seed, budget, "final_return", _value(final)))
        seed_rows.append((seed, "ok", _value(final), None))
        if len(run.steps):
            arrays += [(seed, "imported_steps", run.steps), (seed, "imported_values", run.returns)]
    shapes = {episodes.shape for _, episodes in final_episodes}
    if len(final_episodes) == len(seeds) and len(shapes) == 1:
        arrays += [(seed, "final_episode_returns", e) for seed, e in final_episodes]
    ends = [int(r.steps[-1]) for r in seeds.values() if r.env_steps and len(r.steps)]
    bare = bare_env_id(env)
    threshold = gym.spec(bare).reward_threshold if bare in gym.registry else None
    meta = {
        "import": _provenance(seeds, budget, curve_metric, hashes),
        "metric_names": [],
        "curve_metric": curve_metric,
        "driver": "imported",
        "env_spec": {"id": env, "kind": "imported", "solve_threshold": threshold},
    }
    record = UnitRecord(
        key=key,
        env=env,
        env_label=env,
        algo=algo,
        algo_label=algo,
        config={},
        overrides={},
        seeds=list(seeds),
        budget=budget,
        eval={"checkpoints": len(grid) if has_curves else 0},
        status="done",
        env_steps=round(sum(ends) / len(ends)) if ends else None,
        meta=meta,
    )
    return record, (seed_rows, scalars, arrays)


def _value(value: float | None) -> float | None:
    """None for a missing or non-finite value (SQLite keeps NaN as NULL anyway)."""
    return None if value is None or not np.isfinite(value) else float(value)


def _provenance(
    seeds: dict[int, Run], budget: int, curve_metric: str, hashes: dict[Path, str]
) -> dict[str, Any]:
    """Where an imported unit came from: its files with their hashes, and how each piece the
    user did not give was found."""
    first = next(iter(seeds.values()))
    inferred: dict[str, list[str]] = {}
    for run in seeds.values():
        for name, how in run.inferred.items():
            if how not in inferred.setdefault(name, []):
                inferred[name].append(how)
    if not first.env_steps:
        inferred["steps"] = ["checkpoints are counted, not in env steps"] + (
            ["spread evenly over the given budget"] if budget else []
        )
    return {
        "format": first.format,
        "what": FORMATS[first.format],
        "curve_metric": curve_metric,
        "alignment": ALIGNMENT,
        "inferred": {name: "; ".join(hows) for name, hows in inferred.items()},
        "runs": [
            {
                "seed": seed,
                "last_step": int(run.steps[-1]) if len(run.steps) else None,
                "files": [
                    {"path": str(f.resolve()), "sha256": _sha256(f, hashes)} for f in run.files
                ],
            }
            for seed, run in seeds.items()
        ],
    }
