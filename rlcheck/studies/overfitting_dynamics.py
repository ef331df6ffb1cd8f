"""Overfitting to the dynamics: PPO trained on CartPole-v1 at the default pole length, at each
other length of a range, and with the length randomized over the range, then every policy
played at every length.

Irpan (2018, "overfitting to weird patterns in the environment") and Vitay's lecture notes
(002, "a policy learned in one environment does not transfer to a slightly different one")
say that deep RL learns the environment it was trained in, not the task: change the dynamics a
little and the policy fails; domain randomization (training over a range of dynamics) is the
usual answer. Here the env entries train at gymnax's pole half-length 0.5 (the default), at
each other length the policies are tested at, and with the length drawn uniformly per episode
from the range (``[[env]] params`` and ``randomize``); the spec's ``[robustness]`` table then
plays every stored policy at every length of the grid. The training and test ranges are
rlcheck/experiment/generalization.py's (a unit's own length or its randomized range, and every
other length), and the numbers are the report's Generalization section's: IQM over seeds of
each seed's mean return over a range, the gap paired over seeds, the randomized policy against
the default one on the default one's test range (seeds resampled apart).

The sentence reports the default policy's generalization gap with its CI and whether
randomization closes it: it *closes* the gap when the randomized policy beats the default one
on the default one's test range and is not shown below the default one's return at its own
length, *narrows* it when it beats it but stays below, and does *not narrow* it otherwise.

What differs from the texts: no published number to compare with (the claim is qualitative);
gymnax CartPole-v1 (the pole length also changes the pole's mass in gymnax, as in Gymnasium);
PPO at CleanRL's defaults. The full version trains 500k env steps, where CartPole-v1 is solved
at the default length (examples/generalization-cartpole.toml, benchmarks/generalization.py);
the quick version trains 100k steps at three lengths and randomized, where some seeds have not
yet learned even their own length, so its gap is smaller and its CIs are wide. Pendulum's mass
and length (the issue's second env) are left out: with PPO at the RL Zoo's Pendulum settings
(100k steps per unit) they would add six programs and a second analysis to the full version.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck import stats
from rlcheck.experiment.generalization import TrainingCondition, training_condition
from rlcheck.studies.base import (
    CONFIDENCE,
    Chart,
    Finding,
    Point,
    Scale,
    Series,
    Study,
    StudyResults,
    UnitResults,
    fmt,
    spec,
)

ENV = "CartPole-v1"
PARAMETER = "length"
DEFAULT = 0.5  # gymnax CartPole-v1's pole half-length
RANGE = (0.05, 2.0)
# The lengths policies train at, the default among them; the grid they are all played at.
LENGTHS = (0.05, 0.25, 0.5, 1.0, 2.0)
QUICK_LENGTHS = (0.05, 0.5, 2.0)
GRID = "0.05:2.0:40"  # steps of 0.05: every length of LENGTHS is on it
QUICK_GRID = "0.05,0.5,1.0,1.5,2.0"
REPS = 20_000
SOLVED = 475.0  # CartPole-v1's solve threshold
CLOSES, NARROWS, DOES_NOT_NARROW, NO_GAP = (
    "closes the gap",
    "narrows the gap",
    "does not narrow the gap",
    "no gap to close",
)


def lengths(scale: Scale) -> tuple[float, ...]:
    return QUICK_LENGTHS if scale.quick else LENGTHS


def label(condition: TrainingCondition) -> str:
    """An env entry's label: "CartPole length 0.5", "CartPole length U[0.05, 2]"."""
    if condition.how == "randomized":
        return f"CartPole length U[{condition.low:g}, {condition.high:g}]"
    return f"CartPole length {condition.low:g}"


def specs(scale: Scale) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for length in lengths(scale):
        entry: dict[str, Any] = {
            "id": ENV,
            "label": label(TrainingCondition("fixed", length, length)),
        }
        if length != DEFAULT:
            entry["params"] = {PARAMETER: length}
        entries.append(entry)
    randomized = TrainingCondition("randomized", *RANGE)
    entries.append({"id": ENV, "label": label(randomized), "randomize": {PARAMETER: list(RANGE)}})
    budget = 100_000 if scale.quick else 500_000
    data = spec(entries[0], [{"name": "ppo", "label": "PPO"}], scale.seeds, budget, checkpoints=4)
    return [
        {
            **data,
            "env": entries,
            "robustness": {
                "vary": {PARAMETER: QUICK_GRID if scale.quick else GRID},
                "episodes": 8 if scale.quick else 32,
            },
        }
    ]


