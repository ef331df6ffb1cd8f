"""Test-session set-up: one core per test process, and one compilation cache for all of them."""

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Pin before JAX starts (see rlcheck/experiment/workers.py: unpinned XLA:CPU programs can
    # stall); under pytest-xdist each worker gets its own core.
    if hasattr(os, "sched_setaffinity"):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        index = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[index % len(cores)]})
    # Compiled programs are shared by every test and the CLI processes they start.
    cache = Path(config.rootpath) / ".pytest_cache" / "rlcheck-xla"
    os.environ.setdefault("RLCHECK_CACHE_DIR", str(cache))
    from rlcheck.experiment.workers import configure_jax, worker_xla_flags

    # Tests that train in-process compile like the CLI's (pinned) workers do.
    os.environ["XLA_FLAGS"] = worker_xla_flags(os.environ.get("XLA_FLAGS"), pinned=True)

    configure_jax()
