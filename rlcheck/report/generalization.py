"""The generalization gap, from robustness evaluations of units trained at chosen values of an
env parameter or randomized over it: per algorithm and training condition, the return on the
training range, on the test range and their difference; whether domain randomization closes the
gap of the policies trained at one value.

Training and test ranges are rlcheck/experiment/generalization.py's: on the robustness grid, the
values equal to a unit's training value or inside its randomized range, and every other value.
A seed's return on a range is its mean return over the range's grid values (each the mean of
its episodes there); IQM over seeds with stratified-bootstrap CIs, as everywhere in the report.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.generalization import TrainingCondition, is_study, training_condition

GAP = (
    "generalization gap: IQM over seeds of the return on the training range minus IQM of the "
    "return on the test range, a percentile bootstrap CI resampling seeds with both of their "
    "returns (paired)"
)
# How domain randomization fares against a policy trained at one value, from the CIs of its
# difference on that policy's test range and of the gap left to that policy's training return.
CLOSES = "closes the gap"
NARROWS = "narrows the gap"
DOES_NOT_NARROW = "does not narrow the gap"
NO_GAP = "no gap to close"
VERDICTS = {
    CLOSES: "better than the policy on its test range, and not shown below its training return",
    NARROWS: "better than the policy on its test range, still below its training return",
    DOES_NOT_NARROW: "not shown better than the policy on its test range",
    NO_GAP: "the policy shows no gap (its gap is not shown above 0)",
}
NO_TRAIN = "no value evaluated lies in its training range"
NO_TEST = "every value evaluated lies in its training range: nothing to test on"
TWO_SEEDS = "needs at least 2 seeds"
_ORDER = {"default": 0, "fixed": 1, "randomized": 2}


def analyze_generalization(
    robustness: list[dict[str, Any]] | None,
    rows: dict[str, dict[str, Any]],
    settings: dict[str, Any],
) -> list[dict[str, Any]] | None:
    """The generalization studies among the robustness evaluations, as JSON-ready data; None
    when none applies (no request varies an env parameter that some unit trained at a chosen
    value of or randomized).

    Args:
      robustness: ``analyze_robustness``'s result (rlcheck/report/robustness.py).
      rows: every stored unit's row, by key (their meta holds the env params and randomized
        ranges they trained with).
      settings: the analysis settings (``confidence``, ``reps``, ``seed``).

    Returns:
      One entry per request: what varied over which values, and per env id × algo a group:
      each unit's training condition, training and test values, return on each range and gap
      (an estimate with its CI and n, or None and ``<name>_reason``), its IQM return at every
      value (the heatmap's row), and ``randomization``: each randomized unit against each unit
      trained at one value, with the verdict.
    """
    studies = [_study(study, rows, settings) for study in robustness or []]
    return [s for s in studies if s is not None] or None


def _study(
    study: dict[str, Any], rows: dict[str, dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any] | None:
    vary = study["vary"]
    values = np.asarray(study["values"], dtype=float)
    groups: dict[tuple[str, str, str], list[tuple[dict, dict, TrainingCondition]]] = {}
    for env in study["envs"]:
        for curve in env["algos"]:
            row = rows[curve["unit_key"]]
            meta = row["meta"] or {}
            condition = training_condition(
                vary,
                meta.get("env_params", {}),
                meta.get("env_randomize", {}),
                env["training_value"],
            )
            kwargs = json.dumps(meta.get("env_kwargs", {}), sort_keys=True)
            groups.setdefault((row["env"], kwargs, curve["label"]), []).append(
                (env, curve, condition)
            )
    out = []
    for (env_id, _, label), members in groups.items():
        if not is_study(vary, [condition for *_, condition in members]):
            continue
        members.sort(key=lambda m: (_ORDER[m[2].how], m[2].low, m[2].high))
        units = [
            _unit(env, curve, condition, vary, values, settings)
            for env, curve, condition in members
        ]
        out.append(
            {
                "env_id": env_id,
                "algo": label,
                "solve_threshold": members[0][0]["solve_threshold"],
                "units": units,
                "randomization": _randomization(units, members, values, settings),
            }
        )
    if not out:
        return None
    return {
        "request": study["request"],
        "vary": vary,
        "values": study["values"],
        "log": study["log"],
        "episodes": study["episodes"],
        "groups": out,
    }


def _unit(
    env: dict[str, Any],
    curve: dict[str, Any],
    condition: TrainingCondition,
    vary: str,
    values: np.ndarray,
    settings: dict[str, Any],
) -> dict[str, Any]:
    per_seed = np.asarray(curve["per_seed"], dtype=float)
    train = condition.contains(values)
    train_return = test_return = gap = None
    gap_reason = NO_TRAIN if not train.any() else NO_TEST if train.all() else TWO_SEEDS
    if train.any():
        train_return = _iqm(per_seed[:, train].mean(axis=1), settings)
    if not train.all():
        test_return = _iqm(per_seed[:, ~train].mean(axis=1), settings)
    if train.any() and not train.all() and len(per_seed) >= 2:
        gap = _estimate(
            stats.paired_iqm_difference_interval(
                per_seed[:, train].mean(axis=1),
                per_seed[:, ~train].mean(axis=1),
                settings["reps"],
                settings["confidence"],
                settings["seed"],
            ),
            len(per_seed),
        )
    return {
        "env": env["env"],
        "unit_key": curve["unit_key"],
        "algo": curve["algo"],
        "training": condition.as_dict(vary),
        "n": len(per_seed),
        "train_values": values[train].tolist(),
        "test_values": values[~train].tolist(),
        **_metric("train_return", train_return, NO_TRAIN),
        **_metric("test_return", test_return, NO_TEST),
        **_metric("gap", gap, gap_reason),
        "iqm": curve["curve"]["iqm"],
    }


def _randomization(
    units: list[dict[str, Any]],
    members: list[tuple[dict, dict, TrainingCondition]],
    values: np.ndarray,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """Each randomized unit against each unit trained at one value, on that unit's test range
    and at its training value."""
    out = []
    pairs = list(zip(units, members, strict=True))
    for dr, (_, dr_curve, dr_condition) in pairs:
        if dr_condition.how != "randomized":
            continue
        dr_seeds = np.asarray(dr_curve["per_seed"], dtype=float)
        for one, (_, curve, condition) in pairs:
            if condition.how == "randomized":
                continue
            seeds = np.asarray(curve["per_seed"], dtype=float)
            train = condition.contains(values)
            entry: dict[str, Any] = {
                "randomized": dr["unit_key"],
                "randomized_training": dr["training"]["text"],
                "versus": one["unit_key"],
                "versus_training": one["training"]["text"],
                "versus_env": one["env"],
                "test_values": values[~train].tolist(),
            }
            if train.all() or len(dr_seeds) < 2 or len(seeds) < 2:
                entry.update(verdict=None, verdict_reason=NO_TEST if train.all() else TWO_SEEDS)
                out.append(entry)
                continue
            dr_test = dr_seeds[:, ~train].mean(axis=1)
            entry["randomized_on_test_range"] = _iqm(dr_test, settings)
            entry["on_test_range"] = _difference(dr_test, seeds[:, ~train].mean(axis=1), settings)
            at, remaining = None, None
            if train.any():
                at = _difference(
                    dr_seeds[:, train].mean(axis=1), seeds[:, train].mean(axis=1), settings
                )
                remaining = _difference(seeds[:, train].mean(axis=1), dr_test, settings)
            entry.update(_metric("at_training_value", at, NO_TRAIN))
            entry.update(_metric("remaining_gap", remaining, NO_TRAIN))
            entry["verdict"] = _verdict(one["gap"], entry["on_test_range"], remaining)
            out.append(entry)
    return out


def _verdict(
    gap: dict[str, Any] | None, on_test: dict[str, Any], remaining: dict[str, Any] | None
) -> str:
    if gap is None or gap["low"] <= 0:
        return NO_GAP
    if on_test["low"] <= 0:
        return DOES_NOT_NARROW
    if remaining is None or remaining["low"] > 0:
        return NARROWS
    return CLOSES


def _iqm(values: np.ndarray, settings: dict[str, Any]) -> dict[str, Any]:
    estimate = stats.interval_estimates(
        {"x": values[:, None]}, ("iqm",), settings["reps"], settings["confidence"], settings["seed"]
    )["x"]["iqm"]
    return _estimate(estimate, len(values))


def _difference(a: np.ndarray, b: np.ndarray, settings: dict[str, Any]) -> dict[str, Any]:
    """IQM(a) − IQM(b) of two units' seeds (independent: each resampled apart)."""
    estimate = stats.iqm_difference_interval(
        a, b, settings["reps"], settings["confidence"], settings["seed"]
    )
    return {**_estimate(estimate, len(a)), "n_b": len(b)}


def _estimate(estimate: Any, n: int) -> dict[str, Any]:
    return {
        "point": float(estimate.point),
        "low": float(estimate.low),
        "high": float(estimate.high),
        "n": n,
    }


def _metric(key: str, value: Any, reason: str) -> dict[str, Any]:
    return {key: value} if value is not None else {key: None, f"{key}_reason": reason}
