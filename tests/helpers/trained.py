"""A tiny results directory with real stored policies: an on-policy, an off-policy and a
policy-search unit and the random policy on gymnax CartPole, trained in this process.

:func:`shared_copy` trains it once per test session, however pytest-xdist spreads the tests
that need it over its workers, and gives each caller its own copy.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from rlcheck.experiment.execute import Executor
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store

FINAL_EPISODES = 4
SPEC: dict[str, Any] = {
    "seeds": [0, 1],
    "budget": 1024,
    "eval": {"checkpoints": 2, "episodes": 2, "final_episodes": FINAL_EPISODES},
    "env": [{"id": "CartPole-v1"}],
    "algo": [
        {
            "name": "ppo",
            "config": {"num_envs": 2, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1},
        },
        {
            "name": "dqn",
            "config": {
                "hidden_sizes": [16, 16],
                "batch_size": 32,
                "buffer_size": 500,
                "learning_starts": 100,
            },
        },
        {"name": "ars", "config": {"num_directions": 4}},
        {"name": "random", "config": {"num_envs": 2, "num_steps": 16}},
    ],
}


def train(directory: Path, spec: dict[str, Any] = SPEC) -> Path:
    """Train ``spec`` into ``directory`` (in this process); returns the directory."""
    store = Store(directory)
    with Executor(store, store.start_run(spec, {}), workers=0) as executor:
        outcomes = executor.run(plan_units(parse_spec(spec, "tiny"), "tiny"))
    store.close()
    assert all(o.status == "done" for o in outcomes), [o.reason for o in outcomes]
    return directory


def shared_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of :data:`SPEC` trained once for the whole test session."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the session's directory, shared by its workers
    trained = root / "trained-policies"
    with open(root / "trained-policies.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (trained / "complete").exists():
            shutil.rmtree(trained, ignore_errors=True)
            train(trained)
            (trained / "complete").touch()
    copy = tmp_path_factory.mktemp("trained")
    shutil.copytree(trained, copy, dirs_exist_ok=True)
    return copy
