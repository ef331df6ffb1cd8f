"""Golden numbers: the stored returns of every algorithm and baseline on CartPole-v1 and
Pendulum-v1, for fixed seeds at a small budget, must not move when the code is restructured.

The expected values in ``tests/data/golden_returns.json`` were recorded on main at 7746439
(before the "Solid ground" restructuring) with ``RLCHECK_RECORD_GOLDEN=1 pytest
tests/test_golden.py``; a change that moves a number has changed what an algorithm computes
and needs its own justification, not a re-recording. The numbers are those of this machine's
pinned workers (the test process compiles like them, see tests/conftest.py); floating-point
results can differ on another CPU, where the test says so rather than passing silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rlcheck.experiment.execute import Executor
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store

GOLDEN = Path(__file__).parent / "data" / "golden_returns.json"
RECORD = os.environ.get("RLCHECK_RECORD_GOLDEN") == "1"

SEEDS = [0, 1]
EVAL = {"checkpoints": 2, "episodes": 2, "final_episodes": 2}
OFFPOLICY = {"hidden_sizes": [16, 16], "batch_size": 32, "buffer_size": 500, "learning_starts": 100}
# (algorithm, budget, config): small shapes, every default code path.
ALGOS: list[tuple[str, int, dict]] = [
    ("ppo", 640, {"num_envs": 2, "num_steps": 16, "num_minibatches": 2, "update_epochs": 2}),
    ("a2c", 640, {"num_envs": 2}),
    ("trpo", 640, {"num_envs": 2, "num_steps": 64, "critic_batch_size": 64, "critic_epochs": 2}),
    ("reinforce", 2048, {"num_envs": 2, "num_steps": 512}),
    ("random", 640, {"num_envs": 2, "num_steps": 16}),
    ("dqn", 640, {"batch_size": 32, "buffer_size": 500, "learning_starts": 100}),
    ("ddpg", 400, OFFPOLICY),
    ("td3", 400, OFFPOLICY),
    ("sac", 400, OFFPOLICY),
    ("ars", 2000, {"num_directions": 4}),
    ("cma_es", 2000, {"population_size": 8}),
    ("openai_es", 2000, {"population_size": 8}),
    ("snes", 2000, {"population_size": 8}),
    ("random_shooting", 1000, {"num_candidates": 16, "horizon": 5}),
    ("cem", 1000, {"num_candidates": 16, "horizon": 5, "iterations": 2, "num_elites": 4}),
    ("mppi", 1000, {"num_candidates": 16, "horizon": 5, "iterations": 2}),
    ("mcts", 1000, {"num_simulations": 4, "rollout_depth": 5}),
    ("lqr", 1000, {}),
]
ENVS = ("CartPole-v1", "Pendulum-v1")
# Planners cost a search per step: one final episode's worth is enough to pin their numbers.
PLANNERS = {"random_shooting", "cem", "mppi", "mcts", "lqr"}


def _handles(algo: str, env: str) -> bool:
    discrete_only = {"dqn", "mcts"}
    continuous_only = {"ddpg", "td3", "sac"}
    return not (
        (env == "Pendulum-v1" and algo in discrete_only)
        or (env == "CartPole-v1" and algo in continuous_only)
    )


CASES = [(algo, env) for env in ENVS for algo, *_ in ALGOS if _handles(algo, env)]


def _stored_returns(tmp_path: Path, algo: str, env: str) -> dict:
    budget, config = next((b, c) for a, b, c in ALGOS if a == algo)
    spec = parse_spec(
        {
            "seeds": SEEDS,
            "budget": budget,
            "eval": {**EVAL, "checkpoints": 1} if algo in PLANNERS else EVAL,
            "env": [{"id": env}],
            "algo": [{"name": algo, "config": config}],
        },
        "golden",
    )
    store = Store(tmp_path)
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        (outcome,) = executor.run(plan_units(spec, "golden"))
    assert outcome.status == "done", outcome.reason
    key = outcome.unit.key
    scalars = sorted(
        [seed, step, metric, value] for _, seed, step, metric, value in store.scalars(key)
    )
    finals = {
        str(seed): np.asarray(store.array(key, seed, "final_episode_returns")).tolist()
        for seed in SEEDS
    }
    store.close()
    return {"scalars": scalars, "final_episode_returns": finals}


@pytest.mark.slow
@pytest.mark.parametrize(("algo", "env"), CASES, ids=[f"{a}-{e}" for a, e in CASES])
def test_stored_returns_do_not_move(tmp_path, algo, env):
    got = _stored_returns(tmp_path, algo, env)
    case = f"{algo} {env}"
    if RECORD:
        table = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        table[case] = got
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")
        return
    expected = json.loads(GOLDEN.read_text())[case]
    assert got == expected
