"""Train one batch of a unit's seeds in this process: build the env and the agent once, pick the
driver that runs them, and return the results (or the error) as data."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlcheck.experiment.plan import UnitPlan


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
    nothing until they finish).
    """
    from rlcheck import envs
    from rlcheck.baselines.base import Baseline
    from rlcheck.drivers.fused import FusedDriver
    from rlcheck.drivers.host import HostDriver
    from rlcheck.registry import make_agent

    envs.import_packages(unit.env_packages, "import")
    env = envs.make(unit.env.id, **unit.env.kwargs)
    agent = make_agent(unit.algo.name, env.spec, unit.overrides, unit.budget)
    schedule = unit.schedule
    if isinstance(agent, Baseline):
        return "baseline", _BaselineDriver(agent, env, schedule, unit.eval_plan)
    if isinstance(env, envs.JaxEnv):
        return "fused", FusedDriver(agent, env, schedule, unit.eval_plan)
    return "host", HostDriver(agent, env, schedule, unit.eval_plan, progress)


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
        results, timings = driver.run(seeds)
        if driver_name != "host" and progress is not None:
            progress(len(seeds) * len(unit.schedule.update_ends))
        return TaskResult(results, timings, device=device, driver=driver_name)
    except Exception as e:
        return TaskResult(
            None,
            error=f"{type(e).__name__}: {e}",
            detail=traceback.format_exc(),
            device=device,
            driver=driver_name,
        )
