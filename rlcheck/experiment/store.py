"""The results store: one SQLite file (WAL) per output directory; a unit is written atomically.

Tables:
    runs      one row per invocation: spec, provenance, start/end.
    units     one row per unit (algo × env × config × seed batch), status done or failed.
    seeds     per seed of a unit: ok or diverged (and why), and its final return.
    scalars   tidy (unit, seed, step, metric, value): eval_return, train_return, final_return;
              eval_performance, final_performance where the env reports a hidden performance.
    arrays    per (unit, seed, name) numpy arrays: every evaluation episode (its return, and
              its hidden performance where reported), the internals logged per update, the
              actual env steps at each checkpoint (seed −1: unit-wide), each seed's policy
              parameters (``policy/<leaf>``, ``checkpoint_policy/<leaf>``).
    failures  every failed attempt at a unit, kept even after a later attempt succeeds.
    sweeps    one row per hyperparameter sweep: its definition (what varies, how, which seeds).
    sweep_units  which units a sweep trained and in what role: "tuning" (a configuration on
              the tuning seeds), "chosen" (the best one on fresh seeds), "default" (the
              default configuration on the same fresh seeds). A unit may belong to several.
    robustness  per (request, unit): the returns of the unit's stored policies under a
              robustness request (rlcheck/experiment/robustness.py), seeds × values × episodes.
    diagnostics  per (request, unit): what ``rlcheck diagnose`` measured of the unit
              (rlcheck/diagnostics/diagnose.py), one JSON document of per-seed numbers.

Arrays are numpy ``.npy`` blobs written and read with ``allow_pickle=False``.

Config fields are read back under today's names: a store written before a field was renamed
reads as if written after (``rlcheck.glossary.RENAMES``).
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rlcheck.errors import UserError
from rlcheck.glossary import rename_fields

DB_NAME = "results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
    status TEXT NOT NULL, spec TEXT NOT NULL, provenance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY, run_id INTEGER NOT NULL, env TEXT NOT NULL, env_label TEXT NOT NULL,
    algo TEXT NOT NULL, algo_label TEXT NOT NULL, config TEXT NOT NULL, overrides TEXT NOT NULL,
    seeds TEXT NOT NULL, budget INTEGER NOT NULL, eval TEXT NOT NULL, status TEXT NOT NULL,
    reason TEXT, env_steps INTEGER, wall_s REAL, compile_s REAL, meta TEXT NOT NULL,
    provenance TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seeds (
    unit_key TEXT NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL, final_return REAL,
    reason TEXT, PRIMARY KEY (unit_key, seed));
CREATE TABLE IF NOT EXISTS scalars (
    unit_key TEXT NOT NULL, seed INTEGER NOT NULL, step INTEGER NOT NULL, metric TEXT NOT NULL,
    value REAL);
CREATE INDEX IF NOT EXISTS scalars_by_unit ON scalars (unit_key, metric);
CREATE TABLE IF NOT EXISTS arrays (
    unit_key TEXT NOT NULL, seed INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (unit_key, seed, name));
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, unit_key TEXT NOT NULL, run_id INTEGER NOT NULL,
    reason TEXT NOT NULL, detail TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, definition TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweep_units (
    sweep_id TEXT NOT NULL, unit_key TEXT NOT NULL, role TEXT NOT NULL, trial INTEGER NOT NULL,
    settings TEXT NOT NULL, PRIMARY KEY (sweep_id, unit_key, role));
CREATE TABLE IF NOT EXISTS robustness (
    request TEXT NOT NULL, unit_key TEXT NOT NULL, spec TEXT NOT NULL, seeds TEXT NOT NULL,
    returns BLOB NOT NULL, wall_s REAL, created_at TEXT NOT NULL,
    PRIMARY KEY (request, unit_key));
CREATE TABLE IF NOT EXISTS diagnostics (
    request TEXT NOT NULL, unit_key TEXT NOT NULL, spec TEXT NOT NULL, result TEXT NOT NULL,
    wall_s REAL, created_at TEXT NOT NULL, PRIMARY KEY (request, unit_key));
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _to_blob(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _from_blob(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


@dataclass
class UnitRecord:
    """Everything stored for one unit (the columns of ``units`` plus its rows elsewhere)."""

    key: str
    env: str
    env_label: str
    algo: str
    algo_label: str
    config: dict
    overrides: dict
    seeds: list[int]
    budget: int
    eval: dict
    status: str  # "done" | "failed"
    reason: str | None = None
    env_steps: int | None = None
    wall_s: float | None = None
    compile_s: float | None = None
    meta: dict | None = None
    provenance: dict | None = None


class Store:
    """Results of every run written into one directory."""

    def __init__(self, directory: str | Path, create: bool = True):
        """Open (``create``: create if needed) the store in ``directory``; without ``create``
        the store is opened read-only and must exist."""
        self.directory = Path(directory)
        path = self.directory / DB_NAME
        if not create:
            if not path.exists():
                raise UserError(f"{self.directory}: no rlcheck results here ({DB_NAME} not found)")
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE … COMMIT below).
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- runs -----------------------------------------------------------------------------

    def start_run(self, spec: dict, provenance: dict) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started_at, status, spec, provenance) VALUES (?, ?, ?, ?)",
                (_now(), "running", json.dumps(spec), json.dumps(provenance)),
            )
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, status: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE id = ?", (_now(), status, run_id)
            )

    # ---- units ----------------------------------------------------------------------------

    def done_keys(self) -> set[str]:
        return {k for (k,) in self._db.execute("SELECT key FROM units WHERE status = 'done'")}

    def write_unit(
        self,
        run_id: int,
        unit: UnitRecord,
        seeds: Iterable[tuple[int, str, float, str | None]],
        scalars: Iterable[tuple[int, int, str, float]],
        arrays: Iterable[tuple[int, str, np.ndarray]],
    ) -> None:
        """Store a finished unit in one transaction, replacing an earlier failed attempt.

        Args:
            seeds: (seed, status, final_return, reason) rows.
            scalars: (seed, step, metric, value) rows.
            arrays: (seed, name, array) rows; seed −1 for unit-wide arrays.
        """
        with self._transaction() as db:
            self._write_unit(db, run_id, unit, seeds, scalars, arrays)

    def write_units(
        self,
        run_id: int,
        done: Iterable[tuple[UnitRecord, tuple[Iterable, Iterable, Iterable]]],
        failed: Iterable[tuple[UnitRecord, str | None]] = (),
    ) -> None:
        """Store units trained together (one program of a sweep) in one transaction: each
        done one with its (seeds, scalars, arrays) rows as :meth:`write_unit` takes them, and
        each failed one as :meth:`write_failure` does."""
        with self._transaction() as db:
            for unit, (seeds, scalars, arrays) in done:
                self._write_unit(db, run_id, unit, seeds, scalars, arrays)
            for unit, detail in failed:
                self._write_failure(db, run_id, unit, detail)

    def _write_unit(
        self,
        db: sqlite3.Connection,
        run_id: int,
        unit: UnitRecord,
        seeds: Iterable[tuple[int, str, float, str | None]],
        scalars: Iterable[tuple[int, int, str, float]],
        arrays: Iterable[tuple[int, str, np.ndarray]],
    ) -> None:
        self._delete_unit_rows(db, unit.key)
        self._insert_unit(db, run_id, unit)
        db.executemany(
            "INSERT INTO seeds VALUES (?, ?, ?, ?, ?)", [(unit.key, *row) for row in seeds]
        )
        db.executemany(
            "INSERT INTO scalars VALUES (?, ?, ?, ?, ?)",
            [(unit.key, s, step, m, v) for s, step, m, v in scalars],
        )
        db.executemany(
            "INSERT INTO arrays VALUES (?, ?, ?, ?)",
            [(unit.key, s, name, _to_blob(a)) for s, name, a in arrays],
        )

    def write_failure(self, run_id: int, unit: UnitRecord, detail: str | None) -> None:
        """Record a failed attempt; a unit already stored as done is never overwritten."""
        with self._transaction() as db:
            self._write_failure(db, run_id, unit, detail)

    def _write_failure(
        self, db: sqlite3.Connection, run_id: int, unit: UnitRecord, detail: str | None
    ) -> None:
        db.execute(
            "INSERT INTO failures (unit_key, run_id, reason, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (unit.key, run_id, unit.reason, detail, _now()),
        )
        done = db.execute(
            "SELECT 1 FROM units WHERE key = ? AND status = 'done'", (unit.key,)
        ).fetchone()
        if not done:
            self._delete_unit_rows(db, unit.key)
            self._insert_unit(db, run_id, unit)

    # ---- sweeps ---------------------------------------------------------------------------

    def write_sweep(self, sweep_id: str, definition: dict[str, Any]) -> None:
        """Record a sweep's definition (the same id always has the same definition)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?)",
                (sweep_id, json.dumps(definition), _now()),
            )

    def write_sweep_units(
        self, sweep_id: str, members: Iterable[tuple[str, str, int, dict[str, Any]]]
    ) -> None:
        """Record (unit key, role, trial, settings) rows of a sweep; rows already there stay."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO sweep_units VALUES (?, ?, ?, ?, ?)",
                [(sweep_id, key, role, trial, json.dumps(v)) for key, role, trial, v in members],
            )

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep, oldest first: id, definition, and its units as dicts (unit_key, role,
        trial, settings), in trial order. A store written before sweeps existed has none."""
        try:
            rows = self._db.execute(
                "SELECT id, definition FROM sweeps ORDER BY created_at, rowid"
            ).fetchall()
            members = self._db.execute(
                "SELECT sweep_id, unit_key, role, trial, settings FROM sweep_units "
                "ORDER BY trial, role, rowid"
            ).fetchall()
        except sqlite3.OperationalError:  # opened read-only, from before the tables existed
            return []
        return [
            {
                "id": sweep_id,
                "definition": json.loads(definition),
                "units": [
                    {"unit_key": key, "role": role, "trial": trial, "settings": json.loads(v)}
                    for s, key, role, trial, v in members
                    if s == sweep_id
                ],
            }
            for sweep_id, definition in rows
        ]

    @staticmethod
    def _delete_unit_rows(db: sqlite3.Connection, key: str) -> None:
        for table, column in (
            ("units", "key"),
            ("seeds", "unit_key"),
            ("scalars", "unit_key"),
            ("arrays", "unit_key"),
        ):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))

    @staticmethod
    def _insert_unit(db: sqlite3.Connection, run_id: int, u: UnitRecord) -> None:
        db.execute(
            "INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                u.key,
                run_id,
                u.env,
                u.env_label,
                u.algo,
                u.algo_label,
                json.dumps(u.config),
                json.dumps(u.overrides),
                json.dumps(u.seeds),
                u.budget,
                json.dumps(u.eval),
                u.status,
                u.reason,
                u.env_steps,
                u.wall_s,
                u.compile_s,
                json.dumps(u.meta or {}),
                json.dumps(u.provenance or {}),
                _now(),
            ),
        )

    # ---- reading --------------------------------------------------------------------------

    def units(self) -> list[dict[str, Any]]:
        """Every unit, oldest first, JSON columns decoded, config fields under today's names."""
        cursor = self._db.execute("SELECT * FROM units ORDER BY created_at, rowid")
        names = [d[0] for d in cursor.description]
        rows = []
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            for column in ("config", "overrides", "seeds", "eval", "meta", "provenance"):
                row[column] = json.loads(row[column])
            for column in ("config", "overrides"):
                row[column] = rename_fields(row["algo"], row[column])
            rows.append(row)
        return rows

    def seed_rows(self, unit_key: str) -> list[tuple[int, str, float | None, str | None]]:
        """(seed, status, final_return, reason) rows of a unit."""
        return self._db.execute(
            "SELECT seed, status, final_return, reason FROM seeds WHERE unit_key = ? ORDER BY seed",
            (unit_key,),
        ).fetchall()

    def scalars(self, unit_key: str | None = None) -> Iterator[tuple]:
        """(unit_key, seed, step, metric, value) rows, in insertion order."""
        if unit_key is None:
            return self._db.execute("SELECT * FROM scalars ORDER BY rowid")
        return self._db.execute(
            "SELECT * FROM scalars WHERE unit_key = ? ORDER BY rowid", (unit_key,)
        )

    def array(self, unit_key: str, seed: int, name: str) -> np.ndarray:
        row = self._db.execute(
            "SELECT data FROM arrays WHERE unit_key = ? AND seed = ? AND name = ?",
            (unit_key, seed, name),
        ).fetchone()
        if row is None:
            raise KeyError((unit_key, seed, name))
        return _from_blob(row[0])

    # ---- robustness -------------------------------------------------------------------------

    def write_robustness(
        self,
        request: str,
        unit_key: str,
        spec: dict[str, Any],
        seeds: list[int],
        returns: np.ndarray,
        wall_s: float,
    ) -> None:
        """Store a unit's returns under a robustness request (replacing an earlier row).

        Args:
            request: the request's key; spec: the request itself (JSON).
            seeds: the seeds evaluated; returns: (seeds, values, episodes).
        """
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO robustness VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    request,
                    unit_key,
                    json.dumps(spec),
                    json.dumps(seeds),
                    _to_blob(returns),
                    wall_s,
                    _now(),
                ),
            )

    def robustness_keys(self, request: str) -> set[str]:
        """The units already evaluated under a robustness request."""
        if not self._has_table("robustness"):
            return set()
        cursor = self._db.execute("SELECT unit_key FROM robustness WHERE request = ?", (request,))
        return {key for (key,) in cursor}

    def robustness(self) -> list[dict[str, Any]]:
        """Every stored robustness row, oldest first: request, unit_key, spec (parsed), seeds,
        returns (seeds × values × episodes), wall_s, created_at. A directory written before
        robustness existed has none."""
        if not self._has_table("robustness"):
            return []
        cursor = self._db.execute(
            "SELECT request, unit_key, spec, seeds, returns, wall_s, created_at FROM robustness "
            "ORDER BY created_at, rowid"
        )
        return [
            {
                "request": request,
                "unit_key": unit_key,
                "spec": json.loads(spec),
                "seeds": json.loads(seeds),
                "returns": _from_blob(returns),
                "wall_s": wall_s,
                "created_at": created_at,
            }
            for request, unit_key, spec, seeds, returns, wall_s, created_at in cursor
        ]

    # ---- diagnostics ------------------------------------------------------------------------

    def write_diagnostics(
        self,
        request: str,
        unit_key: str,
        spec: dict[str, Any],
        result: dict[str, Any],
        wall_s: float,
    ) -> None:
        """Store what a diagnose request measured of a unit (replacing an earlier row).

        Args:
            request: the request's key; spec: the request itself (JSON).
            result: per-seed numbers (JSON; NaN where a number is undefined).
        """
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO diagnostics VALUES (?, ?, ?, ?, ?, ?)",
                (request, unit_key, json.dumps(spec), json.dumps(result), wall_s, _now()),
            )

    def diagnostics_keys(self, request: str) -> set[str]:
        """The units already diagnosed under a request."""
        if not self._has_table("diagnostics"):
            return set()
        cursor = self._db.execute("SELECT unit_key FROM diagnostics WHERE request = ?", (request,))
        return {key for (key,) in cursor}

    def diagnostics(self) -> list[dict[str, Any]]:
        """Every stored diagnostics row, oldest first: request, unit_key, spec, result (parsed),
        wall_s, created_at. A directory written before diagnostics existed has none."""
        if not self._has_table("diagnostics"):
            return []
        cursor = self._db.execute(
            "SELECT request, unit_key, spec, result, wall_s, created_at FROM diagnostics "
            "ORDER BY created_at, rowid"
        )
        return [
            {
                "request": request,
                "unit_key": unit_key,
                "spec": json.loads(spec),
                "result": json.loads(result),
                "wall_s": wall_s,
                "created_at": created_at,
            }
            for request, unit_key, spec, result, wall_s, created_at in cursor
        ]

    def _has_table(self, name: str) -> bool:
        # A store opened read-only does not create the tables added since it was written.
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def failures(self) -> list[tuple]:
        return self._db.execute(
            "SELECT unit_key, run_id, reason, created_at FROM failures ORDER BY id"
        ).fetchall()

    def runs(self) -> list[dict[str, Any]]:
        """Every invocation, oldest first: id, started_at, finished_at, status, spec (parsed,
        its algo entries' config fields under today's names)."""
        cursor = self._db.execute(
            "SELECT id, started_at, finished_at, status, spec FROM runs ORDER BY id"
        )
        return [
            {
                "id": i,
                "started_at": s,
                "finished_at": f,
                "status": st,
                "spec": _renamed(json.loads(spec)),
            }
            for i, s, f, st, spec in cursor
        ]


def _renamed(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored spec (or a verdict's record of specs) with the config of each algo entry under
    today's field names."""
    for entry in spec.get("algo") or []:
        if isinstance(entry, dict) and isinstance(entry.get("config"), dict):
            entry["config"] = rename_fields(str(entry.get("name")), entry["config"])
    for inner in spec.get("specs") or []:
        if isinstance(inner, dict):
            _renamed(inner)
    return spec
