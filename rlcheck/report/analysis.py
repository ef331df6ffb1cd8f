"""Everything the report shows, computed from a results store with ``rlcheck.stats``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.external import unique_labels
from rlcheck.experiment.store import Store
from rlcheck.report.ablation import ablation_only_keys, analyze_ablations, is_ablation
from rlcheck.report.diagnostics import NO_DIAGNOSTICS, analyze_diagnostics
from rlcheck.report.generalization import analyze_generalization
from rlcheck.report.robustness import NO_ROBUSTNESS, analyze_robustness
from rlcheck.report.sensitivity import analyze_sweeps, tuning_only_keys
from rlcheck.report.verdict import env_verdict

CONFIDENCE = 0.95
# Level of the rank tests and of the power analysis behind "seeds needed".
ALPHA = 0.05
POWER = 0.8
MAX_SEEDS = 49
# Tail probability of the CVaR risk metrics (Chan et al. 2020 use 0.05).
RISK_ALPHA = 0.05
RANDOM_ALGO = "random"
RELIABILITY_METRICS = (
    "dispersion_across_time",
    "short_term_risk",
    "long_term_risk",
    "dispersion_across_runs",
    "risk_across_runs",
    "dispersion_across_rollouts",
    "risk_across_rollouts",
)
_TIME_METRICS = RELIABILITY_METRICS[:5]
_ROLLOUT_METRICS = RELIABILITY_METRICS[5:]
# Reasons a metric is missing, where several metrics share them.
NO_THRESHOLD = "the env has no solve threshold (set env.solve_threshold in the spec)"
NO_CHECKPOINTS = "no checkpoints: the method is evaluated once, at the end"
NO_USABLE_SEED = "no seed has a usable final return"
NO_TARGET = "no solve threshold and no random baseline to measure it against"
NO_PERFORMANCE = "the env reports no hidden performance (info['performance'])"
ONE_SEED = "needs at least 2 usable seeds; this unit has 1"
# Slopes of learning curves are reported per this many env steps, so they read as returns.
SLOPE_UNIT = 1000

DIVERGED_TREATMENT = (
    "A diverged seed (its parameters became NaN/inf) counts as a failure in the failure rates "
    "and as never reaching the threshold in sample efficiency; in P(A > B), the rank tests and "
    "the performance profiles it ranks below every seed that did not diverge; it is left out "
    "of the IQM, mean, learning-curve bands and reliability metrics, whose n says how many "
    "seeds they use."
)


@dataclass
class _Unit:
    """One stored unit's results as arrays, one row per seed."""

    row: dict[str, Any]
    label: str
    seeds: np.ndarray
    diverged: np.ndarray
    reasons: list[str | None]
    finals: np.ndarray
    curves: np.ndarray | None
    checkpoint_steps: np.ndarray | None
    checkpoint_env_steps: np.ndarray | None
    episodes: np.ndarray | None
    # Each seed's mean hidden performance over its final evaluation episodes (NaN where
    # missing), where the env reports one (rlcheck.envs.jax_env.PERFORMANCE); else None.
    performance: np.ndarray | None = None

    @property
    def usable(self) -> np.ndarray:
        return ~self.diverged & np.isfinite(self.finals)


