"""Implementation-detail ablations (``rlcheck ablate``): Config toggles switched off one at a
time or in every combination (a 2^k factorial), each combination a *cell*, after Engstrom et
al. (2020), "Implementation Matters in Deep Policy Gradients", Fig. 1.

Built on the sweep machinery (``rlcheck.experiment.sweep``): a cell is a configuration, and a
configuration on a batch of seeds is a unit with its own key, so an ablation killed half-way
resumes without retraining what it stored. Cells that differ only in traced values
(max_grad_norm) and, with a learning-rate grid, a cell's learning rates are one vmapped program
with the seeds (``sweep.groups``); a static toggle (clip_vloss, activation…) makes one program
per value. With a learning-rate grid each cell's best learning rate is picked on the tuning
seeds (the sweep's objective) and the cell is reported on fresh seeds, disjoint from them; the
store's ``sweeps``/``sweep_units`` tables record the ablation (``kind = "ablation"``) and which
unit is which cell in which role ("tuning", "cell"), for the report's Ablation section.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError
from rlcheck.experiment.execute import UnitOutcome, UnitRunner
from rlcheck.experiment.plan import (
    UnitGroup,
    UnitPlan,
    check_distinct_keys,
    plan_unit,
    resolve_entries,
    validate_overrides,
)
from rlcheck.experiment.ranges import parse_range
from rlcheck.experiment.spec import AblateSpec, AlgoEntry, EnvEntry, Spec
from rlcheck.experiment.store import Store
from rlcheck.experiment.sweep import OBJECTIVE, fresh_seeds, groups, tuning_score
from rlcheck.glossary import rename_hint
from rlcheck.registry import ALGORITHMS

KIND = "ablation"
LEARNING_RATE = "learning_rate"
# The code-level optimizations of PPO that Engstrom et al. (2020) list, as Config fields: value
# clipping, reward scaling, orthogonal initialization, Adam learning-rate annealing,
# observation normalization, global gradient clipping, advantage normalization and tanh
# activations (their reward and observation clipping are clip_reward and obs_clip here, left as
# the entry has them; pass them in the fields to ablate them too).
CODE_LEVEL = (
    "clip_vloss",
    "normalize_reward",
    "weight_init",
    "anneal_lr",
    "normalize_obs",
    "max_grad_norm",
    "norm_adv",
    "activation",
)
# The algorithms the default toggles are for: the on-policy learners, which share these details
# (rlcheck/agents/common/actor_critic.py); others name their toggles.
DEFAULT_ALGORITHMS = ("ppo", "a2c", "trpo", "reinforce")
# Toggles that are not booleans: (on, off); an on value of None is the entry's own value.
# - weight_init off is "lecun" (LeCun-normal weights, zero biases: flax's default), the closest
#   scheme rlcheck has to the Xavier init of Engstrom et al.'s PPO-M (the same variance,
#   1/64, on the 64×64 hidden layers) and what a PPO gets that does not choose its init.
# - activation off is "relu", the alternative Andrychowicz et al. (2021) compare tanh with.
# - max_grad_norm off is +inf: optax.clip_by_global_norm(inf) leaves every gradient as it is;
#   on is the entry's own bound (PPO's default 0.5). Both are traced values of one program.
CHOICES: dict[str, tuple[Any, Any]] = {
    "weight_init": ("orthogonal", "lecun"),
    "activation": ("tanh", "relu"),
    "max_grad_norm": (None, math.inf),
}
# The cell with every toggle on.
REFERENCE = "all on"


@dataclass(frozen=True)
class Toggle:
    """One ablated Config field and its two values."""

    name: str
    on: Any
    off: Any

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "on": self.on, "off": self.off}


def cell_name(off: Sequence[str]) -> str:
    """How a cell is written: "all on", or the fields it switches off ("off: a, b")."""
    return f"off: {', '.join(off)}" if off else REFERENCE


def cells(toggles: Sequence[str], design: str) -> list[tuple[str, ...]]:
    """The fields each cell switches off, the all-on cell first.

    one-at-a-time: all on, then each field off alone (k + 1 cells); factorial: every subset
    (2^k cells, each once), the first field varying slowest.
    """
    if design == "one-at-a-time":
        return [(), *((name,) for name in toggles)]
    return [
        tuple(name for name, off in zip(toggles, pattern, strict=True) if off)
        for pattern in itertools.product((False, True), repeat=len(toggles))
    ]


@dataclass(frozen=True)
class Ablation:
    """One algo entry ablated on one env entry."""

    id: str
    spec: Spec
    settings: AblateSpec
    source: str
    env: EnvEntry
    env_spec: EnvSpec
    algo: AlgoEntry
    overrides: dict[str, Any]  # the entry's own config (preset and [algo.config]), validated
    toggles: tuple[Toggle, ...]
    cells: tuple[tuple[str, ...], ...]
    learning_rates: tuple[float, ...]  # the grid tried in every cell; () for none
    tuning_seeds: tuple[int, ...]  # () without a learning-rate grid: nothing is tuned
    seeds: tuple[int, ...]  # the seeds cells are reported on
    where: str

    @property
    def name(self) -> str:
        return f"{self.algo.display} on {self.env.name}"

    def values(self, cell: Sequence[str]) -> dict[str, Any]:
        """Every toggle's value in a cell."""
        return {t.name: t.off if t.name in cell else t.on for t in self.toggles}

    def unit(
        self,
        index: int,
        seeds: tuple[int, ...],
        learning_rate: float | None = None,
        tuning: bool = False,
    ) -> UnitPlan:
        """Cell ``index`` on ``seeds``, at ``learning_rate`` (None: the entry's); a tuning
        unit's label names its learning rate."""
        cell = self.cells[index]
        fields = self.values(cell)
        text = cell_name(cell)
        if learning_rate is not None:
            fields[LEARNING_RATE] = learning_rate
            if tuning:
                text += f"; {LEARNING_RATE}={learning_rate:.3g}"
        algo = self.algo.model_copy(update={"label": f"{self.algo.display} [{text}]"})
        overrides = validate_overrides(
            self.algo.name, {**self.overrides, **fields}, f"{self.where}.config"
        )
        return plan_unit(self.env, self.env_spec, algo, overrides, self.spec, self.where, seeds)

    def definition(self) -> dict[str, Any]:
        """What the store keeps of the ablation (JSON), for the report."""
        return {
            "kind": KIND,
            "name": self.name,
            "env": self.env.name,
            "env_id": self.env.id,
            "algo": self.algo.name,
            "algo_label": self.algo.display,
            "design": self.settings.design,
            "toggles": [t.as_dict() for t in self.toggles],
            "cells": [list(c) for c in self.cells],
            "learning_rates": list(self.learning_rates),
            "tuning_seeds": list(self.tuning_seeds),
            "seeds": list(self.seeds),
            "budget": self.spec.budget,
            "objective": OBJECTIVE if self.learning_rates else None,
        }


