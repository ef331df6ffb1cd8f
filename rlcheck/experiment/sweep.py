"""Hyperparameter sweeps: configurations of one algorithm on one env, chosen by grid, random
search or Optuna's TPE, each trained on the tuning seeds; then the best one and the default
one on fresh seeds, disjoint from the tuning seeds (tuning is not evaluation).

Configurations that differ only in traced values (traced Config fields, env parameters, the
reward scale) are one vmapped program, configurations × seeds (``UnitGroup``); a static field
that varies makes one program per value. Every configuration is its own unit, with its own key,
so a sweep killed half-way resumes without retraining what it stored, and ``report``, ``ls``
and ``export`` see each one as a unit. The store records which units a sweep trained and in
what role (``Store.write_sweep_units``), which the report's sensitivity section reads.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import types
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rlcheck import stats
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError
from rlcheck.experiment.execute import UnitOutcome, UnitRunner
from rlcheck.experiment.plan import (
    UnitGroup,
    UnitPlan,
    check_distinct_keys,
    env_with_params,
    plan_unit,
    resolve_entries,
    resolve_env,
    validate_overrides,
)
from rlcheck.experiment.ranges import Range, parse_range
from rlcheck.experiment.spec import AlgoEntry, EnvEntry, Spec, SweepSpec
from rlcheck.experiment.store import Store
from rlcheck.glossary import rename_hint
from rlcheck.registry import ALGORITHMS

ENV_PREFIX = "env."
REWARD_SCALE = "env.reward_scale"
# Fresh seeds start here (or just above the largest tuning seed), so they never meet them.
FRESH_SEED_OFFSET = 10_000
OBJECTIVE = (
    "IQM of the tuning seeds' final returns (a diverged seed counts as −∞, so a configuration "
    "with more than a quarter of its seeds diverged scores −∞)"
)
Kind = Literal["traced", "static", "env", "reward_scale"]


@dataclass(frozen=True)
class Parameter:
    """One swept name and its values.

    Attributes:
        name: a Config field, ``env.<parameter>`` or ``env.reward_scale``.
        kind: traced (a Config field one program varies), static (a Config field that changes
            the program: one program per value), env (an env parameter), reward_scale.
        values: the grid (every value, in order).
        scale: how the values were written: a range (linear or log) or a list.
        low, high: a range's bounds, which random search and TPE draw from.
        integer: the field takes whole numbers.
        default: the value of the default configuration (None where it has none).
    """

    name: str
    kind: Kind
    values: tuple[Any, ...]
    scale: Literal["linear", "log", "list"]
    low: float | None = None
    high: float | None = None
    integer: bool = False
    default: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "values": [list(v) if isinstance(v, tuple) else v for v in self.values],
            "scale": self.scale,
            "low": self.low,
            "high": self.high,
            "integer": self.integer,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
        }


@dataclass(frozen=True)
class Sweep:
    """One algo entry swept on one env entry."""

    id: str
    spec: Spec
    settings: SweepSpec
    source: str
    env: EnvEntry
    env_spec: EnvSpec
    algo: AlgoEntry
    overrides: dict[str, Any]  # the entry's own config (preset and [algo.config]), validated
    parameters: tuple[Parameter, ...]
    tuning_seeds: tuple[int, ...]
    fresh_seeds: tuple[int, ...]
    where: str  # how errors name the algo entry

    @property
    def name(self) -> str:
        return f"{self.algo.display} on {self.env.name}"

    def definition(self) -> dict[str, Any]:
        """What the store keeps of the sweep (JSON), for the report."""
        return {
            "name": self.name,
            "env": self.env.name,
            "env_id": self.env.id,
            "algo": self.algo.name,
            "algo_label": self.algo.display,
            "method": self.settings.method,
            "trials": self.settings.trials,
            "batch": self.settings.batch,
            "sampler_seed": self.settings.sampler_seed,
            "parameters": [p.as_dict() for p in self.parameters],
            "tuning_seeds": list(self.tuning_seeds),
            "fresh_seeds": list(self.fresh_seeds),
            "budget": self.spec.budget,
            "objective": OBJECTIVE,
        }

    def unit(self, values: dict[str, Any], role: str, seeds: tuple[int, ...]) -> UnitPlan:
        """The unit of one configuration (``values``: {parameter name: value}) on ``seeds``,
        labelled by its role ("tuning" or "chosen")."""
        fields = {p.name: values[p.name] for p in self.parameters if p.kind in ("traced", "static")}
        env_params = {
            p.name.removeprefix(ENV_PREFIX): float(values[p.name])
            for p in self.parameters
            if p.kind == "env"
        }
        env = self.env
        if env_params or REWARD_SCALE in values:
            env = env.model_copy(
                update={
                    "params": {**env.params, **env_params},
                    "reward_scale": float(values.get(REWARD_SCALE, env.reward_scale)),
                }
            )
        text = describe(values)
        label = (
            f"{self.algo.display} [{text}]"
            if role == "tuning"
            else (f"{self.algo.display} chosen [{text}]")
        )
        algo = self.algo.model_copy(update={"label": label})
        overrides = validate_overrides(
            self.algo.name, {**self.overrides, **fields}, f"{self.where}.config"
        )
        env_spec = self.env_spec
        if env_params:
            env_spec = dataclasses.replace(
                resolve_env(env, self.where), solve_threshold=self.env_spec.solve_threshold
            )
        return plan_unit(env, env_spec, algo, overrides, self.spec, self.where, seeds)

    def default_unit(self, seeds: tuple[int, ...]) -> UnitPlan:
        """The entry's own configuration (nothing swept) on ``seeds``: the same unit a plain
        run of the spec's entry on those seeds would be."""
        algo = self.algo.model_copy(update={"label": f"{self.algo.display} default"})
        return plan_unit(
            self.env, self.env_spec, algo, self.overrides, self.spec, self.where, seeds
        )

    def default_values(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}


