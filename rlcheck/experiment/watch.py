"""Episodes of stored policies as pictures (``rlcheck watch``, the report's clips): one episode of
a seed's final policy, one frame per step, written as MP4 or GIF with imageio.

Gymnasium envs draw themselves (``render_mode="rgb_array"``), and so do rlcheck's gridworlds
(the failure-mode envs' ``board``, drawn by :func:`rlcheck.envs.failure.grid.draw`). gymnax's
classic-control envs are drawn by Gymnasium's renderer of the same task, its state set from the
gymnax state: gymnax's own ``Visualizer`` draws each frame with matplotlib (tens of ms a frame)
and makes an animation object, not frames, and a renderer of our own would copy what Gymnasium
already draws (pygame, which the ``video`` extra installs).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs
from rlcheck.drivers.common import DEFAULT_EVAL_STEP_CAP, env_seeds
from rlcheck.drivers.fused import final_eval_key
from rlcheck.envs.failure import grid
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.registry import bare_env_id
from rlcheck.errors import UserError
from rlcheck.experiment.policies import describe_unit, read_policies
from rlcheck.experiment.store import Store

# The watched episode's key is folded off the seed's final-evaluation key with this (JAX envs);
# Gymnasium envs reset it with env_seeds(seed, WATCH_STREAM, 1).
WATCH_STREAM = 3_000_000
PICKS = ("best", "median", "worst")
# Gridworld moves a second: a 100-step episode plays in 12.5 s.
GRID_FPS = 8
VIDEO = "pip install 'rlcheck[video]' (imageio, imageio-ffmpeg, pygame)"


def _gym_state(name: str, s: Any) -> dict[str, Any]:
    """The attributes of Gymnasium's env that its renderer draws, from a gymnax state."""
    if name == "CartPole-v1":
        return {"state": np.array([s.x, s.x_dot, s.theta, s.theta_dot], float)}
    if name == "Pendulum-v1":
        return {"state": np.array([s.theta, s.theta_dot], float), "last_u": float(s.last_u)}
    if name == "Acrobot-v1":
        angles = [s.joint_angle1, s.joint_angle2, s.velocity_1, s.velocity_2]
        return {"state": np.array(angles, float)}
    return {"state": np.array([s.position, s.velocity], float)}  # the two MountainCars


RENDERED = (
    "CartPole-v1",
    "Pendulum-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
)


@dataclass
class Episode:
    """One watched episode: a frame per step drawn (H, W, 3 uint8; all of them unless the
    drawing was capped), its return and length in steps."""

    frames: list[np.ndarray]
    episode_return: float
    steps: int
    seed: int
    fps: int
    drawn: int  # frames drawn: len(frames), or what went to a sink instead


