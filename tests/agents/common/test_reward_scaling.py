"""rlcheck's reward scaling against Gymnasium's NormalizeReward wrappers and SB3's VecNormalize.

The same reward sequence (several envs, episodes ending at different steps, three rollouts in a
row so the tracker and the statistics carry over, clipping on and off) goes through Gymnasium's
wrappers, step by step, and through :func:`rollout_rewards`, a rollout at a time. The relations
asserted are the ones the module docstring of rlcheck/agents/common/reward_scaling.py documents.

Tolerance: rlcheck computes in float32 (JAX's default), Gymnasium's statistics in float64. One
float32 operation is exact to 6e-8 relative; the running variance goes through a few hundred
updates, and we measured at most 8e-7 relative between the two, so ``rtol=1e-5`` holds with
margin, while the differences documented at episode ends are above 1e-2 (asserted below).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space
from gymnasium.wrappers.utils import RunningMeanStd as GymnasiumRMS

from rlcheck.agents.common.normalize import RunningMeanStd, rms_init
from rlcheck.agents.common.reward_scaling import rollout_rewards

GAMMA = 0.99
CLIP = 1.0  # small enough that clipping changes some scaled rewards (asserted)
NUM_ENVS, ROLLOUT, ROLLOUTS = 3, 40, 3
RTOL = 1e-5
# Rewards this small keep the return's variance near the prior's share (count 1e-4), ~1e-6, so
# where ε = 1e-8 goes (inside or outside the square root) shows in the scaled rewards.
SCALES = pytest.mark.parametrize("scale", [1.0, 1e-5])
# Last steps of episodes, per env: at different steps, one-step episodes (40, 41), one at the
# last step of a rollout (79, so the next rollout starts on a reset tracker); env 2 never ends.
ENDS = ((9, 39, 40, 41, 77, 100), (25, 79, 110), ())


@struct.dataclass
class _State:
    """The fields :func:`rollout_rewards` reads and advances in an agent's state."""

    discounted_return: jax.Array
    return_rms: RunningMeanStd
    hparams: dict[str, Any]


def _sequence(scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Rewards and episode ends, (ROLLOUTS·ROLLOUT, NUM_ENVS)."""
    rewards = scale * np.random.default_rng(0).normal(0.5, 2.0, (ROLLOUTS * ROLLOUT, NUM_ENVS))
    ended = np.zeros(rewards.shape, bool)
    for env, ends in enumerate(ENDS):
        ended[list(ends), env] = True
    return rewards, ended


# Compiled once per shape and clip setting (an eager scan traces its body anew on every call).
_rollout_rewards = jax.jit(rollout_rewards, static_argnums=(3, 4))


def _rlcheck(rewards: np.ndarray, ended: np.ndarray, clip: bool) -> np.ndarray:
    """Scaled rewards from rollout_rewards, called once per rollout with the state carried."""
    num_envs = rewards.shape[1]
    state = _State(jnp.zeros(num_envs), rms_init(()), {"gamma": GAMMA, "reward_clip": CLIP})
    scaled = []
    for start in range(0, len(rewards), ROLLOUT):
        part = slice(start, start + ROLLOUT)
        state, out = _rollout_rewards(
            state, jnp.asarray(rewards[part], jnp.float32), jnp.asarray(ended[part]), True, clip
        )
        scaled.append(np.asarray(out))
    return np.concatenate(scaled)


class _Scripted(gym.Env):
    """Emits the given rewards and terminations, whatever the actions."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
    action_space = gym.spaces.Discrete(1)

    def __init__(self, rewards: np.ndarray, terminated: np.ndarray):
        self._rewards, self._terminated, self._t = rewards, terminated, 0

    def reset(self, *, seed=None, options=None):
        return np.zeros(1, np.float32), {}

    def step(self, action):
        t, self._t = self._t, self._t + 1
        reward, terminated = float(self._rewards[t]), bool(self._terminated[t])
        return np.zeros(1, np.float32), reward, terminated, False, {}


class _ScriptedVector(VectorEnv):
    """Emits the given rewards for every env, no episode ever ending."""

    def __init__(self, rewards: np.ndarray):
        self.num_envs = rewards.shape[1]
        self.single_observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
        self.single_action_space = gym.spaces.Discrete(1)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rewards, self._t = rewards, 0

    def reset(self, *, seed=None, options=None):
        return np.zeros((self.num_envs, 1), np.float32), {}

    def step(self, actions):
        t, self._t = self._t, self._t + 1
        never = np.zeros(self.num_envs, bool)
        return np.zeros((self.num_envs, 1), np.float32), self._rewards[t], never, never, {}


def _gymnasium(rewards: np.ndarray, terminated: np.ndarray, clip: bool) -> np.ndarray:
    """One env through gymnasium.wrappers.NormalizeReward (then ClipReward)."""
    env: gym.Env = gym.wrappers.NormalizeReward(_Scripted(rewards, terminated), gamma=GAMMA)
    if clip:
        env = gym.wrappers.ClipReward(env, -CLIP, CLIP)
    env.reset()
    out = []
    for done in terminated:
        out.append(env.step(0)[1])
        if done:
            env.reset()
    return np.array(out)


def _gymnasium_vector(rewards: np.ndarray, clip: bool) -> np.ndarray:
    """All envs through gymnasium.wrappers.vector.NormalizeReward (then ClipReward)."""
    envs: VectorEnv = gym.wrappers.vector.NormalizeReward(_ScriptedVector(rewards), gamma=GAMMA)
    if clip:
        envs = gym.wrappers.vector.ClipReward(envs, -CLIP, CLIP)
    envs.reset()
    return np.array([envs.step(np.zeros(NUM_ENVS, int))[1] for _ in rewards])


def _vecnormalize(rewards: np.ndarray, dones: np.ndarray, clip: bool) -> np.ndarray:
    """SB3 VecNormalize's reward path (vec_normalize.py: step_wait, _update_reward,
    normalize_reward; epsilon 1e-8), with Gymnasium's RunningMeanStd, which is SB3's (count
    starting at 1e-4, the same parallel update). SB3's dones are terminated or truncated."""
    rms, returns, out = GymnasiumRMS(shape=()), np.zeros(rewards.shape[1]), []
    for reward, done in zip(rewards, dones, strict=True):
        returns = returns * GAMMA + reward
        rms.update(returns)
        scaled = reward / np.sqrt(rms.var + 1e-8)
        out.append(np.clip(scaled, -CLIP, CLIP) if clip else scaled)
        returns[done] = 0.0
    return np.array(out)


def _one_step_later(ended: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros_like(ended[:1]), ended[:-1]])


