"""Turn a unit's results into what the store keeps: its record and its rows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from rlcheck.drivers.common import CHECKPOINT_POLICY, POLICY, Schedule
from rlcheck.envs.spec import EnvSpec
from rlcheck.experiment.plan import UnitPlan
from rlcheck.experiment.store import UnitRecord
from rlcheck.experiment.train import TaskResult
from rlcheck.registry import ALGORITHMS


def unit_rows(
    unit: UnitPlan,
    parts: list[TaskResult],
    wall_s: float,
    attempts: int,
    provenance: dict[str, Any],
) -> tuple[UnitRecord, tuple[list, list, list], TaskResult | None]:
    """The record of a unit trained in ``parts`` (one per batch of seeds), its seed, scalar and
    array rows, and the part that failed, if one did (then the record says why and there are no
    rows). A unit whose env produced NaN/inf fails as a whole."""
    schedule = unit.schedule
    meta = {
        "workers": len(parts),
        "chunks": [t.timings for t in parts],
        "device": next((t.device for t in parts if t.device), None),
        "driver": next((t.driver for t in parts if t.driver), None),
        "metric_names": list(unit.metric_names),
        "env_spec": env_spec_dict(unit.env_spec),
        "env_kwargs": unit.env.kwargs,
        "attempts": attempts,
        # Which policies the unit keeps (rlcheck/experiment/policies.py reads them back); None:
        # a planner, which has none. Units stored before policies were kept have no entry.
        "policy": None
        if ALGORITHMS[unit.algo.name].kind == "planner"
        else {"final": True, "checkpoints": unit.eval.keep_checkpoint_policies},
    }
    # What the unit key holds beyond the config: the env's changed params, its randomized ranges
    # (which generalization reads as the training range) and the reward scale.
    if unit.env.params:
        meta["env_params"] = dict(unit.env.params)
    if unit.env.randomize:
        meta["env_randomize"] = dict(unit.env.randomize)
    if unit.env.reward_scale != 1.0:
        meta["reward_scale"] = unit.env.reward_scale
    record = UnitRecord(
        key=unit.key,
        env=unit.env.id,
        env_label=unit.env.name,
        algo=unit.algo.name,
        algo_label=unit.algo.display,
        config=unit.config,
        overrides=_jsonable(unit.overrides),
        seeds=list(unit.seeds),
        budget=unit.budget,
        eval=unit.eval.model_dump(),
        status="done",
        env_steps=schedule.env_steps,
        wall_s=wall_s,
        compile_s=max((t.timings.get("compile_s", 0.0) for t in parts), default=None),
        meta=meta,
        provenance=provenance,
    )
    failed = next((t for t in parts if t.error is not None), None)
    if failed is None:
        results = {k: np.concatenate([t.results[k] for t in parts]) for k in parts[0].results}
        _baseline_costs(results, record)
        if not results["env_finite"].all():
            bad = [s for s, ok in zip(unit.seeds, results["env_finite"], strict=True) if not ok]
            failed = TaskResult(
                None, error=f"env returned a NaN/inf observation or reward (seeds {bad})"
            )
    if failed is not None:
        record.status, record.reason = "failed", failed.error
        return record, ([], [], []), failed
    seeds = list(unit.seeds)
    rows = (
        seed_rows(results, seeds, schedule, unit.metric_names),
        scalar_rows(results, seeds, schedule),
        array_rows(results, seeds, schedule),
    )
    return record, rows, None


def _baseline_costs(results: dict[str, np.ndarray], record: UnitRecord) -> None:
    """Baselines count what they used (rlcheck/baselines/base.py): env steps differ by seed
    for policy search (whole generations), are 0 for planners, and planners add their
    simulator calls. The unit's env steps per seed become the mean over seeds."""
    meta = record.meta if record.meta is not None else {}
    if "env_steps" in results:
        used = [int(n) for n in results["env_steps"]]
        record.env_steps = round(sum(used) / len(used))
        meta["env_steps_per_seed"] = used
    if "simulator_calls" in results:
        calls = [int(n) for n in results["simulator_calls"]]
        meta["simulator_calls"] = sum(calls)
        meta["simulator_calls_per_seed"] = calls


def env_spec_dict(spec: EnvSpec) -> dict[str, Any]:
    """An EnvSpec as JSON: what reports need to know about the env (threshold, spaces)."""
    return {
        **asdict(spec),
        "action_space": {"type": type(spec.action_space).__name__, **asdict(spec.action_space)},
    }


def _jsonable(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}


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
    ended). final_return: mean over the final evaluation episodes, at step = budget. For an env
    that reports its hidden performance (``rlcheck.envs.jax_env.PERFORMANCE``),
    eval_performance and final_performance are the same means of the episodes' performance.
    """
    rows = []
    # Planners (rlcheck/baselines) learn nothing and have no checkpoints: only final rows.
    grid = schedule.grid.tolist()[: results["eval_returns"].shape[1]]
    eval_performance = results.get("eval_performance")
    final_performance = results.get("final_performance")
    for i, seed in enumerate(seeds):
        for c, step in enumerate(grid):
            rows.append((seed, step, "eval_return", float(results["eval_returns"][i, c].mean())))
            if eval_performance is not None:
                rows.append((seed, step, "eval_performance", float(eval_performance[i, c].mean())))
            n = int(results["train_episodes"][i, c])
            if n:
                rows.append(
                    (seed, step, "train_return", float(results["train_return_sum"][i, c] / n))
                )
        rows.append(
            (seed, schedule.budget, "final_return", float(results["final_returns"][i].mean()))
        )
        if final_performance is not None:
            mean = float(final_performance[i].mean())
            rows.append((seed, schedule.budget, "final_performance", mean))
    return rows


def array_rows(
    results: dict[str, np.ndarray], seeds: list[int], schedule: Schedule
) -> list[tuple[int, str, Any]]:
    """Per-seed arrays (every episode, internals, the policy's parameters: one array per leaf,
    named ``policy/<leaf path>``, and ``checkpoint_policy/<leaf path>`` with a leading
    checkpoint axis when kept) and unit-wide ones under seed −1."""
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
    policy = [k for k in results if k.startswith((f"{POLICY}/", f"{CHECKPOINT_POLICY}/"))]
    for i, seed in enumerate(seeds):
        rows += [
            (seed, "eval_episode_returns", results["eval_returns"][i]),
            (seed, "final_episode_returns", results["final_returns"][i]),
            (seed, "train_episodes", results["train_episodes"][i]),
            (seed, "internals", results["internals"][i].astype(np.float32)),
        ]
        rows += [(seed, name, results[name][i]) for name in policy]
        if "eval_performance" in results:
            rows.append((seed, "eval_episode_performance", results["eval_performance"][i]))
        if "final_performance" in results:
            rows.append((seed, "final_episode_performance", results["final_performance"][i]))
    return rows