def curves(
    results: StudyResults,
) -> list[tuple[UnitResults, TrainingCondition, np.ndarray, np.ndarray]]:
    """Each unit evaluated over the length: (unit, its training condition, the grid, each seed's
    mean return at each length (S, V)), default first, then fixed lengths, then randomized."""
    units = {u.key: u for u in results.units}
    out = []
    for row in results.robustness:
        unit = units.get(row["unit_key"])
        if unit is None or row["spec"].get("vary") != PARAMETER:
            continue
        condition = training_condition(
            PARAMETER, unit.params, unit.randomize, float(row["spec"]["training_value"])
        )
        values = np.asarray(row["spec"]["values"], dtype=float)
        out.append((unit, condition, values, np.asarray(row["returns"], float).mean(axis=2)))
    order = {"default": 0, "fixed": 1, "randomized": 2}
    return sorted(out, key=lambda c: (order[c[1].how], c[1].low, c[1].high))


def _estimate(e: Any) -> tuple[float, float, float]:
    return float(e.point), float(e.low), float(e.high)


def _iqm(values: np.ndarray) -> tuple[float, float, float]:
    e = stats.interval_estimates({"x": values[:, None]}, ("iqm",), REPS, CONFIDENCE, 0)
    return _estimate(e["x"]["iqm"])


def verdict(
    gap: tuple[float, float, float],
    versus: tuple[float, float, float],
    remaining: tuple[float, float, float],
) -> str:
    """What randomization does to the default policy's gap, from three CIs: the gap, the
    randomized policy minus the default one on the test range, and the default one's return at
    its own length minus the randomized one's on the test range (rlcheck/report/
    generalization.py's rule)."""
    if gap[1] <= 0:
        return NO_GAP
    if versus[1] <= 0:
        return DOES_NOT_NARROW
    return NARROWS if remaining[1] > 0 else CLOSES


def analyze(results: StudyResults) -> Finding:
    found = curves(results)
    series, rows = [], {}
    specialists: list[Point] = []
    for unit, condition, values, per_seed in found:
        usable = per_seed[np.isfinite(per_seed).all(axis=1)]
        if not len(usable):
            continue
        text = condition.describe(PARAMETER)
        train = condition.contains(values)
        row: dict[str, Any] = {"label": unit.env, "training": text, "n": len(usable)}
        if train.any() and not train.all():
            on_train, on_test = usable[:, train].mean(axis=1), usable[:, ~train].mean(axis=1)
            row["train_return"] = _iqm(on_train)
            row["test_return"] = _iqm(on_test)
            if len(usable) >= 2:
                row["gap"] = _estimate(
                    stats.paired_iqm_difference_interval(on_train, on_test, REPS, CONFIDENCE, 0)
                )
        rows[text] = row
        if condition.how != "randomized" and train.any():
            # Its return at its own length: a point of the "trained there" line.
            at = int(np.argmax(train))
            specialists.append(Point(float(values[at]), *_iqm(usable[:, at])))
        if condition.how == "fixed":
            continue
        points = [Point(float(v), *_iqm(usable[:, i])) for i, v in enumerate(values)]
        series.append(Series(f"trained at {text}", points))
    specialists.sort(key=lambda p: p.x)
    if len(specialists) > 1:
        series.append(Series("trained at each length, played there", specialists))
    numbers: dict[str, Any] = {
        "rows": rows,
        "trained_there": {f"{p.x:g}": (p.point, p.low, p.high) for p in specialists},
    }
    default = next((r for r in rows.values() if r["training"].endswith("(default)")), None)
    base = next(((c, v, p) for _, c, v, p in found if c.how == "default"), None)
    randomized = next(((c, p) for _, c, _, p in found if c.how == "randomized"), None)
    if default is not None and "gap" in default and base is not None and randomized is not None:
        compared = _randomization(default["gap"], *base, *randomized)
        if compared is not None:
            numbers["randomization"] = compared
    chart = Chart(
        kind="lines",
        title=f"{ENV}: IQM return against the pole half-length played at (95% CI)",
        value_label="IQM return over seeds",
        category_label="pole half-length played at",
        series=series,
        references=[(SOLVED, "solved (475)")],
    )
    return Finding(_sentence(numbers), chart, numbers)


