"""Normalised scores, (score − random) / (reference − random), so environments can be pooled."""

from typing import NamedTuple

import numpy as np


class EnvReference(NamedTuple):
    """Reference returns of an environment: 0 and 1 of the normalised scale, and "solved"."""

    random: float
    reference: float
    solved: float | None


# Bare env ids; gymnax re-implements these with the same dynamics and rewards, so the values
# hold for "gymnax:ID" and "gymnasium:ID" alike.
# random: mean return of uniformly random actions over 1,000 episodes (reset seeds 0..999,
#   action_space.seed(0)), measured with Gymnasium 1.3.0.
# reference: the best mean return in the RL Baselines3 Zoo benchmark table
#   (DLR-RM/rl-baselines3-zoo, benchmark.md), or the maximum possible return where it is known.
# solved: the environment's ``reward_threshold`` in Gymnasium's registry (None where unset).
REFERENCE_SCORES: dict[str, EnvReference] = {
    # reference: 500 steps × reward 1 is the maximum return (every Zoo agent reaches it).
    "CartPole-v1": EnvReference(random=22.2, reference=500.0, solved=475.0),
    # reference: QR-DQN in the Zoo table.
    "Acrobot-v1": EnvReference(random=-499.1, reference=-69.1, solved=-100.0),
    # random: a random policy never reaches the flag within 200 steps. reference: DQN, Zoo.
    "MountainCar-v0": EnvReference(random=-200.0, reference=-100.8, solved=-110.0),
    # reference: ARS in the Zoo table.
    "MountainCarContinuous-v0": EnvReference(random=-33.3, reference=96.7, solved=90.0),
    # reference: TD3 in the Zoo table; Gymnasium sets no reward threshold.
    "Pendulum-v1": EnvReference(random=-1230.7, reference=-151.9, solved=None),
}


def normalize(score: float | np.ndarray, random: float, reference: float) -> float | np.ndarray:
    """Maps ``random`` to 0 and ``reference`` to 1.

    Args:
      score: raw return(s).
      random: return of a random policy.
      reference: return regarded as 1 (human, expert, or the maximum).

    Returns:
      ``(score - random) / (reference - random)``, same shape as ``score``.

    References:
      Mnih et al., "Human-level control through deep reinforcement learning", Nature 2015
      (human-normalised score).
    """
    if reference == random:
        raise ValueError(f"reference and random scores are equal ({random}); cannot normalise")
    return (np.asarray(score, dtype=float) - random) / (reference - random)


def env_reference(
    env_id: str,
    *,
    random: float | None = None,
    reference: float | None = None,
    solved: float | None = None,
) -> EnvReference:
    """The reference returns of ``env_id``, with any of them overridden by the caller.

    Args:
      env_id: e.g. "CartPole-v1", "gymnax:CartPole-v1" or "gymnasium:CartPole-v1".
      random: overrides the random policy's return.
      reference: overrides the return mapped to 1.
      solved: overrides the solve threshold.

    Returns:
      EnvReference(random, reference, solved).
    """
    bare = env_id.split(":", 1)[1] if env_id.startswith(("gymnax:", "gymnasium:")) else env_id
    known = REFERENCE_SCORES.get(bare)
    if known is None:
        if random is None or reference is None:
            raise KeyError(
                f"no reference scores for {env_id!r}; pass random= and reference= "
                f"(known: {', '.join(REFERENCE_SCORES)})"
            )
        return EnvReference(random, reference, solved)
    return EnvReference(
        known.random if random is None else random,
        known.reference if reference is None else reference,
        known.solved if solved is None else solved,
    )


def normalize_env(
    score: float | np.ndarray,
    env_id: str,
    *,
    random: float | None = None,
    reference: float | None = None,
) -> float | np.ndarray:
    """``normalize`` with the reference returns of ``env_id`` (see ``env_reference``).

    Args:
      score: raw return(s) on ``env_id``.
      env_id: the environment.
      random: overrides the table's random return.
      reference: overrides the table's reference return.

    Returns:
      The normalised score(s).
    """
    ref = env_reference(env_id, random=random, reference=reference)
    return normalize(score, ref.random, ref.reference)
