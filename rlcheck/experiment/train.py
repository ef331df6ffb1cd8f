"""Train one batch of a unit's seeds in this process: build the env and the agent once, pick the
driver that runs them, and return the results (or the error) as data."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlcheck.experiment.plan import UnitGroup, UnitPlan


@dataclass
class TaskResult:
    """What one batch of seeds gave: results (None on failure), timings, the error and its
    traceback, the JAX device, and which driver ran it ("fused", "host" or "baseline")."""

    results: dict[str, np.ndarray] | None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    detail: str | None = None
    device: str | None = None
    driver: str | None = None


@dataclass
class _BaselineDriver:
    """A baseline with its env, schedule and evaluation plan, run like a driver: baselines
    (policy search, planners) run their own program with the drivers' result layout plus what
    they cost (rlcheck/baselines/base.py)."""

    baseline: Any
    env: Any
    schedule: Any
    plan: Any

    def run(self, seeds: list[int]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        return self.baseline.run(self.env, self.schedule, self.plan, seeds)


def make_driver(unit: UnitPlan, progress: Callable[[int], None] | None = None) -> tuple[str, Any]:
    """The env, the agent and the driver of ``unit``, built once: (driver name, driver).

    ``progress(c)`` is called after each checkpoint by the host driver (the others report
    nothing until they finish). The env entry's params are the env's own here (compiled in as
    constants by the fused driver); its reward scale goes to the driver's ``run``
    (:func:`run_driver`).
    """
    from rlcheck import envs
    from rlcheck.baselines.base import Baseline
    from rlcheck.drivers.fused import FusedDriver
    from rlcheck.drivers.host import HostDriver
    from rlcheck.envs.randomize import randomized
    from rlcheck.registry import make_agent

    envs.import_packages(unit.env_packages, "import")
    env = envs.make(unit.env.id, **unit.env.kwargs)
    if unit.env.params:
        env = env.with_params(**unit.env.params)
    if unit.env.randomize:
        env = randomized(env, unit.env.randomize, f"env {unit.env.name}: randomize")
    agent = make_agent(unit.algo.name, env.spec, unit.overrides, unit.budget)
    schedule = unit.schedule
    if isinstance(agent, Baseline):
        return "baseline", _BaselineDriver(agent, env, schedule, unit.eval_plan)
    if isinstance(env, envs.JaxEnv):
        return "fused", FusedDriver(agent, env, schedule, unit.eval_plan)
    scale = None if unit.env.reward_scale == 1.0 else unit.env.reward_scale
    return "host", HostDriver(agent, env, schedule, unit.eval_plan, progress, scale)


def run_driver(
    unit: UnitPlan, driver_name: str, driver: Any, seeds: list[int]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Run ``unit``'s driver on ``seeds``: the fused driver takes the reward scale per seed
    (the host driver was given it when built; baselines take none, see plan)."""
    if driver_name == "fused" and unit.env.reward_scale != 1.0:
        return driver.run(seeds, reward_scale=[unit.env.reward_scale] * len(seeds))
    return driver.run(seeds)


def train_seeds(
    unit: UnitPlan, seeds: list[int], progress: Callable[[int], None] | None = None
) -> TaskResult:
    """Train a batch of one unit's seeds in this process with the driver its env needs.

    ``progress(n)`` is told of every n seed-checkpoints done: after each checkpoint under the
    host driver, all at once at the end of a fused program (see rlcheck/drivers/fused.py).
    A failing env or agent is data about this unit, not a crash: the error comes back in the
    result.
    """
    device = driver_name = None
    try:
        import jax

        device = str(jax.devices()[0])
        per_checkpoint = None if progress is None else (lambda _: progress(len(seeds)))
        driver_name, driver = make_driver(unit, per_checkpoint)
        results, timings = run_driver(unit, driver_name, driver, seeds)
        if driver_name != "host" and progress is not None:
            progress(len(seeds) * len(unit.schedule.update_ends))
        return TaskResult(results, timings, device=device, driver=driver_name)
    except Exception as e:
        return _failed(e, device, driver_name)


def train_rows(
    group: UnitGroup, rows: list[tuple[int, int]], progress: Callable[[int], None] | None = None
) -> TaskResult:
    """Train rows (unit index, seed) of a group of units that differ only in traced values,
    as one vmapped program on the fused driver: results have one leading row per entry of
    ``rows``.

    What every row shares enters the program as it does for a single unit (the env's params
    compiled in, the hyperparameters unbatched), so a group of one unit computes exactly what
    that unit alone does; what differs is an input with one value per row.
    """
    from rlcheck import envs
    from rlcheck.drivers.fused import FusedDriver
    from rlcheck.envs.params import replace_params
    from rlcheck.registry import make_agent

    device = None
    try:
        import jax

        device = str(jax.devices()[0])
        units = group.units
        first = units[0]
        env = envs.make(first.env.id, **first.env.kwargs)
        params = [u.env.params for u in units]
        env_params = None
        if all(p == params[0] for p in params):
            env = env.with_params(**params[0])
        else:
            values = [replace_params(env.params, **p) for p in params]
            env_params = [values[i] for i, _ in rows]
        agents = [make_agent(u.algo.name, env.spec, u.overrides, u.budget) for u in units]
        hparams = [{k: np.asarray(v) for k, v in a.hparams().items()} for a in agents]
        shared = all(_same(h, hparams[0]) for h in hparams)
        scales = [u.env.reward_scale for u in units]
        driver = FusedDriver(agents[0], env, first.schedule, first.eval_plan)
        results, timings = driver.run(
            [seed for _, seed in rows],
            env_params=env_params,
            hparams=None if shared else [hparams[i] for i, _ in rows],
            reward_scale=None if all(x == 1.0 for x in scales) else [scales[i] for i, _ in rows],
        )
        if progress is not None:
            progress(len(rows) * len(first.schedule.update_ends))
        return TaskResult(results, timings, device=device, driver="fused")
    except Exception as e:
        return _failed(e, device, "fused")


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _failed(error: Exception, device: str | None, driver: str | None) -> TaskResult:
    return TaskResult(
        None,
        error=f"{type(error).__name__}: {error}",
        detail=traceback.format_exc(),
        device=device,
        driver=driver,
    )
