"""Turn a validated spec into units: one per (env, algo entry), each holding every seed."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from rlcheck import envs
from rlcheck.drivers.common import EvalPlan, Schedule, make_schedule
from rlcheck.envs.randomize import randomized
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError
from rlcheck.experiment.spec import AlgoEntry, EnvEntry, EvalSpec, Spec, validation_message
from rlcheck.glossary import rename_hint
from rlcheck.registry import ALGORITHMS, action_space_kind, config_dict, make_agent, resolve_preset

# Bump when what a unit stores changes meaning, so old results are not reused as new ones.
RESULTS_FORMAT = 1


@dataclass(frozen=True)
class UnitPlan:
    """One unit of work: one algorithm with one config on one env, for a batch of seeds."""

    key: str
    env: EnvEntry
    algo: AlgoEntry
    overrides: dict[str, Any]  # the entry's config, validated (what the agent is built from)
    config: dict[str, Any]  # the whole resolved Config, for the record
    seeds: tuple[int, ...]
    budget: int
    eval: EvalSpec
    env_spec: EnvSpec
    # What the parent needs of the agent, read off the one it built while planning (workers
    # build their own: an agent does not cross processes).
    steps_per_update: int  # env steps per seed between two updates (num_envs × rollout)
    metric_names: tuple[str, ...]  # the internals it logs per update
    # Packages that register the env's Gymnasium id when imported (the spec's `import`); a
    # worker imports them before it makes the env.
    env_packages: tuple[str, ...] = ()

    @property
    def eval_plan(self) -> EvalPlan:
        return EvalPlan(**self.eval.model_dump())

    @property
    def schedule(self) -> Schedule:
        """How the budget splits into updates and checkpoint evaluations."""
        return make_schedule(
            self.budget, self.steps_per_update, self.eval.checkpoints, self.algo.display
        )

    @property
    def checkpoints(self) -> int:
        """Checkpoint evaluations of each seed (fewer than requested where some were merged)."""
        return len(self.schedule.grid)

    @property
    def note(self) -> str | None:
        """One line for the user when requested checkpoints were merged because they were closer
        than one update (see ``rlcheck.drivers.common.Schedule``), else None."""
        schedule = self.schedule
        kind = ALGORITHMS[self.algo.name].kind
        # Planners learn nothing and are evaluated once: they have no checkpoints to merge.
        if not schedule.merged or kind == "planner":
            return None
        steps = f"at {self.steps_per_update:,} env steps per update"
        if kind == "search":
            # Policy search learns in whole generations, of at least this many env steps.
            steps = f"with generations of at least {self.steps_per_update:,} env steps"
        return (
            f"{self.algo.display} on {self.env.name}: {schedule.requested} checkpoints "
            f"requested, {len(schedule.grid)} fit in {self.budget:,} env steps {steps}"
        )


@dataclass(frozen=True)
class UnitGroup:
    """Units trained together as one vmapped program (``rlcheck.experiment.train.train_rows``):
    the same algorithm, static Config fields, env, seeds, budget and evaluation; they differ
    only in traced values (hyperparameters, env params, reward scale). Each is still its own
    unit, with its own key, stored on its own."""

    units: tuple[UnitPlan, ...]

    @property
    def rows(self) -> list[tuple[int, int]]:
        """(unit index, seed) of every run in the program, unit by unit."""
        return [(i, seed) for i, unit in enumerate(self.units) for seed in unit.seeds]


# Config fields added after results were first stored, with their defaults: at the default a
# field stays out of the unit key, so that older specs keep their keys (and resume).
ADDED_CONFIG_FIELDS = {"trust_region_monitor": False}


def unit_key(
    env: EnvEntry, algo: str, config: dict, seeds: tuple[int, ...], budget: int, eval_spec: EvalSpec
) -> str:
    """Content hash of everything that determines a unit's numbers (labels excluded).

    Env params, the reward scale and domain randomization enter only when they differ from the
    env's own (params given, a scale other than 1, ranges given), so units planned before they
    existed keep their keys.
    """
    identity = {
        "format": RESULTS_FORMAT,
        "env": env.id,
        "env_kwargs": env.kwargs,
        "algo": algo,
        "config": {k: v for k, v in config.items() if ADDED_CONFIG_FIELDS.get(k, ...) != v},
        "seeds": list(seeds),
        "budget": budget,
        "eval": eval_identity(eval_spec),
    }
    if env.params:
        identity["env_params"] = env.params
    if env.reward_scale != 1.0:
        identity["reward_scale"] = env.reward_scale
    if env.randomize:
        identity["env_randomize"] = env.randomize
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def eval_identity(eval_spec: EvalSpec) -> dict[str, Any]:
    """The evaluation settings a unit's key hashes. A setting added after results were first
    stored enters only when it differs from its default, so specs that leave it alone keep
    their units' keys and resume without retraining."""
    identity = eval_spec.model_dump()
    for name in ADDED_EVAL_SETTINGS:
        if identity[name] == EvalSpec.model_fields[name].default:
            del identity[name]
    return identity


