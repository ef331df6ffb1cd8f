"""The worker processes a unit's seeds are split across: one per core, each pinned to its core,
spawned once per run and reused for every unit, with a watchdog for stalled XLA programs.

Why processes: the programs are many tiny kernels, which one XLA:CPU process cannot spread over
cores; one process per core, each given a share of the seeds, can. Workers are spawned (not
forked: JAX is not fork-safe).

Why pinned: XLA sizes its CPU thread pool from the process's CPU affinity. Unpinned, our fused
programs stalled forever (every XLA thread idle) in 6 of 22 runs with JAX 0.10 on a 2-core
machine, with or without asynchronous dispatch or multi-threaded Eigen; pinned, none did in 20
runs (docs/DESIGN-NOTES.md). The watchdog catches a stall anyway (results are deterministic, so
the caller runs the unit again). Unpinned processes (GPU workers, a user's own) get the XLA flag
that avoids the stall instead (:data:`rlcheck.XLA_CPU_STALL_WORKAROUND`); pinned ones do not
need it and run faster without it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import signal
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import rlcheck
from rlcheck.errors import EnvWarning
from rlcheck.experiment.plan import UnitGroup, UnitPlan
from rlcheck.experiment.provenance import usable_cores
from rlcheck.experiment.train import TaskResult, train_rows, train_seeds

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


def worker_cores(workers: int) -> list[int | None]:
    """The core each worker is pinned to (round robin), or None (no pinning) with a GPU."""
    if has_gpu_plugin() or not hasattr(os, "sched_getaffinity"):
        return [None] * workers
    cores = sorted(os.sched_getaffinity(0))
    return [cores[i % len(cores)] for i in range(workers)]


# ---- inside a worker ---------------------------------------------------------------------------

_WORKER_QUEUE: Any = None


def _init_worker(messages: Any, cores: Any) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = messages
    core = cores.get()
    if core is not None:
        os.sched_setaffinity(0, {core})
    # A worker only trains; the parent handles Ctrl-C and tells workers to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent made every env when it planned the run, and showed what was wrong in them.
    warnings.simplefilter("ignore", EnvWarning)
    configure_jax()


def _worker_task(job: UnitPlan | UnitGroup, chunk: list) -> TaskResult:
    """Train a chunk of a unit's seeds, or of a group's (unit, seed) rows."""
    pid = os.getpid()
    _WORKER_QUEUE.put(("busy", pid, None))
    key = job.key if isinstance(job, UnitPlan) else job.units[0].key

    def progress(n: int) -> None:
        _WORKER_QUEUE.put(("progress", pid, (key, n)))

    try:
        if isinstance(job, UnitGroup):
            return train_rows(job, chunk, progress)
        return train_seeds(job, chunk, progress)
    finally:
        _WORKER_QUEUE.put(("idle", pid, None))


# ---- the parent side ---------------------------------------------------------------------------


class Stalled(Exception):
    """A worker's XLA program stopped making progress; the pool has been restarted."""


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Watchdog:
    """Notices a busy worker whose CPU time stops moving: an XLA program that will never end.

    A stall is rare and its cause is outside rlcheck (see the module doc); since results are
    deterministic, the unit is simply run again in fresh workers.
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


class WorkerPool:
    """``workers`` pinned worker processes, started on first use and kept for every unit.

    :meth:`train` runs one chunk of seeds per worker and raises :class:`Stalled` when the
    watchdog sees a stalled program, or ``BrokenProcessPool`` when a worker died; in both
    cases the pool is restarted for the next call.
    """

    def __init__(self, workers: int, stall_seconds: float = STALL_SECONDS):
        self.workers = workers
        self.stall_seconds = stall_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._messages: Any = None
        self._saved_xla_flags: str | None = None
        self._watchdog = _Watchdog(stall_seconds)

    def train(
        self,
        job: UnitPlan | UnitGroup,
        chunks: list[list],
        progress: Callable[[str, int], None] | None,
    ) -> list[TaskResult]:
        """Train each chunk of a unit's seeds (or of a group's (unit, seed) rows) on a worker;
        ``progress(unit_key, n)`` relays the workers' progress."""
        pool = self._ensure_pool()
        futures = [pool.submit(_worker_task, job, chunk) for chunk in chunks]
        try:
            self._wait(futures, progress)
        except Stalled:
            self.restart()
            raise
        try:
            return [f.result() for f in futures]
        except BaseException:
            self.restart()
            raise

    def _wait(self, futures: list[Future], progress: Callable[[str, int], None] | None) -> None:
        """Wait for a unit's chunks, relaying worker messages and watching for stalls."""
        while not all(f.done() for f in futures):
            self._relay_messages(1.0, progress)
            if self._watchdog.stalled():
                raise Stalled
        self._relay_messages(None, progress)

    def _relay_messages(
        self, timeout: float | None, progress: Callable[[str, int], None] | None
    ) -> None:
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
            if kind == "progress" and progress is not None:
                progress(*payload)
            elif kind in ("busy", "idle"):
                self._watchdog.mark(kind, pid)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            cores = worker_cores(self.workers)
            pinned = all(core is not None for core in cores)
            if self._saved_xla_flags is None:
                # Spawned workers inherit this process's environment; XLA reads it at start-up.
                self._saved_xla_flags = os.environ.get("XLA_FLAGS", "")
                os.environ["XLA_FLAGS"] = worker_xla_flags(self._saved_xla_flags, pinned)
                if pinned:
                    os.environ[rlcheck.PINNED_WORKER_ENV] = "1"
            context = mp.get_context("spawn")
            self._messages = context.Queue()
            core_queue = context.Queue()
            for core in cores:
                core_queue.put(core)
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._messages, core_queue),
            )
            self._watchdog = _Watchdog(self.stall_seconds)
        return self._pool

    def _kill_workers(self) -> None:
        # The pool's own processes: no public accessor, and shutdown() would wait for a
        # stalled XLA program forever.
        for process in list(getattr(self._pool, "_processes", {}).values()):
            if process.is_alive():
                process.kill()

    def restart(self, wait: bool = True) -> None:
        """Kill the workers and drop the pool; the next call starts a fresh one."""
        if self._pool is not None:
            self._kill_workers()
            self._pool.shutdown(wait=wait, cancel_futures=True)
        self._pool = None

    def close(self) -> None:
        """Stop the workers and give this process its XLA flags back."""
        self.restart(wait=False)
        if self._saved_xla_flags is not None:
            os.environ["XLA_FLAGS"] = self._saved_xla_flags
            if not self._saved_xla_flags:
                del os.environ["XLA_FLAGS"]
            os.environ.pop(rlcheck.PINNED_WORKER_ENV, None)
            self._saved_xla_flags = None
