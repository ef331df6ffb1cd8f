"""Fused driver: a whole training run for JAX envs under one ``jit``, ``vmap``ped over seeds.

Training, the checkpoint evaluations and the final evaluation are one compiled program, so
nothing goes back to Python until every seed is done. ``train`` takes the env's params (its
physics), the agent's traced hyperparameters and a reward scale as arguments, so a batch of
seeds can train under a batch of different params, hyperparameters and reward scales in one
program (a sweep: configurations × seeds in one ``vmap``); :meth:`FusedDriver.run` compiles
the env's own params in as constants and shares one set of hyperparameters unless given one
value per seed. There is
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
    CHECKPOINT_POLICY,
    DEFAULT_EVAL_STEP_CAP,
    POLICY,
    EvalPlan,
    Schedule,
    checkpoint_flags,
    flatten_policy,
    name_policies,
    per_checkpoint,
)
from rlcheck.drivers.evaluation import Evaluation, play_policy
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.params import stack_params


class Carry(NamedTuple):
    agent_state: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    episode_return: jax.Array  # (num_envs,) return of each env's running episode
    env_finite: jax.Array


def run_keys(key: jax.Array) -> jax.Array:
    """A seed's PRNG key split into the keys of its run: init, env resets, the training loop,
    the checkpoint evaluations and the final evaluation (``final_eval_key`` reads the last)."""
    return jax.random.split(key, 5)


def final_eval_key(seed: int) -> jax.Array:
    """The key of a seed's final evaluation: re-evaluating its stored policy with it plays the
    same episodes (rlcheck/experiment/robustness.py)."""
    return run_keys(jax.random.PRNGKey(seed))[4]


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

    def _env_step(
        self, env_params: Any, reward_scale: jax.Array | None, carry: Carry, key: jax.Array
    ) -> tuple[Carry, tuple]:
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
        # The learner sees the scaled reward; every return recorded stays in the env's units.
        reward = step.reward if reward_scale is None else step.reward * reward_scale
        transition = (aux, action, reward, step.terminated, step.truncated, step.final_obs)
        return carry, (transition, episodes)

    def _learn(
        self, env_params: Any, reward_scale: jax.Array | None, carry: Carry
    ) -> tuple[Carry, dict]:
        """One rollout and one learning step; its internals and finished training episodes."""
        key, key_rollout, key_update = jax.random.split(carry.key, 3)
        carry, (steps, (return_sums, episode_counts)) = jax.lax.scan(
            functools.partial(self._env_step, env_params, reward_scale),
            carry._replace(key=key),
            jax.random.split(key_rollout, self.agent.rollout_len),
        )
        traj = Trajectory(*steps, last_obs=carry.obs)
        agent_state, metrics = self.agent.update(carry.agent_state, traj, key_update)
        carry = carry._replace(agent_state=agent_state)
        row = {
            "internals": jnp.stack([metrics[name] for name in self.agent.metric_names])
            if self.agent.metric_names
            else jnp.zeros((0,)),
            "train_return_sum": jnp.sum(return_sums),
            "train_episodes": jnp.sum(episode_counts),
        }
        return carry, row

    def _update(
        self,
        env_params: Any,
        eval_params: Any,
        reward_scale: jax.Array | None,
        carry: Carry,
        x: tuple,
    ) -> tuple[Carry, dict]:
        """One update (:meth:`_learn`); after a checkpoint's update, also its evaluation.

        Internals, finished training episodes and evaluations leave as scan outputs. (Writing
        them into a buffer carried through the loop instead made XLA:CPU 0.10 hang under vmap.)
        """
        is_checkpoint, key_eval = x
        carry, row = self._learn(env_params, reward_scale, carry)
        # The predicate comes from the scan's inputs, not from seed data, so under vmap this
        # stays a real branch: evaluation runs only at checkpoints.
        evaluation = jax.lax.cond(
            is_checkpoint,
            lambda: self.evaluate(
                self.agent.policy_params(carry.agent_state),
                key_eval,
                self.plan.episodes,
                eval_params,
            ),
            lambda: Evaluation(
                jnp.zeros(self.plan.episodes), self._no_performance(self.plan.episodes)
            ),
        )
        return carry, {**row, **_evaluation_rows(evaluation)}

    def _interval(
        self,
        env_params: Any,
        eval_params: Any,
        reward_scale: jax.Array | None,
        carry: Carry,
        x: tuple,
    ) -> tuple[Carry, tuple]:
        """The updates up to a checkpoint, then its evaluation; with the policy evaluated there.

        How checkpoint policies leave the program (``EvalPlan.keep_checkpoint_policies``): an
        outer scan over checkpoints, each step a scan over one interval's updates, so the
        policy is an output of the outer scan (checkpoints × parameters), never a per-update
        output (updates × parameters: gigabytes for DQN or SAC) nor a buffer carried through
        the loop (docs/DESIGN-NOTES.md). Intervals shorter than the longest are padded with
        steps that skip the update (a branch on the scan's input, so it stays one under vmap).
        """
        active, key_eval = x
        learn = functools.partial(self._learn, env_params, reward_scale)
        if np.all(self._interval_mask):
            carry, rows = jax.lax.scan(lambda c, _: learn(c), carry, active)
        else:
            skipped = jax.tree.map(
                lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(learn, carry)[1]
            )
            carry, rows = jax.lax.scan(
                lambda c, on: jax.lax.cond(on, learn, lambda c: (c, skipped), c), carry, active
            )
        policy = self.agent.policy_params(carry.agent_state)
        evaluation = self.evaluate(policy, key_eval, self.plan.episodes, eval_params)
        return carry, (rows, _evaluation_rows(evaluation), policy)

    @functools.cached_property
    def _interval_mask(self) -> np.ndarray:
        """(checkpoints, longest interval): which steps of each interval are updates."""
        ends = self.schedule.update_ends
        lengths = np.diff(ends, prepend=0)
        return np.arange(lengths.max())[None, :] < lengths[:, None]

    # ---- evaluation -------------------------------------------------------------------------

    def evaluate(self, policy: Any, key: jax.Array, episodes: int, env_params: Any) -> Evaluation:
        """Returns (and hidden performance, where the env reports one) of ``episodes`` episodes
        of the policy with parameters ``policy`` (the agent's ``policy_params``) on fresh copies
        of the env with ``env_params`` (``vmap`` over them to evaluate one policy under
        many)."""
        return play_policy(
            self.env,
            self.agent.policy_apply,
            policy,
            key,
            episodes,
            env_params,
            deterministic=self.plan.deterministic,
            step_cap=self.eval_cap,
        )

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
        reward_scale: jax.Array | None = None,
    ) -> dict[str, jax.Array]:
        """One seed's run; ``vmap`` it over seeds, and over params, hyperparameters and reward
        scales too (see :meth:`run`).

        Args:
            key: the seed's PRNG key.
            hparams: the agent's traced hyperparameters.
            env_params: the env's params during training.
            eval_params: the env's params in the checkpoint and final evaluations; None: the
                training ones.
            reward_scale: the learner's rewards are the env's × this; None: the env's (not
                even a multiplication by 1 enters the program). Returns are recorded in the
                env's units either way.

        Returns per-update rows (internals, finished training episodes), the evaluations at
        each checkpoint, and the final policy's parameters as one vector, ``policy`` (with
        ``EvalPlan.keep_checkpoint_policies``, each checkpoint's too, ``checkpoint_policy``,
        checkpoints first; see :func:`flatten_policy`); :func:`per_checkpoint` turns the rows
        into per-checkpoint results and :meth:`run` the vectors into named arrays.
        """
        if eval_params is None:
            eval_params = env_params
        _, _, _, key_eval, key_final = run_keys(key)
        carry = self.start(key, hparams, env_params)
        eval_keys = jax.random.split(key_eval, self.schedule.num_updates)
        at_checkpoints = self.schedule.update_ends - 1
        checkpoint_policies = {}
        if self.plan.keep_checkpoint_policies:
            carry, (rows, evaluations, policies) = jax.lax.scan(
                functools.partial(self._interval, env_params, eval_params, reward_scale),
                carry,
                (self._interval_mask, eval_keys[at_checkpoints]),
            )
            # (checkpoints, longest interval) → one row per update, in order.
            updates = np.flatnonzero(self._interval_mask)
            rows = jax.tree.map(
                lambda r: r.reshape(r.shape[0] * r.shape[1], *r.shape[2:])[updates], rows
            )
            rows.update(evaluations)
            checkpoint_policies = {CHECKPOINT_POLICY: jax.vmap(flatten_policy)(policies)}
        else:
            is_checkpoint, _ = checkpoint_flags(self.schedule)
            carry, rows = jax.lax.scan(
                functools.partial(self._update, env_params, eval_params, reward_scale),
                carry,
                (is_checkpoint, eval_keys),
            )
            for name in ("eval_returns", "eval_performance"):
                if name in rows:
                    rows[name] = rows[name][at_checkpoints]
        policy = self.agent.policy_params(carry.agent_state)
        final = self.evaluate(policy, key_final, self.plan.final_episodes, eval_params)
        performance = {} if final.performance is None else {"final_performance": final.performance}
        return {
            **rows,
            "final_returns": final.returns,
            **performance,
            "params_finite": self.agent.params_finite(carry.agent_state),
            "env_finite": carry.env_finite,
            POLICY: flatten_policy(policy),
            **checkpoint_policies,
        }

    # ---- a run's training alone, to a given update (rlcheck diagnose) -------------------------

    def start(self, key: jax.Array, hparams: dict[str, jax.Array], env_params: Any) -> Carry:
        """A seed's run before its first update: the agent initialized, the envs reset, exactly
        as :meth:`train` starts it."""
        key_init, key_env, key_loop, _, _ = run_keys(key)
        num_envs = self.agent.num_envs
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(key_env, num_envs), env_params
        )
        return Carry(
            agent_state=self.agent.init(key_init, hparams),
            env_state=env_state,
            obs=obs,
            key=key_loop,
            episode_return=jnp.zeros(num_envs),
            env_finite=jnp.asarray(True),
        )

    def advance(
        self,
        carry: Carry,
        key: jax.Array,
        done: int,
        updates: int,
        env_params: Any,
        reward_scale: jax.Array | None = None,
    ) -> Carry:
        """Updates ``done`` to ``done + updates`` of the run of the seed with PRNG key ``key``,
        from ``carry`` (the state after ``done``): the loop of :meth:`train` without its
        ``keep_checkpoint_policies`` intervals, step for step, checkpoint evaluations included
        (they never touch the carry, but leaving them out would compile a different loop, which
        differs from the run in the last float bits). The result is the agent's whole state
        after update ``done + updates`` (critic and optimizer too, which stored policies do not
        keep)."""
        key_eval = run_keys(key)[3]
        is_checkpoint, _ = checkpoint_flags(self.schedule)
        eval_keys = jax.random.split(key_eval, self.schedule.num_updates)
        stretch = slice(done, done + updates)
        carry, _ = jax.lax.scan(
            functools.partial(self._update, env_params, env_params, reward_scale),
            carry,
            (is_checkpoint[stretch], eval_keys[stretch]),
        )
        return carry

    def run(
        self,
        seeds: list[int],
        env_params: Sequence[Any] | None = None,
        eval_params: Sequence[Any] | None = None,
        hparams: Sequence[dict[str, Any]] | None = None,
        reward_scale: Sequence[float] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Train every seed in one vmapped program.

        Args:
            seeds: one run per seed.
            env_params: one params value per seed to train under (a seed may appear several
                times, once per params value); None: the env's own params for every seed.
            eval_params: one params value per seed to evaluate under; None: the training ones.
            hparams: one dict of the agent's traced hyperparameters per seed (configurations
                of a sweep, vmapped with the seeds: each row trains as if alone, up to the
                float rounding of batched matmuls); None: the agent's own, shared by every
                seed.
            reward_scale: one reward scale per seed; None: the env's rewards.

        Returns:
            (results as numpy arrays with a leading seed axis, timings: compile_s, run_s).
        """
        keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
        shared = hparams is None
        hp = self.agent.hparams() if shared else _stack(hparams, seeds, "hparams")
        env_batch = None if env_params is None else _per_seed(env_params, seeds)
        eval_batch = None if eval_params is None else _per_seed(eval_params, seeds)
        scales = None
        if reward_scale is not None:
            scales = _stack([np.float32(x) for x in reward_scale], seeds, "reward scales")
        default = self.env.params

        def one_seed(
            key: jax.Array, hparams: dict, env_batch: Any, eval_batch: Any, scale: Any
        ) -> dict:
            # The env's own params are compiled in as constants, other values are inputs. XLA
            # folds constants (CartPole's division by its total mass becomes a multiplication
            # by the inverse), so a run under the defaults gives the numbers it gave before
            # params were inputs (tests/test_golden.py), and the same params as an input differ
            # from it in the last float bits, which long episodes amplify.
            params = default if env_batch is None else env_batch
            return self.train(key, hparams, params, eval_batch, scale)

        args = (keys, hp, env_batch, eval_batch, scales)
        # Shared hyperparameters stay unbatched under the vmap (in_axes None), as they always
        # were: a program without a sweep computes exactly what it did before sweeps existed.
        train = jax.jit(jax.vmap(one_seed, in_axes=(0, None if shared else 0, 0, 0, 0)))
        start = time.perf_counter()
        compiled = train.lower(*args).compile()
        compiled_at = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        done = time.perf_counter()
        results = per_checkpoint({k: np.asarray(v) for k, v in out.items()}, self.schedule)
        template = jax.eval_shape(
            lambda key: self.agent.policy_params(self.agent.init(key, self.agent.hparams())),
            keys[0],
        )
        timings = {"compile_s": compiled_at - start, "run_s": done - compiled_at}
        return name_policies(results, template), timings


def _evaluation_rows(evaluation: Evaluation) -> dict[str, jax.Array]:
    """An evaluation as result rows: ``eval_returns`` and, for an env that reports its hidden
    performance, ``eval_performance``."""
    rows = {"eval_returns": evaluation.returns}
    if evaluation.performance is not None:
        rows["eval_performance"] = evaluation.performance
    return rows


def _per_seed(values: Sequence[Any], seeds: list[int]) -> Any:
    return _stack(values, seeds, "env params values")


def _stack(values: Sequence[Any], seeds: list[int], what: str) -> Any:
    """One value per seed, stacked on a leading axis (pytrees leaf by leaf)."""
    if len(values) != len(seeds):
        raise ValueError(f"{len(values)} {what} for {len(seeds)} seeds")
    return stack_params(values)
