"""Run units as Ray tasks, on a cluster or on a Ray instance started on this machine, and store
each one here as it arrives.

A unit's seeds (a group's rows) are split into as many shards as the local executor has
workers, each shard one Ray task on one core; the driver joins a unit's shards and writes the
unit (a group's units) in one transaction as soon as its last shard arrives. The driver is the
only writer of the store, so resuming is the local executor's: stored units are skipped, and a
unit cut off by a crash of the driver is run again.

What a task carries: the unit's plan (``UnitPlan`` or ``UnitGroup``: env entry, algorithm,
config, seeds, budget, evaluation) and its shard of seeds; it returns the shard's results as
arrays. Nothing else crosses: no store, no agent, no env (the worker builds its own, like a
local worker does).

Numbers equal the local executor's: the same shards, and every Ray worker process pinned to one
core with the local workers' XLA flags (rlcheck/experiment/workers.py) before JAX starts.

Faults: when a worker process dies (killed, out of memory, its node gone from the cluster), the
driver submits its shard again, ``retries`` times at most, and Ray places it on a node that is
still there; then the unit is recorded as failed with the reason. (The driver retries rather
than Ray, so that it knows each unit's attempts.) A stalled XLA program (no CPU progress for
``stall_seconds``) ends its worker process and is retried the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rlcheck
from rlcheck.errors import EnvWarning, UserError
from rlcheck.experiment.execute import (
    ProgressSink,
    UnitOutcome,
    in_order,
    pending_job,
    row_chunks,
    seed_chunks,
    store_group,
    store_unit,
)
from rlcheck.experiment.plan import UnitGroup, UnitPlan
from rlcheck.experiment.provenance import provenance, usable_cores
from rlcheck.experiment.store import Store
from rlcheck.experiment.train import TaskResult, train_rows, train_seeds
from rlcheck.experiment.workers import STALL_SECONDS, configure_jax, worker_xla_flags

# How many times a shard is submitted again after its worker process or node died.
RETRIES = 2
# With GPUs in the cluster, each task takes this share of one (and of its memory, a little
# less, so that the shares' JAX processes fit side by side).
GPU_SHARE = 0.25
INSTALL = "pip install 'rlcheck[ray]'"


def require_ray() -> None:
    """Raises a one-line :class:`UserError` saying how to install Ray when it is missing."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError(f"--executor ray needs Ray, an optional extra: {INSTALL}") from None


# ---- inside a Ray worker process ----------------------------------------------------------

_CORE_LOCK: Any = None  # the open lock file of the core this process holds, while it lives
_PREPARED = False


def _claim_core(cores: list[int]) -> int:
    """A core no other rlcheck Ray worker on this machine holds (a lock file per core, freed
    when its process ends), or one shared round robin when every core is held."""
    global _CORE_LOCK
    import fcntl

    directory = Path(tempfile.gettempdir()) / "rlcheck-cores"
    directory.mkdir(exist_ok=True)
    for core in cores:
        try:
            lock = (directory / f"{core}.lock").open("a")
        except OSError:  # another user's lock file
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        _CORE_LOCK = lock
        return core
    return cores[os.getpid() % len(cores)]


def _prepare_worker() -> None:
    """Once per worker process, before JAX computes anything: pin it to one core of those its
    node may use (unless it runs on a GPU; see rlcheck/experiment/workers.py for why), use the
    compilation cache, and leave env warnings to the driver, which showed them when planning."""
    global _PREPARED
    if _PREPARED:
        return
    if os.environ.get(rlcheck.PINNED_WORKER_ENV) == "1" and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {_claim_core(sorted(os.sched_getaffinity(0)))})
    warnings.simplefilter("ignore", EnvWarning)
    configure_jax()
    _PREPARED = True


class StallWatch:
    """Calls ``on_stall`` when this process's CPU time has not moved for ``stall_seconds``
    while the watch is on: the XLA:CPU stall (rlcheck/experiment/workers.py), seen from inside
    the worker, since the driver may be on another machine."""

    def __init__(self, stall_seconds: float, on_stall: Callable[[], None], every: float = 1.0):
        self.stall_seconds = stall_seconds
        self.on_stall = on_stall
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        cpu, since = time.process_time(), time.monotonic()
        while not self._stop.wait(self.every):
            now = time.process_time()
            if now > cpu + 0.05:
                cpu, since = now, time.monotonic()
            elif time.monotonic() - since > self.stall_seconds:
                self.on_stall()
                return


