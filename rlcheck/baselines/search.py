"""Black-box policy search: the runner shared by ARS, CMA-ES, OpenAI-ES and SNES.

A search strategy proposes a population of policy parameter vectors, each is scored by the
return of real episodes, and the strategy moves its search distribution; the policy it
reports is the distribution's mean. The whole run — every generation of every seed, the
checkpoint evaluations and the final evaluation — is one compiled program.

Budget and stopping rule: every env step of every population rollout counts. A seed runs
whole generations while the env steps it has used are below the budget, so the generation
that crosses the budget is finished and counted: a seed may use up to one generation more
than the budget, and the exact number it used is stored. Checkpoint c evaluates the mean
policy right after the first generation at which the seed has used ``grid[c]`` env steps
(several checkpoints crossed by one generation share that evaluation), and records the env
steps actually used then. The final evaluation plays ``final_episodes`` episodes with the
last mean policy.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from rlcheck.agents.common.networks import MLP, Activation
from rlcheck.agents.common.normalize import RunningMeanStd, rms_init
from rlcheck.baselines.base import Baseline, action_bounds, play_episodes, seed_keys
from rlcheck.core import traced_values
from rlcheck.drivers.common import (
    CHECKPOINT_POLICY,
    POLICY,
    EvalPlan,
    Schedule,
    flatten_policy,
    name_policies,
)
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.registry import bare_env_id
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError


class Strategy(Protocol):
    """A search distribution over flat parameter vectors (returns are maximised)."""

    population_size: int

    def init(self, key: jax.Array, mean: jax.Array, hparams: dict) -> Any: ...

    def ask(self, key: jax.Array, state: Any, hparams: dict) -> tuple[jax.Array, Any]: ...

    def tell(
        self, key: jax.Array, population: jax.Array, returns: jax.Array, state: Any, hparams: dict
    ) -> Any: ...

    def mean(self, state: Any) -> jax.Array: ...

    def step_size(self, state: Any) -> jax.Array: ...


def run_keys(key: jax.Array) -> jax.Array:
    """A seed's PRNG key split into the keys of its search: init, checkpoint evaluations and
    the final evaluation (``final_eval_key`` reads the last)."""
    return jax.random.split(key, 3)


def final_eval_key(seed: int) -> jax.Array:
    """The key of a seed's final evaluation: re-evaluating its stored policy with it plays the
    same episodes (rlcheck/experiment/robustness.py)."""
    return run_keys(jax.random.PRNGKey(seed))[2]


class PolicyNet:
    """A deterministic policy on flat parameters: linear (no hidden layer) or an MLP.

    Discrete actions take the argmax of one output per action; continuous actions are the
    outputs clipped to the action box, as Mania et al. (2018) do for ARS. The search starts
    from the all-zero parameter vector (ARS's starting point; the other strategies sample
    around it).
    """

    def __init__(self, spec: EnvSpec, hidden_sizes: Sequence[int], activation: Activation):
        self.spec = spec
        self.discrete = spec.discrete
        out = spec.action_space.n if self.discrete else spec.action_space.shape[0]
        self.net = MLP(
            hidden_sizes=tuple(hidden_sizes),
            out_size=out,
            obs_ndim=len(spec.obs_shape),
            activation=activation,
            weight_init="lecun",
        )
        template = self.net.init(jax.random.PRNGKey(0), jnp.zeros((1, *spec.obs_shape)))
        flat, self.unravel = ravel_pytree(template)
        self.num_params = int(flat.size)

    def act(self, flat: jax.Array, obs: jax.Array) -> jax.Array:
        out = self.net.apply(self.unravel(flat), obs)
        if self.discrete:
            return jnp.argmax(out, axis=-1)
        low, high = action_bounds(self.spec)
        return jnp.clip(out, low, high)


class SeedState(NamedTuple):
    """One seed's search (a leading seed axis inside the program)."""

    strategy: Any
    obs_rms: RunningMeanStd
    key: jax.Array
    env_steps: jax.Array
    generations: jax.Array
    checkpoints_done: jax.Array
    interval_return_sum: jax.Array  # population episodes since the last checkpoint
    interval_episodes: jax.Array
    last_metrics: jax.Array  # (M,) of the last generation
    env_finite: jax.Array
    eval_returns: jax.Array  # (C, K)
    eval_performance: jax.Array | None  # (C, K) where the env reports hidden performance
    checkpoint_env_steps: jax.Array  # (C,)
    train_return_sum: jax.Array  # (C,)
    train_episodes: jax.Array  # (C,)
    internals: jax.Array  # (C, M)
    checkpoint_policy: Any  # (C, …) per leaf of policy_params, when kept; else None


