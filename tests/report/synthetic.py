"""Synthetic results stores for the report tests: rows written directly, no training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rlcheck.experiment.store import Store, UnitRecord

CHECKPOINTS = 5
BUDGET = 1000
# Actual env steps lag the nominal checkpoint steps, as with whole rollouts.
ENV_STEPS_LAG = 8
EPISODE_OFFSETS = np.array([-1.0, 0.0, 1.0, 2.0, -2.0])
PROVENANCE = {
    "versions": {"rlcheck": "0.1.0", "jax": "0.0-test"},
    "rlcheck_commit": "0123abcd",
    "cwd_commit": None,
    "machine": {"cpu": "test cpu", "cores": 2, "hostname": "testbox"},
}


def checkpoint_steps(checkpoints: int = CHECKPOINTS) -> np.ndarray:
    return np.linspace(BUDGET / checkpoints, BUDGET, checkpoints).astype(np.int64)


def open_store(directory: Path, spec: dict | None = None) -> tuple[Store, int]:
    store = Store(directory)
    run_id = store.start_run(spec or {"seeds": 8, "budget": BUDGET}, PROVENANCE)
    return store, run_id


def record(
    env: str,
    algo: str,
    label: str | None,
    seeds: int,
    threshold: float | None,
    status: str = "done",
    reason: str | None = None,
    config: dict | None = None,
    overrides: dict | None = None,
    env_label: str | None = None,
) -> UnitRecord:
    label = label or algo
    return UnitRecord(
        key=f"{env_label or env}/{label}",
        env=env,
        env_label=env_label or env,
        algo=algo,
        algo_label=label,
        config={"learning_rate": 0.001} if config is None else config,
        overrides=overrides or {},
        seeds=list(range(seeds)),
        budget=BUDGET,
        eval={"checkpoints": CHECKPOINTS, "episodes": 4, "final_episodes": 5},
        status=status,
        reason=reason,
        env_steps=BUDGET - ENV_STEPS_LAG,
        wall_s=3.5,
        compile_s=1.25,
        meta={
            "workers": 2,
            "device": "cpu:0",
            "driver": "fused",
            "metric_names": [],
            "env_spec": {"id": env, "kind": "jax", "solve_threshold": threshold},
            "attempts": 1,
        },
        provenance=PROVENANCE,
    )


def write_unit(
    store: Store,
    run_id: int,
    env: str,
    algo: str,
    finals: Sequence[float],
    *,
    label: str | None = None,
    threshold: float | None = None,
    diverged: Sequence[int] = (),
    curves: np.ndarray | None = None,
    config: dict | None = None,
    overrides: dict | None = None,
    steps: np.ndarray | None = None,
    env_steps: np.ndarray | None = None,
    episode_offsets: np.ndarray = EPISODE_OFFSETS,
    performance: Sequence[float] | None = None,
    env_label: str | None = None,
    meta: dict | None = None,
) -> None:
    """Stores a done unit whose seed i ends at ``finals[i]`` (``config``, ``overrides``: the
    Config fields stored with it, as an older rlcheck might have written them).

    Each seed's final evaluation episodes are ``finals[i] + episode_offsets`` (their mean is
    ``finals[i]``); its learning curve, unless given, rises linearly from 0 to ``finals[i]``
    over the nominal checkpoint ``steps`` (default ``checkpoint_steps()``; an empty array: no
    checkpoints, as for a planner), evaluated at ``env_steps`` (default: ``ENV_STEPS_LAG``
    before each). A diverged seed's final return is stored as NaN (SQLite keeps it as NULL).
    ``performance``: each seed's final hidden performance, stored as an env reporting one
    would (its final episodes' performance are ``performance[i] + episode_offsets``).
    ``env_label``: the env entry's label, when several entries share the env id; ``meta``:
    added to the unit's meta (e.g. the ``env_params`` it trained with).
    """
    finals = np.asarray(finals, dtype=float)
    n = len(finals)
    steps = checkpoint_steps() if steps is None else np.asarray(steps, dtype=np.int64)
    env_steps = steps - ENV_STEPS_LAG if env_steps is None else np.asarray(env_steps)
    if curves is None:
        curves = finals[:, None] * np.linspace(0.2, 1.0, len(steps))
    seed_rows, scalars, arrays = [], [], []
    arrays += [
        (-1, "checkpoint_steps", steps),
        (-1, "checkpoint_env_steps", env_steps),
        (-1, "update_env_steps", env_steps),
    ]
    for seed in range(n):
        bad = seed in diverged
        final = np.nan if bad else finals[seed]
        seed_rows.append(
            (seed, "diverged" if bad else "ok", final, "parameters became NaN/inf" if bad else None)
        )
        for step, value in zip(steps.tolist(), curves[seed].tolist(), strict=True):
            scalars.append((seed, step, "eval_return", value))
        scalars.append((seed, BUDGET, "final_return", final))
        if performance is not None:
            scalars.append((seed, BUDGET, "final_performance", performance[seed]))
            arrays.append((seed, "final_episode_performance", performance[seed] + episode_offsets))
        arrays += [
            (seed, "eval_episode_returns", np.repeat(curves[seed][:, None], 4, axis=1)),
            (seed, "final_episode_returns", final + episode_offsets),
            (seed, "train_episodes", np.ones(len(steps), dtype=np.int64)),
        ]
    unit = record(
        env, algo, label, n, threshold, config=config, overrides=overrides, env_label=env_label
    )
    unit.meta.update(meta or {})
    store.write_unit(run_id, unit, seed_rows, scalars, arrays)


def write_failed_unit(
    store: Store, run_id: int, env: str, algo: str, reason: str, label: str | None = None
) -> None:
    unit = record(env, algo, label, 4, None, status="failed", reason=reason)
    store.write_failure(run_id, unit, "Traceback (most recent call last): ...")
