"""Measures issue 20's target for ``rlcheck watch``: one CartPole seed as a playable MP4 in under
5 s.

Trains PPO on gymnax CartPole-v1 (2 seeds × 100k env steps, once: the run resumes) into
benchmarks/out/watch_speed/, then, ``--repeats`` times, runs the whole command
``rlcheck watch DIR --seed best -o best.mp4`` in a fresh process (start-up, imports and JAX
compilation included) and times its phases once in this process, cold as the command runs them
(reading the policy and rebuilding the agent, JAX's start included; compiling and running the
episode; drawing the frames; encoding). "Playable": imageio's
ffmpeg reader decodes every frame, H.264 in yuv420p (what browsers play). Prints a markdown
table and the load average (the machine is shared).

    python benchmarks/watch_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "watch_speed"
SPEC = """\
seeds = 2
budget = 100000
[eval]
checkpoints = 4
[[env]]
id = "CartPole-v1"
[[algo]]
name = "ppo"
"""


def _rlcheck(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import sys; from rlcheck.cli import main; sys.exit(main())", *args],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _python(code: str) -> float:
    """Wall time of a fresh Python process running ``code``."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return time.perf_counter() - start


def _check_playable(path: Path, steps: float) -> None:
    """Every frame decodes, H.264 in yuv420p (what browsers play), a frame per step."""
    import imageio.v2 as imageio

    reader = imageio.get_reader(path)
    frames = sum(1 for _ in reader)
    meta = reader.get_meta_data()
    reader.close()
    assert frames == steps, (path, frames, steps)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p"), meta


def _phases(directory: Path, target: Path) -> dict[str, float]:
    import imageio.v2 as imageio
    import jax

    from rlcheck.drivers.fused import final_eval_key
    from rlcheck.experiment.policies import find_unit, read_policies
    from rlcheck.experiment.store import Store
    from rlcheck.experiment.watch import (
        WATCH_STREAM,
        _rollout,
        pick_seed,
        watch_episode,
        write_video,
    )

    store = Store(directory, create=False)
    row = find_unit(store, "ppo")
    seed = pick_seed(store, row, "best")
    start = time.perf_counter()
    policies = read_policies(store, row, [seed])
    read = time.perf_counter() - start
    params = jax.tree.map(lambda x: x[0], policies.params)
    start = time.perf_counter()
    key = jax.random.fold_in(final_eval_key(seed), WATCH_STREAM)
    _rollout(policies.env, policies.agent, True, 500)(params, key, policies.env.params)
    rollout = time.perf_counter() - start
    start = time.perf_counter()
    episode = watch_episode(store, row, seed)  # the rollout is compiled now: mostly drawing
    drawn = time.perf_counter() - start
    store.close()
    start = time.perf_counter()
    write_video(episode, target)
    encoded = time.perf_counter() - start
    reader = imageio.get_reader(target)
    frames = sum(1 for _ in reader)
    meta = reader.get_meta_data()
    reader.close()
    assert frames == episode.steps, (frames, episode.steps)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p"), meta
    return {
        "read": read,
        "rollout": rollout,
        "draw": drawn,
        "encode": encoded,
        "steps": episode.steps,
        "bytes": target.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    spec = OUT / "spec.toml"
    spec.write_text(SPEC)
    directory = OUT / "runs"
    print(f"load average before: {os.getloadavg()}")
    _rlcheck("run", str(spec), "--out", str(directory), "--workers", "0")
    target = OUT / "best.mp4"
    walls = [
        _rlcheck("watch", str(directory), "--seed", "best", "-o", str(target))
        for _ in range(args.repeats)
    ]
    imports = statistics.median(
        _python("import rlcheck.cli, rlcheck.experiment.watch") - _python("pass")
        for _ in range(args.repeats)
    )
    cold = _phases(directory, OUT / "phases.mp4")
    _check_playable(target, cold["steps"])
    print()
    print("| rlcheck watch, CartPole-v1, best PPO seed | s |")
    print("|---|---|")
    wall = statistics.median(walls)
    print(f"| whole command, fresh process, median of {args.repeats} | {wall:.2f} |")
    print(f"| · import rlcheck's CLI and watch (JAX, agents) | {imports:.2f} |")
    print(f"| · read the policy, rebuild the agent (JAX starts) | {cold['read']:.2f} |")
    print(f"| · compile and run the episode ({cold['steps']:.0f} steps) | {cold['rollout']:.2f} |")
    print(f"| · draw {cold['steps']:.0f} frames (Gymnasium's renderer) | {cold['draw']:.2f} |")
    print(f"| · H.264 encoding | {cold['encode']:.2f} |")
    print(f"| MP4 size | {cold['bytes'] / 1000:.0f} KB |")
    print(f"\nall whole-command walls: {[round(w, 2) for w in walls]}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