def merge_moments(
    rms: RunningMeanStd, count: jax.Array, total: jax.Array, total_sq: jax.Array
) -> RunningMeanStd:
    """Merge a batch given by its count, sum and sum of squares into running statistics."""
    count = jnp.maximum(count, 1)
    batch_mean = total / count
    batch_var = jnp.maximum(total_sq / count - batch_mean**2, 0.0)
    delta = batch_mean - rms.mean
    merged = rms.count + count
    mean = rms.mean + delta * count / merged
    m2 = rms.var * rms.count + batch_var * count + delta**2 * rms.count * count / merged
    return RunningMeanStd(mean, m2 / merged, merged)


def _select(mask: jax.Array, new: Any, old: Any) -> Any:
    """Per seed: ``new`` where ``mask``, else ``old`` (leading axis = seed)."""

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), a, b)

    return jax.tree.map(pick, new, old)


class PolicySearch(Baseline):
    """Runs a :class:`Strategy` over a :class:`PolicyNet` on a JAX-native env.

    Subclasses build ``self.strategy`` and set ``self.normalize_obs`` and
    ``self.episodes_per_candidate`` from their Config.
    """

    metric_names = (
        "generations",
        "population_mean_return",
        "population_max_return",
        "step_size",
    )
    strategy: Strategy
    normalize_obs: bool
    episodes_per_candidate: int

    def __init__(self, spec: EnvSpec, config: Any, policy: PolicyNet):
        if spec.kind != "jax":
            raise UserError(
                f"{self.name} runs on JAX-native envs only (e.g. gymnax:{bare_env_id(spec.id)}); "
                f"{spec.id} is a host env"
            )
        self.spec = spec
        self.config = config
        self.policy = policy

    @property
    def rollout_len(self) -> int:  # type: ignore[override]
        return self.strategy.population_size * self.episodes_per_candidate

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    # ---- one generation of one seed ----------------------------------------------------------

    def _normalize(self, rms: RunningMeanStd, obs: jax.Array) -> jax.Array:
        if not self.normalize_obs:
            return obs
        return (obs - rms.mean) / jnp.sqrt(rms.var + 1e-8)

    # ---- the policy reported: the search distribution's mean -----------------------------------

    def policy_params(self, s: SeedState) -> dict:
        """The mean of the search distribution (``flat_params``, the policy net's parameters
        as one vector) and, with ``normalize_obs``, the observation statistics."""
        params = {"flat_params": self.strategy.mean(s.strategy)}
        if self.normalize_obs:
            params["obs_rms"] = s.obs_rms
        return params

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        """The policy's action (it is deterministic: ``key`` and ``deterministic`` are not
        used)."""
        del key, deterministic
        if self.normalize_obs:
            obs = self._normalize(params["obs_rms"], obs)
        return self.policy.act(params["flat_params"], obs)

    def _episodes(
        self,
        env: JaxEnv,
        env_params: Any,
        flat: jax.Array,
        rms: RunningMeanStd,
        key: jax.Array,
        n: int,
        performance: bool = False,
    ) -> Any:
        def act(obs: jax.Array, env_state: Any, carry: Any, key: jax.Array) -> tuple:
            del env_state, key
            return self.policy.act(flat, self._normalize(rms, obs)), carry

        return play_episodes(env, env_params, act, key, n, performance=performance)

    def _generation(self, env: JaxEnv, env_params: Any, s: SeedState, hparams: dict) -> SeedState:
        key, key_ask, key_play, key_tell = jax.random.split(s.key, 4)
        population, strategy = self.strategy.ask(key_ask, s.strategy, hparams)
        n = self.episodes_per_candidate
        played = jax.vmap(lambda flat, k: self._episodes(env, env_params, flat, s.obs_rms, k, n))(
            population, jax.random.split(key_play, population.shape[0])
        )
        fitness = played.returns.mean(axis=1)
        strategy = self.strategy.tell(key_tell, population, fitness, strategy, hparams)
        steps = played.steps.sum()
        obs_rms = s.obs_rms
        if self.normalize_obs:
            # Statistics are frozen during a generation and updated from every observation
            # its rollouts acted on (Mania et al. 2018, ARS V2).
            obs_rms = merge_moments(obs_rms, steps, played.obs_sum.sum(0), played.obs_sumsq.sum(0))
        generations = s.generations + 1
        metrics = jnp.stack(
            [
                generations.astype(jnp.float32),
                fitness.mean(),
                fitness.max(),
                jnp.mean(self.strategy.step_size(strategy)).astype(jnp.float32),
            ]
        )
        return s._replace(
            strategy=strategy,
            obs_rms=obs_rms,
            key=key,
            env_steps=s.env_steps + steps,
            generations=generations,
            interval_return_sum=s.interval_return_sum + played.returns.sum(),
            interval_episodes=s.interval_episodes + played.returns.size,
            last_metrics=metrics,
            env_finite=s.env_finite & jnp.all(played.finite),
        )

    # ---- checkpoints, batched over seeds -----------------------------------------------------

    def _checkpoint(
        self,
        env: JaxEnv,
        env_params: Any,
        s: SeedState,
        *,
        grid: jax.Array,
        eval_keys: jax.Array,
        episodes: int,
    ) -> SeedState:
        """Evaluate every seed's mean policy; store it at the checkpoints each seed crossed."""
        num = grid.shape[0]
        keys = jax.vmap(jax.random.fold_in)(eval_keys, s.checkpoints_done)
        played = jax.vmap(
            lambda st, rms, k: self._episodes(
                env, env_params, self.strategy.mean(st), rms, k, episodes, performance=True
            )
        )(s.strategy, s.obs_rms, keys)
        index = jnp.arange(num)[None, :]
        crossed = grid[None, :] <= s.env_steps[:, None]
        new = crossed & (index >= s.checkpoints_done[:, None])
        first = new & (index == s.checkpoints_done[:, None])
        any_new = new.any(axis=1)
        kept = s.checkpoint_policy
        if kept is not None:
            policy = jax.vmap(self.policy_params)(s)
            kept = jax.tree.map(
                lambda buffer, p: jnp.where(
                    new.reshape(new.shape + (1,) * (p.ndim - 1)), p[:, None], buffer
                ),
                kept,
                policy,
            )
        performance = s.eval_performance
        if played.performance is not None:
            performance = jnp.where(new[..., None], played.performance[:, None, :], performance)
        return s._replace(
            checkpoint_policy=kept,
            eval_returns=jnp.where(new[..., None], played.returns[:, None, :], s.eval_returns),
            eval_performance=performance,
            checkpoint_env_steps=jnp.where(new, s.env_steps[:, None], s.checkpoint_env_steps),
            internals=jnp.where(new[..., None], s.last_metrics[:, None, :], s.internals),
            train_return_sum=jnp.where(first, s.interval_return_sum[:, None], s.train_return_sum),
            train_episodes=jnp.where(first, s.interval_episodes[:, None], s.train_episodes),
            interval_return_sum=jnp.where(any_new, 0.0, s.interval_return_sum),
            interval_episodes=jnp.where(any_new, 0, s.interval_episodes),
            checkpoints_done=crossed.sum(axis=1).astype(jnp.int32),
        )

    def _step(
        self,
        env: JaxEnv,
        env_params: Any,
        hparams: dict,
        grid: jax.Array,
        budget: int,
        eval_keys: jax.Array,
        episodes: int,
        s: SeedState,
    ) -> SeedState:
        """One generation for every seed still within its budget, then any checkpoints."""
        active = s.env_steps < budget
        s = _select(active, jax.vmap(lambda x: self._generation(env, env_params, x, hparams))(s), s)
        crossed = jnp.sum(grid[None, :] <= s.env_steps[:, None], axis=1)
        # One scalar predicate for the whole batch keeps the evaluation a real branch: it runs
        # only after generations where some seed crossed a checkpoint.
        return jax.lax.cond(
            jnp.any(crossed > s.checkpoints_done),
            functools.partial(
                self._checkpoint, env, env_params, grid=grid, eval_keys=eval_keys, episodes=episodes
            ),
            lambda x: x,
            s,
        )

    # ---- the whole run -----------------------------------------------------------------------

    def init_seed(
        self,
        key: jax.Array,
        hparams: dict,
        checkpoints: int,
        episodes: int,
        keep_checkpoint_policies: bool = False,
        performance: bool = False,
    ) -> SeedState:
        """One seed's search before its first generation (``checkpoints`` × ``episodes``
        evaluation slots; with ``keep_checkpoint_policies``, slots for the policies too; with
        ``performance``, for the env's hidden performance)."""
        key_init, key = jax.random.split(key)
        mean = jnp.zeros(self.policy.num_params)
        m = len(self.metric_names)
        state = SeedState(
            strategy=self.strategy.init(key_init, mean, hparams),
            obs_rms=rms_init(self.spec.obs_shape),
            key=key,
            env_steps=jnp.asarray(0, jnp.int32),
            generations=jnp.asarray(0, jnp.int32),
            checkpoints_done=jnp.asarray(0, jnp.int32),
            interval_return_sum=jnp.asarray(0.0),
            interval_episodes=jnp.asarray(0, jnp.int32),
            last_metrics=jnp.zeros(m),
            env_finite=jnp.asarray(True),
            eval_returns=jnp.zeros((checkpoints, episodes)),
            eval_performance=jnp.zeros((checkpoints, episodes)) if performance else None,
            checkpoint_env_steps=jnp.zeros(checkpoints, jnp.int32),
            train_return_sum=jnp.zeros(checkpoints),
            train_episodes=jnp.zeros(checkpoints, jnp.int32),
            internals=jnp.zeros((checkpoints, m)),
            checkpoint_policy=None,
        )
        if keep_checkpoint_policies:
            policy = self.policy_params(state)
            state = state._replace(
                checkpoint_policy=jax.tree.map(
                    lambda p: jnp.zeros((checkpoints, *p.shape), p.dtype), policy
                )
            )
        return state

    def search(
        self,
        env: JaxEnv,
        env_params: Any,
        keys: jax.Array,
        hparams: dict,
        schedule: Schedule,
        plan: EvalPlan,
    ) -> dict[str, jax.Array]:
        """Every seed's whole search (``keys``: one per seed) under ``env_params``; jit
        this."""
        grid = jnp.asarray(schedule.grid, jnp.int32)
        budget = schedule.budget
        split = jax.vmap(run_keys)(keys)
        keep = plan.keep_checkpoint_policies
        performance = env.reports_performance
        states = jax.vmap(
            lambda k: self.init_seed(
                k, hparams, len(schedule.grid), plan.episodes, keep, performance
            )
        )(split[:, 0])
        eval_keys, final_keys = split[:, 1], split[:, 2]

        step = functools.partial(
            self._step, env, env_params, hparams, grid, budget, eval_keys, plan.episodes
        )
        states = jax.lax.while_loop(lambda s: jnp.any(s.env_steps < budget), step, states)
        final = jax.vmap(
            lambda st, rms, k: self._episodes(
                env, env_params, self.strategy.mean(st), rms, k, plan.final_episodes, True
            )
        )(states.strategy, states.obs_rms, final_keys)
        means = jax.vmap(self.strategy.mean)(states.strategy)
        checkpoint_policies = {}
        if keep:
            flat = jax.vmap(jax.vmap(flatten_policy))(states.checkpoint_policy)
            checkpoint_policies = {CHECKPOINT_POLICY: flat}
        hidden = {}
        if performance:
            hidden = {
                "eval_performance": states.eval_performance,
                "final_performance": final.performance,
            }
        return {
            **hidden,
            "eval_returns": states.eval_returns,
            "train_return_sum": states.train_return_sum,
            "train_episodes": states.train_episodes,
            "internals": states.internals,
            "final_returns": final.returns,
            "params_finite": jnp.all(jnp.isfinite(means), axis=1),
            "env_finite": states.env_finite & final.finite,
            "env_steps": states.env_steps,
            "checkpoint_env_steps": states.checkpoint_env_steps,
            # One vector per seed (see rlcheck.drivers.common.flatten_policy).
            POLICY: jax.vmap(lambda s: flatten_policy(self.policy_params(s)))(states),
            **checkpoint_policies,
        }

    def run(
        self, env: Any, schedule: Schedule, plan: EvalPlan, seeds: list[int]
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Search with every seed in one compiled program; returns (results, timings)."""
        keys = seed_keys(seeds)
        hparams = self.hparams()
        # The env's own params are compiled in as constants (see rlcheck/drivers/fused.py).
        program = jax.jit(lambda k, h: self.search(env, env.params, k, h, schedule, plan))
        start = time.perf_counter()
        compiled = program.lower(keys, hparams).compile()
        compiled_at = time.perf_counter()
        out = jax.block_until_ready(compiled(keys, hparams))
        done = time.perf_counter()
        results = {k: np.asarray(v) for k, v in out.items()}
        template = jax.eval_shape(
            lambda key: self.policy_params(self.init_seed(key, hparams, 1, 1)), keys[0]
        )
        timings = {"compile_s": compiled_at - start, "run_s": done - compiled_at}
        return name_policies(results, template), timings