def analyze(
    store: Store, *, reps: int = 50_000, band_reps: int = 2_000, seed: int = 0
) -> dict[str, Any]:
    """Computes every number of the report, grouped per env, as JSON-ready data.

    Args:
      store: the results to analyse (every unit stored in its directory).
      reps: bootstrap replicates of the IQM and P(A > B) intervals (``rlcheck.stats`` default).
      band_reps: bootstrap replicates of the learning-curve and performance-profile bands and
        of the reliability intervals (the stats default for curves and profiles).
      seed: seed of every bootstrap, so the same store always gives the same report.

    Returns:
      A dict of lists, dicts, strings, ints, floats and None (never NaN or inf): ``settings``,
      ``envs`` (one entry per env with its algos, comparisons, profile, sample efficiency and
      verdict), ``robustness`` (rlcheck/report/robustness.py), ``diagnostics``
      (rlcheck/report/diagnostics.py), ``failed_units``,
      ``failed_attempts``, ``cost``, ``provenance``, ``runs`` and, when the directory holds
      sweeps, ``sweep`` (``rlcheck.report.sensitivity``; a sweep's tuning configurations appear
      there, not among the envs' algos); when a robustness request varies an env parameter that
      units trained at chosen values of or randomized, ``generalization``
      (rlcheck/report/generalization.py); when it holds ablations, ``ablation``
      (``rlcheck.report.ablation``; only the all-on cell appears among the envs' algos).
      A metric that cannot be computed from the stored results (one checkpoint, one seed,
      every seed diverged, no threshold…) is None, and the key ``<metric>_reason`` beside it
      says why; it is never an exception.
    """
    every_row = store.units()
    stored = store.sweeps()
    sweeps = [s for s in stored if not is_ablation(s)]
    ablations = [s for s in stored if is_ablation(s)]
    # A sweep's tuning configurations are shown in its sensitivity section, an ablation's cells
    # in its own; the per-algorithm sections and the verdict rest on the units evaluated on
    # their own seeds.
    ablated = ablation_only_keys(ablations)
    tuning = tuning_only_keys(sweeps) | ablated
    rows = [r for r in every_row if r["key"] not in tuning]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["env_label"], []).append(row)
    settings = {
        "confidence": CONFIDENCE,
        "reps": reps,
        "band_reps": band_reps,
        "seed": seed,
        "alpha": ALPHA,
        "power": POWER,
        "max_seeds": MAX_SEEDS,
        "risk_alpha": RISK_ALPHA,
        "diverged_treatment": DIVERGED_TREATMENT,
    }
    envs = [_analyze_env(store, label, units, settings) for label, units in groups.items()]
    sweep = analyze_sweeps(
        store, sweeps, {r["key"]: r for r in every_row}, {e["env"]: e for e in envs}, reps, seed
    )
    tuning_cost = {
        "env_steps": sum(s["cost"]["env_steps"] for s in sweep),
        "wall_s": sum(s["cost"]["wall_s"] for s in sweep),
    }
    ablation = analyze_ablations(store, ablations, {r["key"]: r for r in every_row}, reps, seed)
    # The ablation's units the envs do not show (tuning units, every cell but the all-on one).
    hidden = [r for r in every_row if r["key"] in ablated]
    ablation_cost = {
        "env_steps": sum((r["env_steps"] or 0) * len(r["seeds"]) for r in hidden),
        "wall_s": sum(r["wall_s"] or 0.0 for r in hidden),
    }
    labelled = {
        a["unit_key"]: {
            "env": e["env"],
            "label": a["label"],
            "algo": a["algo"],
            "solve_threshold": e["solve_threshold"],
        }
        for e in envs
        for a in e["algos"]
    }
    robustness = analyze_robustness(store, labelled, settings)
    generalization = analyze_generalization(robustness, {r["key"]: r for r in rows}, settings)
    failed = [
        {
            "env": r["env_label"],
            "algo": r["algo_label"],
            "unit_key": r["key"],
            "seeds": len(r["seeds"]),
            "reason": r["reason"] or "unknown",
            "attempts": (r["meta"] or {}).get("attempts"),
        }
        for r in every_row
        if r["status"] != "done"
    ]
    attempts = [
        {"unit_key": key, "run_id": run_id, "reason": reason, "created_at": created_at}
        for key, run_id, reason, created_at in store.failures()
    ]
    return _finite(
        {
            "format": "rlcheck-summary/1",
            "directory": str(store.directory),
            "settings": settings,
            "envs": envs,
            **_metric("robustness", robustness, NO_ROBUSTNESS),
            **_metric("diagnostics", analyze_diagnostics(store, labelled), NO_DIAGNOSTICS),
            "failed_units": failed,
            "failed_attempts": attempts,
            "cost": {
                "env_steps": sum(e["cost"]["env_steps"] for e in envs)
                + tuning_cost["env_steps"]
                + ablation_cost["env_steps"],
                "wall_s": sum(e["cost"]["wall_s"] for e in envs)
                + tuning_cost["wall_s"]
                + ablation_cost["wall_s"],
                "tuning": tuning_cost,
                **({"ablation": ablation_cost} if ablation else {}),
            },
            "provenance": _provenance(every_row),
            "runs": store.runs(),
            **({"sweep": sweep} if sweep else {}),
            **({"generalization": generalization} if generalization else {}),
            **({"ablation": ablation} if ablation else {}),
        }
    )


