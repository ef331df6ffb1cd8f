"""Study results made up directly as arrays, for the studies' analyses: no training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rlcheck.studies.base import StudyResults, UnitResults


def unit(
    env_id: str,
    algo: str,
    finals: Sequence[float],
    *,
    env: str | None = None,
    label: str | None = None,
    budget: int = 1000,
    curves: np.ndarray | None = None,
    steps: Sequence[int] | None = None,
    performance: Sequence[float] | None = None,
    simulator_calls: Sequence[int] | None = None,
    final_episodes: np.ndarray | None = None,
    diverged: Sequence[int] = (),
    wall_s: float = 10.0,
    compile_s: float = 2.0,
    threshold: float | None = None,
    episodes: int = 4,
) -> UnitResults:
    """One unit whose seed i ends at ``finals[i]``; ``curves`` (S, C) are the checkpoint means
    at env ``steps`` (each checkpoint's ``episodes`` evaluation episodes all equal them)."""
    finals = np.asarray(finals, dtype=float)
    n = len(finals)
    usable = np.ones(n, bool)
    usable[list(diverged)] = False
    evals = None
    if curves is not None:
        evals = np.repeat(np.asarray(curves, float)[:, :, None], episodes, axis=2)
    if final_episodes is None:
        final_episodes = np.repeat(finals[:, None], episodes, axis=1)
    return UnitResults(
        env=env or env_id,
        env_id=env_id,
        kwargs={},
        algo=algo,
        label=label or algo,
        budget=budget,
        seeds=np.arange(n),
        usable=usable,
        finals=np.where(usable, finals, np.nan),
        final_episodes=final_episodes,
        performance=None if performance is None else np.asarray(performance, float),
        checkpoint_env_steps=None if steps is None else np.asarray(steps, np.int64),
        eval_episodes=evals,
        env_steps_per_seed=np.full(n, 0 if simulator_calls is not None else budget, np.int64),
        simulator_calls_per_seed=None
        if simulator_calls is None
        else np.asarray(simulator_calls, np.int64),
        wall_s=wall_s,
        compile_s=compile_s,
        solve_threshold=threshold,
    )


def results(*units: UnitResults) -> StudyResults:
    return StudyResults(Path("."), list(units))
