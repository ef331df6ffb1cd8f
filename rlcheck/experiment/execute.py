"""Run units one after another: skip those already stored, train each one's seeds on the worker
pool (or in this process), retry a stalled unit once, and store each finished unit in one
transaction (or record it as failed) before the next one starts. A group of units that differ
only in traced values (a sweep's configurations) trains as one vmapped program, configurations
× seeds split across the workers, and its units are stored together in one transaction.

The pieces: rlcheck/experiment/workers.py runs the processes, rlcheck/experiment/train.py what
each of them does with a batch of seeds, rlcheck/experiment/record.py turns results into the
rows rlcheck/experiment/store.py keeps.
"""

from __future__ import annotations

import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rlcheck.experiment.plan import UnitGroup, UnitPlan
from rlcheck.experiment.provenance import provenance
from rlcheck.experiment.record import unit_rows
from rlcheck.experiment.store import Store
from rlcheck.experiment.train import TaskResult, train_rows, train_seeds
from rlcheck.experiment.workers import STALL_SECONDS, Stalled, WorkerPool


class ProgressSink(Protocol):
    def start_unit(self, unit: UnitPlan, total: int) -> None: ...

    def start_group(self, units: tuple[UnitPlan, ...], total: int) -> None: ...

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

    def run(self, units: list[UnitPlan | UnitGroup]) -> list[UnitOutcome]:
        """Run units and groups of units in order; one outcome per unit."""
        outcomes = []
        for item in units:
            done = self.store.done_keys()
            if isinstance(item, UnitPlan):
                outcomes.append(self._outcome(item, done))
                continue
            pending = [u for u in item.units if u.key not in done]
            stored = [u for u in item.units if u.key in done]
            results = [self._report(UnitOutcome(u, "stored")) for u in stored]
            if len(pending) == 1:
                results.append(self._outcome(pending[0], done))
            elif pending:
                results += [self._report(o) for o in self._run_group(UnitGroup(tuple(pending)))]
            order = {u.key: i for i, u in enumerate(item.units)}
            outcomes += sorted(results, key=lambda o: order[o.unit.key])
        return outcomes

    def _outcome(self, unit: UnitPlan, done: set[str]) -> UnitOutcome:
        outcome = UnitOutcome(unit, "stored") if unit.key in done else self._run_unit(unit)
        return self._report(outcome)

    def _report(self, outcome: UnitOutcome) -> UnitOutcome:
        if self.progress is not None:
            self.progress.end_unit(outcome.unit, outcome)
        return outcome

    def _run_unit(self, unit: UnitPlan) -> UnitOutcome:
        if self.progress is not None:
            self.progress.start_unit(unit, len(unit.seeds) * unit.checkpoints)
        start = time.perf_counter()
        parts, attempts = self._attempts(lambda: self._train(unit))
        wall_s = time.perf_counter() - start
        return self._store(unit, parts, wall_s, attempts)

    def _attempts(self, train: Any) -> tuple[list[TaskResult], int]:
        """Train, once more after a stall; a second stall or a dead worker is a failure."""
        attempts = 0
        while True:
            attempts += 1
            try:
                return train(), attempts
            except Stalled:
                if attempts >= 2:
                    seconds = f"{self.stall_seconds:.0f} s"
                    error = f"XLA program stalled twice (no CPU progress for {seconds})"
                    return [TaskResult(None, error=error)], attempts
            except BrokenProcessPool:
                error = "a worker process died (crash or out of memory)"
                return [TaskResult(None, error=error)], attempts

    def _run_group(self, group: UnitGroup) -> list[UnitOutcome]:
        """Train a group's rows (units × seeds) as one program per worker, split the results
        per unit, and store them all in one transaction."""
        rows = group.rows
        if self.progress is not None:
            self.progress.start_group(group.units, len(rows) * group.units[0].checkpoints)
        start = time.perf_counter()
        chunks = [
            [tuple(r) for r in c.tolist()]
            for c in np.array_split(np.array(rows), self.workers or 1)
            if len(c)
        ]
        parts, attempts = self._attempts(lambda: self._train_chunks(group, chunks))
        wall_s = time.perf_counter() - start
        if len(parts) != len(chunks):  # a stall or a dead worker: every unit fails with it
            chunks = [rows]
        # Each unit's wall time is its share of the program's, so that costs add up; the
        # record's meta keeps the whole program's (its compile time is the program's).
        share = wall_s / len(group.units)
        program = {"units": len(group.units), "rows": len(rows), "wall_s": wall_s}
        done, failed, outcomes = [], [], []
        for i, unit in enumerate(group.units):
            pairs = zip(parts, chunks, strict=True)
            unit_parts = [p for p in (_rows_of(part, chunk, i) for part, chunk in pairs) if p]
            record, rows_of_unit, failure = unit_rows(
                unit, unit_parts, share, attempts, self._provenance
            )
            if record.meta is not None:
                record.meta["program"] = program
            if failure is None:
                done.append((record, rows_of_unit))
                outcomes.append(UnitOutcome(unit, "done", None, share))
            else:
                failed.append((record, failure.detail))
                outcomes.append(UnitOutcome(unit, "failed", failure.error, share))
        self.store.write_units(self.run_id, done, failed)
        return outcomes

    def _train_chunks(
        self, group: UnitGroup, chunks: list[list[tuple[int, int]]]
    ) -> list[TaskResult]:
        advance = None if self.progress is None else self.progress.advance
        key = group.units[0].key
        if self._pool is None:
            return [
                train_rows(group, chunk, None if advance is None else lambda n: advance(key, n))
                for chunk in chunks
            ]
        return self._pool.train(group, chunks, advance)

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


def _rows_of(part: TaskResult, chunk: list[tuple[int, int]], unit: int) -> TaskResult | None:
    """The part of a chunk's result that belongs to one unit of the group (None: it has no
    rows there); a failed chunk fails every unit in it."""
    index = [r for r, (u, _) in enumerate(chunk) if u == unit]
    if not index:
        return None
    results = None
    if part.results is not None:
        results = {k: v[index] for k, v in part.results.items()}
    return TaskResult(results, part.timings, part.error, part.detail, part.device, part.driver)
