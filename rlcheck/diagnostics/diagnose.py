"""``rlcheck diagnose``: the diagnostics (D1–D4) of a results directory's on-policy units, at
chosen fractions of their training.

Stored policies hold the actor alone, and the diagnostics need the agent's whole state (critic,
observation and reward statistics, optimizer). So each unit is trained again, exactly as it was
trained (its spec re-planned from the store's runs, the fused driver's own loop, the same seeds
and keys), and stopped at each fraction; same request, same machine → the same numbers. At
``at = 1.0`` the re-trained policy replays the unit's final evaluation, and its returns are
checked against the stored ones: that proves the re-training is the same run.

Results go to the store's ``diagnostics`` table, one row per (request, unit): the same request
again reuses them, and a unit added later is diagnosed then (docs/DESIGN-NOTES.md,
"Diagnostics").
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.diagnostics.gradient import gradient_quality
from rlcheck.diagnostics.landscape import landscape
from rlcheck.diagnostics.learner import SUPPORTED
from rlcheck.diagnostics.trust_region import trust_region_heldout
from rlcheck.diagnostics.value import value_quality
from rlcheck.drivers.fused import FusedDriver, final_eval_key
from rlcheck.errors import UserError
from rlcheck.experiment.plan import UnitPlan, plan_units
from rlcheck.experiment.policies import describe_unit
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store
from rlcheck.experiment.train import make_driver

# Bump when what a stored diagnostics row means changes, so old rows are not reused as new ones.
DIAGNOSE_FORMAT = 1
DIAGNOSTICS = ("gradient", "value", "landscape", "trust")
WINDOW = 512  # steps per env of every diagnostic rollout: sizes are multiples of it
HOST_ENV = "cannot clone state: {env} is a Gymnasium env (the diagnostics restart env states)"


@dataclass(frozen=True)
class Request:
    """One diagnose request: where, what, and how large. The defaults fit 2 CPU cores in
    minutes for a CartPole-sized agent; the library's defaults (the papers' sizes) are larger.

    Attributes:
        at: fractions of each unit's updates after which it is diagnosed, increasing, in (0, 1].
        which: the diagnostics, a subset of :data:`DIAGNOSTICS`.
        seeds: diagnose the unit's first this many seeds.
        batch_sizes: D1's n, pairs per gradient estimate (multiples of 512).
        estimates: D1's K, estimates per batch size.
        reference_pairs: pairs of each of D1's two reference gradients.
        mc_states, mc_rollouts: D2's held-out states and Monte-Carlo rollouts per state.
        landscape_pairs: D3's few and many pairs.
        landscape_steps: D3's grid: this many points along the step (α from 0 to 2) and along a
            random direction (β from −1 to 1).
        seed: PRNG seed of the diagnostics' own rollouts (training replays the unit's keys).
    """

    at: tuple[float, ...] = (0.25, 0.5, 1.0)
    which: tuple[str, ...] = DIAGNOSTICS
    seeds: int = 8
    batch_sizes: tuple[int, ...] = (512, 2048)
    estimates: int = 4
    reference_pairs: int = 2**14
    mc_states: int = 32
    mc_rollouts: int = 8
    landscape_pairs: tuple[int, int] = (512, 4096)
    landscape_steps: int = 5
    seed: int = 0

    @property
    def key(self) -> str:
        """Content hash of the request: a stored row with this key is the same diagnosis."""
        identity = {"format": DIAGNOSE_FORMAT, **asdict(self)}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def parse_fractions(text: str, option: str = "--at") -> tuple[float, ...]:
    """``0.25,0.5,1.0`` → (0.25, 0.5, 1.0), sorted, each in (0, 1].

    Raises:
        UserError: a value that is not a number or lies outside (0, 1].
    """
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part)
        except ValueError:
            raise UserError(
                f"{option}: '{part}' is not a number; give fractions of training such as 0.5,1.0"
            ) from None
        if not 0 < value <= 1:
            raise UserError(f"{option}: {part} is not a fraction of training in (0, 1]")
        values.append(value)
    return tuple(sorted(set(values)))


def parse_which(text: str, option: str = "--which") -> tuple[str, ...]:
    """``gradient,trust`` → ("gradient", "trust"), in :data:`DIAGNOSTICS`' order.

    Raises:
        UserError: an unknown name (the message lists the known ones).
    """
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [n for n in names if n not in DIAGNOSTICS]
    if unknown or not names:
        raise UserError(
            f"{option}: unknown diagnostic '{(unknown or [text])[0]}' (choose from "
            f"{', '.join(DIAGNOSTICS)})"
        )
    return tuple(n for n in DIAGNOSTICS if n in names)


def parse_sizes(text: str, option: str, count: int | None = None) -> tuple[int, ...]:
    """Comma-separated pair counts, each a positive multiple of the rollout window (512).

    Raises:
        UserError: not whole numbers, not multiples of 512, or not ``count`` of them.
    """
    try:
        sizes = tuple(int(p.strip().replace("_", "")) for p in text.split(","))
    except ValueError:
        raise UserError(f"{option}: '{text}' is not a list of whole numbers") from None
    bad = [n for n in sizes if n <= 0 or n % WINDOW]
    if bad:
        raise UserError(f"{option}: {bad[0]} is not a positive multiple of {WINDOW} pairs")
    if count is not None and len(sizes) != count:
        raise UserError(f"{option}: give {count} numbers, got {len(sizes)}")
    return sizes


# ---- which units ------------------------------------------------------------------------------


@dataclass
class Candidate:
    """A stored unit and, when it can be diagnosed, the plan it was trained from."""

    row: dict[str, Any]
    plan: UnitPlan | None
    reason: str | None = None


def candidates(store: Store) -> list[Candidate]:
    """Every stored unit, with its plan (re-planned from the specs in the store's runs) or the
    reason it cannot be diagnosed: not PPO, A2C, TRPO or REINFORCE, a Gymnasium env, failed,
    or trained from no spec the store recorded (imported runs)."""
    plans = _recorded_plans(store)
    out = []
    for row in store.units():
        meta = row["meta"] or {}
        reason = None
        if row["status"] != "done":
            reason = "the unit failed"
        elif (why := why_not(row["algo"], _env_kind(meta), row["env"])) is not None:
            reason = why
        elif not any(status == "ok" for _, status, *_ in store.seed_rows(row["key"])):
            reason = "every seed diverged"
        elif row["key"] not in plans:
            reason = "no spec in the store plans it (imported, or stored by an older rlcheck)"
        out.append(Candidate(row, None if reason else plans[row["key"]], reason))
    return out


def _env_kind(meta: dict[str, Any]) -> str:
    if (meta.get("env_spec") or {}).get("kind") == "host" or meta.get("driver") == "host":
        return "host"
    return "jax"


def _recorded_plans(store: Store) -> dict[str, UnitPlan]:
    """The units every spec recorded in the store's runs plans, by key."""
    plans: dict[str, UnitPlan] = {}
    for run in store.runs():
        spec = run["spec"]
        for data in spec.get("specs") or [spec]:
            try:
                units = plan_units(parse_spec(data, "recorded spec"), "recorded spec")
            except (UserError, TypeError, AttributeError):
                continue  # a run of another kind (a sweep, an import): its units are not here
            plans.update({u.key: u for u in units})
    return plans


def why_not(algo: str, env_kind: str, env_id: str) -> str | None:
    """Why a unit of ``algo`` on an env of ``env_kind`` cannot be diagnosed, or None."""
    if algo not in SUPPORTED:
        return (
            f"{algo} is not an on-policy gradient method (the diagnostics work for "
            f"{', '.join(SUPPORTED)})"
        )
    if env_kind == "host":
        return HOST_ENV.format(env=env_id)
    return None


def check_planned(units: list[UnitPlan], where: str) -> None:
    """Before training a spec: that some of its units can be diagnosed.

    Raises:
        UserError: none can (one line: why, for each reason).
    """
    found = [
        Candidate(
            {"algo_label": u.algo.display, "env_label": u.env.name, "key": u.key},
            u if why_not(u.algo.name, u.env_spec.kind, u.env.id) is None else None,
            why_not(u.algo.name, u.env_spec.kind, u.env.id),
        )
        for u in units
    ]
    check_candidates(found, where)


def check_candidates(found: list[Candidate], where: str) -> list[Candidate]:
    """The candidates that can be diagnosed.

    Raises:
        UserError: none can (one line: why, for each reason).
    """
    usable = [c for c in found if c.plan is not None]
    if not found:
        raise UserError(f"{where}: no unit is stored here")
    if not usable:
        by_reason: dict[str, list[str]] = {}
        for c in found:
            by_reason.setdefault(str(c.reason), []).append(describe_unit(c.row))
        if len(by_reason) == 1:
            raise UserError(f"{where}: nothing to diagnose: {next(iter(by_reason))}")
        why = "; ".join(f"{', '.join(u)}: {r}" for r, u in by_reason.items())
        raise UserError(f"{where}: nothing to diagnose: {why}")
    return usable


# ---- running --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a request did with one unit: "stored" (already there), "done" (diagnosed now)."""

    row: dict[str, Any]
    status: str
    seconds: float | None = None
    replay_matches: bool | None = None


def run_diagnose(store: Store, usable: list[Candidate], request: Request) -> list[Outcome]:
    """Diagnose each usable unit not yet diagnosed under ``request``, storing each result."""
    stored = store.diagnostics_keys(request.key)
    outcomes = []
    for c in usable:
        if c.row["key"] in stored:
            outcomes.append(Outcome(c.row, "stored"))
            continue
        start = time.perf_counter()
        result = diagnose_unit(store, c, request)
        seconds = time.perf_counter() - start
        store.write_diagnostics(request.key, c.row["key"], request.as_dict(), result, seconds)
        outcomes.append(Outcome(c.row, "done", seconds, result["replay"].get("matches")))
    return outcomes


def updates_at(fractions: tuple[float, ...], num_updates: int) -> list[int]:
    """The update after which each fraction of training is reached (at least the first)."""
    return [max(1, round(f * num_updates)) for f in fractions]


def diagnose_unit(store: Store, candidate: Candidate, request: Request) -> dict[str, Any]:
    """Re-train the unit's first ``request.seeds`` seeds to each fraction and diagnose them.

    Returns:
        JSON-ready: ``seeds``, ``num_updates``, ``points`` (per fraction: ``fraction``,
        ``update``, ``env_steps`` and one entry per diagnostic, per-seed lists), ``replay``
        (at fraction 1: the re-trained final policy's returns against the stored ones).
    """
    plan = candidate.plan
    assert plan is not None
    ok = [s for s, status, *_ in store.seed_rows(plan.key) if status == "ok"]
    seeds = [s for s in plan.seeds if s in ok][: request.seeds]
    if not seeds:
        raise UserError(f"{describe_unit(candidate.row)}: every seed diverged")
    driver_name, driver = make_driver(plan)
    if driver_name != "fused":
        raise UserError(f"{describe_unit(candidate.row)}: {HOST_ENV.format(env=plan.env.id)}")
    schedule = plan.schedule
    agent, env = driver.agent, driver.env
    points, replay = [], {}
    key = jax.random.PRNGKey(request.seed)
    for fraction, update, states in replay_states(
        driver, plan, seeds, request.at, training_batches(candidate.row, plan)
    ):
        point: dict[str, Any] = {
            "fraction": fraction,
            "update": update,
            "env_steps": update * plan.steps_per_update,
        }
        for name in request.which:
            sub = jax.random.fold_in(key, update * len(DIAGNOSTICS) + DIAGNOSTICS.index(name))
            point[name] = _DIAGNOSTICS[name](agent, states, env, sub, request)
        points.append(point)
        if update == schedule.num_updates:
            replay = _check_replay(store, driver, plan, seeds, states)
    return _jsonable(
        {
            "seeds": seeds,
            "num_updates": schedule.num_updates,
            "steps_per_update": plan.steps_per_update,
            "points": points,
            "replay": replay,
        }
    )


def training_batches(row: dict[str, Any], plan: UnitPlan) -> list[list[int]]:
    """The unit's seeds in the batches it was trained in: the executor splits them evenly over
    its worker processes (``experiment/execute.py`` ``seed_chunks``), one program each, and the
    unit's meta counts the programs."""
    count = len((row["meta"] or {}).get("chunks") or [None])
    return [c.tolist() for c in np.array_split(np.asarray(plan.seeds), count) if len(c)]


def replay_states(
    driver: FusedDriver,
    plan: UnitPlan,
    seeds: list[int],
    fractions: tuple[float, ...],
    batches: list[list[int]] | None = None,
) -> Iterator[tuple[float, int, Any]]:
    """(fraction, update, agent states of ``seeds``) after each fraction's update, trained as
    the fused driver's ``run`` trains: the shared hyperparameters an unbatched input, the env's
    params compiled in, the reward scale one value per seed.

    Each fraction is trained from the start in one program, initialization included: split
    into programs (initialize, then train; or train on from the previous fraction's state), the
    same computation compiles differently and differs from the stored run in the last float
    bits. For the same reason the seeds are trained in the ``batches`` the unit was trained in
    (:func:`training_batches`; None: all of ``seeds`` in one), each batch that holds one of
    ``seeds`` whole. One program per fraction costs the sum of the fractions' training, and
    keeps the states those of the run."""
    agent, params = driver.agent, driver.env.params
    batches = [b for b in (batches or [seeds]) if set(b) & set(seeds)]
    trained = [s for b in batches for s in b]
    pick = jnp.asarray([trained.index(s) for s in seeds])
    updates = updates_at(fractions, plan.schedule.num_updates)
    for fraction, update in zip(fractions, updates, strict=True):

        def train_to(key: jax.Array, hparams: dict, scale: Any, update: int = update) -> Any:
            carry = driver.start(key, hparams, params)
            return driver.advance(carry, key, 0, update, params, scale).agent_state

        program = jax.jit(jax.vmap(train_to, in_axes=(0, None, 0)))
        states = []
        for batch in batches:
            keys = jnp.stack([jax.random.PRNGKey(s) for s in batch])
            scale = None
            if plan.env.reward_scale != 1.0:
                scale = jnp.full(len(batch), plan.env.reward_scale, jnp.float32)
            states.append(program(keys, agent.hparams(), scale))
        joined = jax.tree.map(lambda *xs: jnp.concatenate(xs)[pick], *states)
        yield fraction, update, joined


def _check_replay(
    store: Store, driver: FusedDriver, plan: UnitPlan, seeds: list[int], states: Any
) -> dict[str, Any]:
    """The re-trained final policies' returns on the unit's final-evaluation episodes (the same
    keys), against the stored final returns: equal when the re-training is the same run."""
    agent, params = driver.agent, driver.env.params
    keys = jnp.stack([final_eval_key(s) for s in seeds])
    episodes = plan.eval_plan.final_episodes
    evaluate = jax.jit(
        jax.vmap(
            lambda state, key: driver.evaluate(agent.policy_params(state), key, episodes, params)
        )
    )
    returns = np.asarray(evaluate(states, keys).returns).mean(axis=1)
    stored = {s: r for s, _, r, _ in store.seed_rows(plan.key)}
    expected = np.asarray([stored[s] for s in seeds], dtype=float)
    return {
        "final_returns": returns,
        "stored_final_returns": expected,
        "matches": bool(np.allclose(returns, expected, rtol=1e-5, atol=1e-6)),
    }


# ---- the diagnostics, at the request's sizes --------------------------------------------------


def _gradient(agent: Any, states: Any, env: Any, key: jax.Array, r: Request) -> dict[str, Any]:
    out = gradient_quality(
        agent,
        states,
        env,
        env.params,
        key,
        sizes=r.batch_sizes,
        num_estimates=r.estimates,
        reference_size=r.reference_pairs,
        window=WINDOW,
    )
    keys = ("sizes", "pairwise_cosine", "cosine_to_true", "true_vs_true", "refused")
    return {k: out[k] for k in keys}


def _value(agent: Any, states: Any, env: Any, key: jax.Array, r: Request) -> dict[str, Any]:
    if agent.name == "reinforce" and not agent.config.baseline:
        return {"skipped": "REINFORCE without a baseline has no value function"}
    out = value_quality(
        agent,
        states,
        env,
        env.params,
        key,
        num_states=r.mc_states,
        mc_rollouts=r.mc_rollouts,
        heldout_envs=max(1, -(-r.mc_states // WINDOW)),
        window=WINDOW,
    )
    return {"mre": out["mre"], "nmse": out["nmse"]}


def _landscape(agent: Any, states: Any, env: Any, key: jax.Array, r: Request) -> dict[str, Any]:
    few, many = r.landscape_pairs
    alphas = np.linspace(0.0, 2.0, r.landscape_steps)
    betas = np.linspace(-1.0, 1.0, r.landscape_steps)
    alphas = tuple(sorted({*np.round(alphas, 6).tolist(), 0.0, 1.0}))
    betas = tuple(sorted({*np.round(betas, 6).tolist(), 0.0}))
    out = landscape(
        agent, states, env, env.params, key, alphas=alphas, betas=betas, few=few, many=many
    )
    keys = ("alphas", "betas", "surrogate", "return", "correlation", "sign_agreement")
    return {k: out[k] for k in keys} | {"step_norm": out["step_norm"]}


def _trust(agent: Any, states: Any, env: Any, key: jax.Array, r: Request) -> dict[str, Any]:
    out = trust_region_heldout(agent, states, env, env.params, key)
    clip = agent.hparams().get("clip_coef")
    return {
        "train": out["train"],
        "heldout": out["heldout"],
        "clip": None if clip is None else float(clip),
    }


_DIAGNOSTICS = {"gradient": _gradient, "value": _value, "landscape": _landscape, "trust": _trust}


def _jsonable(value: Any) -> Any:
    """Arrays as lists, numpy scalars as Python numbers (NaN stays: JSON as Python writes it)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray | jax.Array):
        return _jsonable(np.asarray(value).tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