def describe(values: dict[str, Any]) -> str:
    """A configuration in a few characters per value: ``learning_rate=0.001, env.length=0.5``."""
    return ", ".join(f"{name}={_short(v)}" for name, v in values.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_short(v) for v in value) + ")"
    return str(value)


# ---- planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """Everything a spec with a [sweep] table runs: its plain units (the algo entries not
    swept, e.g. the random baseline) and its sweeps."""

    units: list[UnitPlan]
    sweeps: list[Sweep]


def plan_sweeps(spec: Spec, source: str, cli: bool = False) -> SweepPlan:
    """Check a spec's [sweep] table against its envs and algos and plan the sweeps; every
    problem is a one-line UserError naming the field (``cli``: the ``--option`` that gave it).
    """
    settings = spec.sweep
    if settings is None:
        raise UserError(f"{source}: no [sweep] table; add one, or run the spec with rlcheck run")

    def option(field: str, flag: str) -> str:
        return flag if cli else f"{source}: sweep.{field}"

    if settings.method in ("random", "tpe") and settings.trials is None:
        raise UserError(
            f"{option('trials', '--trials')}: required with method '{settings.method}' "
            "(how many configurations to try)"
        )
    if settings.method == "grid" and settings.trials is not None:
        raise UserError(
            f"{option('trials', '--trials')}: grid tries every combination; trials applies "
            "to methods random and tpe"
        )
    vary = _flatten(settings.vary)
    entries = resolve_entries(spec, source)
    swept_labels = settings.algos
    if swept_labels is not None:
        labels = [a.display for a in spec.algo]
        for label in swept_labels:
            if label not in labels:
                raise UserError(
                    f"{option('algos', '--algo')}: no algo entry '{label}' (entries: "
                    f"{', '.join(labels)})"
                )
    tuning = tuple(spec.seed_list)
    fresh = fresh_seeds(tuning, settings.fresh_seeds)
    units, sweeps = [], []
    for env_entry, env_spec, j, algo, overrides in entries:
        where = f"{source}: algo[{j}]"
        kind = ALGORITHMS[algo.name].kind
        swept = algo.display in swept_labels if swept_labels is not None else kind == "rl"
        if not swept:
            units.append(plan_unit(env_entry, env_spec, algo, overrides, spec, where))
            continue
        if kind in ("search", "planner") and (
            REWARD_SCALE in vary or env_entry.reward_scale != 1.0
        ):
            raise UserError(f"{where}.name: {algo.name} is a baseline and takes no reward scale")
        parameters = tuple(
            _parameter(
                name, raw, algo.name, env_entry, overrides, spec, env_spec, where, cli, source
            )
            for name, raw in vary.items()
        )
        definition = {
            "env": env_entry.model_dump(),
            "algo": algo.model_dump(),
            "sweep": settings.model_dump(),
            "vary": {p.name: p.as_dict() for p in parameters},
            "seeds": list(tuning),
            "budget": spec.budget,
            "eval": spec.eval.model_dump(),
        }
        sweep_id = hashlib.sha256(
            json.dumps(definition, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        sweeps.append(
            Sweep(
                sweep_id,
                spec,
                settings,
                source,
                env_entry,
                env_spec,
                algo,
                overrides,
                parameters,
                tuning,
                fresh,
                where,
            )
        )
    if not sweeps:
        raise UserError(
            f"{option('algos', '--algo')}: no algo entry to sweep (by default every RL "
            "algorithm entry is swept; baselines and random run once)"
        )
    check_distinct_keys(units, source)
    for sweep in sweeps:
        if sweep.settings.method == "grid":
            # Every configuration planned now: a bad value stops the sweep before it trains.
            for values in grid(sweep.parameters):
                sweep.unit(values, "tuning", sweep.tuning_seeds)
        sweep.default_unit(sweep.fresh_seeds or sweep.tuning_seeds)
    return SweepPlan(units, sweeps)


def fresh_seeds(tuning: Sequence[int], count: int) -> tuple[int, ...]:
    """``count`` seeds disjoint from the tuning seeds: 10000 onwards, or from just above the
    largest tuning seed when the tuning seeds reach 10000."""
    start = FRESH_SEED_OFFSET if max(tuning) < FRESH_SEED_OFFSET else max(tuning) + 1
    return tuple(range(start, start + count))


def _flatten(vary: dict[str, Any]) -> dict[str, Any]:
    """``env = {length = …}`` (a TOML dotted key) as ``env.length``."""
    out = {}
    for name, value in vary.items():
        if name == "env" and isinstance(value, dict):
            out.update({f"{ENV_PREFIX}{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def _parameter(
    name: str,
    raw: Any,
    algo: str,
    env: EnvEntry,
    overrides: dict[str, Any],
    spec: Spec,
    env_spec: EnvSpec,
    where: str,
    cli: bool,
    source: str,
) -> Parameter:
    """One [sweep.vary] entry (or ``--vary``) checked against the algorithm and the env."""
    at = f"--vary {name}" if cli else f"{source}: sweep.vary.{name}"
    if name == REWARD_SCALE:
        values, scale, low, high = _numbers(raw, at)
        if any(v <= 0 for v in values) or (low is not None and min(low, high) <= 0):
            raise UserError(f"{at}: reward scales must be above 0")
        return Parameter(name, "reward_scale", values, scale, low, high, default=env.reward_scale)
    if name.startswith(ENV_PREFIX):
        field = name.removeprefix(ENV_PREFIX)
        values, scale, low, high = _numbers(raw, at)
        from rlcheck import envs

        made = envs.make(env.id, **env.kwargs)
        env_with_params(made, {**env.params, field: values[0]}, at)  # the name exists
        default = float(np.asarray(getattr(env_with_params(made, env.params, at).params, field)))
        return Parameter(name, "env", values, scale, low, high, default=default)
    config_cls = ALGORITHMS[algo].config_cls
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if name not in fields:
        hint = rename_hint(algo, name, None)
        if hint is None:
            close = difflib.get_close_matches(name, [*fields, REWARD_SCALE], n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
        tail = f"; {hint}" if hint else ""
        raise UserError(
            f"{at}: {algo} has no such config field{tail} (env parameters: env.<name>; the "
            "reward scale: env.reward_scale)"
        )
    traced = bool(fields[name].metadata["traced"])
    hint = typing.get_type_hints(config_cls)[name]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = [t for t in typing.get_args(hint) if t is not type(None)] if union else [hint]
    optional = union and type(None) in typing.get_args(hint)
    kind: Kind = "traced" if traced else "static"
    default = _default(algo, overrides, spec, env_spec, name, where)
    if isinstance(raw, str) and base[0] in (int, float) and ":" not in raw:
        items = [item.strip().lower() for item in raw.split(",")]
        if optional and "none" in items:
            raise UserError(
                f"{at}: None switches {name} off, which changes the compiled program; a sweep "
                f"varies a traced field's value inside one program, so give numbers only"
            )
    if base[0] is bool or typing.get_origin(base[0]) is Literal or base[0] is str:
        values = _words(raw, at, base[0] is bool)
        return Parameter(name, kind, values, "list", default=default)
    if base[0] in (int, float):
        values, scale, low, high = _numbers(raw, at)
        integer = base[0] is int
        if integer:
            values = _whole(values, raw, at, name)
        return Parameter(name, kind, values, scale, low, high, integer, default)
    if not isinstance(raw, list):
        raise UserError(f"{at}: {name} takes {hint}; give its values as a TOML list")
    return Parameter(name, kind, tuple(_tuple(v) for v in raw), "list", default=default)


def _default(
    algo: str, overrides: dict[str, Any], spec: Spec, env_spec: EnvSpec, name: str, where: str
) -> Any:
    from rlcheck.registry import make_agent

    try:
        config = make_agent(algo, env_spec, overrides, spec.budget).config
    except (ValueError, UserError) as e:
        raise UserError(f"{where}: {e}") from None
    return getattr(config, name)


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _numbers(
    raw: Any, at: str
) -> tuple[tuple[float, ...], Literal["linear", "log", "list"], float | None, float | None]:
    """Numbers as text (a range or a list), a TOML list, or one number."""
    if isinstance(raw, str):
        parsed: Range = parse_range(raw, at)
        return parsed.values, parsed.scale, parsed.low, parsed.high
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise UserError(f"{at}: no values")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise UserError(f"{at}: {item!r} is not a number")
    return tuple(float(v) for v in items), "list", None, None


def _whole(values: tuple[float, ...], raw: Any, at: str, name: str) -> tuple[int, ...]:
    out = []
    for v in values:
        if abs(v - round(v)) > 1e-9 * max(1.0, abs(v)):
            raise UserError(
                f"{at}: {name} takes whole numbers, and {raw} gives {v:g}; choose a range "
                "whose values are whole, or a list"
            )
        out.append(round(v))
    return tuple(out)


def _words(raw: Any, at: str, boolean: bool) -> tuple[Any, ...]:
    items = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else raw
    items = items if isinstance(items, list) else [items]
    if not boolean:
        return tuple(items)
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append(item)
        elif str(item).lower() in ("true", "false"):
            out.append(str(item).lower() == "true")
        else:
            raise UserError(f"{at}: '{item}' is not true or false")
    return tuple(out)


# ---- configurations -----------------------------------------------------------------------


def grid(parameters: Sequence[Parameter]) -> list[dict[str, Any]]:
    """Every combination of the parameters' values, the first parameter varying slowest."""
    combos: list[dict[str, Any]] = [{}]
    for p in parameters:
        combos = [{**c, p.name: v} for c in combos for v in p.values]
    return combos


