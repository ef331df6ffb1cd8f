"""The simulator of a Gymnasium env as a model: copy a real env's state into a second copy.

MPC plans by playing candidate action sequences from the current state. A Gymnasium env has
no functional transition, so rlcheck keeps a second copy of the env and sets its state to the
real one's before each search, where the env lets it: MuJoCo envs through ``qpos``/``qvel``
(``set_state``), classic-control envs through the plain attributes of ``env.unwrapped``
(``state`` and what goes with it: CartPole's ``steps_beyond_terminated``, Pendulum's
``last_u``). The model is stepped unwrapped, so its time-limit wrapper never interferes.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np

from rlcheck.errors import UserError

# Attribute types copied for classic-control envs: the state and its bookkeeping, not the
# random generator, renderer or spaces.
_PLAIN = (np.ndarray, np.generic, float, int, bool, tuple, list, type(None))


def supports(env: gym.Env) -> bool:
    """Whether rlcheck can save and restore this env's state (see the module doc); the env
    must have been reset (classic-control envs create their state there)."""
    unwrapped = env.unwrapped
    return _is_mujoco(unwrapped) or hasattr(unwrapped, "state")


def _is_mujoco(unwrapped: Any) -> bool:
    return hasattr(unwrapped, "set_state") and hasattr(unwrapped, "data")


def save_state(env: gym.Env) -> Any:
    """A copy of the env's simulator state."""
    unwrapped = env.unwrapped
    if _is_mujoco(unwrapped):
        data = unwrapped.data
        return ("mujoco", data.qpos.copy(), data.qvel.copy(), float(data.time))
    return (
        "attributes",
        {k: copy.deepcopy(v) for k, v in vars(unwrapped).items() if isinstance(v, _PLAIN)},
    )


def restore_state(env: gym.Env, saved: Any) -> None:
    """Put the env back into a state made by :func:`save_state`."""
    unwrapped = env.unwrapped
    if saved[0] == "mujoco":
        _, qpos, qvel, t = saved
        unwrapped.set_state(qpos, qvel)
        unwrapped.data.time = t
        return
    for name, value in saved[1].items():
        setattr(unwrapped, name, copy.deepcopy(value))


class HostModel:
    """A second copy of a Gymnasium env, used as the model of the real one.

    Raises:
        UserError: the env exposes no state rlcheck can save and restore.
    """

    def __init__(self, env: gym.Env, env_id: str):
        env.reset(seed=0)
        if not supports(env):
            env.close()
            raise UserError(
                f"env {env_id} does not let rlcheck save and restore its state (planning on a "
                "Gymnasium env needs a MuJoCo env (qpos/qvel) or a classic-control env "
                "(env.unwrapped.state)); use its gymnax version or a baseline without a model"
            )
        self.env = env
        self._saved: Any = None

    def copy_state_from(self, real: gym.Env) -> None:
        """Make the model's state the real env's, and remember it for :meth:`returns`."""
        self._saved = save_state(real)

    def returns(self, sequences: np.ndarray, discount: float) -> np.ndarray:
        """Discounted return of each sequence played from the remembered state, ending at
        termination.

        Args:
            sequences: (N, H) discrete or (N, H, A) continuous actions.
            discount: discount of the returns.

        Returns:
            (N,) float32 returns.
        """
        unwrapped = self.env.unwrapped
        out = np.zeros(len(sequences), np.float32)
        for i, actions in enumerate(sequences):
            restore_state(self.env, self._saved)
            weight = 1.0
            for action in actions:
                step = action if action.ndim else int(action)
                _, reward, terminated, _, _ = unwrapped.step(step)
                out[i] += weight * float(reward)
                if terminated:
                    break
                weight *= discount
        return out

    def close(self) -> None:
        self.env.close()
