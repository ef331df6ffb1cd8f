"""Run units one after another: skip those already stored, train each one's seeds on the worker
pool (or in this process), retry a stalled unit once, and store each finished unit in one
transaction (or record it as failed) before the next one starts.

The pieces: rlcheck/experiment/workers.py runs the processes, rlcheck/experiment/train.py what
each of them does with a batch of seeds, rlcheck/experiment/record.py turns results into the
rows rlcheck/experiment/store.py keeps.
"""

from __future__ import annotations

import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rlcheck.experiment.plan import UnitPlan
from rlcheck.experiment.provenance import provenance
from rlcheck.experiment.record import unit_rows
from rlcheck.experiment.store import Store
from rlcheck.experiment.train import TaskResult, train_seeds
from rlcheck.experiment.workers import STALL_SECONDS, Stalled, WorkerPool


class ProgressSink(Protocol):
    def start_unit(self, unit: UnitPlan, total: int) -> None: ...

    def advance(self, unit_key: str, n: int = 1) -> None: ...

    def end_unit(self, unit: UnitPlan, outcome: UnitOutcome) -> None: ...


@dataclass
class UnitOutcome:
    unit: UnitPlan
    status: str  # "done" | "failed" | "stored" (already in the store, skipped)
    reason: str | None = None
    wall_s: float | None = None


class Executor:
    """Runs units one after another, all workers on each unit's seeds, storing as it goes.

    Args:
        store, run_id: where results go.
        workers: processes per unit; 0 trains in this process (no isolation, for tests).
        progress: optional sink for progress events.
        stall_seconds: how long a worker's CPU time may stand still before it counts as
            stalled (see rlcheck/experiment/workers.py).
    """

    def __init__(
        self,
        store: Store,
        run_id: int,
        workers: int,
        progress: ProgressSink | None = None,
        stall_seconds: float = STALL_SECONDS,
    ):
        self.store = store
        self.run_id = run_id
        self.workers = workers
        self.progress = progress
        self.stall_seconds = stall_seconds
        self._pool = WorkerPool(workers, stall_seconds) if workers else None
        self._provenance = provenance()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def run(self, units: list[UnitPlan]) -> list[UnitOutcome]:
        done = self.store.done_keys()
        outcomes = []
        for unit in units:
            outcome = UnitOutcome(unit, "stored") if unit.key in done else self._run_unit(unit)
            if self.progress is not None:
                self.progress.end_unit(unit, outcome)
            outcomes.append(outcome)
        return outcomes

    def _run_unit(self, unit: UnitPlan) -> UnitOutcome:
        if self.progress is not None:
            self.progress.start_unit(unit, len(unit.seeds) * unit.checkpoints)
        start = time.perf_counter()
        attempts = 0
        while True:
            attempts += 1
            try:
                parts = self._train(unit)
                break
            except Stalled:
                if attempts >= 2:
                    seconds = f"{self.stall_seconds:.0f} s"
                    error = f"XLA program stalled twice (no CPU progress for {seconds})"
                    parts = [TaskResult(None, error=error)]
                    break
            except BrokenProcessPool:
                parts = [TaskResult(None, error="a worker process died (crash or out of memory)")]
                break
        wall_s = time.perf_counter() - start
        return self._store(unit, parts, wall_s, attempts)

    def _train(self, unit: UnitPlan) -> list[TaskResult]:
        chunks = [
            c.tolist() for c in np.array_split(np.array(unit.seeds), self.workers or 1) if len(c)
        ]
        advance = None if self.progress is None else self.progress.advance
        if self._pool is None:
            return [
                train_seeds(
                    unit, chunk, None if advance is None else lambda n: advance(unit.key, n)
                )
                for chunk in chunks
            ]
        return self._pool.train(unit, chunks, advance)

    def _store(
        self, unit: UnitPlan, parts: list[TaskResult], wall_s: float, attempts: int
    ) -> UnitOutcome:
        """Write the unit in one transaction, or its failure; nothing stored is replaced."""
        record, rows, failed = unit_rows(unit, parts, wall_s, attempts, self._provenance)
        if failed is not None:
            self.store.write_failure(self.run_id, record, failed.detail)
            return UnitOutcome(unit, "failed", failed.error, wall_s)
        self.store.write_unit(self.run_id, record, *rows)
        return UnitOutcome(unit, "done", None, wall_s)