# Evaluation settings newer than the first stored results (see eval_identity).
ADDED_EVAL_SETTINGS = ("keep_checkpoint_policies",)


def validate_overrides(algo: str, overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """Check Config overrides by name and type; returns them with lists turned into tuples.

    A field's old name (``rlcheck.glossary.RENAMES``) is an error that says its new name and
    the value to write there.
    """
    config_cls = ALGORITHMS[algo].config_cls
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    checked = {}
    for name, value in overrides.items():
        if name not in fields and (hint := rename_hint(algo, name, value)):
            raise UserError(f"{where}.{name}: {hint}")
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(f"{where}.{name}: {algo} has no such config field{hint}")
        if isinstance(value, list):
            value = tuple(value)
        try:
            checked[name] = TypeAdapter(
                hints[name], config=ConfigDict(strict=True)
            ).validate_python(value)
        except ValidationError as e:
            raise UserError(
                validation_message(e, f"{where}.{name}").replace(": spec: ", ": ")
            ) from None
    return checked


def plan_units(spec: Spec, source: str) -> list[UnitPlan]:
    """Resolve every env and algo entry of ``spec``; each problem is a one-line UserError."""
    units = [
        plan_unit(env_entry, env_spec, algo, overrides, spec, where)
        for env_entry, env_spec, j, algo, overrides in resolve_entries(spec, source)
        for where in [f"{source}: algo[{j}]"]
    ]
    check_distinct_keys(units, source)
    return units


def resolve_entries(
    spec: Spec, source: str
) -> list[tuple[EnvEntry, EnvSpec, int, AlgoEntry, dict[str, Any]]]:
    """Every (env entry, its EnvSpec, algo index, algo entry, validated Config overrides) of
    ``spec``, in order; each problem is a one-line UserError."""
    _check_distinct([e.name for e in spec.env], "env", "label", source)
    _check_distinct([a.display for a in spec.algo], "algo", "label", source)
    envs.import_packages(spec.import_, f"{source}: import")
    env_specs = [resolve_env(entry, f"{source}: env[{i}]") for i, entry in enumerate(spec.env)]
    out = []
    for env_entry, env_spec in zip(spec.env, env_specs, strict=True):
        for j, algo in enumerate(spec.algo):
            where = f"{source}: algo[{j}]"
            if algo.name not in ALGORITHMS:
                close = difflib.get_close_matches(algo.name, ALGORITHMS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise UserError(
                    f"{where}.name: unknown algorithm '{algo.name}' (known: "
                    f"{', '.join(ALGORITHMS)}){hint}"
                )
            kind = action_space_kind(env_spec)
            if kind not in ALGORITHMS[algo.name].action_spaces:
                raise UserError(
                    f"{where}.name: {algo.name} does not handle {kind} actions, and "
                    f"{env_entry.name} has them"
                )
            check_reward_scale(env_entry, algo.name, where)
            preset = {}
            if algo.preset is not None:
                preset = resolve_preset(
                    ALGORITHMS[algo.name].presets, algo.name, algo.preset, env_spec.id, where
                )
            overrides = validate_overrides(algo.name, {**preset, **algo.config}, f"{where}.config")
            out.append((env_entry, env_spec, j, algo, overrides))
    return out


def resolve_env(entry: EnvEntry, where: str) -> EnvSpec:
    """The EnvSpec of an env entry: its id made, its params checked, its solve threshold set."""
    try:
        env = envs.make(entry.id, **entry.kwargs)
    except UserError as e:
        raise UserError(f"{where}.id: {e}") from None
    if entry.params:
        env = env_with_params(env, entry.params, f"{where}.params")
    if entry.randomize:
        randomized(env, entry.randomize, f"{where}.randomize")
    env_spec = env.spec
    if entry.solve_threshold is not None:
        env_spec = dataclasses.replace(env_spec, solve_threshold=entry.solve_threshold)
    return env_spec


def env_with_params(env: Any, params: dict[str, float], where: str) -> envs.JaxEnv:
    """``env`` with its own params changed; one-line errors for a host env, an unknown or a
    derived parameter."""
    if not isinstance(env, envs.JaxEnv):
        raise UserError(
            f"{where}: env parameters can be changed on JAX-native (gymnax-style) envs only; "
            f"{env.spec.id} is a Gymnasium env"
        )
    try:
        return env.with_params(**params)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def check_reward_scale(env: EnvEntry, algo: str, where: str) -> None:
    """A reward scale other than 1 needs a learner: policy search and planners run their own
    programs and score episodes by their true return."""
    if env.reward_scale != 1.0 and ALGORITHMS[algo].kind not in ("rl", "random"):
        raise UserError(
            f"{where}.name: {algo} is a baseline ({ALGORITHMS[algo].kind}) and takes no "
            f"reward_scale; {env.name} sets reward_scale = {env.reward_scale}"
        )


def plan_unit(
    env_entry: EnvEntry,
    env_spec: EnvSpec,
    algo: AlgoEntry,
    overrides: dict[str, Any],
    spec: Spec,
    where: str,
    seeds: tuple[int, ...] | None = None,
) -> UnitPlan:
    """One unit: ``algo`` with ``overrides`` on ``env_entry``, for ``seeds`` (default: the
    spec's), its agent built once to check the config and read what the parent needs."""
    seeds = tuple(spec.seed_list) if seeds is None else seeds
    try:
        agent = make_agent(algo.name, env_spec, overrides, spec.budget)
        steps_per_update = agent.num_envs * agent.rollout_len
        make_schedule(spec.budget, steps_per_update, spec.eval.checkpoints, algo.display)
    except (ValueError, UserError) as e:
        raise UserError(f"{where} on {env_entry.name}: {e}") from None
    config = config_dict(agent.config)
    return UnitPlan(
        key=unit_key(env_entry, algo.name, config, seeds, spec.budget, spec.eval),
        env=env_entry,
        algo=algo,
        overrides=overrides,
        config=config,
        seeds=seeds,
        budget=spec.budget,
        eval=spec.eval,
        env_spec=env_spec,
        steps_per_update=steps_per_update,
        metric_names=tuple(agent.metric_names),
        env_packages=tuple(spec.import_),
    )


def check_distinct_keys(units: list[UnitPlan], source: str) -> None:
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        raise UserError(
            f"{source}: two algo entries have the same algorithm and config; remove the duplicate"
        )


def _check_distinct(names: list[str], table: str, field: str, source: str) -> None:
    for i, name in enumerate(names):
        if name in names[:i]:
            raise UserError(
                f"{source}: {table}[{i}].{field}: '{name}' is already used by "
                f"{table}[{names.index(name)}]; give each entry a distinct label"
            )
