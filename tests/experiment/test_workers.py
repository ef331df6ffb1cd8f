"""Worker processes: their XLA flags, and the flag rlcheck adds on import where a process may
use several cores (the XLA:CPU stall it avoids)."""

import json
import os
import subprocess
import sys

import pytest

from rlcheck.experiment.workers import default_workers, worker_xla_flags


def test_worker_flags_keep_the_users_choices():
    no_ynn = "--xla_cpu_experimental_ynn_fusion_type="
    assert worker_xla_flags(None) == "--xla_backend_optimization_level=1"
    assert worker_xla_flags("--xla_dump_to=/tmp/x") == (
        "--xla_dump_to=/tmp/x --xla_backend_optimization_level=1"
    )
    assert worker_xla_flags("--xla_backend_optimization_level=3") == (
        "--xla_backend_optimization_level=3"
    )
    # unpinned workers (GPU) get the stall workaround, unless the user chose YNNPACK fusions
    assert worker_xla_flags(None, pinned=False) == f"--xla_backend_optimization_level=1 {no_ynn}"
    chosen = "--xla_backend_optimization_level=2 --xla_cpu_experimental_ynn_fusion_type=dot"
    assert worker_xla_flags(chosen, pinned=False) == chosen
    assert default_workers(1) == 1


# TRPO on CartPole-v1 with 128 steps per rollout and two vmapped seeds: jaxlib 0.10.2's XLA:CPU
# deadlocked on this program here (every thread idle, forever) when the process could use both
# cores, and did not on one core. Run in a fresh interpreter on every core with the worker
# flags, under a timeout, so a regression fails instead of hanging the suite.
_HANG_PROGRAM = """
from rlcheck import envs
from rlcheck.registry import make_agent
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.fused import FusedDriver
env = envs.make("gymnax:CartPole-v1")
agent = make_agent("trpo", env.spec, {"num_steps": 128}, 512)
schedule = make_schedule(512, 128, 2, "trpo")
results, _ = FusedDriver(agent, env, schedule, EvalPlan(2, 2, 4)).run([0, 1])
print("finished", results["final_returns"].shape)
"""


# pytest's workers are pinned to one core each (conftest.py), and so would be their children;
# the stall needs more. The child widens its own affinity first thing (not through preexec_fn,
# which is unsafe after fork in a multithreaded JAX process).
_EVERY_CORE = "import os; os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))\n"


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the stall needs two cores")
def test_unpinned_worker_flags_avoid_the_xla_cpu_stall():
    env = {**os.environ, "XLA_FLAGS": worker_xla_flags(None, pinned=False)}
    env.pop("RLCHECK_PINNED_WORKER", None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _EVERY_CORE + _HANG_PROGRAM],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the TRPO program did not finish in 240 s: XLA:CPU stalled again")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "finished (2, 4)" in done.stdout


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to tell the cases apart")
def test_importing_rlcheck_sets_the_workaround_only_where_needed():
    code = "import os, rlcheck; print(os.environ.get('XLA_FLAGS'))"
    no_ynn = "--xla_cpu_experimental_ynn_fusion_type="

    def flags_after_import(
        given: str, pinned_worker: bool, every_core: bool, added_by_parent: bool = False
    ) -> str:
        env = {**os.environ, "XLA_FLAGS": given}
        env.pop("RLCHECK_PINNED_WORKER", None)
        env.pop("RLCHECK_ADDED_XLA_FLAG", None)
        if pinned_worker:
            env["RLCHECK_PINNED_WORKER"] = "1"
        if added_by_parent:
            env["RLCHECK_ADDED_XLA_FLAG"] = "1"
        out = subprocess.run(
            [sys.executable, "-c", (_EVERY_CORE if every_core else "") + code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    assert flags_after_import("--xla_dump_to=/tmp/x", False, True) == (
        f"--xla_dump_to=/tmp/x {no_ynn}"
    )
    chosen = "--xla_cpu_experimental_ynn_fusion_type=dot"
    assert flags_after_import(chosen, False, True) == chosen
    assert flags_after_import("--xla_dump_to=/tmp/x", True, True) == "--xla_dump_to=/tmp/x"
    # this test process is pinned to one core (conftest.py), and so is its child
    assert flags_after_import("--xla_dump_to=/tmp/x", False, False) == "--xla_dump_to=/tmp/x"
    # a flag that rlcheck added in a parent process is not the user's choice: a pinned child
    # drops it
    inherited = f"--xla_dump_to=/tmp/x {no_ynn}"
    assert flags_after_import(inherited, True, True, added_by_parent=True) == "--xla_dump_to=/tmp/x"
    assert flags_after_import(inherited, False, True, added_by_parent=True) == inherited


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the flag is added only with two cores")
def test_environment_for_another_jax_drops_only_the_flag_rlcheck_added():
    # A benchmark that imports rlcheck starts a peer library's older JAX, whose XLA aborts on
    # an unknown flag: the peer gets the user's flags without the one rlcheck's import added.
    code = (
        "import json, os, rlcheck\n"
        "env = rlcheck.environ_without_added_flag()\n"
        "print(json.dumps([os.environ.get('XLA_FLAGS'), env.get('XLA_FLAGS'),"
        " 'RLCHECK_ADDED_XLA_FLAG' in env]))"
    )

    def after_import(given: str | None) -> list:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RLCHECK_")}
        env.pop("XLA_FLAGS", None)
        if given is not None:
            env["XLA_FLAGS"] = given
        out = subprocess.run(
            [sys.executable, "-c", _EVERY_CORE + code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)

    no_ynn = "--xla_cpu_experimental_ynn_fusion_type="
    assert after_import("--xla_dump_to=/tmp/x") == [
        f"--xla_dump_to=/tmp/x {no_ynn}",
        "--xla_dump_to=/tmp/x",
        False,
    ]
    assert after_import(None) == [no_ynn, None, False]
    # the user's own choice of the flag is theirs to pass on
    chosen = "--xla_cpu_experimental_ynn_fusion_type=dot"
    assert after_import(chosen) == [chosen, chosen, False]
    assert after_import(no_ynn) == [no_ynn, no_ynn, False]
