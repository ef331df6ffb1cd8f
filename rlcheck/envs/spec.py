"""What an agent needs to know about an environment, whatever kind it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Discrete:
    """A finite action set {0, …, n-1}."""

    n: int


@dataclass(frozen=True)
class Box:
    """Continuous actions in [low, high] per dimension (tuples, so the spec is hashable)."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.low),)


ActionSpace = Discrete | Box


@dataclass(frozen=True)
class EnvSpec:
    """One description shared by JAX-native and host (Gymnasium) environments.

    Attributes:
        id: canonical id, e.g. ``gymnax:CartPole-v1`` or ``gymnasium:Hopper-v5``.
        kind: ``"jax"`` (runs inside compiled programs) or ``"host"`` (Python, Gymnasium).
        obs_shape: shape of one observation.
        action_space: ``Discrete(n)`` or ``Box(low, high)``.
        time_limit: episode length at which an episode is *truncated* (not terminated);
            ``None`` when the env has none.
        solve_threshold: return at which the task counts as solved, when one is known.
    """

    id: str
    kind: Literal["jax", "host"]
    obs_shape: tuple[int, ...]
    action_space: ActionSpace
    time_limit: int | None
    solve_threshold: float | None = None

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)
