"""Results in the forms other tools read: rliable's score arrays, and TensorBoard runs (one per
seed, so TensorBoard's own UI overlays a unit's seeds)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlcheck.errors import UserError
from rlcheck.experiment.store import Store
from rlcheck.experiment.tensorboard import write_scalars


def _labelled_units(store: Store) -> list[tuple[str, dict[str, Any]]]:
    """(algo label, unit) of every done unit; a label two units of one env share gets the
    unit key's first 8 characters, as in the report."""
    done = [u for u in store.units() if u["status"] == "done"]
    labels = []
    for env in dict.fromkeys(u["env_label"] for u in done):
        labels += unique_labels([u for u in done if u["env_label"] == env])
    ordered = [
        u
        for env in dict.fromkeys(u["env_label"] for u in done)
        for u in done
        if u["env_label"] == env
    ]
    return list(zip(labels, ordered, strict=True))


def unique_labels(units: list[dict[str, Any]]) -> list[str]:
    """Algo labels of the units of one env, made unique: an imported unit whose label a
    trained one has too gets "(imported)"; labels still shared get the unit key's first 8
    characters."""
    names = [u["algo_label"] for u in units]
    names = [
        f"{name} (imported)" if names.count(name) > 1 and "import" in (u["meta"] or {}) else name
        for name, u in zip(names, units, strict=True)
    ]
    return [
        f"{name} [{u['key'][:8]}]" if names.count(name) > 1 else name
        for name, u in zip(names, units, strict=True)
    ]


def rliable_scores(
    store: Store, curves: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The stored results as rliable's functions take them: algorithm → (runs, tasks) final
    returns, or with ``curves`` (runs, tasks, checkpoints) of the learning curve.

    Tasks are the envs every algorithm has a unit on (alphabetical); runs are each unit's
    seeds in stored order, cut to the fewest seeds any of the algorithm's units has. A
    diverged seed's final return is NaN. Returns are raw, not normalised per task.

    Returns:
      (scores, description): the arrays, and what their axes hold (tasks, seeds, steps) and
      what was left out, as JSON-ready data.

    Raises:
      UserError: no done unit, no env that every algorithm has, or (``curves``) units of one
        algorithm with different checkpoints.
    """
    by_algo: dict[str, dict[str, dict[str, Any]]] = {}
    for label, unit in _labelled_units(store):
        by_algo.setdefault(label, {})[unit["env_label"]] = unit
    if not by_algo:
        raise UserError(f"{store.directory}: no done unit to export")
    everywhere = set.intersection(*(set(envs) for envs in by_algo.values()))
    tasks = sorted(everywhere)
    if not tasks:
        raise UserError(
            f"{store.directory}: no env has a unit of every algorithm, and rliable's arrays "
            "need the same tasks for each"
        )
    left_out = sorted({env for envs in by_algo.values() for env in envs} - everywhere)
    scores, description = {}, {"tasks": tasks, "metric": "final_return", "algorithms": {}}
    description["left_out_envs"] = left_out
    for label, envs in by_algo.items():
        units = [envs[t] for t in tasks]
        runs = min(len(u["seeds"]) for u in units)
        if curves:
            columns, steps = [], None
            for unit in units:
                curve, unit_steps = _curves(store, unit)
                if steps is not None and not np.array_equal(steps, unit_steps):
                    raise UserError(
                        f"--curves: {label}'s units have different checkpoints on "
                        f"{units[0]['env_label']} and {unit['env_label']}"
                    )
                steps = unit_steps
                columns.append(curve[:runs])
            scores[label] = np.stack(columns, axis=1)
            description["metric"] = "learning curve"
            description["algorithms"][label] = {"checkpoint_steps": steps.tolist()}
        else:
            finals = [_finals(store, unit) for unit in units]
            scores[label] = np.stack([f[:runs] for f in finals], axis=1)
            description["algorithms"][label] = {}
        description["algorithms"][label].update(
            {
                "runs": runs,
                "seeds": [u["seeds"][:runs] for u in units],
                "units": [u["key"] for u in units],
            }
        )
    return scores, description


def _finals(store: Store, unit: dict[str, Any]) -> np.ndarray:
    rows = {seed: (status, final) for seed, status, final, _ in store.seed_rows(unit["key"])}
    return np.array(
        [np.nan if rows[s][0] != "ok" or rows[s][1] is None else rows[s][1] for s in unit["seeds"]],
        dtype=np.float64,
    )


def _curves(store: Store, unit: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, checkpoints) of the unit's learning curve, and the checkpoint steps."""
    try:
        steps = store.array(unit["key"], -1, "checkpoint_steps")
    except KeyError:
        raise UserError(
            f"--curves: {unit['algo_label']} on {unit['env_label']} has no checkpoints"
        ) from None
    metric = (unit["meta"] or {}).get("curve_metric", "eval_return")
    index = {int(s): i for i, s in enumerate(steps)}
    seeds = {s: i for i, s in enumerate(unit["seeds"])}
    curve = np.full((len(seeds), len(steps)), np.nan)
    for _, seed, step, name, value in store.scalars(unit["key"]):
        if name == metric and step in index and value is not None:
            curve[seeds[seed], index[step]] = value
    return curve, steps


def write_rliable(store: Store, output: Path, curves: bool = False) -> dict[str, Any]:
    """Write :func:`rliable_scores` to ``output`` (``.npz``: ``dict(np.load(output))`` is the
    dict rliable takes) and its description beside it (``output`` with ``.json``)."""
    scores, description = rliable_scores(store, curves)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez(output, **scores)
    output.with_suffix(".json").write_text(json.dumps(description, indent=1) + "\n")
    return description


def _run_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_") or "_"


def tensorboard_scalars(
    store: Store, unit: dict[str, Any], seed: int
) -> Iterator[tuple[str, int, float]]:
    """(tag, step, value) of one seed: every stored scalar (evaluation and training returns,
    the final return, imported metrics) and the internals after every update
    (``internals/<name>``)."""
    for _, s, step, metric, value in store.scalars(unit["key"]):
        if s == seed and value is not None:
            yield metric, int(step), float(value)
    names = (unit["meta"] or {}).get("metric_names") or []
    if not names:
        return
    try:
        steps = store.array(unit["key"], -1, "update_env_steps")
        values = store.array(unit["key"], seed, "internals")
    except KeyError:
        return
    for u, step in enumerate(steps[: len(values)].tolist()):
        for m, name in enumerate(names):
            if np.isfinite(values[u, m]):
                yield f"internals/{name}", int(step), float(values[u, m])


def write_tensorboard(store: Store, directory: Path, unit_keys: list[str] | None = None) -> int:
    """One TensorBoard run per seed, ``directory/ENV/ALGO/seed_N``, of every done unit (or of
    ``unit_keys``); returns the number of runs written."""
    wanted = None if unit_keys is None else set(unit_keys)
    written = 0
    for label, unit in _labelled_units(store):
        if wanted is not None and unit["key"] not in wanted:
            continue
        for seed in unit["seeds"]:
            run = directory / _run_name(unit["env_label"]) / _run_name(label) / f"seed_{seed}"
            # Written again (a resumed run, a second export): the run's old files would show
            # every point twice in TensorBoard.
            for old in run.glob("events.out.tfevents.*"):
                old.unlink()
            write_scalars(run, tensorboard_scalars(store, unit, seed))
            written += 1
    return written
