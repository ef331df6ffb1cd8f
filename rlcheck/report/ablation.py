"""The numbers of an ablation (``rlcheck ablate``): each cell's final returns, the main effect of
every toggle and, for a factorial design, the two-way interactions, with bootstrap intervals
over seeds. Computed from the results store with ``rlcheck.stats``, as JSON-ready data.

An effect is a contrast of cell means (Box, Hunter & Hunter 2005, ch. 5): the main effect of a
toggle is the mean final return of the cells where it is on minus that of the cells where it
is off, each cell's mean weighted equally (one-at-a-time: the all-on cell minus the cell with
the toggle off alone). The interaction of A and B is half the difference between A's effect
with B on and A's effect with B off (= mean of the cells where A and B agree minus mean of
those where they differ). Intervals resample every cell's seeds apart
(``rlcheck.stats.contrast_intervals``); a diverged seed is left out of its cell's mean, and each
cell says how many seeds it used.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.ablate import KIND, LEARNING_RATE, cell_name
from rlcheck.experiment.store import Store
from rlcheck.experiment.sweep import tuning_score

CONFIDENCE = 0.95
NOT_RUN = "not run yet (the ablation was interrupted)"
ONE_AT_A_TIME = "a one-at-a-time design varies one toggle at a time: no interactions"
ONE_TOGGLE = "needs two toggles; this ablation has one"


def is_ablation(sweep: dict[str, Any]) -> bool:
    """Whether a row of ``store.sweeps()`` is an ablation (kept there with its units)."""
    return sweep["definition"].get("kind") == KIND


def ablation_only_keys(ablations: Sequence[dict[str, Any]]) -> set[str]:
    """Units the report shows only in the Ablation section: tuning units and every cell but
    the all-on one, so that the per-algorithm sections, comparisons and verdict are not
    multiplied by 2^k cells and rest on seeds that chose nothing."""
    shown = {
        m["unit_key"]
        for a in ablations
        for m in a["units"]
        if m["role"] == "cell" and not m["settings"]["off"]
    }
    return {m["unit_key"] for a in ablations for m in a["units"]} - shown


def analyze_ablations(
    store: Store,
    ablations: Sequence[dict[str, Any]],
    rows: dict[str, dict[str, Any]],
    reps: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Every ablation of the store.

    Args:
      store: the results.
      ablations: the rows of ``store.sweeps()`` that are ablations (:func:`is_ablation`).
      rows: every stored unit row by key (``store.units()``).
      reps: bootstrap replicates of the intervals.
      seed: seed of every bootstrap.

    Returns:
      One dict per ablation; a number that cannot be computed is None with ``<name>_reason``.
    """
    return [_ablation(store, a, rows, reps, seed) for a in ablations]


def _finals(store: Store, key: str) -> tuple[np.ndarray, int]:
    rows = store.seed_rows(key)
    finals = np.array(
        [f for _, status, f, _ in rows if status == "ok" and f is not None and math.isfinite(f)]
    )
    return finals, len(rows)


def _estimate(estimate: Any, n: int | None = None) -> dict[str, Any]:
    out = {
        "point": float(estimate.point),
        "low": float(estimate.low),
        "high": float(estimate.high),
    }
    return {**out, "n": n} if n is not None else out