def _send(messages: Any, message: tuple) -> None:
    """Tell the driver; progress is not worth failing a unit for, so a lost queue is ignored."""
    with contextlib.suppress(Exception):
        messages.put(message)


def _stalled(messages: Any, shard: tuple[int, int]) -> None:
    _send(messages, ("stalled", shard, None))
    os._exit(70)  # Ray runs the task again in a fresh process, or records the unit as failed


def train_shard(
    job: UnitPlan | UnitGroup,
    chunk: list,
    messages: Any,
    shard: tuple[int, int],
    stall_seconds: float,
    version: str,
) -> tuple[TaskResult, float, str]:
    """The Ray task: train one shard of a unit's seeds (of a group's rows) in this worker
    process. Returns the result, the seconds it took and the node it ran on. A node with
    another rlcheck version than the driver's (``version``) fails the unit: its numbers could
    differ."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    if rlcheck.__version__ != version:
        error = (
            f"node {node[:8]} has rlcheck {rlcheck.__version__}, the driver {version}: install "
            "the same version on every node"
        )
        return TaskResult(None, error=error), 0.0, node
    _prepare_worker()
    _send(messages, ("start", shard, node))
    key = job.key if isinstance(job, UnitPlan) else job.units[0].key

    def progress(n: int) -> None:
        _send(messages, ("progress", shard, (key, n)))

    start = time.perf_counter()
    with StallWatch(stall_seconds, lambda: _stalled(messages, shard)):
        if isinstance(job, UnitGroup):
            result = train_rows(job, chunk, progress)
        else:
            result = train_seeds(job, chunk, progress)
    return result, time.perf_counter() - start, node


# ---- the driver -----------------------------------------------------------------------------


@dataclass
class _Job:
    """A unit or a group in flight: its shards' tasks and what has come back of them."""

    id: int
    index: int  # of the item it came from, in the list given to run
    item: UnitPlan | UnitGroup
    chunks: list[list]
    parts: dict[int, TaskResult] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)
    nodes: dict[int, str] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)  # tasks submitted per shard
    stalls: dict[int, int] = field(default_factory=dict)
    submitted: float = field(default_factory=time.perf_counter)
    started: bool = False

    @property
    def units(self) -> tuple[UnitPlan, ...]:
        return (self.item,) if isinstance(self.item, UnitPlan) else self.item.units


