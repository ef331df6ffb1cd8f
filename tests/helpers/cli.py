"""Running the real ``rlcheck`` command in a subprocess, and small specs for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Small enough to train in seconds; every CLI test shares these shapes, so one compilation
# (kept in the session's compilation cache) serves them all.
TINY_PPO = """
[algo.config]
num_envs = 2
num_steps = 16
num_minibatches = 2
update_epochs = 1
"""


def spec_text(
    budget: int = 320,
    seeds: int = 2,
    envs: tuple[str, ...] = ("CartPole-v1",),
    algos: str = '[[algo]]\nname = "ppo"\n' + TINY_PPO,
) -> str:
    env_blocks = "".join(f'[[env]]\nid = "{e}"\n' for e in envs)
    return (
        f"seeds = {seeds}\nbudget = {budget}\n[eval]\ncheckpoints = 2\nepisodes = 2\n"
        f"final_episodes = 2\n{env_blocks}{algos}"
    )


def rlcheck(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rlcheck.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
