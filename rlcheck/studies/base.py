"""What a study is (specs to run, an analysis, one figure, one sentence) and its results as arrays.

A study turns one of the background texts' claims about deep RL into runs and a finding: the
specs it runs (ordinary rlcheck specs, so every unit is stored, resumable and reported like any
other), and a small analysis of the stored results that ends in **one sentence with a number
and its confidence interval** and the data of one figure. The report layer draws the figure
and the findings page (``rlcheck.report.findings``); nothing here draws.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rlcheck.experiment.store import Store

CONFIDENCE = 0.95
MEASUREMENTS = "measurements.json"


@dataclass(frozen=True)
class Scale:
    """Which version of a study runs: the quick one (CI, a curious newcomer: ≤ 2 minutes on two
    CPU cores) or the full one, and with how many seeds per method."""

    quick: bool
    seeds: int


@dataclass(frozen=True)
class Point:
    """One estimate on a chart: ``x`` is a category (a label) or a number; ``low``/``high``
    bound its confidence interval (None: no interval)."""

    x: str | float
    point: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]


@dataclass(frozen=True)
class Chart:
    """The data of a study's one figure.

    ``kind``: ``"intervals"`` draws each series' points as estimates with error bars, one row
    per category (``Point.x`` a label; ``categories`` orders the rows); ``"lines"`` draws each
    series as a line over numeric ``x`` with a band between ``low`` and ``high``.
    ``references``: (value, label) lines across the value axis (a published number, a
    threshold). ``log``: a logarithmic value axis.
    """

    kind: Literal["intervals", "lines"]
    title: str
    value_label: str
    series: list[Series]
    category_label: str = ""
    references: list[tuple[float, str]] = field(default_factory=list)
    log: bool = False
    # The rows of an "intervals" chart, top to bottom (default: as the series first name them).
    categories: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chart:
        series = [
            Series(s["name"], [Point(**p) for p in s["points"]]) for s in data.get("series", [])
        ]
        references = [(float(v), str(label)) for v, label in data.get("references", [])]
        return cls(**{**data, "series": series, "references": references})


@dataclass(frozen=True)
class Finding:
    """What a study found: one sentence with a number and its CI, the figure's data, and the
    numbers behind the sentence (JSON-ready)."""

    sentence: str
    chart: Chart
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Study:
    """One claim of the background texts, as runs and an analysis.

    Attributes:
        name: the name ``rlcheck study list`` shows and ``rlcheck study run`` takes.
        title: what is tested, in a few words.
        claim: the claim, in the texts' words or close to them, with its source.
        specs: the spec dicts to run (``rlcheck.experiment.spec.parse_spec``) at a scale.
        analyze: the stored results → the finding.
        seeds: seeds per method of the full version (the quick one's: ``quick_seeds``).
        quick_seconds: measured wall time of the quick version on two CPU cores.
        full_minutes: expected wall time of the full version on two CPU cores.
        sources: the texts and papers the claim and the published numbers come from.
        measure: what the specs cannot express (the diagnostics of an agent's whole state at
            checkpoints of training), run after the units: (scale, the study's directory) →
            JSON-ready numbers, which ``rlcheck study run`` keeps in ``measurements.json``
            there and ``analyze`` finds as ``StudyResults.measurements``; None: none.
    """

    name: str
    title: str
    claim: str
    specs: Callable[[Scale], list[dict[str, Any]]]
    analyze: Callable[[StudyResults], Finding]
    seeds: int
    quick_seeds: int
    quick_seconds: float
    full_minutes: float
    sources: tuple[str, ...] = ()
    measure: Callable[[Scale, Path], dict[str, Any]] | None = None

    def scale(self, quick: bool, seeds: int | None = None) -> Scale:
        default = self.quick_seeds if quick else self.seeds
        return Scale(quick, seeds or default)

    def expected(self, quick: bool) -> str:
        """The expected wall time of a version, for the user before it starts."""
        if quick:
            return f"about {self.quick_seconds:.0f} s on two CPU cores"
        hours, minutes = divmod(round(self.full_minutes), 60)
        wall = f"{hours} h {minutes} min" if hours else f"{minutes} min"
        return f"about {wall} on two CPU cores"


# ---- the stored results, as arrays ----------------------------------------------------------


@dataclass
class UnitResults:
    """One stored unit (one method on one env) of a study, one row per seed."""

    env: str  # the env entry's label (its id unless labelled)
    env_id: str
    kwargs: dict[str, Any]
    algo: str
    label: str
    budget: int
    seeds: np.ndarray
    usable: np.ndarray  # did not diverge and has a finite final return
    finals: np.ndarray  # (S,) mean final return per seed (NaN where diverged)
    final_episodes: np.ndarray | None  # (S, N)
    performance: np.ndarray | None  # (S,) mean final hidden performance per seed
    checkpoint_env_steps: np.ndarray | None  # (C,)
    eval_episodes: np.ndarray | None  # (S, C, K) every checkpoint evaluation episode
    env_steps_per_seed: np.ndarray  # (S,) env steps each seed trained on
    simulator_calls_per_seed: np.ndarray | None  # (S,) planners only
    wall_s: float
    compile_s: float | None
    solve_threshold: float | None
    key: str = ""
    # The internals the learner logged after every update (the trust-region monitor's among
    # them): (S, U, M) values, named by ``metric_names``, at ``update_env_steps`` (U,).
    internals: np.ndarray | None = None
    metric_names: tuple[str, ...] = ()
    update_env_steps: np.ndarray | None = None
    # The env parameters it trained at (its env entry's ``params``) and those it trained with
    # drawn per episode (``randomize``: name → [low, high]).
    params: dict[str, Any] = field(default_factory=dict)
    randomize: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def curves(self) -> np.ndarray | None:
        """(S, C) mean evaluation return per checkpoint."""
        return None if self.eval_episodes is None else self.eval_episodes.mean(axis=2)


@dataclass
class StudyResults:
    """Every unit stored in a study's results directory."""

    directory: Path
    units: list[UnitResults]
    # The sweeps stored there (``Store.sweeps``: id, definition, and units with their role).
    sweeps: list[dict[str, Any]] = field(default_factory=list)
    # What the study's ``measure`` wrote there (``measurements.json``; empty: nothing).
    measurements: dict[str, Any] = field(default_factory=dict)
    # The robustness evaluations stored there (``Store.robustness``: request, unit_key, spec
    # with ``vary``, ``values`` and ``training_value``, seeds, returns (seeds, values, episodes)).
    robustness: list[dict[str, Any]] = field(default_factory=list)

    def get(self, algo: str, env_id: str | None = None, **kwargs: Any) -> UnitResults | None:
        """The unit of ``algo`` (a label or an algorithm name) on ``env_id`` (its bare id will
        do) whose env kwargs include ``kwargs``; None when there is none."""
        for u in self.units:
            if algo not in (u.label, u.algo):
                continue
            if env_id is not None and env_id not in (u.env_id, u.env, u.env_id.split(":")[-1]):
                continue
            if all(u.kwargs.get(k) == v for k, v in kwargs.items()):
                return u
        return None

    @property
    def wall_s(self) -> float:
        return sum(u.wall_s for u in self.units)

    @property
    def env_steps(self) -> int:
        return int(sum(u.env_steps_per_seed.sum() for u in self.units))

    @property
    def simulator_calls(self) -> int:
        return int(
            sum(
                u.simulator_calls_per_seed.sum()
                for u in self.units
                if u.simulator_calls_per_seed is not None
            )
        )


def load_results(directory: str | Path) -> StudyResults:
    """The done units of the results store in ``directory``, as arrays."""
    store = Store(directory, create=False)
    try:
        units = [_load(store, row) for row in store.units() if row["status"] == "done"]
        sweeps = store.sweeps()
        robustness = store.robustness()
    finally:
        store.close()
    path = Path(directory) / MEASUREMENTS
    measurements = json.loads(path.read_text()) if path.exists() else {}
    return StudyResults(Path(directory), units, sweeps, measurements, robustness)


def _load(store: Store, row: dict[str, Any]) -> UnitResults:
    key, meta = row["key"], row["meta"] or {}
    seed_rows = store.seed_rows(key)
    seeds = np.array([s for s, *_ in seed_rows], dtype=int)
    finals = np.array([np.nan if f is None else f for _, _, f, _ in seed_rows], dtype=float)
    diverged = np.array([status != "ok" for _, status, _, _ in seed_rows], dtype=bool)
    performance: dict[int, float] = {}
    for _, s, _, metric, value in store.scalars(key):
        if metric == "final_performance":
            performance[s] = np.nan if value is None else value
    episodes = [_array(store, key, int(s), "final_episode_returns") for s in seeds]
    evals = [_array(store, key, int(s), "eval_episode_returns") for s in seeds]
    steps = _array(store, key, -1, "checkpoint_env_steps")
    per_seed_steps = meta.get("env_steps_per_seed") or [row["env_steps"] or 0] * len(seeds)
    calls = meta.get("simulator_calls_per_seed")
    spec = meta.get("env_spec") or {}
    names = tuple(meta.get("metric_names") or ())
    internals = [_array(store, key, int(s), "internals") for s in seeds] if names else []
    return UnitResults(
        env=row["env_label"],
        env_id=spec.get("id") or row["env"],
        kwargs=_env_kwargs(store, row),
        algo=row["algo"],
        label=row["algo_label"],
        budget=row["budget"],
        seeds=seeds,
        usable=~diverged & np.isfinite(finals),
        finals=np.where(diverged, np.nan, finals),
        final_episodes=_stack(episodes),
        performance=(
            np.array([performance.get(int(s), np.nan) for s in seeds]) if performance else None
        ),
        checkpoint_env_steps=steps if steps is not None and steps.size else None,
        eval_episodes=_stack(evals) if steps is not None and steps.size else None,
        env_steps_per_seed=np.asarray(per_seed_steps, dtype=np.int64),
        simulator_calls_per_seed=None if calls is None else np.asarray(calls, dtype=np.int64),
        wall_s=float(row["wall_s"] or 0.0),
        compile_s=row["compile_s"],
        solve_threshold=spec.get("solve_threshold"),
        key=key,
        internals=_stack(internals) if names else None,
        metric_names=names,
        update_env_steps=_array(store, key, -1, "update_env_steps") if names else None,
        params=dict(meta.get("env_params") or {}),
        randomize=dict(meta.get("env_randomize") or {}),
    )


def _env_kwargs(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    """The env entry's kwargs, read from the spec of the run that stored the unit."""
    for run in store.runs():
        specs = [run["spec"], *(run["spec"].get("specs") or [])]
        for spec in specs:
            for env in spec.get("env") or []:
                if (env.get("label") or env.get("id")) == row["env_label"]:
                    return dict(env.get("kwargs") or {})
    return {}


def _array(store: Store, key: str, seed: int, name: str) -> np.ndarray | None:
    try:
        return np.asarray(store.array(key, seed, name))
    except KeyError:
        return None


def _stack(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    if not arrays or any(a is None for a in arrays):
        return None
    if len({a.shape for a in arrays}) != 1:
        return None
    return np.stack(arrays).astype(float)


# ---- small helpers for analyses --------------------------------------------------------------


def fmt(value: float | None) -> str:
    """A number for a sentence, as the report writes them: three significant digits,
    thousands separated ("498", "-85.2", "12,345"); "n/a" when missing or not finite."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def algo_name(algo: str) -> str:
    """An algorithm's name for a sentence: "PPO", "CMA-ES", "TD3"."""
    return algo.upper().replace("_", "-")


def fmt_pct(rate: float) -> str:
    """A proportion as a whole percentage: "30%"."""
    return f"{100 * rate:.0f}%"


def fmt_steps(value: float | None) -> str:
    """Env steps or simulator calls in thousands or millions: "41.2k", "1.5M"."""
    if value is None or not math.isfinite(value):
        return "n/a"
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


def spec(
    env: str | dict[str, Any],
    algos: list[dict[str, Any]],
    seeds: int,
    budget: int,
    checkpoints: int = 10,
    episodes: int = 8,
    final_episodes: int = 32,
) -> dict[str, Any]:
    """One spec dict: ``algos`` on one env entry (an id, or an entry with kwargs/label)."""
    entry = {"id": env} if isinstance(env, str) else dict(env)
    return {
        "seeds": seeds,
        "budget": budget,
        "eval": {
            "checkpoints": checkpoints,
            "episodes": episodes,
            "final_episodes": final_episodes,
        },
        "env": [entry],
        "algo": algos,
    }


def mean_interval(
    values: np.ndarray, reps: int = 20_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` with its percentile-bootstrap CI (resampling the values)."""
    from rlcheck import stats

    values = np.asarray(values, dtype=float)
    estimate = stats.interval_estimates({"x": values[:, None]}, ("mean",), reps, CONFIDENCE, seed)
    e = estimate["x"]["mean"]
    return float(e.point), float(e.low), float(e.high)


def median_interval(
    values: np.ndarray, reps: int = 20_000, seed: int = 0
) -> tuple[float, float, float]:
    """Median of ``values`` with a percentile-bootstrap CI over the values; ``inf`` is allowed
    (a seed that never got there counts as later than every seed that did)."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, len(values), (reps, len(values)))], axis=1)
    alpha = (1 - CONFIDENCE) / 2
    low = np.quantile(medians, alpha, method="lower")
    high = np.quantile(medians, 1 - alpha, method="higher")
    return float(np.median(values)), float(low), float(high)
