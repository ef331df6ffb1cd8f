"""Turn a driver's result arrays into the rows the store keeps."""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck.drivers.common import Schedule


def seed_rows(
    results: dict[str, np.ndarray],
    seeds: list[int],
    schedule: Schedule,
    metric_names: tuple[str, ...],
) -> list[tuple[int, str, float, str | None]]:
    """(seed, status, final_return, reason): a seed whose parameters became NaN/inf diverged."""
    rows = []
    for i, seed in enumerate(seeds):
        final = float(np.mean(results["final_returns"][i]))
        if results["params_finite"][i]:
            rows.append((seed, "ok", final, None))
            continue
        reason = "parameters became NaN/inf"
        # Baselines' internals are per checkpoint, not per update (see array_rows).
        per_update = metric_names and "checkpoint_env_steps" not in results
        bad = ~np.isfinite(results["internals"][i]).all(axis=1) if per_update else None
        if bad is not None and bad.any():
            update = int(np.argmax(bad))
            step = (update + 1) * schedule.steps_per_update
            reason += f"; first non-finite internals after update {update + 1} (env step {step})"
        rows.append((seed, "diverged", final, reason))
    return rows


def scalar_rows(
    results: dict[str, np.ndarray], seeds: list[int], schedule: Schedule
) -> list[tuple[int, int, str, float]]:
    """Tidy (seed, step, metric, value) rows at the nominal checkpoint steps.

    eval_return: mean over the checkpoint's evaluation episodes. train_return: mean return of
    the training episodes that ended in the interval before the checkpoint (no row when none
    ended). final_return: mean over the final evaluation episodes, at step = budget.
    """
    rows = []
    # Planners (rlcheck/baselines) learn nothing and have no checkpoints: only final rows.
    grid = schedule.grid.tolist()[: results["eval_returns"].shape[1]]
    for i, seed in enumerate(seeds):
        for c, step in enumerate(grid):
            rows.append((seed, step, "eval_return", float(results["eval_returns"][i, c].mean())))
            n = int(results["train_episodes"][i, c])
            if n:
                rows.append(
                    (seed, step, "train_return", float(results["train_return_sum"][i, c] / n))
                )
        rows.append(
            (seed, schedule.budget, "final_return", float(results["final_returns"][i].mean()))
        )
    return rows


def array_rows(
    results: dict[str, np.ndarray], seeds: list[int], schedule: Schedule
) -> list[tuple[int, str, Any]]:
    """Per-seed arrays (every episode, internals) and unit-wide ones under seed −1."""
    if "checkpoint_env_steps" in results:
        # Baselines (rlcheck/baselines) log internals per checkpoint, not per update. Policy
        # search evaluates after the first whole generation past each checkpoint, so each
        # seed's actual env steps there are kept per seed; unit-wide rows keep the nominal
        # grid, which the report's curves need evenly spaced. Planners have no checkpoints.
        used = results["checkpoint_env_steps"]
        grid = schedule.grid[: used.shape[1]]
        rows: list[tuple[int, str, Any]] = [
            (-1, "checkpoint_steps", grid),
            (-1, "checkpoint_env_steps", grid),
            (-1, "update_env_steps", grid),
        ]
        rows += [(seed, "checkpoint_env_steps", used[i]) for i, seed in enumerate(seeds)]
    else:
        rows = [
            (-1, "checkpoint_steps", schedule.grid),
            (-1, "checkpoint_env_steps", schedule.checkpoint_env_steps),
            (
                -1,
                "update_env_steps",
                np.arange(1, schedule.num_updates + 1) * schedule.steps_per_update,
            ),
        ]
    for i, seed in enumerate(seeds):
        rows += [
            (seed, "eval_episode_returns", results["eval_returns"][i]),
            (seed, "final_episode_returns", results["final_returns"][i]),
            (seed, "train_episodes", results["train_episodes"][i]),
            (seed, "internals", results["internals"][i].astype(np.float32)),
        ]
    return rows