def _value(value: Any) -> Any:
    """A toggle's value as JSON keeps it (+inf, the off value of max_grad_norm, as "inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _ablation(
    store: Store, ablation: dict[str, Any], rows: dict[str, dict[str, Any]], reps: int, seed: int
) -> dict[str, Any]:
    d = ablation["definition"]
    members = ablation["units"]
    names = [t["name"] for t in d["toggles"]]
    cells = []
    for index, off in enumerate(d["cells"]):
        tuning = [m for m in members if m["role"] == "tuning" and m["trial"] == index]
        reported = next(
            (m for m in members if m["role"] == "cell" and m["settings"]["cell"] == index), None
        )
        cells.append(_cell(store, index, off, tuning, reported, rows, d, reps, seed))
    result: dict[str, Any] = {
        "id": ablation["id"],
        "name": d["name"],
        "env": d["env"],
        "algo": d["algo"],
        "algo_label": d["algo_label"],
        "design": d["design"],
        "toggles": [{k: _value(v) for k, v in t.items()} for t in d["toggles"]],
        "learning_rates": d["learning_rates"],
        "tuning_seeds": d["tuning_seeds"],
        "seeds": d["seeds"],
        "budget": d["budget"],
        "objective": d["objective"],
        "confidence": CONFIDENCE,
        "cells": cells,
    }
    finals = {c["index"]: np.array(c["finals"]) for c in cells if c["finals"]}
    result.update(_main_effects(d, names, cells, finals, reps, seed))
    result.update(_interactions(d, names, cells, finals, reps, seed))
    keys = {c["unit_key"] for c in cells if c["unit_key"]} | {
        t["unit_key"] for c in cells for t in c["tuning"] or []
    }
    done = [rows[k] for k in keys if k in rows and rows[k]["status"] == "done"]
    result["cost"] = {
        "units": len(keys),
        "env_steps": sum((r["env_steps"] or 0) * len(r["seeds"]) for r in done),
        "wall_s": sum(r["wall_s"] or 0.0 for r in done),
    }
    return result


def _cell(
    store: Store,
    index: int,
    off: list[str],
    tuning: list[dict[str, Any]],
    reported: dict[str, Any] | None,
    rows: dict[str, dict[str, Any]],
    d: dict[str, Any],
    reps: int,
    seed: int,
) -> dict[str, Any]:
    """One cell: its learning rate's tuning scores (with a grid) and its final returns on the
    seeds it is reported on, their mean and IQM with intervals."""
    tried = None
    if d["learning_rates"]:
        tried = []
        for m in sorted(tuning, key=lambda m: m["settings"][LEARNING_RATE]):
            score = tuning_score(store, m["unit_key"])
            entry: dict[str, Any] = {
                LEARNING_RATE: m["settings"][LEARNING_RATE],
                "unit_key": m["unit_key"],
                "score": score,
            }
            if score is None:
                reason = (rows.get(m["unit_key"]) or {}).get("reason") or NOT_RUN
                entry["score_reason"] = reason
            elif not math.isfinite(score):
                entry.update(
                    {"score": None, "score_reason": "more than a quarter of the seeds diverged"}
                )
            tried.append(entry)
    cell: dict[str, Any] = {
        "index": index,
        "name": cell_name(off),
        "off": off,
        "tuning": tried,
        "unit_key": reported["unit_key"] if reported else None,
        LEARNING_RATE: reported["settings"][LEARNING_RATE] if reported else None,
        "label": None,
        "seeds": 0,
        "diverged": 0,
        "finals": [],
    }
    row = rows.get(reported["unit_key"]) if reported else None
    if (
        reported is None
        and tried
        and all((rows.get(t["unit_key"]) or {}).get("status") == "failed" for t in tried)
    ):
        reason = "every learning rate of the grid failed on the tuning seeds"
    elif row is None or row["status"] != "done":
        reason = (row or {}).get("reason") or NOT_RUN
    else:
        finals, n = _finals(store, reported["unit_key"])
        cell.update(
            {"label": row["algo_label"], "seeds": n, "diverged": n - len(finals), "finals": finals}
        )
        reason = "every seed diverged"
    if len(cell["finals"]):
        scores = {"cell": np.asarray(cell["finals"])[:, None]}
        estimates = stats.interval_estimates(scores, ("mean", "iqm"), reps, CONFIDENCE, seed)
        n = len(cell["finals"])
        cell["mean"] = _estimate(estimates["cell"]["mean"], n)
        cell["iqm"] = _estimate(estimates["cell"]["iqm"], n)
    else:
        cell.update({"mean": None, "mean_reason": reason, "iqm": None, "iqm_reason": reason})
    cell["finals"] = [float(f) for f in cell["finals"]]
    return cell


def _contrasts(
    rows: list[np.ndarray],
    cells: list[dict[str, Any]],
    finals: dict[int, np.ndarray],
    reps: int,
    seed: int,
) -> list[dict[str, Any] | str]:
    """Each contrast (weights over the cells) estimated with its interval, or the reason it
    cannot be: a cell it needs has no usable seed."""
    out: list[dict[str, Any] | str] = []
    usable = sorted(finals)
    for weights in rows:
        missing = [c for c in cells if weights[c["index"]] != 0 and c["index"] not in finals]
        if missing:
            out.append(
                f"cell '{missing[0]['name']}' has no usable seed ({missing[0].get('mean_reason')})"
            )
            continue
        estimate = stats.contrast_intervals(
            [finals[i] for i in usable], weights[usable][None, :], reps, CONFIDENCE, seed
        )
        out.append(
            {
                "point": float(estimate.point[0]),
                "low": float(estimate.low[0]),
                "high": float(estimate.high[0]),
            }
        )
    return out


def _signs(cells: list[dict[str, Any]], name: str) -> np.ndarray:
    """+1 on the cells where ``name`` is on, −1 where it is off."""
    return np.array([-1.0 if name in c["off"] else 1.0 for c in cells])


def _balanced(signs: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
    """Mean of the cells with sign +1 minus mean of those with −1 (within ``among``)."""
    mask = np.ones_like(signs, dtype=bool) if among is None else among
    plus, minus = mask & (signs > 0), mask & (signs < 0)
    return plus / plus.sum() - minus / minus.sum()


def _main_effects(
    d: dict[str, Any],
    names: list[str],
    cells: list[dict[str, Any]],
    finals: dict[int, np.ndarray],
    reps: int,
    seed: int,
) -> dict[str, Any]:
    weights = []
    for name in names:
        if d["design"] == "factorial":
            weights.append(_balanced(_signs(cells, name)))
        else:
            w = np.zeros(len(cells))
            w[0] = 1.0
            w[next(c["index"] for c in cells if c["off"] == [name])] = -1.0
            weights.append(w)
    estimates = _contrasts(weights, cells, finals, reps, seed)
    effects = []
    for name, estimate, w in zip(names, estimates, weights, strict=True):
        effect: dict[str, Any] = {
            "field": name,
            "on_cells": int((w > 0).sum()),
            "off_cells": int((w < 0).sum()),
        }
        if isinstance(estimate, str):
            effect.update({"effect": None, "effect_reason": estimate})
        else:
            effect["effect"] = estimate
        effects.append(effect)
    return {"main_effects": effects}


def _interactions(
    d: dict[str, Any],
    names: list[str],
    cells: list[dict[str, Any]],
    finals: dict[int, np.ndarray],
    reps: int,
    seed: int,
) -> dict[str, Any]:
    if d["design"] != "factorial":
        return {"interactions": None, "interactions_reason": ONE_AT_A_TIME}
    if len(names) < 2:
        return {"interactions": None, "interactions_reason": ONE_TOGGLE}
    pairs = list(itertools.combinations(names, 2))
    parts = ("interaction", "a_when_b_on", "a_when_b_off", "b_when_a_on", "b_when_a_off")
    weights = []
    for a, b in pairs:
        sa, sb = _signs(cells, a), _signs(cells, b)
        weights += [
            _balanced(sa * sb),
            _balanced(sa, sb > 0),
            _balanced(sa, sb < 0),
            _balanced(sb, sa > 0),
            _balanced(sb, sa < 0),
        ]
    estimates = _contrasts(weights, cells, finals, reps, seed)
    out = []
    for i, (a, b) in enumerate(pairs):
        entry: dict[str, Any] = {"fields": [a, b]}
        for j, part in enumerate(parts):
            estimate = estimates[i * len(parts) + j]
            if isinstance(estimate, str):
                entry.update({part: None, f"{part}_reason": estimate})
            else:
                entry[part] = estimate
        out.append(entry)
    return {"interactions": out}


# ---- what the report shows --------------------------------------------------------------------

NOTE = (
    "Each cell is the configuration with the toggles it names switched off and every other "
    "toggle on (the all-on cell: every one on); its numbers are the final returns of the seeds "
    "it is reported on. With a learning-rate grid, every cell trains each learning rate on the "
    "tuning seeds, keeps the best (the IQM of their final returns, a diverged seed ranking "
    "below all) and is reported on fresh seeds, disjoint from the tuning seeds. Main effect of a "
    "toggle: mean final return of the cells with it on minus that of the cells with it off, "
    "each cell weighted equally (one-at-a-time: the all-on cell minus the cell with it off "
    "alone). Interaction of A and B (factorial): half of (A's effect with B on − A's effect "
    "with B off). Intervals: percentile bootstrap, every cell's seeds resampled apart; a "
    "diverged seed is left out of its cell's mean. Only the all-on cell enters the other "
    "sections and the verdict. Survival: the fraction of a cell's seeds whose final return is "
    "at least x."
)


def _effect_text(estimate: dict[str, Any] | None) -> str:
    if estimate is None:
        return "—"
    return f"{_number(estimate['point'])} [{_number(estimate['low'])}, {_number(estimate['high'])}]"


def _number(value: float) -> str:
    return f"{value:+.3g}" if value else "0"


def describe(ablation: dict[str, Any]) -> str:
    """One line: the design, its cells, seeds and cost."""
    seeds = f"{len(ablation['seeds'])} seeds per cell"
    if ablation["learning_rates"]:
        rates = ", ".join(f"{r:.3g}" for r in ablation["learning_rates"])
        seeds = (
            f"learning rates {rates} tried on {len(ablation['tuning_seeds'])} tuning seeds per "
            f"cell; each cell reported on {len(ablation['seeds'])} fresh seeds "
            f"({ablation['seeds'][0]}–{ablation['seeds'][-1]})"
        )
    done = sum(1 for c in ablation["cells"] if c["mean"] is not None)
    toggles = "; ".join(f"{t['name']}: {t['on']} → {t['off']}" for t in ablation["toggles"])
    cost = ablation["cost"]
    return (
        f"{ablation['design']}: {done} of {len(ablation['cells'])} cells with results, {seeds}; "
        f"{cost['units']} units, {cost['env_steps']:,} env steps, {cost['wall_s']:.1f} s. "
        f"Toggles (on → off): {toggles}."
    )


def findings(ablation: dict[str, Any]) -> list[str]:
    """One plain sentence per toggle whose main effect's interval excludes 0, and per pair whose
    interaction's does; a last one when none does."""
    level = f"{100 * ablation['confidence']:g}%"
    out = []
    for e in ablation["main_effects"]:
        effect = e["effect"]
        if effect is None or effect["low"] <= 0 <= effect["high"]:
            continue
        verb = "helps" if effect["point"] > 0 else "hurts"
        out.append(
            f"{e['field']} {verb}: switching it off changes the mean final return by "
            f"{_number(-effect['point'])} ({level} CI [{_number(-effect['high'])}, "
            f"{_number(-effect['low'])}])."
        )
    for pair in ablation["interactions"] or []:
        inter = pair["interaction"]
        if inter is None or inter["low"] <= 0 <= inter["high"]:
            continue
        a, b = pair["fields"]
        out.append(
            f"{a} and {b} interact ({_effect_text(inter)}): {a}'s effect is "
            f"{_effect_text(pair['a_when_b_on'])} with {b} on and "
            f"{_effect_text(pair['a_when_b_off'])} with {b} off."
        )
    if not out:
        out.append(
            f"No main effect{' or interaction' if ablation['interactions'] else ''} has a "
            f"{level} interval that excludes 0 at these seeds."
        )
    return out