def _randomization(
    gap: tuple[float, float, float],
    condition: TrainingCondition,
    values: np.ndarray,
    per_seed: np.ndarray,
    randomized: TrainingCondition,
    randomized_per_seed: np.ndarray,
) -> dict[str, Any] | None:
    """The randomized policy against the default one on the default one's test range (seeds
    resampled apart), and the default one's own-length return minus it; None with fewer than 2
    usable seeds."""
    own = per_seed[np.isfinite(per_seed).all(axis=1)]
    dr = randomized_per_seed[np.isfinite(randomized_per_seed).all(axis=1)]
    if len(own) < 2 or len(dr) < 2:
        return None
    test = ~condition.contains(values)
    dr_test = dr[:, test].mean(axis=1)
    versus = _estimate(
        stats.iqm_difference_interval(dr_test, own[:, test].mean(axis=1), REPS, CONFIDENCE, 0)
    )
    remaining = _estimate(
        stats.iqm_difference_interval(own[:, ~test].mean(axis=1), dr_test, REPS, CONFIDENCE, 0)
    )
    return {
        "randomized": randomized.describe(PARAMETER),
        "randomized_on_test_range": _iqm(dr_test),
        "versus_default_on_test_range": versus,
        "remaining_gap": remaining,
        "verdict": verdict(gap, versus, remaining),
    }


def _interval(x: tuple[float, float, float] | list[float]) -> str:
    return f"{fmt(x[0])} [95% CI {fmt(x[1])}, {fmt(x[2])}]"


def _sentence(numbers: dict[str, Any]) -> str:
    default = next(
        (r for r in numbers["rows"].values() if r["training"].endswith("(default)")), None
    )
    if default is None or "gap" not in default:
        return (
            f"No policy trained at the default pole length was played at other lengths, so no "
            f"gap was measured on {ENV}."
        )
    sentence = (
        f"On {ENV}, PPO trained at pole half-length {DEFAULT:g} returned "
        f"{_interval(default['train_return'])} there and {_interval(default['test_return'])} "
        f"at the other lengths of {RANGE[0]:g}–{RANGE[1]:g}, a generalization gap of "
        f"{_interval(default['gap'])}"
    )
    if default["gap"][1] <= 0:
        sentence += " (not shown above 0, unlike the texts' claim)"
    r = numbers.get("randomization")
    if r is None:
        return sentence + "."
    word = {
        CLOSES: "closes it",
        NARROWS: "narrows it but does not close it",
        DOES_NOT_NARROW: "does not narrow it here, though the texts offer it as the remedy",
        NO_GAP: "had no gap to close",
    }[r["verdict"]]
    return sentence + (
        f"; trained with the length drawn from U[{RANGE[0]:g}, {RANGE[1]:g}] it returned "
        f"{_interval(r['randomized_on_test_range'])} at those other lengths (randomized minus "
        f"default-trained: {_interval(r['versus_default_on_test_range'])}): randomization "
        f"{word}."
    )


STUDY = Study(
    name="overfitting-dynamics",
    title="Overfitting to the dynamics, and domain randomization (CartPole pole length)",
    claim=(
        "A deep RL policy learns the dynamics it was trained on: change them (a longer or "
        "shorter pole) and it fails, while a policy trained there succeeds; training over a "
        "range of dynamics (domain randomization) is the usual remedy (Irpan 2018; Vitay, "
        "'Limits of deep RL')."
    ),
    specs=specs,
    analyze=analyze,
    seeds=16,
    quick_seeds=4,
    quick_seconds=125,
    full_minutes=3,  # measured: BENCHMARKS.md, issue 19's full versions
    sources=(
        "A. Irpan, Deep Reinforcement Learning Doesn't Work Yet (2018), 'overfitting to weird "
        "patterns in the environment'",
        "J. Vitay, Limits of deep reinforcement learning (lecture notes)",
        "J. Tobin et al., Domain Randomization for Transferring Deep Neural Networks from "
        "Simulation to the Real World, IROS 2017",
    ),
)
