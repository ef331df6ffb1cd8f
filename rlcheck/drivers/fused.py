"""Fused driver: a whole training run for JAX envs under one ``jit``, ``vmap``ped over seeds.

Training, the checkpoint evaluations and the final evaluation are one compiled program, so
nothing goes back to Python until every seed is done. ``train`` takes the env's params (its
physics) as an argument, so a batch of seeds can train under a batch of different params in
one program; :meth:`FusedDriver.run` compiles the env's own params in as constants. There is
deliberately no progress callback inside the program: JAX does not write programs with host
callbacks to its persistent compilation cache, so a callback would cost a full compilation on
every run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.core import Agent, Trajectory
from rlcheck.drivers.common import (
    DEFAULT_EVAL_STEP_CAP,
    EvalPlan,
    Schedule,
    checkpoint_flags,
    per_checkpoint,
)
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.params import stack_params


class Evaluation(NamedTuple):
    """What an evaluation saw, one entry per episode: its return and, for an env that reports
    it (``rlcheck.envs.jax_env.PERFORMANCE``), its hidden performance (else None)."""

    returns: jax.Array
    performance: jax.Array | None


class Carry(NamedTuple):
    agent_state: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    episode_return: jax.Array  # (num_envs,) return of each env's running episode
    env_finite: jax.Array


class FusedDriver:
    """Builds ``train(key, hparams, env_params) -> results`` for one agent, env and schedule."""

    def __init__(
        self,
        agent: Agent,
        env: JaxEnv,
        schedule: Schedule,
        plan: EvalPlan,
    ):
        self.agent = agent
        self.env = env
        self.schedule = schedule
        self.plan = plan
        self.eval_cap = env.spec.time_limit or DEFAULT_EVAL_STEP_CAP

    # ---- one env step, one update ------------------------------------------------------------

    def _env_step(self, env_params: Any, carry: Carry, key: jax.Array) -> tuple[Carry, tuple]:
        key_act, key_env = jax.random.split(key)
        agent_state, action, aux = self.agent.act(carry.agent_state, carry.obs, key_act)
        keys = jax.random.split(key_env, self.agent.num_envs)
        step = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(
            keys, carry.env_state, action, env_params
        )
        ended = step.terminated | step.truncated
        episode_return = carry.episode_return + step.reward
        finite = jnp.all(jnp.isfinite(step.obs)) & jnp.all(jnp.isfinite(step.reward))
        carry = carry._replace(
            agent_state=agent_state,
            env_state=step.state,
            obs=step.obs,
            episode_return=jnp.where(ended, 0.0, episode_return),
            env_finite=carry.env_finite & finite,
        )
        episodes = (jnp.sum(jnp.where(ended, episode_return, 0.0)), jnp.sum(ended))
        transition = (aux, action, step.reward, step.terminated, step.truncated, step.final_obs)
        return carry, (transition, episodes)

    def _update(
        self, env_params: Any, eval_params: Any, carry: Carry, x: tuple
    ) -> tuple[Carry, dict]:
        """One rollout and one learning step; at checkpoints, also an evaluation.

        Internals, finished training episodes and evaluations leave as scan outputs. (Writing
        them into a buffer carried through the loop instead made XLA:CPU 0.10 hang under vmap.)
        """
        is_checkpoint, key_eval = x
        key, key_rollout, key_update = jax.random.split(carry.key, 3)
        carry, (steps, (return_sums, episode_counts)) = jax.lax.scan(
            functools.partial(self._env_step, env_params),
            carry._replace(key=key),
            jax.random.split(key_rollout, self.agent.rollout_len),
        )
        traj = Trajectory(*steps, last_obs=carry.obs)
        agent_state, metrics = self.agent.update(carry.agent_state, traj, key_update)
        carry = carry._replace(agent_state=agent_state)
        # The predicate comes from the scan's inputs, not from seed data, so under vmap this
        # stays a real branch: evaluation runs only at checkpoints.
        evaluation = jax.lax.cond(
            is_checkpoint,
            lambda: self.evaluate(agent_state, key_eval, self.plan.episodes, eval_params),
            lambda: Evaluation(
                jnp.zeros(self.plan.episodes), self._no_performance(self.plan.episodes)
            ),
        )
        out = {
            "internals": jnp.stack([metrics[name] for name in self.agent.metric_names])
            if self.agent.metric_names
            else jnp.zeros((0,)),
            "train_return_sum": jnp.sum(return_sums),
            "train_episodes": jnp.sum(episode_counts),
            "eval_returns": evaluation.returns,
        }
        if evaluation.performance is not None:
            out["eval_performance"] = evaluation.performance
        return carry, out

    # ---- evaluation -------------------------------------------------------------------------

    def evaluate(
        self, agent_state: Any, key: jax.Array, episodes: int, env_params: Any
    ) -> Evaluation:
        """Returns (and hidden performance, where the env reports one) of ``episodes`` episodes
        of the policy on fresh copies of the env with ``env_params`` (``vmap`` over them to
        evaluate one policy under many)."""
        key_reset, key_loop = jax.random.split(key)
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(key_reset, episodes), env_params
        )
        deterministic = self.plan.deterministic
        # Envs that report no performance run the very program they ran before it existed
        # (its sum is None: no leaf in the loop).
        step = self.env.step_no_reset
        if self.env.reports_performance:
            step = self.env.step_with_performance

        def play(loop):
            t, obs, env_state, returns, performance, done, key = loop
            key, key_act, key_env = jax.random.split(key, 3)
            action = self.agent.policy(agent_state, obs, key_act, deterministic)
            obs, env_state, reward, terminated, truncated, *hidden = jax.vmap(
                step, in_axes=(0, 0, 0, None)
            )(jax.random.split(key_env, episodes), env_state, action, env_params)
            returns = returns + jnp.where(done, 0.0, reward)
            if hidden:
                performance = performance + jnp.where(done, 0.0, hidden[0])
            done = done | terminated | truncated
            return t + 1, obs, env_state, returns, performance, done, key

        def running(loop):
            t, *_, done, _ = loop
            return (t < self.eval_cap) & ~jnp.all(done)

        none = self._no_performance(episodes)
        init = (0, obs, env_state, jnp.zeros(episodes), none, jnp.zeros(episodes, bool), key_loop)
        out = jax.lax.while_loop(running, play, init)
        return Evaluation(out[3], out[4])

    def _no_performance(self, episodes: int) -> jax.Array | None:
        """Zero performance sums for ``episodes`` episodes, or None: the env reports none."""
        return jnp.zeros(episodes) if self.env.reports_performance else None

    # ---- the whole run ------------------------------------------------------------------------

    def train(
        self,
        key: jax.Array,
        hparams: dict[str, jax.Array],
        env_params: Any,
        eval_params: Any = None,
    ) -> dict[str, jax.Array]:
        """One seed's run; ``vmap`` it over seeds, and over params too (see :meth:`run`).

        Args:
            key: the seed's PRNG key.
            hparams: the agent's traced hyperparameters.
            env_params: the env's params during training.
            eval_params: the env's params in the checkpoint and final evaluations; None: the
                training ones.

        Returns per-update rows (internals, finished training episodes, evaluations at
        checkpoint updates); :func:`per_checkpoint` turns them into per-checkpoint results.
        """
        if eval_params is None:
            eval_params = env_params
        key_init, key_env, key_loop, key_eval, key_final = jax.random.split(key, 5)
        num_envs = self.agent.num_envs
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(key_env, num_envs), env_params
        )
        carry = Carry(
            agent_state=self.agent.init(key_init, hparams),
            env_state=env_state,
            obs=obs,
            key=key_loop,
            episode_return=jnp.zeros(num_envs),
            env_finite=jnp.asarray(True),
        )
        num_updates = self.schedule.num_updates
        is_checkpoint, _ = checkpoint_flags(self.schedule)
        carry, rows = jax.lax.scan(
            functools.partial(self._update, env_params, eval_params),
            carry,
            (is_checkpoint, jax.random.split(key_eval, num_updates)),
        )
        final = self.evaluate(carry.agent_state, key_final, self.plan.final_episodes, eval_params)
        performance = {} if final.performance is None else {"final_performance": final.performance}
        return {
            **rows,
            "final_returns": final.returns,
            **performance,
            "params_finite": self.agent.params_finite(carry.agent_state),
            "env_finite": carry.env_finite,
        }

    def run(
        self,
        seeds: list[int],
        env_params: Sequence[Any] | None = None,
        eval_params: Sequence[Any] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Train every seed in one vmapped program.

        Args:
            seeds: one run per seed.
            env_params: one params value per seed to train under (a seed may appear several
                times, once per params value); None: the env's own params for every seed.
            eval_params: one params value per seed to evaluate under; None: the training ones.

        Returns:
            (results as numpy arrays with a leading seed axis, timings: compile_s, run_s).
        """
        keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
        hparams = self.agent.hparams()
        env_batch = None if env_params is None else _per_seed(env_params, seeds)
        eval_batch = None if eval_params is None else _per_seed(eval_params, seeds)
        default = self.env.params

        def one_seed(key: jax.Array, hparams: dict, env_batch: Any, eval_batch: Any) -> dict:
            # The env's own params are compiled in as constants, other values are inputs. XLA
            # folds constants (CartPole's division by its total mass becomes a multiplication
            # by the inverse), so a run under the defaults gives the numbers it gave before
            # params were inputs (tests/test_golden.py), and the same params as an input differ
            # from it in the last float bits, which long episodes amplify.
            params = default if env_batch is None else env_batch
            return self.train(key, hparams, params, eval_batch)

        args = (keys, hparams, env_batch, eval_batch)
        train = jax.jit(jax.vmap(one_seed, in_axes=(0, None, 0, 0)))
        start = time.perf_counter()
        compiled = train.lower(*args).compile()
        compiled_at = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        done = time.perf_counter()
        results = per_checkpoint({k: np.asarray(v) for k, v in out.items()}, self.schedule)
        return results, {"compile_s": compiled_at - start, "run_s": done - compiled_at}


def _per_seed(values: Sequence[Any], seeds: list[int]) -> Any:
    if len(values) != len(seeds):
        raise ValueError(f"{len(values)} env params values for {len(seeds)} seeds")
    return stack_params(values)