class RayExecutor:
    """Runs units as Ray tasks, many at once, storing each unit here as it arrives.

    Args:
        store, run_id: where results go (this process is their only writer).
        workers: shards each unit's seeds are split into, one Ray task each (0 counts as 1);
            the local executor's worker count gives the local executor's numbers.
        progress: optional sink for progress events (several units may run at once).
        address: the Ray cluster to connect to (``ray start --head`` prints it; ``auto``, or
            ``ray://HOST:10001`` for Ray Client); None: ``RAY_ADDRESS``, else a Ray instance
            started on this machine for this run, sized to its usable cores, and shut down
            at the end. A process already connected to Ray (a notebook, a test) keeps its
            connection.
        retries: times a shard's task is submitted again after its worker process died (or
            its node left the cluster); then its unit is recorded as failed.
        stall_seconds: how long a worker's CPU time may stand still before it counts as
            stalled.
    """

    def __init__(
        self,
        store: Store,
        run_id: int,
        workers: int,
        progress: ProgressSink | None = None,
        address: str | None = None,
        retries: int = RETRIES,
        stall_seconds: float = STALL_SECONDS,
    ):
        require_ray()
        self.store = store
        self.run_id = run_id
        self.workers = workers
        self.progress = progress
        self.address = address
        self.retries = retries
        self.stall_seconds = stall_seconds
        self._provenance = provenance()
        self._connected = False
        self._owns_connection = False
        self._messages: Any = None
        self._task: Any = None
        self._next_id = 0

    def __enter__(self) -> RayExecutor:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Connect to the cluster (or start a local Ray instance); one-line error if none."""
        if self._connected:
            return
        import ray
        from ray.util.queue import Queue
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if not ray.is_initialized():
            _start_or_connect(self.address or os.environ.get("RAY_ADDRESS"))
            self._owns_connection = True
        here = ray.get_runtime_context().get_node_id()
        # Progress comes back through a queue kept on the driver's node.
        self._messages = Queue(
            actor_options={
                "num_cpus": 0,
                "scheduling_strategy": NodeAffinitySchedulingStrategy(here, soft=True),
            }
        )
        self._task = ray.remote(**self._task_options())(train_shard)
        self._connected = True

    def _task_options(self) -> dict[str, Any]:
        """Each shard on one core (or a share of a GPU), its worker compiling like a local
        worker. Ray itself retries nothing: the driver submits a shard again after its
        worker died, so that it knows each unit's attempts exactly; a unit that fails comes
        back as data."""
        import ray

        gpus = ray.cluster_resources().get("GPU", 0) > 0
        user_flags = os.environ.get("XLA_FLAGS", "")
        env = {
            "XLA_FLAGS": worker_xla_flags(user_flags, pinned=not gpus),
            rlcheck.PINNED_WORKER_ENV: "" if gpus else "1",
            # The flags are set in full above: none of them is one rlcheck's import added.
            "RLCHECK_ADDED_XLA_FLAG": "",
        }
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
        if gpus:
            options["num_gpus"] = GPU_SHARE
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{GPU_SHARE * 0.9:.3f}"
        return {**options, "runtime_env": {"env_vars": env}}

    def close(self) -> None:
        """Drop the queue and disconnect; a Ray instance this executor started stops."""
        if not self._connected:
            return
        import ray

        with contextlib.suppress(Exception):
            ray.kill(self._messages.actor)
        if self._owns_connection:
            ray.shutdown()
        self._connected = False

    def run(self, units: list[UnitPlan | UnitGroup]) -> list[UnitOutcome]:
        """Run units and groups of units, all at once as the cluster allows; one outcome per
        unit, in the order given."""
        import ray

        self.connect()
        done = self.store.done_keys()
        results: list[list[UnitOutcome]] = []
        jobs: dict[int, _Job] = {}
        tasks: dict[Any, tuple[_Job, int]] = {}  # each task in flight → its job and shard
        for index, item in enumerate(units):
            stored, pending = pending_job(item, done)
            results.append([self._report(UnitOutcome(u, "stored")) for u in stored])
            if pending is not None:
                job = self._job(index, pending)
                jobs[job.id] = job
                tasks.update({self._submit(job, i): (job, i) for i in range(len(job.chunks))})
        try:
            while tasks:
                ready, _ = ray.wait(list(tasks), num_returns=1, timeout=0.5)
                self._relay(jobs)
                for ref in ready:
                    job, shard = tasks.pop(ref)
                    if not self._collect(job, shard, ref):
                        tasks[self._submit(job, shard)] = (job, shard)
                    elif len(job.parts) == len(job.chunks):
                        self._relay(jobs)
                        results[job.index] += [self._report(o) for o in self._store(job)]
        finally:
            for ref in tasks:  # interrupted: what is still running would be lost anyway
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
        return [o for item, mine in zip(units, results, strict=True) for o in in_order(item, mine)]

    def _job(self, index: int, item: UnitPlan | UnitGroup) -> _Job:
        chunks: list[list] = (
            seed_chunks(item, self.workers)
            if isinstance(item, UnitPlan)
            else row_chunks(item, self.workers)
        )
        self._next_id += 1
        return _Job(self._next_id, index, item, chunks)

    def _submit(self, job: _Job, shard: int) -> Any:
        job.attempts[shard] = job.attempts.get(shard, 0) + 1
        first = job.units[0]
        task = self._task.options(name=f"rlcheck: {first.algo.display} on {first.env.name}")
        return task.remote(
            job.item,
            job.chunks[shard],
            self._messages,
            (job.id, shard),
            self.stall_seconds,
            rlcheck.__version__,
        )

    def _relay(self, jobs: dict[int, _Job]) -> None:
        """Handle what workers said: a shard started, made progress, stalled."""
        try:
            waiting = self._messages.qsize()
            messages = self._messages.get_nowait_batch(waiting) if waiting else []
        except Exception:  # the queue's actor is gone (its node left): no more progress
            return
        for kind, (job_id, shard), payload in messages:
            job = jobs.get(job_id)
            if job is None:
                continue
            if kind == "start":
                self._started(job)
            elif kind == "stalled":
                job.stalls[shard] = job.stalls.get(shard, 0) + 1
            elif kind == "progress" and self.progress is not None:
                self._started(job)
                self.progress.advance(*payload)

    def _started(self, job: _Job) -> None:
        if job.started:
            return
        job.started = True
        if self.progress is None:
            return
        if isinstance(job.item, UnitPlan):
            self.progress.start_unit(job.item, len(job.item.seeds) * job.item.checkpoints)
        else:
            rows = len(job.item.rows) * job.item.units[0].checkpoints
            self.progress.start_group(job.item.units, rows)

    def _collect(self, job: _Job, shard: int, ref: Any) -> bool:
        """Take a shard's result, or why its task failed; False when it should run again (its
        worker process died, or its node left, and retries remain)."""
        import ray

        try:
            part, seconds, node = ray.get(ref)
        except ray.exceptions.RayError as e:
            if isinstance(e, _lost_errors()) and job.attempts[shard] <= self.retries:
                return False
            job.parts[shard] = TaskResult(None, error=self._why(job, shard, e), detail=str(e))
            return True
        job.parts[shard] = part
        job.seconds[shard] = seconds
        job.nodes[shard] = node
        return True

    def _why(self, job: _Job, shard: int, error: Exception) -> str:
        import ray

        attempts = job.attempts[shard]
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        if job.stalls.get(shard):
            seconds = f"{self.stall_seconds:.0f} s"
            return f"XLA program stalled (no CPU progress for {seconds}; {tries})"
        if isinstance(error, ray.exceptions.RayTaskError):
            return f"the Ray task raised {_first_line(error.cause or error)}"
        if not isinstance(error, _lost_errors()):
            return f"Ray could not run it: {type(error).__name__}: {_first_line(error)}"
        return (
            f"its Ray worker process died ({tries}, retries {self.retries}): "
            f"{type(error).__name__}: {_first_line(error)}"
        )

    def _store(self, job: _Job) -> list[UnitOutcome]:
        """Write a finished unit (a group's units) in one transaction, or its failure."""
        parts = [job.parts[i] for i in range(len(job.chunks))]
        # The unit's shards run side by side when the cluster has room: its wall time is its
        # slowest shard's (queueing not counted); a failed one counts from submission.
        if len(job.seconds) == len(job.chunks):
            wall_s = max(job.seconds.values())
        else:
            wall_s = time.perf_counter() - job.submitted
        attempts = max(job.attempts.values())
        self._started(job)
        ran = {"executor": "ray", "nodes": [job.nodes.get(i) for i in range(len(parts))]}
        if isinstance(job.item, UnitPlan):
            return [
                store_unit(
                    self.store,
                    self.run_id,
                    job.item,
                    parts,
                    wall_s,
                    attempts,
                    self._provenance,
                    ran,
                )
            ]
        return store_group(
            self.store,
            self.run_id,
            job.item,
            job.chunks,
            parts,
            wall_s,
            attempts,
            self._provenance,
            ran,
        )

    def _report(self, outcome: UnitOutcome) -> UnitOutcome:
        if self.progress is not None:
            self.progress.end_unit(outcome.unit, outcome)
        return outcome


def _lost_errors() -> tuple[type[Exception], ...]:
    """Ray's errors for a task whose worker process or node went away (or whose result went
    with it): worth running again, unlike an error of the task itself."""
    from ray import exceptions

    return (
        exceptions.WorkerCrashedError,
        exceptions.NodeDiedError,
        exceptions.LocalRayletDiedError,
        exceptions.ObjectLostError,
        exceptions.OutOfMemoryError,
    )


# Ray's raylet kills a worker process that has been idle for a second while more workers are
# idle than CPUs are free, and starts worker processes for queued tasks: with every core busy
# training, that starts and kills a Python process every few seconds, each start costing about
# a CPU second beside the units (benchmarks/ray_overhead.py counts them). A local instance
# rlcheck starts keeps idle workers five minutes instead; on a cluster, set
# RAY_idle_worker_killing_time_threshold_ms=300000 in each node's `ray start` environment.
LOCAL_SYSTEM_CONFIG = {"idle_worker_killing_time_threshold_ms": 300_000}


def _start_or_connect(address: str | None) -> None:
    """Connect this process to the Ray cluster at ``address``, or start a Ray instance on this
    machine sized to its usable cores; Ray's own messages kept off the terminal."""
    import ray

    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        with warnings.catch_warnings():
            # Ray starts its processes by fork and exec, which JAX warns of in general.
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(
                    address="local",
                    num_cpus=usable_cores(),
                    include_dashboard=False,
                    _system_config=LOCAL_SYSTEM_CONFIG,
                    **quiet,
                )
    except (ConnectionError, ValueError, RuntimeError) as e:
        where = f"--address {address}" if address else "a local Ray instance"
        why = _first_line(e) + (f"; {_first_line(e.__cause__)}" if e.__cause__ else "")
        raise UserError(f"{where}: could not connect ({why})") from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:300]
