"""Robustness: every stored policy of a results directory evaluated while one thing about the world
varies over a grid: a physical parameter of the env (gymnax ``EnvParams``: CartPole's
``length``, Pendulum's ``g``…), or the size of observation noise, action noise or action delay;
the others can be held at a fixed perturbation.

Each unit is one compiled program: its seeds × the grid's values × the episodes
(:func:`rlcheck.drivers.evaluation.play_grid`). By default a seed plays with the key of its own
final evaluation, the same for every value (common random numbers), so at the training value,
with the unit's final-episode count, it replays the episodes behind its stored final return;
``seed`` draws other episodes. Results go to the store's ``robustness`` table, one row per
(request, unit): running the same request again reuses them, and a unit added later is
evaluated then.

On a Gymnasium (host) env only a physical parameter varies (a MuJoCo model's gravity, mass or
friction scale, a classic-control env's attribute: rlcheck/envs/host_params.py), in a Python
loop over one vector env per value (:func:`host_returns`); each seed resets its episodes with
its final evaluation's env seeds, so a deterministic policy replays them at the training value.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs
from rlcheck.baselines import search
from rlcheck.drivers import fused
from rlcheck.drivers.common import DEFAULT_EVAL_STEP_CAP, env_seeds
from rlcheck.drivers.evaluation import Perturbation, play_grid
from rlcheck.envs.host_params import check_host_param, host_param_value, with_host_param
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.params import replace_params, stack_params
from rlcheck.errors import UserError
from rlcheck.experiment.policies import NOT_RLCHECKS, describe_unit, read_policies
from rlcheck.experiment.ranges import parse_values
from rlcheck.experiment.spec import RobustnessSpec
from rlcheck.experiment.store import Store
from rlcheck.registry import ALGORITHMS

# Bump when what a stored robustness row means changes, so old rows are not reused as new ones.
ROBUSTNESS_FORMAT = 1
PERTURBATIONS = {
    "obs_noise": "observation noise, std in observation units",
    "action_noise": "action noise: ε-random (discrete), std in half action ranges (continuous)",
    "action_delay": "action delay in env steps",
}


@dataclass(frozen=True)
class Request:
    """One robustness evaluation: what varies over which values, and what is held fixed.

    Attributes:
        vary: an env parameter's name or one of :data:`PERTURBATIONS`.
        values: the grid, in the order given.
        log: the grid was asked for log-spaced (curves and areas on a log axis).
        episodes: episodes per seed and value.
        obs_noise, action_noise, action_delay: held at these values at every grid point
            (the one that varies is 0 here).
        seed: None: each seed replays its final evaluation's key; else keys from this seed.
    """

    vary: str
    values: tuple[float, ...]
    log: bool
    episodes: int
    obs_noise: float = 0.0
    action_noise: float = 0.0
    action_delay: int = 0
    seed: int | None = None

    @property
    def key(self) -> str:
        """Content hash of the request: a stored row with this key is the same evaluation."""
        identity = {"format": ROBUSTNESS_FORMAT, **asdict(self)}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "values": list(self.values)}


def request_from_spec(spec: RobustnessSpec, where: str) -> Request:
    """A :class:`Request` from a spec's ``[robustness]`` table or the CLI's options.

    Raises:
        UserError: values that do not parse, a negative noise or delay, a fractional delay, or
            a perturbation both varied and held fixed.
    """
    ((name, text),) = spec.vary.items()
    values, log = parse_values(text, f"{where}: vary {name}")
    fixed = {"obs_noise": spec.obs_noise, "action_noise": spec.action_noise}
    fixed["action_delay"] = spec.action_delay
    if name in PERTURBATIONS:
        if fixed[name]:
            raise UserError(
                f"{where}: {name} is varied and also held at {fixed[name]}; give it once"
            )
        if any(v < 0 for v in values):
            raise UserError(f"{where}: vary {name}: values must be ≥ 0, got {min(values)}")
        if name == "action_delay" and any(v != int(v) for v in values):
            raise UserError(f"{where}: vary action_delay: delays are whole env steps")
    return Request(
        vary=name,
        values=tuple(values),
        log=log,
        episodes=spec.episodes,
        obs_noise=spec.obs_noise,
        action_noise=spec.action_noise,
        action_delay=spec.action_delay,
        seed=spec.seed,
    )


def check_env(request: Request, env: Any) -> None:
    """That ``request`` can run on ``env``: a JAX-native env, with the varied parameter.

    Raises:
        UserError: a Gymnasium (host) env, an unknown or derived parameter (the message lists
            the env's parameters), or action noise above 1 on discrete actions (a probability).
    """
    if not isinstance(env, JaxEnv):
        if request.vary in PERTURBATIONS or request.obs_noise or request.action_noise:
            raise UserError(HOST_ENV.format(env=env.spec.id))
        if request.action_delay:
            raise UserError(HOST_ENV.format(env=env.spec.id))
        try:
            check_host_param(env, request.vary)
        except UserError as e:
            raise UserError(f"vary {request.vary}: {e}") from None
        return
    if request.vary not in PERTURBATIONS:
        try:
            replace_params(env.params, **{request.vary: request.values[0]})
        except UserError as e:
            names = ", ".join(PERTURBATIONS)
            raise UserError(f"vary {request.vary}: {e}; or vary {names}") from None
    if env.spec.discrete:
        noise = request.values if request.vary == "action_noise" else [request.action_noise]
        if max(noise) > 1:
            raise UserError(
                f"action noise on {env.spec.id}'s discrete actions is the probability of a "
                f"random action, at most 1; got {max(noise)}"
            )


# Host env seeds of `--seed N` episodes: stream _OTHER_EPISODES + N, beyond the training (0) and
# evaluation (1 + checkpoint) streams of rlcheck/drivers/host.py.
_OTHER_EPISODES = 1_000_000
HOST_ENV = (
    "on a Gymnasium env ({env}) robustness varies the env's physical parameters only (a MuJoCo "
    "model's gravity, mass_scale, friction_scale; a classic-control env's attributes), with "
    "no noise or delay; those need a JAX-native env (e.g. gymnax:CartPole-v1)"
)


def training_value(request: Request, env: Any) -> float:
    """The varied quantity's value during training: the env's own parameter, or 0."""
    if request.vary in PERTURBATIONS:
        return 0.0
    if not isinstance(env, JaxEnv):
        probe = env.make_one()
        try:
            return host_param_value(probe, request.vary)
        finally:
            probe.close()
    return float(getattr(env.params, request.vary))


@dataclass
class Outcome:
    """What a request did with one unit: "stored" (already there), "done" (evaluated now) or
    "skipped" (with the reason)."""

    row: dict[str, Any]
    status: str
    reason: str | None = None
    seconds: float | None = None


def run_robustness(store: Store, request: Request, where: str) -> list[Outcome]:
    """Evaluate every unit of ``store`` that has policies on a JAX-native env under
    ``request``, storing each one's returns; units already evaluated under it are skipped.

    Raises:
        UserError: the store has no unit, or none that can be evaluated (the message says why
            for each), or the request does not fit an env (see :func:`check_env`).
    """
    rows = store.units()
    if not rows:
        raise UserError(f"{store.directory}: no unit is stored here")
    reasons: list[str | None] = []
    misfits: list[tuple[str, str]] = []  # (unit, why the request does not fit its env)
    for row in rows:
        reason = _why_not(store, row)
        if reason is None:
            try:
                check_env(request, envs.make(row["env"], **row["meta"].get("env_kwargs", {})))
            except UserError as e:
                reason = str(e)
                misfits.append((describe_unit(row), reason))
        reasons.append(reason)
    if all(reasons):
        if misfits:  # the request is wrong for every env it could run on
            raise UserError(f"{where}: {_reasons(*zip(*misfits, strict=True))}")
        why = _reasons([describe_unit(row) for row in rows], [str(r) for r in reasons])
        raise UserError(f"{where}: no stored policy in {store.directory} to evaluate: {why}")
    stored = store.robustness_keys(request.key)
    outcomes = []
    for row, reason in zip(rows, reasons, strict=True):
        if reason is not None:
            outcomes.append(Outcome(row, "skipped", reason))
        elif row["key"] in stored:
            outcomes.append(Outcome(row, "stored"))
        else:
            outcomes.append(_evaluate(store, row, request))
    return outcomes


def check_units(request: Request, units: list[Any], where: str) -> None:
    """Before training: that ``request`` can evaluate some of the planned ``units`` (see
    :func:`check_env`); the others will be skipped with their reason.

    Raises:
        UserError: none of them can be evaluated (one line: why, for each).
    """
    planners, misfits = [], []
    for unit in units:
        name = f"{unit.algo.display} on {unit.env.name}"
        if ALGORITHMS[unit.algo.name].kind == "planner":
            planners.append((name, f"{unit.algo.name} is a planner: it has no policy to evaluate"))
            continue
        try:
            check_env(request, envs.make(unit.env.id, **unit.env.kwargs))
        except UserError as e:
            misfits.append((name, str(e)))
            continue
        return
    if misfits:
        raise UserError(f"{where}: {_reasons(*zip(*misfits, strict=True))}")
    raise UserError(f"{where}: no policy to evaluate: {_reasons(*zip(*planners, strict=True))}")


def _reasons(names: tuple[str, ...] | list[str], reasons: tuple[str, ...] | list[str]) -> str:
    """Each reason once, with the units it holds for (just the reason when all share it)."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in zip(names, reasons, strict=True):
        by_reason.setdefault(reason, []).append(name)
    if len(by_reason) == 1:
        return reasons[0]
    return "; ".join(f"{', '.join(units)}: {reason}" for reason, units in by_reason.items())


def _why_not(store: Store, row: dict[str, Any]) -> str | None:
    """Why a stored unit has no policy to evaluate, or None when it has."""
    meta = row["meta"] or {}
    if row["status"] != "done":
        return "the unit failed"
    if meta.get("driver") in NOT_RLCHECKS:
        return f"{NOT_RLCHECKS[meta['driver']]}: rlcheck stores no policy for it"
    if ALGORITHMS[row["algo"]].kind == "planner":
        return f"{row['algo']} is a planner: it has no policy to evaluate"
    if "policy" not in meta:
        return "stored before rlcheck kept policies"
    if not any(status == "ok" for _, status, *_ in store.seed_rows(row["key"])):
        return "every seed diverged"
    return None


def _evaluate(store: Store, row: dict[str, Any], request: Request) -> Outcome:
    usable = [s for s, status, *_ in store.seed_rows(row["key"]) if status == "ok"]
    policies = read_policies(store, row, usable)
    env = policies.env
    start = time.perf_counter()
    if isinstance(env, JaxEnv):
        returns = evaluate_request(policies, request, row["eval"]["deterministic"])
    else:
        checkpoints = len(store.array(row["key"], -1, "checkpoint_steps"))
        returns = host_returns(
            policies, request, row["eval"]["deterministic"], stream=1 + checkpoints
        )
    seconds = time.perf_counter() - start
    # A unit trained with the parameter randomized has a training range, not a value.
    drawn = (row["meta"].get("env_randomize") or {}).get(request.vary)
    randomized = {"training_range": [float(b) for b in drawn]} if drawn else {}
    store.write_robustness(
        request.key,
        row["key"],
        {**request.as_dict(), "training_value": training_value(request, env), **randomized},
        usable,
        returns,
        seconds,
    )
    return Outcome(row, "done", seconds=seconds)


def evaluate_request(policies: Any, request: Request, deterministic: bool) -> np.ndarray:
    """Returns of every stored policy under every value of the request's grid.

    Args:
        policies: a unit's stored policies (:func:`rlcheck.experiment.policies.read_policies`).
        request: what varies, and what is held fixed.
        deterministic: act greedily (the unit's evaluation setting).

    Returns:
        (seeds, values, episodes) returns.
    """
    program, args = robustness_program(policies, request, deterministic)
    return np.asarray(program(*args))


def robustness_program(policies: Any, request: Request, deterministic: bool) -> tuple[Any, tuple]:
    """The jitted program of :func:`evaluate_request` and its arguments (``program(*args)``
    runs it; ``program.lower(*args).compile()`` compiles it apart)."""
    env, agent = policies.env, policies.agent
    values = np.asarray(request.values, np.float32)
    grid = len(values)
    env_params = None
    if request.vary not in PERTURBATIONS:
        env_params = stack_params(
            [replace_params(env.params, **{request.vary: float(v)}) for v in request.values]
        )
    size = {
        "obs_noise": request.obs_noise,
        "action_noise": request.action_noise,
        "action_delay": request.action_delay,
    }
    fields: dict[str, Any] = {}
    for name, held in size.items():
        if name == request.vary:
            fields[name] = jnp.asarray(values)
        elif held:
            fields[name] = jnp.full(grid, held, jnp.float32)
    if "action_delay" in fields:
        fields["action_delay"] = fields["action_delay"].astype(jnp.int32)
    max_delay = int(max(request.values)) if request.vary == "action_delay" else request.action_delay
    final_key = search.final_eval_key if policies.driver == "baseline" else fused.final_eval_key
    keys = jnp.stack(
        [
            final_key(seed)
            if request.seed is None
            else jax.random.fold_in(jax.random.PRNGKey(request.seed), seed)
            for seed in policies.seeds
        ]
    )
    program = jax.jit(
        lambda params, keys, env_params, perturbation: play_grid(
            env,
            agent.policy_apply,
            params,
            keys,
            request.episodes,
            env_params,
            perturbation,
            deterministic=deterministic,
            step_cap=env.spec.time_limit or DEFAULT_EVAL_STEP_CAP,
            max_delay=max_delay,
        )
    )
    return program, (policies.params, keys, env_params, Perturbation(**fields))


def host_returns(policies: Any, request: Request, deterministic: bool, stream: int) -> np.ndarray:
    """:func:`evaluate_request` on a Gymnasium env: per value, one vector env of seeds ×
    episodes copies built with the parameter set, stepped in Python with every seed's policy
    vmapped. Each seed resets its episodes with the env seeds of its final evaluation
    (``stream``; with ``request.seed``, a stream of their own), the same at every value,
    so at the training value a deterministic policy replays its final episodes.

    Returns:
        (seeds, values, episodes) returns.
    """
    agent, env = policies.agent, policies.env
    num_seeds, episodes = len(policies.seeds), request.episodes
    if request.seed is not None:
        stream = _OTHER_EPISODES + request.seed  # past every evaluation's stream
    resets = [s for seed in policies.seeds for s in env_seeds(seed, stream, episodes)]
    act = jax.jit(
        jax.vmap(lambda p, o, k: agent.policy_apply(p, o, k, deterministic), in_axes=(0, 0, 0))
    )
    cap = env.spec.time_limit or DEFAULT_EVAL_STEP_CAP
    out = np.zeros((num_seeds, len(request.values), episodes))
    for v, value in enumerate(request.values):
        keys = jnp.stack([jax.random.PRNGKey(seed) for seed in policies.seeds])
        vec = with_host_param(env, request.vary, float(value)).vector(resets)
        try:
            obs = vec.reset(resets)
            returns = np.zeros(num_seeds * episodes)
            done = np.zeros(num_seeds * episodes, bool)
            for _ in range(cap):
                keys, sub = jax.vmap(jax.random.split, out_axes=1)(keys)
                action = np.asarray(
                    act(policies.params, obs.reshape(num_seeds, episodes, *obs.shape[1:]), sub)
                )
                step = vec.step(action.reshape(num_seeds * episodes, *action.shape[2:]))
                returns += np.where(done, 0.0, step.reward)
                done |= step.terminated | step.truncated
                if done.all():
                    break
                obs = step.obs
        finally:
            vec.close()
        out[:, v] = returns.reshape(num_seeds, episodes)
    return out