# ---- loading ------------------------------------------------------------------------------


def _load_unit(store: Store, row: dict[str, Any], label: str) -> _Unit:
    key = row["key"]
    seed_rows = store.seed_rows(key)
    seeds = np.array([s for s, *_ in seed_rows], dtype=int)
    diverged = np.array([status != "ok" for _, status, _, _ in seed_rows], dtype=bool)
    finals = np.array([np.nan if f is None else f for _, _, f, _ in seed_rows], dtype=float)
    reasons = [reason for *_, reason in seed_rows]
    steps = _array_or_none(store, key, -1, "checkpoint_steps")
    env_steps = _array_or_none(store, key, -1, "checkpoint_env_steps")
    curves = None
    values: dict[tuple[int, int], float] = {}
    # Imported runs without evaluations draw their training returns (experiment/importing.py).
    curve_metric = (row["meta"] or {}).get("curve_metric", "eval_return")
    performance: dict[int, float] = {}
    for _, s, step, metric, value in store.scalars(key):
        if metric == curve_metric:
            values[(s, step)] = np.nan if value is None else value
        elif metric == "final_performance":
            performance[s] = np.nan if value is None else value
    if values:
        if steps is None:
            steps = np.array(sorted({step for _, step in values}))
        curves = np.array(
            [[values.get((int(s), int(step)), np.nan) for step in steps] for s in seeds]
        )
        if env_steps is None or env_steps.shape != steps.shape:
            env_steps = steps
    episodes = [_array_or_none(store, key, int(s), "final_episode_returns") for s in seeds]
    same_shape = len({None if e is None else e.shape for e in episodes}) == 1
    stacked = np.stack(episodes) if episodes and same_shape and episodes[0] is not None else None
    hidden = None
    if performance:
        hidden = np.array([performance.get(int(s), np.nan) for s in seeds], dtype=float)
    return _Unit(
        row, label, seeds, diverged, reasons, finals, curves, steps, env_steps, stacked, hidden
    )


def _array_or_none(store: Store, key: str, seed: int, name: str) -> np.ndarray | None:
    try:
        return np.asarray(store.array(key, seed, name))
    except KeyError:
        return None


def _labels(rows: list[dict[str, Any]]) -> list[str]:
    """Algo labels, made unique within an env ("(imported)", else the unit key)."""
    return unique_labels(rows)


# ---- per env ------------------------------------------------------------------------------


