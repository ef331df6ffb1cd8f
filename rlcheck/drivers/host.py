"""Host driver: Gymnasium envs stepped in Python, the agent's functions jitted and vmapped.

Every seed's envs live in one Gymnasium vector env; each step is one call of the jitted,
seed-vmapped ``act`` and one vector-env step, and each update one call of ``update``. The agent
code is the same as under the fused driver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jax_core

from rlcheck.core import Agent, Trajectory
from rlcheck.drivers.common import (
    CHECKPOINT_POLICY,
    DEFAULT_EVAL_STEP_CAP,
    POLICY,
    EvalPlan,
    Schedule,
    checkpoint_flags,
    env_seeds,
    per_checkpoint,
    policy_arrays,
)
from rlcheck.envs.host_env import HostEnv


class EnvFault(RuntimeError):
    """The environment produced something no learner can use (NaN/inf)."""


def _split_each(keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    pairs = jax.vmap(jax.random.split)(keys)
    return pairs[:, 0], pairs[:, 1]


def final_stream(schedule: Schedule) -> int:
    """The reset-seed stream of the final evaluation's envs (0: training, 1 + c: checkpoint c):
    ``env_seeds(seed, final_stream(schedule), final_episodes)`` reset them."""
    return 1 + len(schedule.update_ends)


class HostDriver:
    """Trains a batch of seeds on a host env; same results layout as the fused driver."""

    def __init__(
        self,
        agent: Agent,
        env: HostEnv,
        schedule: Schedule,
        plan: EvalPlan,
        progress: Callable[[int], None] | None = None,
        reward_scale: float | None = None,
    ):
        """``reward_scale``: the learner's rewards are the env's × this (None: the env's); the
        returns recorded stay in the env's units."""
        self.agent = agent
        self.reward_scale = reward_scale
        self.env = env
        self.schedule = schedule
        self.plan = plan
        self.progress = progress
        self.eval_cap = env.spec.time_limit or DEFAULT_EVAL_STEP_CAP
        self._eval_vecs: dict[int, Any] = {}  # eval envs by count, built by evaluate()
        self._init = jax.jit(jax.vmap(agent.init, in_axes=(0, None)))
        self._act: LeanAct | None = None  # set by _compile
        # The states are donated: update writes the new states (an off-policy agent's replay
        # buffer among them) in place instead of copying them on every call. SAC on
        # HalfCheetah-v5, 2 seeds, 100k-transition buffers (40 MB of state): 14.4 ms per update
        # copied, 12.6 ms in place; the copy grows with the buffer (CleanRL's SAC keeps 1M).
        self._update_jit = jax.jit(self._update_all, donate_argnums=0)
        self._update: Any = None  # set by _compile
        self._policy = jax.jit(self._policy_all)
        self._policy_params = jax.jit(
            lambda states, n: jax.vmap(agent.policy_params, axis_size=n)(states),
            static_argnums=1,
        )

    # ---- the jitted, seed-vmapped pieces ------------------------------------------------------

    def _act_all(self, states: Any, obs: jax.Array, keys: jax.Array) -> tuple:
        keys, sub = _split_each(keys)
        states, action, aux = jax.vmap(self.agent.act)(states, obs, sub)
        return states, action, aux, keys

    def _update_all(self, states: Any, traj: Trajectory, keys: jax.Array) -> tuple:
        keys, sub = _split_each(keys)
        states, metrics = jax.vmap(self.agent.update)(states, traj, sub)
        row = (
            jnp.stack([metrics[n] for n in self.agent.metric_names], axis=-1)
            if self.agent.metric_names
            else jnp.zeros((keys.shape[0], 0))
        )
        finite = jax.vmap(self.agent.params_finite, axis_size=keys.shape[0])(states)
        return states, row, finite, keys

    def _policy_all(self, policies: Any, obs: jax.Array, keys: jax.Array) -> tuple:
        keys, sub = _split_each(keys)
        action = jax.vmap(self.agent.policy_apply, in_axes=(0, 0, 0, None))(
            policies, obs, sub, self.plan.deterministic
        )
        return action, keys

    def policies(self, states: Any, num_seeds: int) -> Any:
        """Every seed's policy parameters (``policy_params``, seed axis first) as numpy arrays:
        copied off the device at once, since ``update`` takes the states donated."""
        return jax.tree.map(np.asarray, self._policy_params(states, num_seeds))

    # ---- evaluation ---------------------------------------------------------------------------

    def evaluate(
        self, policies: Any, seeds: list[int], stream: int, episodes: int, keys: jax.Array
    ) -> tuple[np.ndarray, np.ndarray | None, jax.Array]:
        """Returns (seeds, episodes) of the policies with parameters ``policies`` (seed axis
        first, as :meth:`policies` gives them), every episode on its own env reset with its own
        seed: ``env_seeds(seed, stream, episodes)``, and their hidden performance (None when the
        env reported no ``info["performance"]``). The eval envs are built once per run and size
        (building a MuJoCo env costs milliseconds and logs warnings) and closed by :meth:`run`
        (or :meth:`close`)."""
        num_seeds = len(seeds)
        env_seed_list = [s for seed in seeds for s in env_seeds(seed, stream, episodes)]
        vec = self._eval_vecs.get(len(env_seed_list))
        if vec is None:
            vec = self._eval_vecs[len(env_seed_list)] = self.env.vector(env_seed_list)
        obs = vec.reset(env_seed_list)
        returns = np.zeros(num_seeds * episodes)
        performance = None
        done = np.zeros(num_seeds * episodes, bool)
        for _ in range(self.eval_cap):
            action, keys = self._policy(
                policies, obs.reshape(num_seeds, episodes, *obs.shape[1:]), keys
            )
            action = np.asarray(action)
            step = vec.step(action.reshape(num_seeds * episodes, *action.shape[2:]))
            returns += np.where(done, 0.0, step.reward)
            if step.performance is not None:
                if performance is None:
                    performance = np.zeros(num_seeds * episodes)
                performance += np.where(done, 0.0, step.performance)
            done |= step.terminated | step.truncated
            if done.all():
                break
            obs = step.obs
        if performance is not None:
            performance = performance.reshape(num_seeds, episodes)
        return returns.reshape(num_seeds, episodes), performance, keys

    # ---- the whole run ------------------------------------------------------------------------

    def _compile(self, states: Any, obs: np.ndarray, keys: jax.Array) -> None:
        """Compile act, update and policy ahead of time, so compile time is measured apart."""
        self._act = LeanAct(self._act_all, states, obs, keys)
        _, action, aux, _ = jax.eval_shape(self._act_all, states, obs, keys)
        rollout = self.agent.rollout_len

        def over_time(x: Any) -> jax.ShapeDtypeStruct:
            return jax.ShapeDtypeStruct((x.shape[0], rollout, *x.shape[1:]), x.dtype)

        seeds_envs = obs.shape[:2]
        scalars = jax.ShapeDtypeStruct((*seeds_envs,), np.float32)
        flags = jax.ShapeDtypeStruct((*seeds_envs,), np.bool_)
        traj = Trajectory(
            aux=jax.tree.map(over_time, aux),
            action=over_time(action),
            reward=over_time(scalars),
            terminated=over_time(flags),
            truncated=over_time(flags),
            final_obs=over_time(jax.ShapeDtypeStruct(obs.shape, np.float32)),
            last_obs=jax.ShapeDtypeStruct(obs.shape, np.float32),
        )
        self._update = self._update_jit.lower(states, traj, keys).compile()

    def run(self, seeds: list[int]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Train every seed; returns (results with a leading seed axis, timings)."""
        try:
            return self._run(seeds)
        finally:
            self.close()

    def close(self) -> None:
        """Close the evaluation envs."""
        for vec in self._eval_vecs.values():
            vec.close()
        self._eval_vecs.clear()

    def _run(self, seeds: list[int]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        start = time.perf_counter()
        num_seeds, num_envs = len(seeds), self.agent.num_envs
        split = [jax.random.split(jax.random.PRNGKey(s), 3) for s in seeds]
        init_keys, loop_keys, eval_keys = (jnp.stack(k) for k in zip(*split, strict=True))
        states = self._init(init_keys, self.agent.hparams())
        vec = self.env.vector([s for seed in seeds for s in env_seeds(seed, 0, num_envs)])

        def batched(x: np.ndarray) -> np.ndarray:
            return x.reshape(num_seeds, num_envs, *x.shape[1:])

        is_checkpoint, checkpoint = checkpoint_flags(self.schedule)
        num_updates = self.schedule.num_updates
        checkpoints = len(self.schedule.update_ends)
        checkpoint_policies = []
        rows = {
            "eval_returns": np.zeros((num_seeds, checkpoints, self.plan.episodes)),
            "internals": np.zeros((num_seeds, num_updates, len(self.agent.metric_names))),
            "train_return_sum": np.zeros((num_seeds, num_updates)),
            "train_episodes": np.zeros((num_seeds, num_updates), np.int64),
        }
        params_finite = np.ones(num_seeds, bool)
        episode_return = np.zeros(num_seeds * num_envs)
        eval_s = 0.0
        try:
            obs = vec.reset()
            self._compile(states, batched(obs), loop_keys)
            compile_s = time.perf_counter() - start
            act = self._act
            for u in range(num_updates):
                steps = []
                leaves = jax.tree.leaves(states)
                for _ in range(self.agent.rollout_len):
                    action, aux, loop_keys = act(leaves, batched(obs), loop_keys)
                    action = np.asarray(action)
                    step = vec.step(action.reshape(num_seeds * num_envs, *action.shape[2:]))
                    if not (np.isfinite(step.obs).all() and np.isfinite(step.reward).all()):
                        raise EnvFault(
                            f"env {self.env.spec.id} returned a NaN/inf observation "
                            f"or reward during update {u}"
                        )
                    episode_return += step.reward
                    ended = step.terminated | step.truncated
                    rows["train_return_sum"][:, u] += batched(
                        np.where(ended, episode_return, 0.0)
                    ).sum(axis=1)
                    rows["train_episodes"][:, u] += batched(ended).sum(axis=1)
                    episode_return[ended] = 0.0
                    reward = step.reward
                    if self.reward_scale is not None:
                        reward = reward * self.reward_scale
                    steps.append(
                        (
                            jax.device_get(aux),
                            action,
                            batched(reward),
                            batched(step.terminated),
                            batched(step.truncated),
                            batched(step.final_obs),
                        )
                    )
                    obs = step.obs
                states = act.unflatten(leaves)
                # (seed, time, env, ...): under the seed vmap each agent sees time-major data.
                columns = [
                    jax.tree.map(lambda *xs: np.stack(xs, axis=1), *column)
                    for column in zip(*steps, strict=True)
                ]
                traj = Trajectory(*columns, last_obs=batched(obs))
                states, row, finite, loop_keys = self._update(states, traj, loop_keys)
                rows["internals"][:, u] = np.asarray(row)
                params_finite &= np.asarray(finite)
                if is_checkpoint[u]:
                    c = int(checkpoint[u])
                    eval_start = time.perf_counter()
                    policies = self.policies(states, num_seeds)
                    if self.plan.keep_checkpoint_policies:
                        checkpoint_policies.append(policies)
                    rows["eval_returns"][:, c], performance, eval_keys = self.evaluate(
                        policies, seeds, 1 + c, self.plan.episodes, eval_keys
                    )
                    if performance is not None:
                        rows.setdefault("eval_performance", np.zeros_like(rows["eval_returns"]))
                        rows["eval_performance"][:, c] = performance
                    eval_s += time.perf_counter() - eval_start
                    if self.progress is not None:
                        self.progress(c)
        finally:
            vec.close()
        eval_start = time.perf_counter()
        policy = self.policies(states, num_seeds)
        final_returns, final_performance, _ = self.evaluate(
            policy, seeds, final_stream(self.schedule), self.plan.final_episodes, eval_keys
        )
        performance = {}
        if final_performance is not None:
            performance["final_performance"] = final_performance
        results = {
            **per_checkpoint(rows, self.schedule),
            "final_returns": final_returns,
            **performance,
            "params_finite": params_finite,
            "env_finite": np.ones(num_seeds, bool),
            **policy_arrays(policy, POLICY),
        }
        if checkpoint_policies:
            # Checkpoints after the seed axis, as the fused driver returns them.
            stacked = jax.tree.map(lambda *xs: np.stack(xs, axis=1), *checkpoint_policies)
            results.update(policy_arrays(stacked, CHECKPOINT_POLICY))
        eval_s += time.perf_counter() - eval_start
        timings = {
            "compile_s": compile_s,
            "run_s": time.perf_counter() - start - compile_s,
            "eval_s": eval_s,
        }
        return results, timings


class LeanAct:
    """The compiled per-step ``act``, passing only the state leaves it reads and returning only
    those it changes, read off its traced program once.

    The host driver calls ``act`` once per env step, and a call's cost grows with the number of
    arrays passed in and out: handing PPO's 55 state arrays through took 186 µs against 217 µs
    for stepping 32 CartPole envs (BENCHMARKS.md). PPO's ``act`` reads only the networks (and
    the observation statistics, which it also updates when normalizing observations).
    """

    def __init__(self, act_all: Any, states: Any, obs: np.ndarray, keys: jax.Array):
        leaves, self.treedef = jax.tree.flatten(states)
        self.shapes = [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in leaves]
        jaxpr = jax.make_jaxpr(act_all)(states, obs, keys).jaxpr
        inputs, outputs = jaxpr.invars[: len(leaves)], jaxpr.outvars[: len(leaves)]
        read = {v for eqn in jaxpr.eqns for v in eqn.invars if isinstance(v, jax_core.Var)}
        # An output that is not just its own input passed through needs that output computed.
        read |= {v for i, v in enumerate(jaxpr.outvars) if i >= len(leaves) or v is not inputs[i]}
        self.reads = [i for i, v in enumerate(inputs) if v in read]
        self.changes = [
            i for i, (o, v) in enumerate(zip(outputs, inputs, strict=True)) if o is not v
        ]
        self.act_all = act_all
        read_leaves = [leaves[i] for i in self.reads]
        self._compiled = jax.jit(self._act).lower(read_leaves, obs, keys).compile()

    def _act(self, read_leaves: list, obs: jax.Array, keys: jax.Array) -> tuple:
        # Leaves act does not read are constants here; XLA drops them.
        leaves: list[Any] = [jnp.zeros(s.shape, s.dtype) for s in self.shapes]
        for i, x in zip(self.reads, read_leaves, strict=True):
            leaves[i] = x
        states, action, aux, keys = self.act_all(self.treedef.unflatten(leaves), obs, keys)
        new_leaves = jax.tree.leaves(states)
        return [new_leaves[i] for i in self.changes], action, aux, keys

    def __call__(self, leaves: list, obs: np.ndarray, keys: jax.Array) -> tuple:
        """One step on the flat state ``leaves``, which are updated in place."""
        changed, action, aux, keys = self._compiled([leaves[i] for i in self.reads], obs, keys)
        for i, x in zip(self.changes, changed, strict=True):
            leaves[i] = x
        return action, aux, keys

    def unflatten(self, leaves: list) -> Any:
        return self.treedef.unflatten(leaves)
