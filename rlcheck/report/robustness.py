"""Robustness curves from the store's robustness rows: per request, env and algo, the return
against the varied value (IQM over seeds with a stratified-bootstrap band), the return at the
training value, and the normalized area under the curve."""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.robustness import PERTURBATIONS
from rlcheck.experiment.store import Store

NO_ROBUSTNESS = (
    "no robustness evaluation in this directory (rlcheck robustness DIR --vary NAME=VALUES, or "
    "a [robustness] table in the spec)"
)
AREA = (
    "normalized area: the area under each seed's curve (mean return per value) divided by the "
    "width of the range, on a log axis where the values are log-spaced: the seed's mean return "
    "over the range"
)


def analyze_robustness(
    store: Store, units: dict[str, dict[str, Any]], settings: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """Every stored robustness request, as JSON-ready data; None when there is none.

    Args:
      store: the results.
      units: per unit key: ``env`` (the env's label), ``label`` (the algo's, unique within the
        env), ``algo`` and ``solve_threshold``.
      settings: the analysis settings (``confidence``, ``reps``, ``band_reps``, ``seed``).

    Returns:
      One entry per request: what varied over which values and what was held fixed, then per
      env the training value and per algo the curve, the return at the training value and the
      normalized area, each with its interval and n (or None and ``<name>_reason``).
    """
    requests: dict[str, list[dict[str, Any]]] = {}
    for row in store.robustness():
        if row["unit_key"] in units:
            requests.setdefault(row["request"], []).append(row)
    if not requests:
        return None
    return [_study(rows, units, settings) for rows in requests.values()]


def _study(
    rows: list[dict[str, Any]], units: dict[str, dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any]:
    spec = rows[0]["spec"]
    vary = spec["vary"]
    envs: dict[str, dict[str, Any]] = {}
    for row in rows:
        unit = units[row["unit_key"]]
        env = envs.setdefault(
            unit["env"],
            {
                "env": unit["env"],
                "training_value": row["spec"]["training_value"],
                # Set when the unit trained with the parameter randomized over this range.
                "training_range": row["spec"].get("training_range"),
                "solve_threshold": unit["solve_threshold"],
                "algos": [],
            },
        )
        env["algos"].append(_curve(row, unit, spec, settings))
    return {
        "request": rows[0]["request"],
        "vary": vary,
        "what": PERTURBATIONS.get(vary, "env parameter"),
        "values": list(spec["values"]),
        "log": spec["log"],
        "episodes": spec["episodes"],
        "obs_noise": spec["obs_noise"],
        "action_noise": spec["action_noise"],
        "action_delay": spec["action_delay"],
        "seed": spec["seed"],
        "envs": list(envs.values()),
    }


def _curve(
    row: dict[str, Any], unit: dict[str, Any], spec: dict[str, Any], settings: dict[str, Any]
) -> dict[str, Any]:
    confidence, seed = settings["confidence"], settings["seed"]
    label = unit["label"]
    values = np.asarray(spec["values"], dtype=float)
    per_seed = row["returns"].mean(axis=2)  # (seeds, values)
    band = stats.sample_efficiency_curve(
        {label: per_seed[:, None, :]}, "iqm", settings["band_reps"], confidence, seed
    )[label]
    n = len(per_seed)
    at_training = None
    at_reason = "the training value is not among the values evaluated"
    matches = np.flatnonzero(np.isclose(values, row["spec"]["training_value"]))
    if row["spec"].get("training_range"):
        low, high = row["spec"]["training_range"]
        at_reason = f"trained with it drawn from [{low:g}, {high:g}]: no one training value"
    elif len(matches):
        at_training = _iqm(per_seed[:, matches[0]], label, settings)
    area, area_reason = None, "needs at least 2 distinct values"
    x = np.log(values) if spec["log"] else values
    if np.ptp(x) > 0:
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], per_seed[:, order]
        # Trapezoids, written out: numpy renamed trapz to trapezoid between versions.
        areas = np.sum((ys[:, 1:] + ys[:, :-1]) / 2 * np.diff(xs), axis=1) / np.ptp(x)
        area = {**_iqm(areas, label, settings), "per_seed": areas.tolist()}
    worst = int(np.argmin(band.point))
    return {
        "label": label,
        "algo": unit["algo"],
        "unit_key": row["unit_key"],
        "n": n,
        "seeds": row["seeds"],
        "per_seed": per_seed.tolist(),
        "curve": {
            "iqm": band.point.tolist(),
            "low": band.low.tolist(),
            "high": band.high.tolist(),
            "n": n,
        },
        "worst": {"value": float(values[worst]), "iqm": float(band.point[worst])},
        **_metric("at_training_value", at_training, at_reason),
        **_metric("normalized_area", area, area_reason),
        "wall_s": row["wall_s"],
    }


def _iqm(values: np.ndarray, label: str, settings: dict[str, Any]) -> dict[str, Any]:
    estimate = stats.interval_estimates(
        {label: values[:, None]},
        ("iqm",),
        settings["reps"],
        settings["confidence"],
        settings["seed"],
    )[label]["iqm"]
    return {
        "point": float(estimate.point),
        "low": float(estimate.low),
        "high": float(estimate.high),
        "n": len(values),
    }


def _metric(key: str, value: Any, reason: str) -> dict[str, Any]:
    return {key: value} if value is not None else {key: None, f"{key}_reason": reason}
