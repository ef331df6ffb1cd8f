"""The numbers of a sweep (``rlcheck sweep``): how the final return moves with each swept value,
how much of the swept space solves the env or beats random, and what tuning is worth on fresh
seeds. Computed from the results store with ``rlcheck.stats``, as JSON-ready data."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.store import Store
from rlcheck.experiment.sweep import tuning_score

CONFIDENCE = 0.95
# A list of positive values spanning this factor or more is drawn on a log axis.
LOG_SPAN = 100.0
TPE_SAMPLE = (
    "TPE's configurations are not a sample of the swept space (it proposes near the best "
    "ones found), so their share says nothing about the space"
)
ENV_SWEPT = "env parameters are swept, and the random baseline ran under the env's own parameters"
NO_FRESH = "no fresh-seed evaluation (fresh_seeds = 0)"


def tuning_only_keys(sweeps: Sequence[dict[str, Any]]) -> set[str]:
    """Units that are only a sweep's tuning configurations: the report keeps them out of its
    per-algorithm sections (they are shown here), so claims rest on evaluation seeds."""
    tuning = {m["unit_key"] for s in sweeps for m in s["units"] if m["role"] == "tuning"}
    other = {m["unit_key"] for s in sweeps for m in s["units"] if m["role"] != "tuning"}
    return tuning - other


def analyze_sweeps(
    store: Store,
    sweeps: Sequence[dict[str, Any]],
    rows: dict[str, dict[str, Any]],
    envs: dict[str, dict[str, Any]],
    reps: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Every sweep of the store.

    Args:
      store: the results.
      sweeps: ``store.sweeps()``.
      rows: every stored unit row by key (``store.units()``).
      envs: the analysis of each env by its label (its ``solve_threshold`` and
        ``random_bound``, with reasons).
      reps: bootstrap replicates of the intervals.
      seed: seed of every bootstrap.

    Returns:
      One dict per sweep; a number that cannot be computed is None with ``<name>_reason``.
    """
    return [_sweep(store, s, rows, envs, reps, seed) for s in sweeps]


def _finals(store: Store, key: str) -> tuple[np.ndarray, int]:
    """A unit's usable final returns (seeds that did not diverge) and its number of seeds."""
    rows = store.seed_rows(key)
    finals = np.array(
        [f for _, status, f, _ in rows if status == "ok" and f is not None and math.isfinite(f)]
    )
    return finals, len(rows)


def _iqm(finals: np.ndarray, reps: int, seed: int) -> dict[str, Any] | None:
    if not len(finals):
        return None
    estimate = stats.interval_estimates({"x": finals[:, None]}, ("iqm",), reps, CONFIDENCE, seed)[
        "x"
    ]["iqm"]
    return {
        "point": float(estimate.point),
        "low": float(estimate.low),
        "high": float(estimate.high),
        "n": len(finals),
    }


def _metric(key: str, value: Any, reason: str) -> dict[str, Any]:
    return {key: value} if value is not None else {key: None, f"{key}_reason": reason}


def _log_axis(parameter: dict[str, Any]) -> bool:
    if parameter["scale"] == "log":
        return True
    values = [v for v in parameter["values"] if isinstance(v, int | float)]
    if parameter["scale"] != "list" or len(values) != len(parameter["values"]) or not values:
        return False
    return min(values) > 0 and max(values) / min(values) >= LOG_SPAN