def suggest(trial: Any, sweep: Sweep) -> dict[str, Any]:
    """A configuration drawn by an Optuna trial: a range's bounds uniformly, log-uniformly for
    a log range, whole numbers for an integer field; one of a list's items (the N of a range
    only matters to a grid)."""
    values: dict[str, Any] = {}
    for p in sweep.parameters:
        if p.scale == "list" or p.low is None or p.high is None:
            index = trial.suggest_categorical(p.name, list(range(len(p.values))))
            values[p.name] = p.values[index]
            continue
        low, high = sorted((p.low, p.high))
        log = p.scale == "log"
        if p.integer:
            values[p.name] = trial.suggest_int(p.name, math.ceil(low), math.floor(high), log=log)
        else:
            values[p.name] = trial.suggest_float(p.name, low, high, log=log)
    return values


def make_study(sweep: Sweep) -> Any:
    """An Optuna study that proposes the sweep's configurations (maximizing the objective):
    RandomSampler for random search, TPESampler for tpe, seeded with ``sampler_seed``.
    TPE proposes a batch of configurations before it is told their scores, so it runs with
    ``constant_liar``: configurations still running count as bad, which spreads a batch out."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = sweep.settings.sampler_seed
    if sweep.settings.method == "random":
        sampler: Any = optuna.samplers.RandomSampler(seed=seed)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return optuna.create_study(direction="maximize", sampler=sampler)


def ask(study: Any, sweep: Sweep) -> tuple[Any, dict[str, Any]]:
    """One trial of the study and its configuration."""
    trial = study.ask()
    return trial, suggest(trial, sweep)


def groups(units: Sequence[UnitPlan]) -> list[UnitPlan | UnitGroup]:
    """Units in programs: those that only differ in traced values (same algorithm, static
    fields, traced fields set, env, seeds, budget and evaluation) on the fused driver form one
    group; the rest (host envs, baselines, a configuration alone) run as single units."""
    keyed: dict[str, list[UnitPlan]] = {}
    alone: list[UnitPlan] = []
    for unit in units:
        key = program_key(unit)
        if key is None:
            alone.append(unit)
        else:
            keyed.setdefault(key, []).append(unit)
    out: list[UnitPlan | UnitGroup] = [
        UnitGroup(tuple(members)) if len(members) > 1 else members[0] for members in keyed.values()
    ]
    return out + alone


def program_key(unit: UnitPlan) -> str | None:
    """What decides a unit's compiled program up to traced inputs; None for units that run on
    their own (host envs, where configurations run one unit at a time, and baselines)."""
    info = ALGORITHMS[unit.algo.name]
    if unit.env_spec.kind != "jax" or info.kind not in ("rl", "random"):
        return None
    static = {}
    traced = []
    for f in dataclasses.fields(info.config_cls):
        if not f.metadata["traced"]:
            static[f.name] = unit.config[f.name]
        elif unit.config[f.name] is not None:
            # A None traced field is left out of the program (rlcheck.core.traced_values).
            traced.append(f.name)
    identity = [
        unit.algo.name,
        static,
        traced,
        unit.env.id,
        unit.env.kwargs,
        # Domain randomization's ranges are constants of the program (rlcheck/envs/randomize.py).
        unit.env.randomize,
        unit.env_spec.time_limit,
        list(unit.seeds),
        unit.budget,
        unit.eval.model_dump(),
    ]
    return json.dumps(identity, sort_keys=True, default=str)


# ---- running --------------------------------------------------------------------------------


def tuning_score(store: Store, unit_key: str) -> float | None:
    """The objective of a stored unit (see :data:`OBJECTIVE`); None when it is not stored as
    done (failed)."""
    if unit_key not in store.done_keys():
        return None
    rows = store.seed_rows(unit_key)
    scores = np.array(
        [
            f if status == "ok" and f is not None and math.isfinite(f) else -np.inf
            for _, status, f, _ in rows
        ]
    )
    if not len(scores):
        return None
    return stats.iqm(scores[:, None])


def run_sweep(
    sweep: Sweep, store: Store, executor: UnitRunner, announce: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Tune (grid, random or TPE, batch by batch), then run the chosen and the default
    configuration on the fresh seeds; stores every unit and the sweep's membership rows.

    ``announce(n)`` is told of n more units before they run (for a progress bar).

    Returns:
        {"tuning": the tuning units' outcomes, "fresh": the fresh-seed units' outcomes,
        "chosen": the chosen configuration's values or None (every configuration failed),
        "programs": how many programs (groups or single units) the tuning ran, "rejected":
        drawn configurations the algorithm rejected, with the reason}.
    """
    store.write_sweep(sweep.id, sweep.definition())
    outcomes: list[UnitOutcome] = []
    fresh_outcomes: list[UnitOutcome] = []
    rejected: list[dict[str, Any]] = []
    scored: list[tuple[dict[str, Any], float | None]] = []
    programs = 0
    batch = sweep.settings.batch
    method = sweep.settings.method

    def tune(batch_values: list[dict[str, Any]], first_trial: int) -> list[float | None]:
        nonlocal programs
        planned_units: dict[int, UnitPlan] = {}
        for i, values in enumerate(batch_values):
            try:
                planned_units[i] = sweep.unit(values, "tuning", sweep.tuning_seeds)
            except UserError as e:
                # A drawn configuration the algorithm rejects (a grid's were checked before
                # training): it scores nothing, the sweep goes on.
                rejected.append({"values": values, "reason": str(e)})
        units = list(planned_units.values())
        store.write_sweep_units(
            sweep.id,
            [(u.key, "tuning", first_trial + i, batch_values[i]) for i, u in planned_units.items()],
        )
        planned = groups(units)
        programs += len(planned)
        if announce is not None:
            announce(len(units))
        outcomes.extend(executor.run(planned))
        return [
            tuning_score(store, planned_units[i].key) if i in planned_units else None
            for i in range(len(batch_values))
        ]

    if method == "grid":
        every = grid(sweep.parameters)
        for start in range(0, len(every), batch):
            chunk = every[start : start + batch]
            scored += zip(chunk, tune(chunk, start), strict=True)
    else:
        import optuna

        study = make_study(sweep)
        trials = sweep.settings.trials or 0
        # Random search draws every configuration up front; TPE learns between batches.
        for start in range(0, trials, batch):
            asked = [ask(study, sweep) for _ in range(min(batch, trials - start))]
            scores = tune([v for _, v in asked], start)
            for (trial, values), score in zip(asked, scores, strict=True):
                if score is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, score)
                scored.append((values, score))
    valid = [(v, s) for v, s in scored if s is not None]
    chosen = max(valid, key=lambda pair: pair[1])[0] if valid else None
    if sweep.fresh_seeds:
        fresh = [sweep.default_unit(sweep.fresh_seeds)]
        members = [(fresh[0].key, "default", -1, sweep.default_values())]
        if chosen is not None:
            fresh.insert(0, sweep.unit(chosen, "chosen", sweep.fresh_seeds))
            members.insert(0, (fresh[0].key, "chosen", -1, chosen))
        store.write_sweep_units(sweep.id, members)
        unique = list({u.key: u for u in fresh}.values())
        if announce is not None:
            announce(len(unique))
        fresh_outcomes = executor.run(groups(unique))
    return {
        "tuning": outcomes,
        "fresh": fresh_outcomes,
        "chosen": chosen,
        "programs": programs,
        "rejected": rejected,
    }