def test_clipping_bites_on_this_sequence():
    rewards, ended = _sequence()
    assert np.abs(_rlcheck(rewards, ended, clip=False)).max() > 2 * CLIP


@SCALES
@pytest.mark.parametrize("clip", [False, True])
def test_pooled_envs_equal_gymnasiums_vector_wrapper_while_no_episode_ends(clip, scale):
    rewards, _ = _sequence(scale)
    never = np.zeros(rewards.shape, bool)
    np.testing.assert_allclose(
        _rlcheck(rewards, never, clip), _gymnasium_vector(rewards, clip), rtol=RTOL
    )


@SCALES
@pytest.mark.parametrize("clip", [False, True])
def test_pooled_envs_with_episode_ends_equal_sb3_vecnormalize(clip, scale):
    rewards, ended = _sequence(scale)
    np.testing.assert_allclose(
        _rlcheck(rewards, ended, clip), _vecnormalize(rewards, ended, clip), rtol=RTOL
    )


@SCALES
@pytest.mark.parametrize("clip", [False, True])
def test_each_env_equals_gymnasiums_wrapper_told_of_each_end_one_step_later(clip, scale):
    # Gymnasium's single-env wrapper keeps statistics per env, so each env is compared with
    # rlcheck run on that env alone.
    rewards, ended = _sequence(scale)
    for env in range(NUM_ENVS):
        ours = _rlcheck(rewards[:, [env]], ended[:, [env]], clip)[:, 0]
        later = _gymnasium(rewards[:, env], _one_step_later(ended[:, env]), clip)
        np.testing.assert_allclose(ours, later, rtol=RTOL)


def test_gymnasium_differs_from_the_step_an_episode_ends():
    rewards, ended = _sequence()
    env = 0
    ours = _rlcheck(rewards[:, [env]], ended[:, [env]], clip=False)[:, 0]
    theirs = _gymnasium(rewards[:, env], ended[:, env], clip=False)
    first_end = ENDS[env][0]
    np.testing.assert_allclose(ours[:first_end], theirs[:first_end], rtol=RTOL)
    assert abs(ours[first_end] / theirs[first_end] - 1) > 1e-2