def _numeric(parameter: dict[str, Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in parameter["values"])


def _key(value: Any) -> str:
    return repr(value)


def _sweep(
    store: Store,
    sweep: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    envs: dict[str, dict[str, Any]],
    reps: int,
    seed: int,
) -> dict[str, Any]:
    d = sweep["definition"]
    members = sweep["units"]
    env = envs.get(d["env"], {})
    configs = []
    seen: set[str] = set()
    for m in (m for m in members if m["role"] == "tuning"):
        if m["unit_key"] in seen:
            continue
        seen.add(m["unit_key"])
        row = rows.get(m["unit_key"])
        config: dict[str, Any] = {
            "unit_key": m["unit_key"],
            "trial": m["trial"],
            "values": m["settings"],
            "label": row["algo_label"] if row else None,
            "status": row["status"] if row else "not run",
        }
        if row is None or row["status"] != "done":
            reason = (row or {}).get("reason") or "not run yet (the sweep was interrupted)"
            config.update({"objective": None, "iqm": None, "iqm_reason": reason, "seeds": 0})
        else:
            finals, n = _finals(store, m["unit_key"])
            config.update(
                {
                    "objective": tuning_score(store, m["unit_key"]),
                    **_metric("iqm", _iqm(finals, reps, seed), "every seed diverged"),
                    "seeds": n,
                    "usable_seeds": len(finals),
                    "wall_s": row["wall_s"],
                    "env_steps": (row["env_steps"] or 0) * n,
                }
            )
        configs.append(config)
    done = [c for c in configs if c["objective"] is not None]
    parameters = [{**p, "log_axis": _log_axis(p), "numeric": _numeric(p)} for p in d["parameters"]]
    result: dict[str, Any] = {
        "id": sweep["id"],
        "name": d["name"],
        "env": d["env"],
        "algo": d["algo"],
        "algo_label": d["algo_label"],
        "method": d["method"],
        "objective": d["objective"],
        "budget": d["budget"],
        "tuning_seeds": d["tuning_seeds"],
        "fresh_seeds": d["fresh_seeds"],
        "parameters": parameters,
        "configs": configs,
        "configs_done": len(done),
        "per_parameter": {
            p["name"]: _per_parameter(store, p, done, reps, seed) for p in parameters
        },
    }
    result.update(_fractions(d, done, env))
    result.update(_fresh(store, members, done, rows, reps, seed))
    result.update(_heatmap(store, d, parameters, done))
    # Units trained in one program share its record (meta "program"); others ran alone.
    programs = {
        json.dumps(meta["program"], sort_keys=True) if meta.get("program") else c["unit_key"]
        for c in done
        for meta in [rows[c["unit_key"]]["meta"] or {}]
    }
    result["cost"] = {
        "configs": len(configs),
        "env_steps": sum(c["env_steps"] for c in done),
        "wall_s": sum(c["wall_s"] or 0.0 for c in done),
        "programs": len(programs),
    }
    return result


def _per_parameter(
    store: Store, parameter: dict[str, Any], done: list[dict[str, Any]], reps: int, seed: int
) -> dict[str, Any]:
    """Every configuration as a point at its value, and per distinct value the IQM of the
    seeds of every configuration with that value (pooled), with its CI."""
    name = parameter["name"]
    points = [
        {
            "value": c["values"].get(name),
            **_metric("iqm", c["iqm"], c.get("iqm_reason", "")),
            "objective": c["objective"],
            "unit_key": c["unit_key"],
        }
        for c in done
    ]
    pooled: dict[str, tuple[Any, list[np.ndarray]]] = {}
    for c in done:
        value = c["values"].get(name)
        pooled.setdefault(_key(value), (value, []))[1].append(_finals(store, c["unit_key"])[0])
    marginal = []
    for value, parts in pooled.values():
        finals = np.concatenate(parts) if parts else np.array([])
        marginal.append(
            {
                "value": value,
                "configs": len(parts),
                **_metric("iqm", _iqm(finals, reps, seed), "every seed diverged"),
            }
        )
    if parameter["numeric"]:
        marginal.sort(key=lambda m: m["value"])
    return {"log_axis": parameter["log_axis"], "points": points, "marginal": marginal}


def _fractions(
    definition: dict[str, Any], done: list[dict[str, Any]], env: dict[str, Any]
) -> dict[str, Any]:
    """The share of the swept configurations that solve the env (objective ≥ the threshold) and
    that beat random (objective above the random bound), with Wilson intervals."""

    def share(count: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        hits = sum(1 for c in done if count(c))
        low, high = stats.wilson_interval(hits, len(done), CONFIDENCE)
        return {"count": hits, "n": len(done), "rate": hits / len(done), "low": low, "high": high}

    threshold = env.get("solve_threshold")
    bound = env.get("random_bound")
    env_swept = any(p["kind"] == "env" for p in definition["parameters"])
    solve_reason = random_reason = None
    if not done:
        solve_reason = random_reason = "no configuration finished"
    elif definition["method"] == "tpe":
        solve_reason = random_reason = TPE_SAMPLE
    if solve_reason is None and threshold is None:
        solve_reason = "the env has no solve threshold (set env.solve_threshold in the spec)"
    if random_reason is None and env_swept:
        random_reason = ENV_SWEPT
    if random_reason is None and bound is None:
        random_reason = env.get("random_bound_reason") or "no random baseline on this env"
    solved = None if solve_reason else share(lambda c: c["objective"] >= threshold)
    beats = None if random_reason else share(lambda c: c["objective"] > bound)
    if solved is not None:
        solved["threshold"] = threshold
    if beats is not None:
        beats["bound"] = bound
    return {
        **_metric("fraction_solved", solved, solve_reason or ""),
        **_metric("fraction_beats_random", beats, random_reason or ""),
        "space": "grid" if definition["method"] == "grid" else "draws",
    }


def _fresh(
    store: Store,
    members: list[dict[str, Any]],
    done: list[dict[str, Any]],
    rows: dict[str, dict[str, Any]],
    reps: int,
    seed: int,
) -> dict[str, Any]:
    """The chosen configuration's tuning score and fresh-seed score, the default's fresh-seed
    score, and the gap between them on the fresh seeds."""
    best = max(done, key=lambda c: c["objective"]) if done else None
    chosen_member = next((m for m in members if m["role"] == "chosen"), None)
    default_member = next((m for m in members if m["role"] == "default"), None)

    def fresh(member: dict[str, Any] | None) -> tuple[Any, np.ndarray | None]:
        if member is None:
            return None, None
        row = rows.get(member["unit_key"])
        if row is None or row["status"] != "done":
            return None, None
        finals, _ = _finals(store, member["unit_key"])
        return _iqm(finals, reps, seed), finals

    chosen_iqm, chosen_finals = fresh(chosen_member)
    default_iqm, default_finals = fresh(default_member)
    no_fresh = NO_FRESH if not any(m["role"] in ("chosen", "default") for m in members) else None
    chosen_reason = no_fresh or (
        "no configuration finished"
        if best is None
        else "not run yet (the sweep was interrupted)"
        if chosen_member is None or chosen_member["unit_key"] not in rows
        else "every fresh seed diverged or the unit failed"
    )
    default_reason = no_fresh or (
        "not run yet (the sweep was interrupted)"
        if default_member is None or default_member["unit_key"] not in rows
        else "every fresh seed diverged or the unit failed"
    )
    gap, gap_reason = None, None
    if chosen_finals is None or default_finals is None:
        gap_reason = chosen_reason if chosen_finals is None else default_reason
    elif len(chosen_finals) < 2 or len(default_finals) < 2:
        gap_reason = "needs at least 2 usable fresh seeds of each configuration"
    else:
        estimate = stats.iqm_difference_interval(
            chosen_finals, default_finals, reps, CONFIDENCE, seed
        )
        gap = {
            "point": float(estimate.point),
            "low": float(estimate.low),
            "high": float(estimate.high),
            "n_chosen": len(chosen_finals),
            "n_default": len(default_finals),
        }
    chosen = None
    if best is not None:
        chosen = {
            "unit_key": best["unit_key"],
            "values": best["values"],
            "objective": best["objective"],
            **_metric("tuning", best["iqm"], "every tuning seed diverged"),
            "fresh_unit_key": chosen_member["unit_key"] if chosen_member else None,
            **_metric("fresh", chosen_iqm, chosen_reason),
        }
        if chosen_member is not None and chosen_member["settings"] != best["values"]:
            # The fresh runs were of another configuration (a sweep resumed with other data).
            chosen["fresh_values"] = chosen_member["settings"]
        optimism = None
        if chosen["tuning"] is not None and chosen["fresh"] is not None:
            optimism = chosen["tuning"]["point"] - chosen["fresh"]["point"]
        chosen.update(_metric("optimism", optimism, "needs the tuning and the fresh score"))
    default = {
        "unit_key": default_member["unit_key"] if default_member else None,
        **_metric("fresh", default_iqm, default_reason),
    }
    return {
        **_metric("chosen", chosen, "no configuration finished"),
        "default": default,
        **_metric("gap", gap, gap_reason or ""),
    }


def _heatmap(
    store: Store,
    definition: dict[str, Any],
    parameters: list[dict[str, Any]],
    done: list[dict[str, Any]],
) -> dict[str, Any]:
    """The pooled IQM of the first two swept parameters' every pair of values (a grid only;
    pooled over the values of the others)."""
    reason = None
    if definition["method"] != "grid":
        reason = "needs two parameters swept on a grid"
    elif len(parameters) < 2:
        reason = "needs two swept parameters; this sweep has one"
    elif not done:
        reason = "no configuration finished"
    if reason is not None:
        return {"heatmap": None, "heatmap_reason": reason}
    x, y = parameters[0], parameters[1]
    cells: dict[tuple[str, str], list[np.ndarray]] = {}
    for c in done:
        cell = (_key(c["values"].get(x["name"])), _key(c["values"].get(y["name"])))
        cells.setdefault(cell, []).append(_finals(store, c["unit_key"])[0])
    grid = []
    for yv in y["values"]:
        line = []
        for xv in x["values"]:
            parts = cells.get((_key(xv), _key(yv)))
            finals = np.concatenate(parts) if parts else np.array([])
            line.append(float(stats.iqm(finals[:, None])) if len(finals) else None)
        grid.append(line)
    return {
        "heatmap": {
            "x": x["name"],
            "y": y["name"],
            "x_values": x["values"],
            "y_values": y["values"],
            "iqm": grid,
            "pooled_over": [p["name"] for p in parameters[2:]],
        }
    }