def _analyze_env(
    store: Store, env_label: str, rows: list[dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any]:
    done = [r for r in rows if r["status"] == "done"]
    units = [_load_unit(store, r, label) for r, label in zip(done, _labels(done), strict=True)]
    env_spec = next(
        (r["meta"].get("env_spec") for r in rows if (r["meta"] or {}).get("env_spec")), {}
    )
    threshold = env_spec.get("solve_threshold")
    baseline = next((u for u in units if u.row["algo"] == RANDOM_ALGO), None)
    random_episodes = _random_episodes(baseline)
    random_bound, random_reason = None, _random_reason(baseline, random_episodes)
    if random_reason is None:
        random_bound = stats.random_upper_bound(random_episodes, CONFIDENCE)
    reps, band_reps, seed = settings["reps"], settings["band_reps"], settings["seed"]
    algos = [
        _analyze_algo(u, threshold, baseline, random_episodes, reps, band_reps, seed) for u in units
    ]
    ranked = _ranked_scores(units)
    profile = _profile(units, ranked, band_reps, seed)
    efficiency = _sample_efficiency(units, threshold, random_bound)
    env = {
        "env": env_label,
        "env_id": rows[0]["env"],
        "spec_id": env_spec.get("id"),
        "kind": env_spec.get("kind"),
        "time_limit": env_spec.get("time_limit"),
        "solve_threshold": threshold,
        "random_baseline": baseline.label if baseline is not None else None,
        **_metric("random_bound", random_bound, random_reason),
        "budgets": sorted({r["budget"] for r in rows}),
        "algos": algos,
        "comparisons": _comparisons(units, ranked, reps, seed),
        **_metric("profile", profile, NO_USABLE_SEED),
        **_metric("sample_efficiency", efficiency, NO_TARGET),
        "reports_performance": any(u.performance is not None for u in units),
        "failed_units": [
            {"algo": r["algo_label"], "reason": r["reason"] or "unknown", "unit_key": r["key"]}
            for r in rows
            if r["status"] != "done"
        ],
        "cost": {
            "env_steps": sum(a["cost"]["env_steps_total"] or 0 for a in algos),
            "wall_s": sum(a["cost"]["wall_s"] or 0.0 for a in algos),
        },
    }
    env["verdict"] = env_verdict(_finite(env), settings)
    return env


def _random_reason(baseline: _Unit | None, episodes: np.ndarray | None) -> str | None:
    """Why the random baseline gives no bound on this env, or None when it does."""
    if baseline is None:
        return f"no random baseline on this env (add the {RANDOM_ALGO} algo)"
    if episodes is None:
        return "the random baseline has fewer than 2 usable final evaluation episodes"
    return None


def _random_episodes(baseline: _Unit | None) -> np.ndarray | None:
    """Every final evaluation episode of the random baseline's seeds that did not diverge."""
    if baseline is None or baseline.episodes is None:
        return None
    episodes = baseline.episodes[baseline.usable].ravel()
    episodes = episodes[np.isfinite(episodes)]
    return episodes if episodes.size >= 2 else None


def _analyze_algo(
    u: _Unit,
    threshold: float | None,
    baseline: _Unit | None,
    random_episodes: np.ndarray | None,
    reps: int,
    band_reps: int,
    seed: int,
) -> dict[str, Any]:
    row, usable = u.row, u.usable
    finals = u.finals[usable]
    # NaN marks a diverged seed, which failure_rate counts as a failure.
    marked = np.where(usable, u.finals, np.nan)
    solve = random = None
    if threshold is not None:
        solve = _failure(stats.unsolved_rate(marked, threshold, CONFIDENCE))
    random_reason = _random_reason(baseline, random_episodes)
    if u is baseline:
        random_reason = "this is the random baseline"
    elif random_reason is None:
        random = _failure(
            stats.no_better_than_random_rate(marked, random_episodes, CONFIDENCE, CONFIDENCE)
        )
    failure = {**_metric("solve", solve, NO_THRESHOLD), **_metric("random", random, random_reason)}
    iqm = None
    if len(finals):
        estimate = stats.interval_estimates(
            {u.label: finals[:, None]}, ("iqm",), reps, CONFIDENCE, seed
        )[u.label]["iqm"]
        iqm = _estimate(estimate, len(finals))
    curve = _curve(u, band_reps, seed)
    return {
        "label": u.label,
        "algo": row["algo"],
        "unit_key": row["key"],
        "config": row["config"],
        "overrides": row["overrides"],
        "budget": row["budget"],
        "eval": row["eval"],
        "seeds": len(u.seeds),
        "usable_seeds": int(usable.sum()),
        "diverged": [
            {"seed": int(s), "reason": r or "diverged"}
            for s, r, bad in zip(u.seeds, u.reasons, ~usable, strict=True)
            if bad
        ],
        "per_seed": [
            {"seed": int(s), "final_return": f, "diverged": bool(bad)}
            for s, f, bad in zip(u.seeds, u.finals, ~usable, strict=True)
        ],
        "final": _describe(finals, _unusable_reason(u)),
        **_metric("iqm", iqm, _unusable_reason(u)),
        "failure": failure,
        **_metric("curve", curve, NO_CHECKPOINTS),
        **_metric("performance", _performance(u, reps, seed), _no_performance_reason(u)),
        "reliability": _reliability(u, band_reps, seed),
        "cost": _cost(row, len(u.seeds)),
        # Where an imported unit's runs came from (None for units rlcheck trained).
        "imported": (row["meta"] or {}).get("import"),
        # What a seed is: a training run, or (one policy given to `rlcheck evaluate`) an
        # evaluation seed of that one policy, which the verdict and tables say.
        "seeds_are": ((row["meta"] or {}).get("evaluate") or {}).get("seeds_are", "training runs"),
        "evaluated": (row["meta"] or {}).get("evaluate"),
    }


def _performance(u: _Unit, reps: int, seed: int) -> dict[str, Any] | None:
    """Proxy (final) return against hidden performance, per seed and as means with
    stratified-bootstrap CIs; the gap is each seed's return minus its performance, averaged."""
    if u.performance is None:
        return None
    keep = u.usable & np.isfinite(u.performance)
    if not keep.any():
        return None
    returns, hidden = u.finals[keep], u.performance[keep]
    columns = {"return": returns, "performance": hidden, "gap": returns - hidden}
    estimates = stats.interval_estimates(
        {k: v[:, None] for k, v in columns.items()}, ("mean",), reps, CONFIDENCE, seed
    )
    n = int(keep.sum())
    return {
        **{k: _estimate(estimates[k]["mean"], n) for k in columns},
        "per_seed": [
            {"seed": int(s), "final_return": float(r), "final_performance": float(h)}
            for s, r, h in zip(u.seeds[keep], returns, hidden, strict=True)
        ],
    }


def _no_performance_reason(u: _Unit) -> str:
    """Why a unit has no performance summary (only meaningful when it has none)."""
    if u.performance is None:
        return NO_PERFORMANCE
    return _unusable_reason(u)


def _metric(key: str, value: Any, reason: str) -> dict[str, Any]:
    """``{key: value}``, or ``{key: None, key_reason: reason}`` when the value is missing."""
    return {key: value} if value is not None else {key: None, f"{key}_reason": reason}


def _describe(finals: np.ndarray, unusable: str) -> dict[str, Any]:
    """Mean, std, median, min and max of the usable final returns (``unusable``: why there
    are none, for the reasons)."""
    n = len(finals)
    if not n:
        keys = ("mean", "std", "median", "min", "max")
        return {"n": 0, **dict.fromkeys(keys), **{f"{k}_reason": unusable for k in keys}}
    return {
        "n": n,
        "mean": float(finals.mean()),
        **_metric("std", float(finals.std(ddof=1)) if n > 1 else None, ONE_SEED),
        "median": float(np.median(finals)),
        "min": float(finals.min()),
        "max": float(finals.max()),
    }


def _failure(rate: stats.FailureRate) -> dict[str, Any]:
    return {
        "rate": rate.rate,
        "low": rate.low,
        "high": rate.high,
        "failures": rate.failures,
        "n": rate.seeds,
        "threshold": rate.threshold,
        "criterion": rate.criterion,
    }


def _estimate(estimate: stats.Estimate, n: int) -> dict[str, Any]:
    return {
        "point": float(estimate.point),
        "low": float(estimate.low),
        "high": float(estimate.high),
        "n": n,
    }


def _unusable_reason(u: _Unit) -> str:
    """Why a unit has no usable seed (only meaningful when it has none)."""
    if u.diverged.all():
        return "every seed diverged"
    return "no seed has a finite final return"


def _usable_curves(u: _Unit) -> np.ndarray | None:
    """Curves of the seeds that did not diverge and have every checkpoint, or None."""
    if u.curves is None:
        return None
    keep = u.usable & np.all(np.isfinite(u.curves), axis=1)
    return u.curves[keep] if keep.any() else None


def _curve(u: _Unit, band_reps: int, seed: int) -> dict[str, Any] | None:
    if u.curves is None:
        return None
    curves = _usable_curves(u)
    band = None
    if curves is not None:
        estimate = stats.sample_efficiency_curve(
            {u.label: curves[:, None, :]}, "iqm", band_reps, CONFIDENCE, seed
        )[u.label]
        band = {
            "iqm": estimate.point.tolist(),
            "low": estimate.low.tolist(),
            "high": estimate.high.tolist(),
            "n": len(curves),
        }
    return {
        "steps": u.checkpoint_steps.tolist(),
        "env_steps": u.checkpoint_env_steps.tolist(),
        **_metric("band", band, _no_curves_reason(u)),
        "seeds": [
            {"seed": int(s), "diverged": bool(bad), "returns": c.tolist()}
            for s, bad, c in zip(u.seeds, ~u.usable, u.curves, strict=True)
        ],
    }


def _per_seed_iqm(values: np.ndarray, name: str, band_reps: int, seed: int) -> dict[str, Any]:
    values = values[np.isfinite(values)]
    if not len(values):
        return {"point": None, "low": None, "high": None, "n": 0}
    estimate = stats.interval_estimates(
        {name: values[:, None]}, ("iqm",), band_reps, CONFIDENCE, seed
    )[name]["iqm"]
    return _estimate(estimate, len(values))


def _no_curves_reason(u: _Unit) -> str:
    """Why a unit has no usable learning curve (only meaningful when it has none)."""
    if u.curves is None:
        return NO_CHECKPOINTS
    if u.diverged.all():
        return "every seed diverged"
    return "no seed that did not diverge has a finite evaluation at every checkpoint"


def _time_reason(u: _Unit, curves: np.ndarray | None, times: np.ndarray | None) -> str | None:
    """Why the metrics across time and runs cannot be computed, or None when they can."""
    if curves is None or times is None:
        return _no_curves_reason(u)
    if len(times) < 2:
        return f"needs at least 2 checkpoints; this unit has {len(times)}"
    if np.any(np.diff(times) <= 0):
        # Results stored before checkpoints closer than one update were merged.
        return "checkpoints at repeated env steps"
    return None


def _reliability(u: _Unit, band_reps: int, seed: int) -> dict[str, Any]:
    """Chan et al. 2020 metrics; per-seed ones are summarised by their IQM over seeds.

    Every metric of ``RELIABILITY_METRICS`` is there: a dict, or None with its reason.
    """
    metrics: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    curves = _usable_curves(u)
    times = None if u.checkpoint_env_steps is None else u.checkpoint_env_steps.astype(float)
    across_time = _time_reason(u, curves, times)
    if across_time is not None:
        reasons.update(dict.fromkeys(_TIME_METRICS, across_time))
    else:
        srt = stats.short_term_risk(curves, times, RISK_ALPHA) * SLOPE_UNIT
        metrics["short_term_risk"] = _per_seed_iqm(srt, "srt", band_reps, seed)
        metrics["long_term_risk"] = _per_seed_iqm(
            stats.long_term_risk(curves, RISK_ALPHA), "lrt", band_reps, seed
        )
        if len(curves) < 2:
            reasons["dispersion_across_runs"] = reasons["risk_across_runs"] = (
                f"needs at least 2 usable seeds; this unit has {len(curves)}"
            )
        else:
            last = times[-1:]
            metrics["dispersion_across_runs"] = {
                "point": float(stats.dispersion_across_runs(curves, times, last)[0]),
                "n": len(curves),
            }
            metrics["risk_across_runs"] = {
                "point": float(stats.risk_across_runs(curves, times, last, RISK_ALPHA)[0]),
                "n": len(curves),
            }
        # A quarter of training, and at least two detrended points so the IQR means something.
        window = max((times[-1] - times[0]) / 4, 2 * float(np.max(np.diff(times))))
        if len(times) < 4:
            reasons["dispersion_across_time"] = (
                f"needs at least 4 checkpoints; this unit has {len(times)}"
            )
        elif times[-1] - times[1] < window - 1:
            # The detrended curve starts at the second checkpoint; no window would fit in it.
            reasons["dispersion_across_time"] = "checkpoints too unevenly spaced for one window"
        else:
            dispersion = stats.dispersion_across_time(curves, times, window)
            per_seed = np.median(dispersion, axis=1) * SLOPE_UNIT
            metrics["dispersion_across_time"] = _per_seed_iqm(per_seed, "dt", band_reps, seed)
            metrics["dispersion_across_time"]["window_env_steps"] = window
    if u.episodes is None:
        reasons.update(dict.fromkeys(_ROLLOUT_METRICS, "no final evaluation episodes stored"))
    elif not u.usable.any():
        reasons.update(dict.fromkeys(_ROLLOUT_METRICS, _unusable_reason(u)))
    else:
        rollouts = u.episodes[u.usable]
        metrics["dispersion_across_rollouts"] = _per_seed_iqm(
            stats.dispersion_across_rollouts(rollouts), "df", band_reps, seed
        )
        metrics["risk_across_rollouts"] = _per_seed_iqm(
            stats.risk_across_rollouts(rollouts, RISK_ALPHA), "rf", band_reps, seed
        )
        metrics["rollouts_per_seed"] = int(rollouts.shape[1])
    for key in RELIABILITY_METRICS:
        value = metrics.pop(key, None)
        if value is not None and value["point"] is None:
            value, reasons[key] = None, "not finite for any seed"
        metrics.update(_metric(key, value, reasons[key] if value is None else ""))
    return metrics


def _cost(row: dict[str, Any], seeds: int) -> dict[str, Any]:
    meta = row["meta"] or {}
    per_seed = row["env_steps"]
    return {
        "env_steps_per_seed": per_seed,
        "seeds": seeds,
        "env_steps_total": per_seed * seeds if per_seed is not None else None,
        # Model steps of planners (MPC, MCTS, LQR), summed over seeds; None for the rest.
        "simulator_calls": meta.get("simulator_calls"),
        "wall_s": row["wall_s"],
        "compile_s": row["compile_s"],
        "workers": meta.get("workers"),
        "device": meta.get("device"),
        "driver": meta.get("driver"),
    }


# ---- comparisons between the algos of one env ---------------------------------------------


def _ranked_scores(units: list[_Unit]) -> dict[str, np.ndarray]:
    """Final returns for the rank-based statistics, a diverged seed below every other seed."""
    usable = [u.finals[u.usable] for u in units]
    pooled = np.concatenate(usable) if usable else np.array([])
    floor = float(pooled.min()) - 1.0 if pooled.size else 0.0
    return {u.label: np.where(u.usable, u.finals, floor) for u in units if len(u.finals)}


def _comparisons(
    units: list[_Unit], ranked: dict[str, np.ndarray], reps: int, seed: int
) -> dict[str, Any]:
    labels = list(ranked)
    tested = [label for label in labels if len(ranked[label]) >= 2]
    tests = stats.compare_algorithms({k: ranked[k] for k in tested}, test="mann-whitney")
    holm = len(labels) > 2
    by_label = {u.label: u for u in units}
    pairs = []
    for a, b in combinations(labels, 2):
        estimate = stats.probability_of_improvement_interval(
            ranked[a][:, None], ranked[b][:, None], reps, CONFIDENCE, seed
        )
        test = tests.get((a, b))
        p = None if test is None or math.isnan(test.p) else test.p
        p_adjusted = None if test is None or math.isnan(test.p_adjusted) else test.p_adjusted
        no_test = "needs at least 2 seeds per algo" if test is None else "undefined for these ties"
        winner = a if estimate.low > 0.5 else b if estimate.high < 0.5 else None
        held_back = None
        if winner is not None and test is None:
            # With one seed the bootstrap interval collapses to a point, which proves nothing.
            held_back = "too few seeds"
        elif winner is not None and holm and not (p_adjusted is not None and p_adjusted < ALPHA):
            held_back = "holm"
        pair = {
            "a": a,
            "b": b,
            "n_a": len(ranked[a]),
            "n_b": len(ranked[b]),
            "p_a_beats_b": {
                "point": float(estimate.point),
                "low": float(estimate.low),
                "high": float(estimate.high),
            },
            **_metric("mann_whitney_p", p, no_test),
            **_metric("holm_p", p_adjusted, no_test),
            "holm_applied": holm,
            "ci_excludes_half": winner is not None,
            "better": None if held_back else winner,
            "held_back": held_back,
            "seeds_needed": None,
        }
        if pair["better"] is None:
            pair["seeds_needed"] = _seeds_needed(by_label[a], by_label[b])
        pairs.append(pair)
    matrix = {a: {b: None for b in labels} for a in labels}
    for pair in pairs:
        e = pair["p_a_beats_b"]
        matrix[pair["a"]][pair["b"]] = {"point": e["point"], "low": e["low"], "high": e["high"]}
        # Each replicate of P(B > A) is 1 − that of P(A > B) (ties count ½), so the reverse
        # interval is exact, and the two directions can never disagree.
        matrix[pair["b"]][pair["a"]] = {
            "point": 1 - e["point"],
            "low": 1 - e["high"],
            "high": 1 - e["low"],
        }
    return {"labels": labels, "pairs": pairs, "matrix": matrix, "tests": len(tests)}


def _seeds_needed(a: _Unit, b: _Unit) -> dict[str, Any]:
    """Seeds per algo to detect the observed difference of mean final returns (Colas et al.)."""
    x, y = a.finals[a.usable], b.finals[b.usable]
    result: dict[str, Any] = {
        "effect": None,
        "seeds": None,
        "more_than": None,
        "power": POWER,
        "alpha": ALPHA,
        "note": None,
    }
    if len(x) < 2 or len(y) < 2:
        result["note"] = "fewer than 2 usable seeds"
        return result
    effect = abs(float(x.mean() - y.mean()))
    result["effect"] = effect
    if effect == 0 or (np.std(x) == 0 and np.std(y) == 0):
        result["note"] = "identical mean final returns"
        return result
    needed = stats.seeds_needed(x, y, effect, ALPHA, POWER, MAX_SEEDS)
    if needed is None:
        result["more_than"] = MAX_SEEDS
    else:
        result["seeds"] = needed
    return result


def _profile(
    units: list[_Unit], ranked: dict[str, np.ndarray], band_reps: int, seed: int
) -> dict[str, Any] | None:
    usable = {u.label: u.finals[u.usable][:, None] for u in units if u.usable.any()}
    if not usable:
        return None
    taus = stats.tau_grid(usable)
    profiles = stats.performance_profile(
        {k: v[:, None] for k, v in ranked.items()}, taus, band_reps, CONFIDENCE, seed
    )
    return {
        "taus": taus.tolist(),
        "algos": {
            k: {
                "point": e.point.tolist(),
                "low": e.low.tolist(),
                "high": e.high.tolist(),
                "n": len(ranked[k]),
            }
            for k, e in profiles.items()
        },
    }


def _sample_efficiency(
    units: list[_Unit], threshold: float | None, random_bound: float | None
) -> dict[str, Any] | None:
    if threshold is not None:
        target, source = threshold, "solve threshold"
    elif random_bound is not None:
        target, source = random_bound, "upper bound of the random baseline's mean return"
    else:
        return None
    algos = {}
    for u in units:
        if u.curves is None:
            continue
        steps = u.checkpoint_env_steps.astype(float)
        hit = stats.steps_to_threshold(np.nan_to_num(u.curves, nan=-np.inf), steps, target)
        reached = hit.reached & u.usable
        first = np.where(reached, hit.steps, np.inf)
        n = len(u.seeds)
        fraction = []
        for step in steps:
            count = int(np.sum(first <= step))
            low, high = stats.wilson_interval(count, n, CONFIDENCE)
            fraction.append({"reached": count, "rate": count / n, "low": low, "high": high})
        median = float(np.median(first))
        median_reason = "not reached by half the seeds"
        algos[u.label] = {
            "n": n,
            "reached": int(reached.sum()),
            "per_seed": [
                {"seed": int(s), "env_steps": f if math.isfinite(f) else None}
                for s, f in zip(u.seeds, first.tolist(), strict=True)
            ],
            **_metric("median_env_steps", median if math.isfinite(median) else None, median_reason),
            "env_steps": steps.tolist(),
            "fraction": fraction,
        }
    return {"threshold": target, "source": source, "algos": algos}


# ---- provenance ---------------------------------------------------------------------------


def _provenance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct provenances (versions, commits, machine) and the units that share each."""
    distinct: list[dict[str, Any]] = []
    for row in rows:
        provenance = row["provenance"] or {}
        entry = next((d for d in distinct if d["provenance"] == provenance), None)
        if entry is None:
            entry = {"provenance": provenance, "units": []}
            distinct.append(entry)
        entry["units"].append(f"{row['algo_label']} on {row['env_label']}")
    return [
        {
            "versions": d["provenance"].get("versions", {}),
            "rlcheck_commit": d["provenance"].get("rlcheck_commit"),
            "cwd_commit": d["provenance"].get("cwd_commit"),
            "machine": d["provenance"].get("machine", {}),
            "units": d["units"],
        }
        for d in distinct
    ]


def _finite(value: Any) -> Any:
    """A copy with numpy scalars made Python numbers and NaN/inf made None (valid JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