def pick_seed(store: Store, row: dict[str, Any], which: str) -> int:
    """The seed ``which`` names: ``best``, ``median`` or ``worst`` by final return among the
    seeds that did not diverge (median: the lower middle one), or a seed number.

    Raises:
        UserError: neither a pick nor one of the unit's seeds, or no usable seed.
    """
    name = describe_unit(row)
    if which not in PICKS:
        try:
            seed = int(which)
        except ValueError:
            raise UserError(f"--seed: '{which}' is not best, median, worst or a seed") from None
        if seed not in row["seeds"]:
            seeds = ", ".join(map(str, row["seeds"]))
            raise UserError(f"--seed: {name} has no seed {seed} (seeds: {seeds})")
        return seed
    finals = [
        (final, seed)
        for seed, status, final, _ in store.seed_rows(row["key"])
        if status == "ok" and final is not None and np.isfinite(final)
    ]
    if not finals:
        raise UserError(f"{name}: every seed diverged; give one with --seed N")
    finals.sort()
    index = {"worst": 0, "median": (len(finals) - 1) // 2, "best": len(finals) - 1}[which]
    return finals[index][1]


Sink = Callable[[np.ndarray, int], None]


def watch_episode(
    store: Store,
    row: dict[str, Any],
    seed: int,
    max_frames: int | None = None,
    sink: Sink | None = None,
) -> Episode:
    """Play one episode of ``seed``'s final policy, deterministic as in evaluation, and draw
    it: a frame of the state in which each action was chosen.

    Args:
        max_frames: stop drawing after this many frames (the report's short clips).
        sink: given, each frame goes to ``sink(frame, fps)`` as it is drawn (a
            :class:`VideoWriter`: encoding overlaps drawing) instead of into the episode.

    Raises:
        UserError: no stored policy (see :func:`read_policies`), an env that cannot be drawn,
            or the ``video`` extra missing.
    """
    policies = read_policies(store, row, [seed])
    params = jax.tree.map(lambda x: x[0], policies.params)
    deterministic = bool((row["eval"] or {}).get("deterministic", True))
    if isinstance(policies.env, JaxEnv):
        return _jax_episode(policies, params, seed, deterministic, max_frames, sink)
    return _host_episode(row, policies, params, seed, deterministic, max_frames, sink)


def quiet_pygame() -> None:
    """No window, no sound: pygame (imported by Gymnasium's renderers) otherwise probes the
    display and the sound card and prints what it did not find."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def _renderer(env_id: str, name: str) -> Any:
    quiet_pygame()
    try:
        import gymnasium as gym
        import pygame  # noqa: F401  (Gymnasium's classic-control renderer needs it)
    except ImportError:
        raise UserError(f"watching {env_id} needs pygame: {VIDEO}") from None
    return gym.make(name, render_mode="rgb_array")


def _jax_episode(
    policies: Any,
    params: Any,
    seed: int,
    deterministic: bool,
    max_frames: int | None,
    sink: Sink | None,
) -> Episode:
    env, agent = policies.env, policies.agent
    name = bare_env_id(env.spec.id)
    board = getattr(env.env, "board", None)  # rlcheck's gridworlds draw their own boards
    if name not in RENDERED and board is None:
        raise UserError(
            f"no renderer for {env.spec.id}: watch draws Gymnasium envs, gymnax's "
            f"{', '.join(RENDERED)} and rlcheck's gridworlds"
        )
    cap = env.spec.time_limit or DEFAULT_EVAL_STEP_CAP
    key = jax.random.fold_in(final_eval_key(seed), WATCH_STREAM)
    states, rewards, done = _rollout(env, agent, deterministic, cap)(params, key, env.params)
    length = int(np.argmax(done)) if done.any() else cap
    shown = length if max_frames is None else min(length, max_frames)
    episode_return = float(rewards[:length].sum())
    if board is not None:
        frames = []
        for t in range(shown):
            frame = grid.draw(*board(jax.tree.map(lambda x, t=t: x[t], states)))
            if sink is None:
                frames.append(frame)
            else:
                sink(frame, GRID_FPS)
        return Episode(frames, episode_return, length, seed, GRID_FPS, shown)
    gym_env = _renderer(env.spec.id, name)
    try:
        gym_env.reset(seed=0)
        inner = gym_env.unwrapped
        # Trained at changed physics (a longer pole): draw it as it was.
        for field in ("length",):
            if hasattr(env.params, field) and hasattr(inner, field):
                setattr(inner, field, float(getattr(env.params, field)))
        fps = int(gym_env.metadata.get("render_fps") or 30)
        frames: list[np.ndarray] = []
        for t in range(shown):
            state = jax.tree.map(lambda x, t=t: x[t], states)
            for attribute, value in _gym_state(name, state).items():
                setattr(inner, attribute, value)
            frame = np.asarray(gym_env.render())
            if sink is None:
                frames.append(frame)
            else:
                sink(frame, fps)
    finally:
        gym_env.close()
    return Episode(frames, episode_return, length, seed, fps, shown)


def _rollout(env: JaxEnv, agent: Any, deterministic: bool, cap: int) -> Any:
    """A jitted episode: env states, rewards and whether the episode had ended, per step."""

    def rollout(params: Any, key: jax.Array, env_params: Any) -> Any:
        key_reset, key = jax.random.split(key)
        obs, state = env.reset(key_reset, env_params)

        def step(carry: tuple, _: Any) -> tuple:
            obs, state, done, key = carry
            key, key_act, key_env = jax.random.split(key, 3)
            action = agent.policy_apply(params, obs[None], key_act, deterministic)[0]
            obs, after, reward, terminated, truncated = env.step_no_reset(
                key_env, state, action, env_params
            )
            return (obs, after, done | terminated | truncated, key), (state, reward, done)

        _, out = jax.lax.scan(step, (obs, state, jnp.array(False), key), None, length=cap)
        return out

    program = jax.jit(rollout)

    def run(params: Any, key: jax.Array, env_params: Any) -> tuple:
        states, rewards, done = program(params, key, env_params)
        return jax.tree.map(np.asarray, states), np.asarray(rewards), np.asarray(done)

    return run


def _host_episode(
    row: dict[str, Any],
    policies: Any,
    params: Any,
    seed: int,
    deterministic: bool,
    max_frames: int | None,
    sink: Sink | None,
) -> Episode:
    meta = row["meta"] or {}
    quiet_pygame()
    try:
        env = envs.make(row["env"], **meta.get("env_kwargs", {}), render_mode="rgb_array")
        one = env.make_one()
    except (UserError, ImportError) as e:
        raise UserError(f"cannot draw {row['env']}: {e}; {VIDEO}") from None
    act = jax.jit(lambda o, k: policies.agent.policy_apply(params, o[None], k, deterministic)[0])
    key = jax.random.PRNGKey(seed)
    cap = env.spec.time_limit or DEFAULT_EVAL_STEP_CAP
    frames: list[np.ndarray] = []
    total, steps, drawn = 0.0, 0, 0
    fps = int(one.metadata.get("render_fps") or 30)
    try:
        obs, _ = one.reset(seed=env_seeds(seed, WATCH_STREAM, 1)[0])
        for _ in range(cap):
            frame = one.render()
            if frame is None:
                raise UserError(f"{row['env']} draws no rgb_array frames")
            if max_frames is None or drawn < max_frames:
                drawn += 1
                if sink is None:
                    frames.append(np.asarray(frame))
                else:
                    sink(np.asarray(frame), fps)
            key, sub = jax.random.split(key)
            obs, reward, terminated, truncated, _ = one.step(np.asarray(act(obs, sub)))
            total += float(reward)
            steps += 1
            if terminated or truncated:
                break
    finally:
        one.close()
    return Episode(frames, total, steps, seed, fps, drawn)


class VideoWriter:
    """Frames to ``path``, one per call ``writer(frame, fps)``, at the env's frame rate: .mp4 is
    H.264 (yuv420p, what browsers and phones play) streamed to ffmpeg as frames come, so
    encoding (ffmpeg's own process) overlaps drawing; .gif is written by Pillow at
    :meth:`close`, which folds a frame identical to the one before into it (shown twice as
    long). ``scale`` > 1 keeps every scale-th pixel.

    Raises:
        UserError: another extension, or the ``video`` extra missing (on creation).
    """

    def __init__(self, path: Path, scale: int = 1):
        self.path, self.scale = path, scale
        self.suffix = path.suffix.lower()
        if self.suffix not in (".mp4", ".gif"):
            raise UserError(f"-o {path}: write .mp4 or .gif")
        try:
            import imageio.v2 as imageio

            if self.suffix == ".mp4":
                import imageio_ffmpeg  # noqa: F401
        except ImportError as e:
            raise UserError(f"writing {path} needs {e.name}: {VIDEO}") from None
        self._imageio = imageio
        self._writer: Any = None
        self._frames: list[np.ndarray] = []
        self._fps = 30

    def __call__(self, frame: np.ndarray, fps: int) -> None:
        frame = frame[:: self.scale, :: self.scale]
        self._fps = fps
        if self.suffix == ".gif":
            self._frames.append(frame)
            return
        if self._writer is None:
            self._height, self._width = (d - d % 2 for d in frame.shape[:2])
            with warnings.catch_warnings():
                # imageio-ffmpeg starts ffmpeg with subprocess, whose fork JAX warns about; the
                # child execs ffmpeg at once and runs no JAX.
                warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
                self._writer = self._imageio.get_writer(
                    self.path, fps=fps, codec="libx264", macro_block_size=2, pixelformat="yuv420p"
                )
        self._writer.append_data(frame[: self._height, : self._width])

    def close(self) -> Path:
        if self.suffix == ".gif":
            if self._frames:
                self._imageio.mimwrite(self.path, self._frames, duration=1000 / self._fps, loop=0)
        elif self._writer is not None:
            self._writer.close()
        return self.path


def write_video(episode: Episode, path: Path, scale: int = 1) -> Path:
    """Write the episode's frames to ``path`` (see :class:`VideoWriter`).

    Raises:
        UserError: another extension than .mp4 or .gif, or the ``video`` extra missing.
    """
    writer = VideoWriter(path, scale)
    for frame in episode.frames:
        writer(frame, episode.fps)
    return writer.close()
