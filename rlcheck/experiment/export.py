"""Tidy tables out of the store: one row per (unit, seed, step, metric)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlcheck.errors import UserError
from rlcheck.experiment.store import Store

COLUMNS = (
    "algo",
    "env",
    "config",
    "seed",
    "step",
    "metric",
    "value",
    "algo_name",
    "env_id",
    "unit",
    "seed_status",
)
FORMATS = ("csv", "parquet", "npz")


def tidy_rows(store: Store, internals: bool = False) -> Iterator[dict[str, Any]]:
    """Rows for every stored (done) unit.

    ``algo``/``env`` are the display labels; ``config`` is the JSON of the config fields the
    spec set (``{}`` for defaults). Metrics: ``eval_return`` at each checkpoint,
    ``train_return`` where training episodes ended, ``final_return`` once per seed at
    step = budget; with ``internals``, also ``internals/<name>`` after every update.
    """
    for unit in store.units():
        if unit["status"] != "done":
            continue
        status = {seed: s for seed, s, _, _ in store.seed_rows(unit["key"])}
        base = {
            "algo": unit["algo_label"],
            "env": unit["env_label"],
            "config": json.dumps(unit["overrides"], sort_keys=True),
            "algo_name": unit["algo"],
            "env_id": unit["env"],
            "unit": unit["key"],
        }
        for _, seed, step, metric, value in store.scalars(unit["key"]):
            yield {
                **base,
                "seed": seed,
                "step": step,
                "metric": metric,
                "value": value,
                "seed_status": status[seed],
            }
        if internals:
            yield from _internal_rows(store, unit, base, status)


def _internal_rows(
    store: Store, unit: dict, base: dict, status: dict[int, str]
) -> Iterator[dict[str, Any]]:
    names = unit["meta"].get("metric_names", [])
    if not names:
        return
    steps = store.array(unit["key"], -1, "update_env_steps").tolist()
    for seed in unit["seeds"]:
        values = store.array(unit["key"], seed, "internals")
        for u, step in enumerate(steps):
            for m, name in enumerate(names):
                yield {
                    **base,
                    "seed": seed,
                    "step": step,
                    "metric": f"internals/{name}",
                    "value": float(values[u, m]),
                    "seed_status": status[seed],
                }


def export(store: Store, fmt: str, output: Path, internals: bool = False) -> int:
    """Write the tidy table to ``output``; returns the number of rows."""
    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format '{fmt}' (choose {', '.join(FORMATS)})")
    rows = list(tidy_rows(store, internals))
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with output.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows, schema=_arrow_schema(pa))
        pq.write_table(table, output)
    else:
        columns = {c: np.array([r[c] for r in rows]) for c in COLUMNS}
        np.savez_compressed(output, **columns)
    return len(rows)


def _arrow_schema(pa: Any) -> Any:
    types = {"seed": pa.int64(), "step": pa.int64(), "value": pa.float64()}
    return pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])
