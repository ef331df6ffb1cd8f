"""rlcheck: tells you, with numbers you can defend, whether deep RL works on your problem."""

import os as _os

__version__ = "0.1.0"

# jaxlib 0.10.2's XLA:CPU can stall forever (every thread idle) on our vmapped training programs
# when the process may use more than one core (docs/DESIGN-NOTES.md, "Processes, pinning and the
# XLA:CPU stall"): rlcheck's workers are pinned to one core each and never stall, but a program
# run in a user's own unpinned process can. An explicitly empty list of YNNPACK fusions avoids
# the stall (a PPO program that stalled in 2 of 2 runs finished in 2 of 2), at a cost in speed
# (PPO +34%, A2C +58% run time on one core), so it is set only where it is needed: on import,
# in a process that may use more than one core and is not one of rlcheck's pinned workers,
# unless the user chose that flag. XLA reads XLA_FLAGS when JAX starts its CPU backend (at the
# first computation), so importing rlcheck before computing anything is enough.
XLA_CPU_STALL_WORKAROUND = "--xla_cpu_experimental_ynn_fusion_type="
PINNED_WORKER_ENV = "RLCHECK_PINNED_WORKER"  # set (to "1") in the environment of pinned workers


def _may_use_several_cores() -> bool:
    try:
        return len(_os.sched_getaffinity(0)) > 1
    except AttributeError:  # no affinity API (macOS): count the cores
        return (_os.cpu_count() or 1) > 1


if (
    _os.environ.get(PINNED_WORKER_ENV) != "1"
    and _may_use_several_cores()
    and "xla_cpu_experimental_ynn_fusion_type" not in _os.environ.get("XLA_FLAGS", "")
):
    _os.environ["XLA_FLAGS"] = (
        f"{_os.environ.get('XLA_FLAGS', '')} {XLA_CPU_STALL_WORKAROUND}".strip()
    )
    XLA_WORKAROUND_SET_ON_IMPORT = True
else:
    XLA_WORKAROUND_SET_ON_IMPORT = False
