"""Run units: each unit's seeds are split across worker processes, and each finished unit is
stored in one transaction (or recorded as failed) before the next one starts.

Why processes: the programs are many tiny kernels, which one XLA:CPU process cannot spread over
cores; one process per core, each pinned to its core and given a share of the seeds, can.
Workers are spawned (not forked: JAX is not fork-safe) once per run and reused for every unit.

Why pinned: XLA sizes its CPU thread pool from the process's CPU affinity. Unpinned, our fused
programs stalled forever (every XLA thread idle) in 6 of 22 runs with JAX 0.10 on a 2-core
machine, with or without asynchronous dispatch or multi-threaded Eigen; pinned, none did in 20
runs (docs/DESIGN-NOTES.md). A watchdog catches a stall anyway and reruns the unit (results
are deterministic). Unpinned processes (GPU workers, a user's own) get the XLA flag that
avoids the stall instead (:data:`rlcheck.XLA_CPU_STALL_WORKAROUND`); pinned ones do not need
it and run faster without it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import signal
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

import rlcheck
from rlcheck.experiment.plan import UnitPlan
from rlcheck.experiment.provenance import provenance, usable_cores
from rlcheck.experiment.record import array_rows, scalar_rows, seed_rows
from rlcheck.experiment.store import Store, UnitRecord

# A busy worker whose CPU time has not moved for this long is stalled (see _Watchdog).
STALL_SECONDS = 90.0


def cache_dir() -> Path:
    """Where JAX keeps compiled programs between runs (``RLCHECK_CACHE_DIR`` overrides)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rlcheck" / "xla"
    return Path(os.environ.get("RLCHECK_CACHE_DIR", default))


