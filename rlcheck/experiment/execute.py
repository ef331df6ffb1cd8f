"""Run units one after another: skip those already stored, train each one's seeds on the worker
pool (or in this process), retry a stalled unit once, and store each finished unit in one
transaction (or record it as failed) before the next one starts. A group of units that differ
only in traced values (a sweep's configurations) trains as one vmapped program, configurations
× seeds split across the workers, and its units are stored together in one transaction.

The Ray executor (rlcheck/experiment/ray_executor.py) stores and chunks units with the
functions at the end of this module, so both store the same rows the same way.

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


class UnitRunner(Protocol):
    """What runs units: :class:`Executor` here, or the Ray executor
    (rlcheck/experiment/ray_executor.py) on a cluster."""

    def run(self, units: list[UnitPlan | UnitGroup]) -> list[UnitOutcome]: ...


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
            stored, job = pending_job(item, self.store.done_keys())
            results = [self._report(UnitOutcome(u, "stored")) for u in stored]
            if isinstance(job, UnitPlan):
                results.append(self._report(self._run_unit(job)))
            elif job is not None:
                results += [self._report(o) for o in self._run_group(job)]
            outcomes += in_order(item, results)
        return outcomes

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
        if self.progress is not None:
            self.progress.start_group(group.units, len(group.rows) * group.units[0].checkpoints)
        start = time.perf_counter()
        chunks = row_chunks(group, self.workers)
        parts, attempts = self._attempts(lambda: self._train_chunks(group, chunks))
        wall_s = time.perf_counter() - start
        if len(parts) != len(chunks):  # a stall or a dead worker: every unit fails with it
            chunks = [group.rows]
        return store_group(
            self.store, self.run_id, group, chunks, parts, wall_s, attempts, self._provenance
        )

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
        chunks = seed_chunks(unit, self.workers)
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
        return store_unit(self.store, self.run_id, unit, parts, wall_s, attempts, self._provenance)


# ---- shared with the Ray executor (rlcheck/experiment/ray_executor.py) ------------------------


def pending_job(
    item: UnitPlan | UnitGroup, done: set[str]
) -> tuple[list[UnitPlan], UnitPlan | UnitGroup | None]:
    """The units of ``item`` already stored, and what is left to train: a unit, a smaller
    group (its units not yet stored), or None."""
    units = [item] if isinstance(item, UnitPlan) else list(item.units)
    stored = [u for u in units if u.key in done]
    pending = [u for u in units if u.key not in done]
    if not pending:
        return stored, None
    if len(pending) == 1:
        return stored, pending[0]
    return stored, UnitGroup(tuple(pending))


def in_order(item: UnitPlan | UnitGroup, outcomes: list[UnitOutcome]) -> list[UnitOutcome]:
    """The outcomes of ``item``'s units in the item's order."""
    units = [item] if isinstance(item, UnitPlan) else list(item.units)
    order = {u.key: i for i, u in enumerate(units)}
    return sorted(outcomes, key=lambda o: order[o.unit.key])


def seed_chunks(unit: UnitPlan, workers: int) -> list[list[int]]:
    """A unit's seeds split into ``workers`` batches (one when 0), as evenly as they go."""
    return [c.tolist() for c in np.array_split(np.array(unit.seeds), workers or 1) if len(c)]


def row_chunks(group: UnitGroup, workers: int) -> list[list[tuple[int, int]]]:
    """A group's (unit index, seed) rows split into ``workers`` batches (one when 0)."""
    return [
        [tuple(r) for r in c.tolist()]
        for c in np.array_split(np.array(group.rows), workers or 1)
        if len(c)
    ]


def store_unit(
    store: Store,
    run_id: int,
    unit: UnitPlan,
    parts: list[TaskResult],
    wall_s: float,
    attempts: int,
    provenance: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> UnitOutcome:
    """Write the unit in one transaction, or its failure; nothing stored is replaced.
    ``meta`` joins the record's meta (how the executor ran it)."""
    record, rows, failed = unit_rows(unit, parts, wall_s, attempts, provenance)
    if record.meta is not None:
        record.meta.update(meta or {})
    if failed is not None:
        store.write_failure(run_id, record, failed.detail)
        return UnitOutcome(unit, "failed", failed.error, wall_s)
    store.write_unit(run_id, record, *rows)
    return UnitOutcome(unit, "done", None, wall_s)


def store_group(
    store: Store,
    run_id: int,
    group: UnitGroup,
    chunks: list[list[tuple[int, int]]],
    parts: list[TaskResult],
    wall_s: float,
    attempts: int,
    provenance: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> list[UnitOutcome]:
    """Split a group's results (one part per chunk of rows) per unit and store them all in
    one transaction; a unit with rows in a failed part fails. ``meta`` joins each record's
    meta (how the executor ran them)."""
    # Each unit's wall time is its share of the program's, so that costs add up; the
    # record's meta keeps the whole program's (its compile time is the program's).
    share = wall_s / len(group.units)
    program = {"units": len(group.units), "rows": len(group.rows), "wall_s": wall_s}
    done, failed, outcomes = [], [], []
    for i, unit in enumerate(group.units):
        pairs = zip(parts, chunks, strict=True)
        unit_parts = [p for p in (_rows_of(part, chunk, i) for part, chunk in pairs) if p]
        record, rows_of_unit, failure = unit_rows(unit, unit_parts, share, attempts, provenance)
        if record.meta is not None:
            record.meta.update({"program": program, **(meta or {})})
        if failure is None:
            done.append((record, rows_of_unit))
            outcomes.append(UnitOutcome(unit, "done", None, share))
        else:
            failed.append((record, failure.detail))
            outcomes.append(UnitOutcome(unit, "failed", failure.error, share))
    store.write_units(run_id, done, failed)
    return outcomes


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