def tables(ablation: dict[str, Any], na: Any) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The ablation's tables as (headers, rows): "effects", "interactions" (factorial only) and
    "cells"; ``na(reason)`` writes a missing number's cell (``Footnotes.na``)."""
    level = f"{100 * ablation['confidence']:g}%"
    on_off = {t["name"]: f"{t['on']} → {t['off']}" for t in ablation["toggles"]}
    out: dict[str, tuple[list[str], list[list[Any]]]] = {
        "effects": (
            ["toggle", "on → off", f"main effect: on − off [{level} CI]", "cells on / off"],
            [
                [
                    e["field"],
                    on_off[e["field"]],
                    _effect_text(e["effect"]) if e["effect"] else na(e["effect_reason"]),
                    f"{e['on_cells']} / {e['off_cells']}",
                ]
                for e in ablation["main_effects"]
            ],
        )
    }
    if ablation["interactions"]:
        rows = []
        for pair in ablation["interactions"]:
            a, b = pair["fields"]
            rows.append(
                [
                    f"{a} × {b}",
                    *(
                        _effect_text(pair[k]) if pair[k] else na(pair[f"{k}_reason"])
                        for k in ("interaction", "a_when_b_on", "a_when_b_off")
                    ),
                ]
            )
        out["interactions"] = (
            [
                "A × B",
                f"interaction [{level} CI]",
                "effect of A with B on",
                "effect of A with B off",
            ],
            rows,
        )
    rows = []
    for c in ablation["cells"]:
        mean = _effect_text(c["mean"]).replace("+", "") if c["mean"] else na(c["mean_reason"])
        iqm = _effect_text(c["iqm"]).replace("+", "") if c["iqm"] else na(c["iqm_reason"])
        seeds = f"{c['seeds']}" + (f" ({c['diverged']} diverged)" if c["diverged"] else "")
        rate = c[LEARNING_RATE]
        rows.append(
            [c["name"], "—" if rate is None else f"{rate:.3g}", seeds, mean, iqm, c["unit_key"]]
        )
    out["cells"] = (
        [
            "cell",
            LEARNING_RATE,
            "seeds",
            f"mean final return [{level} CI]",
            f"IQM [{level} CI]",
            "unit",
        ],
        rows,
    )
    return out
