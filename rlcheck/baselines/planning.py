"""The runner shared by planners (MPC, MCTS, LQR): episodes played with the true model.

A planner learns nothing and uses no training env steps. It is evaluated once per seed on
``final_episodes`` episodes; every real step it takes, it plans with the env itself as the
model, whose params are the real env's unless :meth:`Planner.evaluate` is given others (a
planner with a wrong model). Its cost is counted in simulator calls: model transitions per
real step (a constant of its configuration) times the real steps of its episodes, plus any
one-off cost per seed (LQR's linearization). On a JAX-native env every seed's episodes are one
compiled program; on a Gymnasium env a planner that supports it plans through state
save/restore (``rlcheck.baselines.host_model``).
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.baselines.base import Baseline, Episodes, play_episodes, seed_keys
from rlcheck.core import traced_values
from rlcheck.drivers.common import EvalPlan, Schedule
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError


def planner_results(
    returns: np.ndarray,
    steps: np.ndarray,
    finite: np.ndarray,
    calls_per_step: int,
    setup: int,
    performance: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The result layout of a planner's evaluation (no checkpoints, no training).

    Args:
        returns: (S, E) episode returns.
        steps: (S, E) real env steps of each episode.
        finite: (S,) whether every observation and reward was finite.
        calls_per_step: model transitions the planner computes per real step.
        setup: model transitions it computes once per seed before acting.
        performance: (S, E) hidden performance of the episodes, where the env reports it.

    Returns:
        The arrays of ``rlcheck.drivers.common.RESULT_KEYS`` plus ``env_steps`` (zeros),
        ``simulator_calls`` (int64) and ``checkpoint_env_steps`` (S, 0); and
        ``final_performance`` given ``performance``.
    """
    num_seeds, episodes = returns.shape
    calls = steps.astype(np.int64).sum(axis=1) * calls_per_step + setup
    extra = {} if performance is None else {"final_performance": np.asarray(performance)}
    return {
        **extra,
        "eval_returns": np.zeros((num_seeds, 0, episodes)),
        "train_return_sum": np.zeros((num_seeds, 0)),
        "train_episodes": np.zeros((num_seeds, 0), np.int64),
        "internals": np.zeros((num_seeds, 0, 0)),
        "final_returns": np.asarray(returns, np.float64),
        "params_finite": np.ones(num_seeds, bool),
        "env_finite": np.asarray(finite, bool),
        "env_steps": np.zeros(num_seeds, np.int64),
        "simulator_calls": calls,
        "checkpoint_env_steps": np.zeros((num_seeds, 0), np.int64),
    }


class Planner(Baseline):
    """A planner acting in a JAX-native env; subclasses implement :meth:`init_plan` and
    :meth:`plan` (one episode) or :meth:`plan_batch` (every episode at once).

    ``calls_per_step`` and ``setup_calls`` count model transitions (see the module doc).
    """

    learns = False
    calls_per_step: int = 0
    setup_calls: int = 0

    def __init__(self, spec: EnvSpec, config: Any):
        self.spec = spec
        self.config = config

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    def setup(self, env: JaxEnv, env_params: Any, hparams: dict) -> Any:
        """What the planner computes once per seed before acting on the model ``env`` with
        ``env_params`` (default: nothing)."""
        del env, env_params, hparams
        return None

    def init_plan(self, env: JaxEnv, key: jax.Array, hparams: dict) -> Any:
        """The plan state at the start of an episode (default: none)."""
        del env, key, hparams
        return jnp.zeros(())

    def plan(
        self,
        env: JaxEnv,
        env_params: Any,
        setup: Any,
        env_state: Any,
        plan_state: Any,
        key: jax.Array,
        hparams: dict,
    ) -> tuple[jax.Array, Any]:
        """One episode: the action to take now and the plan state for the next step, planned on
        the model ``env`` with ``env_params``."""
        raise NotImplementedError

    def plan_batch(
        self,
        env: JaxEnv,
        env_params: Any,
        setup: Any,
        env_states: Any,
        plan_states: Any,
        key: jax.Array,
        hparams: dict,
    ) -> tuple[jax.Array, Any]:
        """Every episode at once (default: :meth:`plan` vmapped over episodes)."""
        keys = jax.random.split(key, jax.tree.leaves(env_states)[0].shape[0])
        return jax.vmap(lambda s, p, k: self.plan(env, env_params, setup, s, p, k, hparams))(
            env_states, plan_states, keys
        )

    def evaluate(
        self,
        env: JaxEnv,
        key: jax.Array,
        hparams: dict,
        episodes: int,
        env_params: Any,
        model_params: Any = None,
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """One seed's evaluation: (returns (E,), real steps (E,), finite).

        The episodes are played with ``env_params``; the planner plans with ``model_params``
        (None: the same).
        """
        played = self.play(env, key, hparams, episodes, env_params, model_params)
        return played.returns, played.steps, played.finite

    def play(
        self,
        env: JaxEnv,
        key: jax.Array,
        hparams: dict,
        episodes: int,
        env_params: Any,
        model_params: Any = None,
    ) -> Episodes:
        """:meth:`evaluate`'s episodes, with their hidden performance where the env reports it."""
        if model_params is None:
            model_params = env_params
        key_plan, key_play = jax.random.split(key)
        setup = self.setup(env, model_params, hparams)
        plans = jax.vmap(lambda k: self.init_plan(env, k, hparams))(
            jax.random.split(key_plan, episodes)
        )

        def act(obs: jax.Array, env_state: Any, plan_state: Any, key: jax.Array) -> tuple:
            del obs
            return self.plan_batch(env, model_params, setup, env_state, plan_state, key, hparams)

        return play_episodes(env, env_params, act, key_play, episodes, plans, performance=True)

    def run(
        self, env: Any, schedule: Schedule, plan: EvalPlan, seeds: list[int]
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Every seed's evaluation episodes; one compiled program on a JAX-native env."""
        del schedule
        if not isinstance(env, JaxEnv):
            return self.run_host(env, plan, seeds)
        keys = seed_keys(seeds)
        hparams = self.hparams()
        episodes = plan.final_episodes
        # The env's own params are compiled in as constants (see rlcheck/drivers/fused.py).

        def one_seed(key: jax.Array, hparams: dict) -> tuple:
            played = self.play(env, key, hparams, episodes, env.params)
            return played.returns, played.steps, played.finite, played.performance

        program = jax.jit(jax.vmap(one_seed, in_axes=(0, None)))
        start = time.perf_counter()
        compiled = program.lower(keys, hparams).compile()
        compiled_at = time.perf_counter()
        returns, steps, finite, performance = jax.block_until_ready(compiled(keys, hparams))
        done = time.perf_counter()
        results = planner_results(
            np.asarray(returns),
            np.asarray(steps),
            np.asarray(finite),
            self.calls_per_step,
            self.setup_calls,
            None if performance is None else np.asarray(performance),
        )
        return results, {"compile_s": compiled_at - start, "run_s": done - compiled_at}

    def run_host(
        self, env: Any, plan: EvalPlan, seeds: list[int]
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Planning on a Gymnasium env; only planners that support it override this."""
        del plan, seeds
        raise UserError(f"{self.name} needs a JAX-native env (gymnax:…); {env.spec.id} is not")