@dataclass(frozen=True)
class AblationPlan:
    """Everything a spec with an [ablate] table runs: its plain units (the algo entries not
    ablated, e.g. the random baseline) and its ablations."""

    units: list[UnitPlan]
    ablations: list[Ablation]


def plan_ablations(spec: Spec, source: str, cli: bool = False) -> AblationPlan:
    """Check a spec's [ablate] table against its envs and algos and plan every cell's units;
    every problem is a one-line UserError naming the field (``cli``: the ``--option``)."""
    settings = spec.ablate
    if settings is None:
        raise UserError(f"{source}: no [ablate] table; add one, or run the spec with rlcheck run")
    if spec.sweep is not None:
        raise UserError(f"{source}: sweep: a spec runs a sweep or an ablation; split them")

    def option(field: str, flag: str) -> str:
        return flag if cli else f"{source}: ablate.{field}"

    learning_rates: tuple[float, ...] = ()
    if settings.lr_grid is not None:
        at = option("lr_grid", "--lr-grid")
        learning_rates = parse_range(settings.lr_grid, at).values
        if min(learning_rates) <= 0:
            raise UserError(f"{at}: learning rates must be above 0")
        if settings.fresh_seeds == 0:
            raise UserError(
                f"{option('fresh_seeds', '--fresh-seeds')}: an lr grid picks each cell's "
                "learning rate on the tuning seeds, and the cell is reported on fresh seeds; "
                "give at least 1"
            )
    labels = settings.algos
    if labels is not None:
        known = [a.display for a in spec.algo]
        for label in labels:
            if label not in known:
                raise UserError(
                    f"{option('algos', '--algo')}: no algo entry '{label}' (entries: "
                    f"{', '.join(known)})"
                )
    seeds = tuple(spec.seed_list)
    tuning = seeds if learning_rates else ()
    reported = fresh_seeds(seeds, settings.fresh_seeds) if learning_rates else seeds
    units, ablations = [], []
    for env_entry, env_spec, j, algo, overrides in resolve_entries(spec, source):
        where = f"{source}: algo[{j}]"
        kind = ALGORITHMS[algo.name].kind
        if not (algo.display in labels if labels is not None else kind == "rl"):
            units.append(plan_unit(env_entry, env_spec, algo, overrides, spec, where))
            continue
        if kind != "rl":
            raise UserError(
                f"{option('algos', '--algo')}: {algo.name} is not an RL algorithm; ablate "
                "switches a learner's implementation details"
            )
        fields_at = option("fields", "--fields")
        names = settings.fields or _default_fields(algo.name, fields_at)
        toggles = tuple(
            _toggle(name, algo.name, overrides, spec, env_spec, where, fields_at) for name in names
        )
        if len({t.name for t in toggles}) != len(toggles):
            repeated = next(n for n in names if names.count(n) > 1)
            raise UserError(f"{fields_at}: {repeated} is given twice")
        if learning_rates:
            _check_learning_rate(algo.name, option("lr_grid", "--lr-grid"))
        definition = {
            "env": env_entry.model_dump(),
            "algo": algo.model_dump(),
            # How units are batched into programs and which entries are ablated do not change
            # this ablation's numbers: rerunning with another batch resumes the same ablation.
            "ablate": settings.model_dump(exclude={"batch", "algos"}),
            "toggles": [t.as_dict() for t in toggles],
            "seeds": list(seeds),
            "budget": spec.budget,
            "eval": spec.eval.model_dump(),
        }
        ablation_id = hashlib.sha256(
            json.dumps(definition, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        ablation = Ablation(
            ablation_id,
            spec,
            settings,
            source,
            env_entry,
            env_spec,
            algo,
            overrides,
            toggles,
            tuple(cells([t.name for t in toggles], settings.design)),
            learning_rates,
            tuning,
            reported,
            where,
        )
        # Every unit planned now: a value the algorithm rejects stops before anything trains.
        for index in range(len(ablation.cells)):
            for rate in learning_rates:
                ablation.unit(index, tuning, rate, tuning=True)
            ablation.unit(index, reported, learning_rates[0] if learning_rates else None)
        ablations.append(ablation)
    if not ablations:
        raise UserError(
            f"{option('algos', '--algo')}: no algo entry to ablate (by default every RL "
            "algorithm entry is ablated; baselines and random run once)"
        )
    check_distinct_keys(units, source)
    return AblationPlan(units, ablations)


def _default_fields(algo: str, at: str) -> list[str]:
    """The code-level optimizations the algorithm's Config has (PPO: all of them)."""
    if algo not in DEFAULT_ALGORITHMS:
        raise UserError(
            f"{at}: the default toggles are PPO's code-level optimizations, for "
            f"{', '.join(DEFAULT_ALGORITHMS)}; name {algo}'s toggles to ablate"
        )
    names = {f.name for f in dataclasses.fields(ALGORITHMS[algo].config_cls)}
    return [name for name in CODE_LEVEL if name in names]


def _toggle(
    name: str,
    algo: str,
    overrides: dict[str, Any],
    spec: Spec,
    env_spec: EnvSpec,
    where: str,
    at: str,
) -> Toggle:
    """A field of ``fields`` checked: a Config field of the algorithm that is on or off."""
    config_cls = ALGORITHMS[algo].config_cls
    fields = {f.name for f in dataclasses.fields(config_cls)}
    if name not in fields:
        hint = rename_hint(algo, name, None)
        if hint is None:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
        tail = f"; {hint}" if hint else ""
        raise UserError(f"{at}: {algo} has no config field '{name}'{tail}")
    hint = typing.get_type_hints(config_cls)[name]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = [t for t in typing.get_args(hint) if t is not type(None)] if union else [hint]
    if base == [bool]:
        return Toggle(name, True, False)
    if name not in CHOICES:
        choices = ", ".join(CHOICES)
        raise UserError(
            f"{at}: {name} is not a toggle (ablate switches boolean fields and {choices}); "
            f"vary {name} with rlcheck sweep"
        )
    on, off = CHOICES[name]
    if on is None:
        on = _entry_value(algo, overrides, spec, env_spec, name, where)
        if on is None or on == off:
            raise UserError(
                f"{at}: {name} is already off ({on}) in the configuration of {where}; set it "
                "in its config to ablate it"
            )
    return Toggle(name, on, off)


def _entry_value(
    algo: str, overrides: dict[str, Any], spec: Spec, env_spec: EnvSpec, name: str, where: str
) -> Any:
    from rlcheck.registry import make_agent

    try:
        config = make_agent(algo, env_spec, overrides, spec.budget).config
    except (ValueError, UserError) as e:
        raise UserError(f"{where}: {e}") from None
    return getattr(config, name)


def _check_learning_rate(algo: str, at: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(ALGORITHMS[algo].config_cls)}
    if LEARNING_RATE not in fields or not fields[LEARNING_RATE].metadata["traced"]:
        raise UserError(f"{at}: {algo} has no traced {LEARNING_RATE} field to grid over")


# ---- running --------------------------------------------------------------------------------


def programs(units: Sequence[UnitPlan], batch: int) -> list[UnitPlan | UnitGroup]:
    """Units as programs (``sweep.groups``), at most ``batch`` configurations each."""
    out: list[UnitPlan | UnitGroup] = []
    for item in groups(units):
        if not isinstance(item, UnitGroup):
            out.append(item)
            continue
        for start in range(0, len(item.units), batch):
            chunk = item.units[start : start + batch]
            out.append(UnitGroup(chunk) if len(chunk) > 1 else chunk[0])
    return out


def pick_learning_rate(
    scores: Sequence[float | None], learning_rates: Sequence[float]
) -> float | None:
    """The learning rate with the best tuning score (the first of equal ones); None when every
    one failed."""
    scored = [(s, -i) for i, s in enumerate(scores) if s is not None]
    if not scored:
        return None
    return learning_rates[-max(scored)[1]]


def run_ablation(
    ablation: Ablation,
    store: Store,
    executor: UnitRunner,
    announce: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Tune every cell's learning rate on the tuning seeds (with a grid), then run every cell
    on the seeds it is reported on; stores every unit and the ablation's membership rows.

    ``announce(n)`` is told of n more units before they run (for a progress bar).

    Returns:
        {"tuning": the tuning units' outcomes, "cells": the reported cells' outcomes,
        "learning_rates": each cell's learning rate (None: the entry's, or every tuning unit
        of the cell failed and it did not run), "programs": programs the ablation ran}.
    """
    store.write_sweep(ablation.id, ablation.definition())
    batch = ablation.settings.batch
    tuning_outcomes: list[UnitOutcome] = []
    count = 0
    rates = ablation.learning_rates
    chosen: list[float | None] = [None] * len(ablation.cells)
    if rates:
        tuning_units: list[list[UnitPlan]] = []
        members = []
        for index, cell in enumerate(ablation.cells):
            row = [ablation.unit(index, ablation.tuning_seeds, r, tuning=True) for r in rates]
            tuning_units.append(row)
            members += [
                (u.key, "tuning", index, {"cell": index, "off": list(cell), LEARNING_RATE: rate})
                for u, rate in zip(row, rates, strict=True)
            ]
        store.write_sweep_units(ablation.id, members)
        planned = programs([u for row in tuning_units for u in row], batch)
        count += len(planned)
        if announce is not None:
            announce(sum(len(row) for row in tuning_units))
        tuning_outcomes = executor.run(planned)
        for index, row in enumerate(tuning_units):
            chosen[index] = pick_learning_rate([tuning_score(store, u.key) for u in row], rates)
    reported = [
        (index, ablation.unit(index, ablation.seeds, chosen[index]))
        for index in range(len(ablation.cells))
        if not rates or chosen[index] is not None
    ]
    store.write_sweep_units(
        ablation.id,
        [
            (
                unit.key,
                "cell",
                index,
                {"cell": index, "off": list(ablation.cells[index]), LEARNING_RATE: chosen[index]},
            )
            for index, unit in reported
        ],
    )
    unique = list({u.key: u for _, u in reported}.values())
    planned = programs(unique, batch)
    count += len(planned)
    if announce is not None:
        announce(len(unique))
    cell_outcomes = executor.run(planned)
    return {
        "tuning": tuning_outcomes,
        "cells": cell_outcomes,
        "learning_rates": chosen,
        "programs": count,
    }