def configure_jax() -> None:
    """Use the persistent compilation cache, so a repeated run does not compile again."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(cache_dir()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def worker_xla_flags(user_flags: str | None, pinned: bool = True) -> str:
    """XLA flags for workers: the user's, plus LLVM -O1 unless they chose a level; for workers
    that are not pinned to one core, plus :data:`rlcheck.XLA_CPU_STALL_WORKAROUND` unless the
    user chose YNNPACK fusions (pinned workers do not stall and run faster without it, so it is
    dropped for them where only rlcheck's import had added it).

    -O1 instead of -O3 compiles a PPO program in 8 s instead of 12 s on one core and runs it as
    fast (BENCHMARKS.md); a warm run loads it from the cache either way.
    """
    tokens = (user_flags or "").split()
    if pinned and rlcheck.XLA_WORKAROUND_SET_ON_IMPORT:
        tokens = [t for t in tokens if t != rlcheck.XLA_CPU_STALL_WORKAROUND]
    flags = " ".join(tokens)
    if "xla_backend_optimization_level" not in flags:
        flags = f"{flags} --xla_backend_optimization_level=1".strip()
    if not pinned and "xla_cpu_experimental_ynn_fusion_type" not in flags:
        flags = f"{flags} {rlcheck.XLA_CPU_STALL_WORKAROUND}"
    return flags


def has_gpu_plugin() -> bool:
    """Whether a JAX GPU plugin is installed (checked without starting JAX)."""
    import importlib.util

    plugins = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin", "jax_rocm7_plugin")
    return any(importlib.util.find_spec(p) is not None for p in plugins)


def default_workers(num_seeds: int) -> int:
    """One worker per usable CPU core (at most one per seed); one when JAX has a GPU."""
    if has_gpu_plugin():
        return 1
    return max(1, min(usable_cores(), num_seeds))


# ---- what a worker runs ------------------------------------------------------------------------


@dataclass
class TaskResult:
    results: dict[str, np.ndarray] | None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    detail: str | None = None
    device: str | None = None


_WORKER_QUEUE: Any = None


def _init_worker(messages: Any, cores: Any) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = messages
    core = cores.get()
    if core is not None:
        os.sched_setaffinity(0, {core})
    # A worker only trains; the parent handles Ctrl-C and tells workers to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_jax()


def train_seeds(
    unit: UnitPlan, seeds: list[int], progress: Callable[[int], None] | None = None
) -> TaskResult:
    """Train a batch of one unit's seeds in this process with the driver its env needs.

    ``progress(n)`` is told of every n seed-checkpoints done: after each checkpoint under the
    host driver, all at once at the end of a fused program (see rlcheck/drivers/fused.py).
    """
    from rlcheck import envs
    from rlcheck.agents import make_agent
    from rlcheck.baselines.base import Baseline
    from rlcheck.drivers.common import make_schedule
    from rlcheck.drivers.fused import FusedDriver
    from rlcheck.drivers.host import HostDriver

    device = None
    try:
        import jax

        device = str(jax.devices()[0])
        env = envs.make(unit.env.id, **unit.env.kwargs)
        agent = make_agent(unit.algo.name, env.spec, unit.overrides, unit.budget)
        schedule = make_schedule(
            unit.budget,
            agent.num_envs * agent.rollout_len,
            unit.eval.checkpoints,
            unit.algo.display,
        )
        if isinstance(agent, Baseline):
            # Baselines (search, planners) run their own program with the same result layout
            # plus what they cost (rlcheck/baselines/base.py).
            driver: Any = _BaselineDriver(agent, env, schedule, unit.eval_plan)
        elif isinstance(env, envs.JaxEnv):
            driver = FusedDriver(agent, env, schedule, unit.eval_plan)
        else:
            driver = HostDriver(
                agent,
                env,
                schedule,
                unit.eval_plan,
                None if progress is None else lambda _: progress(len(seeds)),
            )
        results, timings = driver.run(seeds)
        if not isinstance(driver, HostDriver) and progress is not None:
            progress(len(seeds) * unit.eval.checkpoints)
        return TaskResult(results, timings, device=device)
    except Exception as e:  # a failing env or agent is data about this unit, not a crash
        return TaskResult(
            None, error=f"{type(e).__name__}: {e}", detail=traceback.format_exc(), device=device
        )


@dataclass
class _BaselineDriver:
    """A baseline with its env, schedule and evaluation plan, run like a driver."""

    baseline: Any
    env: Any
    schedule: Any
    plan: Any

    def run(self, seeds: list[int]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        return self.baseline.run(self.env, self.schedule, self.plan, seeds)


def _worker_task(unit: UnitPlan, seeds: list[int]) -> TaskResult:
    pid = os.getpid()
    _WORKER_QUEUE.put(("busy", pid, None))
    try:
        return train_seeds(
            unit, seeds, lambda n: _WORKER_QUEUE.put(("progress", pid, (unit.key, n)))
        )
    finally:
        _WORKER_QUEUE.put(("idle", pid, None))


# ---- the parent side ---------------------------------------------------------------------------


class ProgressSink(Protocol):
    def start_unit(self, unit: UnitPlan, total: int) -> None: ...

    def advance(self, unit_key: str, n: int = 1) -> None: ...

    def end_unit(self, unit: UnitPlan, outcome: UnitOutcome) -> None: ...


@dataclass
class UnitOutcome:
    unit: UnitPlan
    status: str  # "done" | "failed" | "stored" (already in the store, skipped)
    reason: str | None = None
    wall_s: float | None = None


class _Stalled(Exception):
    pass


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Watchdog:
    """Notices a busy worker whose CPU time stops moving: an XLA program that will never end.

    A stall is rare and its cause is outside rlcheck (see :func:`configure_jax`); since results
    are deterministic, the unit is simply run again in fresh workers.
    """

    def __init__(self, stall_seconds: float):
        self.stall_seconds = stall_seconds
        self.busy: dict[int, tuple[float | None, float]] = {}

    def mark(self, kind: str, pid: int) -> None:
        if kind == "busy":
            self.busy[pid] = (_cpu_seconds(pid), time.monotonic())
        else:
            self.busy.pop(pid, None)

    def stalled(self) -> list[int]:
        now = time.monotonic()
        out = []
        for pid, (cpu, since) in list(self.busy.items()):
            current = _cpu_seconds(pid)
            if current is None:
                continue
            if cpu is None or current > cpu + 0.05:
                self.busy[pid] = (current, now)
            elif now - since > self.stall_seconds:
                out.append(pid)
        return out


class Executor:
    """Runs units one after another, all workers on each unit's seeds, storing as it goes.

    Args:
        store, run_id: where results go.
        workers: processes per unit; 0 trains in this process (no isolation, for tests).
        progress: optional sink for progress events.
    """

    def __init__(
        self,
        store: Store,
        run_id: int,
        workers: int,
        progress: ProgressSink | None = None,
        stall_seconds: float = STALL_SECONDS,
    ):
        self.store = store
        self.run_id = run_id
        self.workers = workers
        self.progress = progress
        self.stall_seconds = stall_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._messages: Any = None
        self._saved_xla_flags: str | None = None
        self._watchdog = _Watchdog(stall_seconds)
        self._provenance = provenance()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._restart_pool(wait=False)
        if self._saved_xla_flags is not None:
            os.environ["XLA_FLAGS"] = self._saved_xla_flags
            if not self._saved_xla_flags:
                del os.environ["XLA_FLAGS"]
            os.environ.pop(rlcheck.PINNED_WORKER_ENV, None)
            self._saved_xla_flags = None

    def run(self, units: list[UnitPlan]) -> list[UnitOutcome]:
        done = self.store.done_keys()
        outcomes = []
        for unit in units:
            outcome = UnitOutcome(unit, "stored") if unit.key in done else self._run_unit(unit)
            if self.progress is not None:
                self.progress.end_unit(unit, outcome)
            outcomes.append(outcome)
        return outcomes

    # ---- one unit ---------------------------------------------------------------------------

    def _run_unit(self, unit: UnitPlan) -> UnitOutcome:
        if self.progress is not None:
            self.progress.start_unit(unit, len(unit.seeds) * unit.eval.checkpoints)
        start = time.perf_counter()
        attempts = 0
        while True:
            attempts += 1
            try:
                parts = self._train(unit)
                break
            except _Stalled:
                if attempts >= 2:
                    parts = [
                        TaskResult(
                            None,
                            error=f"XLA program stalled twice (no CPU progress "
                            f"for {self.stall_seconds:.0f} s)",
                        )
                    ]
                    break
            except BrokenProcessPool:
                self._restart_pool()
                parts = [TaskResult(None, error="a worker process died (crash or out of memory)")]
                break
        wall_s = time.perf_counter() - start
        return self._record(unit, parts, wall_s, attempts)

    def _train(self, unit: UnitPlan) -> list[TaskResult]:
        chunks = [
            c.tolist() for c in np.array_split(np.array(unit.seeds), self.workers or 1) if len(c)
        ]
        if self.workers == 0:
            sink = self.progress
            return [
                train_seeds(
                    unit, chunk, None if sink is None else lambda n: sink.advance(unit.key, n)
                )
                for chunk in chunks
            ]
        pool = self._ensure_pool()
        futures = [pool.submit(_worker_task, unit, chunk) for chunk in chunks]
        self._wait(futures)
        return [f.result() for f in futures]

    def _wait(self, futures: list[Future]) -> None:
        """Wait for a unit's chunks, relaying worker messages and watching for stalls."""
        while not all(f.done() for f in futures):
            self._relay_messages(timeout=1.0)
            if self._watchdog.stalled():
                self._restart_pool()
                raise _Stalled
        self._relay_messages(timeout=None)

    def _relay_messages(self, timeout: float | None) -> None:
        """Handle worker messages: wait up to ``timeout`` for the first, then take what is there."""
        while True:
            try:
                if timeout is None:
                    kind, pid, payload = self._messages.get_nowait()
                else:
                    kind, pid, payload = self._messages.get(timeout=timeout)
                    timeout = None
            except queue_module.Empty:
                return
            if kind == "progress" and self.progress is not None:
                self.progress.advance(*payload)
            elif kind in ("busy", "idle"):
                self._watchdog.mark(kind, pid)

    def _record(
        self, unit: UnitPlan, parts: list[TaskResult], wall_s: float, attempts: int
    ) -> UnitOutcome:
        from rlcheck.agents import make_agent
        from rlcheck.drivers.common import make_schedule

        agent = make_agent(unit.algo.name, unit.env_spec, unit.overrides, unit.budget)
        schedule = make_schedule(
            unit.budget,
            agent.num_envs * agent.rollout_len,
            unit.eval.checkpoints,
            unit.algo.display,
        )
        meta = {
            "workers": len(parts),
            "chunks": [t.timings for t in parts],
            "device": next((t.device for t in parts if t.device), None),
            "driver": "fused" if unit.env_spec.kind == "jax" else "host",
            "metric_names": list(agent.metric_names),
            "env_spec": env_spec_dict(unit.env_spec),
            "attempts": attempts,
        }
        record = UnitRecord(
            key=unit.key,
            env=unit.env.id,
            env_label=unit.env.name,
            algo=unit.algo.name,
            algo_label=unit.algo.display,
            config=unit.config,
            overrides=_jsonable(unit.overrides),
            seeds=list(unit.seeds),
            budget=unit.budget,
            eval=unit.eval.model_dump(),
            status="done",
            env_steps=schedule.env_steps,
            wall_s=wall_s,
            compile_s=max((t.timings.get("compile_s", 0.0) for t in parts), default=None),
            meta=meta,
            provenance=self._provenance,
        )
        failed = next((t for t in parts if t.error is not None), None)
        if failed is None:
            results = {k: np.concatenate([t.results[k] for t in parts]) for k in parts[0].results}
            _baseline_costs(results, record)
            if not results["env_finite"].all():
                bad = [s for s, ok in zip(unit.seeds, results["env_finite"], strict=True) if not ok]
                failed = TaskResult(
                    None, error=f"env returned a NaN/inf observation or reward (seeds {bad})"
                )
        if failed is not None:
            record.status, record.reason = "failed", failed.error
            self.store.write_failure(self.run_id, record, failed.detail)
            return UnitOutcome(unit, "failed", failed.error, wall_s)
        seeds = list(unit.seeds)
        self.store.write_unit(
            self.run_id,
            record,
            seed_rows(results, seeds, schedule, agent.metric_names),
            scalar_rows(results, seeds, schedule),
            array_rows(results, seeds, schedule),
        )
        return UnitOutcome(unit, "done", None, wall_s)

    # ---- workers ----------------------------------------------------------------------------

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            worker_cores = _worker_cores(self.workers)
            pinned = all(core is not None for core in worker_cores)
            if self._saved_xla_flags is None:
                # Spawned workers inherit this process's environment; XLA reads it at start-up.
                self._saved_xla_flags = os.environ.get("XLA_FLAGS", "")
                os.environ["XLA_FLAGS"] = worker_xla_flags(self._saved_xla_flags, pinned)
                if pinned:
                    os.environ[rlcheck.PINNED_WORKER_ENV] = "1"
            context = mp.get_context("spawn")
            self._messages = context.Queue()
            cores = context.Queue()
            for core in worker_cores:
                cores.put(core)
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._messages, cores),
            )
            self._watchdog = _Watchdog(self.stall_seconds)
        return self._pool

    def _kill_workers(self) -> None:
        # The pool's own processes: no public accessor, and shutdown() would wait for a
        # stalled XLA program forever.
        for process in list(getattr(self._pool, "_processes", {}).values()):
            if process.is_alive():
                process.kill()

    def _restart_pool(self, wait: bool = True) -> None:
        """Kill the workers and drop the pool; the next unit starts a fresh one."""
        if self._pool is not None:
            self._kill_workers()
            self._pool.shutdown(wait=wait, cancel_futures=True)
        self._pool = None


