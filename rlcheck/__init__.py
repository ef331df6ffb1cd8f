"""rlcheck: tells you, with numbers you can defend, whether deep RL works on your problem."""

import os as _os

__version__ = "0.1.0"

# jaxlib 0.10.2's XLA:CPU can stall forever (every thread idle) on our vmapped training programs
# when the process may use more than one core (docs/DESIGN-NOTES.md, "Processes, pinning and the
# XLA:CPU stall"): rlcheck's workers are pinned to one core each and never stall, but a program
# run in a user's own unpinned process can. An explicitly empty list of YNNPACK fusions avoids
# the stall (a PPO program that stalled in 2 of 2 runs finished in 2 of 2), at a cost in speed
# (PPO +35%, A2C +58% run time on one core), so it is set only where it is needed: on import,
# in a process that may use more than one core and is not one of rlcheck's pinned workers,
# unless the user chose that flag. XLA reads XLA_FLAGS when JAX starts its CPU backend (at the
# first computation), so importing rlcheck before computing anything is enough.
XLA_CPU_STALL_WORKAROUND = "--xla_cpu_experimental_ynn_fusion_type="
PINNED_WORKER_ENV = "RLCHECK_PINNED_WORKER"  # set (to "1") in the environment of pinned workers
# Set (to "1") where rlcheck added the flag, so that child processes (a benchmark script that
# imports rlcheck and starts `rlcheck run`, say) do not take it for the user's own choice.
_ADDED_ENV = "RLCHECK_ADDED_XLA_FLAG"


def _may_use_several_cores() -> bool:
    try:
        return len(_os.sched_getaffinity(0)) > 1
    except AttributeError:  # no affinity API (macOS): count the cores
        return (_os.cpu_count() or 1) > 1


def _set_xla_workaround() -> bool:
    """Add or drop the flag for this process; True when the flag in XLA_FLAGS is rlcheck's."""
    tokens = _os.environ.get("XLA_FLAGS", "").split()
    ours = _os.environ.get(_ADDED_ENV) == "1"
    if ours:
        tokens = [t for t in tokens if t != XLA_CPU_STALL_WORKAROUND]
    if any("xla_cpu_experimental_ynn_fusion_type" in t for t in tokens):
        _os.environ.pop(_ADDED_ENV, None)
        return False  # the user's choice
    needed = _os.environ.get(PINNED_WORKER_ENV) != "1" and _may_use_several_cores()
    if needed:
        tokens.append(XLA_CPU_STALL_WORKAROUND)
        _os.environ[_ADDED_ENV] = "1"
    else:
        _os.environ.pop(_ADDED_ENV, None)
    if tokens:
        _os.environ["XLA_FLAGS"] = " ".join(tokens)
    else:
        _os.environ.pop("XLA_FLAGS", None)
    return needed


XLA_WORKAROUND_SET_ON_IMPORT = _set_xla_workaround()


# The public Python API, imported on first use: every module of the package imports `rlcheck`
# first, so an eager import of the layers above would be a cycle (tests/test_layers.py allows
# the package root these imports inside `__getattr__` only).
__all__ = ["__version__", "load_policy"]


def __getattr__(name: str) -> object:
    """``rlcheck.load_policy`` (rlcheck/experiment/policies.py), imported when first used."""
    if name == "load_policy":
        from rlcheck.experiment.policies import load_policy

        return load_policy
    raise AttributeError(f"module 'rlcheck' has no attribute '{name}'")


def environ_without_added_flag() -> dict[str, str]:
    """A copy of ``os.environ`` for a child process that runs some other JAX (a peer library's
    venv in a benchmark): without the flag where rlcheck's import added it, because an older
    XLA aborts on a flag it does not know. A flag the user set stays."""
    env = dict(_os.environ)
    if env.pop(_ADDED_ENV, None) == "1":
        tokens = [t for t in env.get("XLA_FLAGS", "").split() if t != XLA_CPU_STALL_WORKAROUND]
        if tokens:
            env["XLA_FLAGS"] = " ".join(tokens)
        else:
            env.pop("XLA_FLAGS", None)
    return env