def _baseline_costs(results: dict[str, np.ndarray], record: UnitRecord) -> None:
    """Baselines count what they used (rlcheck/baselines/base.py): env steps differ by seed
    for policy search (whole generations), are 0 for planners, and planners add their
    simulator calls. The unit's env steps per seed become the mean over seeds."""
    meta = record.meta if record.meta is not None else {}
    if "env_steps" in results:
        used = [int(n) for n in results["env_steps"]]
        record.env_steps = round(sum(used) / len(used))
        meta["env_steps_per_seed"] = used
    if "simulator_calls" in results:
        calls = [int(n) for n in results["simulator_calls"]]
        meta["simulator_calls"] = sum(calls)
        meta["simulator_calls_per_seed"] = calls


def _worker_cores(workers: int) -> list[int | None]:
    """The core each worker is pinned to (round robin), or None (no pinning) with a GPU."""
    if has_gpu_plugin() or not hasattr(os, "sched_getaffinity"):
        return [None] * workers
    cores = sorted(os.sched_getaffinity(0))
    return [cores[i % len(cores)] for i in range(workers)]


def env_spec_dict(spec: Any) -> dict[str, Any]:
    """An EnvSpec as JSON: what reports need to know about the env (threshold, spaces)."""
    from dataclasses import asdict

    return {
        **asdict(spec),
        "action_space": {"type": type(spec.action_space).__name__, **asdict(spec.action_space)},
    }


def _jsonable(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}
