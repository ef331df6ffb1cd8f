"""Model-predictive control with the true model: random shooting, CEM and MPPI.

Every real step, the planner samples ``num_candidates`` action sequences of ``horizon`` steps,
scores each by its return when played on the env itself from the current state, and acts with
the first action of the plan it settles on (receding horizon); the plan, shifted by one step,
warm-starts the next step's search. On a JAX-native env the model is the env's non-resetting
transition (gymnax ``step_env``; ``step`` would auto-reset mid-plan): candidates are vmapped,
the horizon is a ``lax.scan``, and whole episodes are compiled. On a Gymnasium env the model is
a second copy of the env whose state is set to the real one's (``host_model``).

Written here because no JAX MPC library installs from PyPI on Python 3.11: jax-mppi needs
Python 3.12 and CUDA; google/trajax is not on PyPI, and the PyPI package named ``trajax``
(0.1.0–0.2.2, an MPPI planner of its own, not Google's) requires Python ≥ 3.13 (checked
2026-12-04 with ``pip download trajax``: every release refused for its Python requirement).

- random shooting: uniform sequences, plus last step's best shifted; act with the best.
- CEM (Rubinstein 1999; Chua et al. 2018): refit a Gaussian (continuous) or per-step
  categorical (discrete) to the top ``num_elites`` for ``iterations`` rounds; act with the
  mean (most likely action).
- MPPI (Williams et al. 2017): Gaussian (categorical) perturbations of the plan, averaged with
  weights softmax(R / (λ·std R)); act with the weighted plan's first action.

Continuous standard deviations are in units of half the action range. Candidates share the
env's random keys (common random numbers), so they differ only by their actions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck.baselines.base import action_bounds
from rlcheck.baselines.host_model import HostModel
from rlcheck.baselines.planning import Planner, planner_results
from rlcheck.core import static, traced
from rlcheck.drivers.common import DEFAULT_EVAL_STEP_CAP, EvalPlan, env_seeds
from rlcheck.envs.jax_env import PERFORMANCE, JaxEnv
from rlcheck.envs.spec import Box, EnvSpec


@dataclass(frozen=True)
class ShootingConfig:
    """Random shooting."""

    num_candidates: int = static(1000, "action sequences scored per real step", unit="count")
    horizon: int = static(30, "steps each sequence is played on the model", unit="model steps")
    gamma: float = traced(1.0, "discount factor of the planned returns", unit="none")


@dataclass(frozen=True)
class CEMConfig:
    """Cross-entropy method."""

    num_candidates: int = static(100, "action sequences sampled per iteration", unit="count")
    horizon: int = static(30, "steps each sequence is played on the model", unit="model steps")
    iterations: int = static(5, "refits of the sampling distribution per real step", unit="count")
    num_elites: int = static(10, "best sequences the distribution is refitted to", unit="count")
    std_init: float = traced(
        0.5, "initial std each step, in half action ranges (continuous)", unit="half action ranges"
    )
    smoothing: float = traced(
        0.1, "α: new = α·old + (1 − α)·refit (Chua et al. 2018 use 0.1)", unit="none"
    )
    gamma: float = traced(1.0, "discount factor of the planned returns", unit="none")


@dataclass(frozen=True)
class MPPIConfig:
    """Model-predictive path integral control."""

    num_candidates: int = static(100, "perturbed sequences per iteration", unit="count")
    horizon: int = static(30, "steps each sequence is played on the model", unit="model steps")
    iterations: int = static(3, "reweightings per real step", unit="count")
    noise_std: float = traced(
        0.5, "perturbation std, in half action ranges (continuous)", unit="half action ranges"
    )
    temperature: float = traced(
        0.5,
        "λ, in units of the std of the candidates' returns (one value fits any reward scale)",
        unit="none",
    )
    smoothing: float = traced(0.0, "α: new = α·old + (1 − α)·reweighted plan", unit="none")
    gamma: float = traced(1.0, "discount factor of the planned returns", unit="none")


def default_config(config_cls: type, spec: EnvSpec, **overrides: Any) -> Any:
    """The Config's defaults (the same for every action space), with ``overrides``."""
    del spec
    return config_cls(**overrides)


# ---- the pieces, pure functions ------------------------------------------------------------


def cem_weights(returns: jax.Array, num_elites: int) -> jax.Array:
    """1/k on the k best returns, 0 elsewhere (ties broken by position)."""
    top = jnp.argsort(-returns)[:num_elites]
    return jnp.zeros_like(returns).at[top].set(1.0 / num_elites)


def mppi_weights(returns: jax.Array, temperature: jax.Array) -> jax.Array:
    """softmax(R / (λ·std R)): λ is in units of the spread of the returns."""
    scale = temperature * (jnp.std(returns) + 1e-8)
    return jax.nn.softmax((returns - returns.max()) / scale)


def rollout_returns(
    env: JaxEnv,
    env_params: Any,
    state: Any,
    sequences: jax.Array,
    key: jax.Array,
    discount: jax.Array,
) -> jax.Array:
    """Discounted return of each action sequence played on the model (``env`` with
    ``env_params``) from ``state``, ending at termination or truncation (the model's own time
    limit)."""
    keys = jax.random.split(key, sequences.shape[1])

    def play(actions: jax.Array) -> jax.Array:
        def step(carry: tuple, x: tuple) -> tuple:
            s, total, weight = carry
            action, k = x
            _, s, reward, terminated, truncated = env.step_no_reset(k, s, action, env_params)
            total = total + weight * reward
            weight = jnp.where(terminated | truncated, 0.0, weight * discount)
            return (s, total, weight), None

        (_, total, _), _ = jax.lax.scan(step, (state, 0.0, 1.0), (actions, keys))
        return total

    return jax.vmap(play)(sequences)


class SequenceSpace:
    """Sampling and refitting action sequences for one action space.

    A *plan* is the distribution's location: the mean sequence (H, A) for continuous actions,
    per-step action probabilities (H, n) for discrete ones.
    """

    def __init__(self, spec: EnvSpec, horizon: int):
        self.horizon = horizon
        self.continuous = isinstance(spec.action_space, Box)
        if self.continuous:
            self.low, self.high = action_bounds(spec)
            self.half_range = (self.high - self.low) / 2
            self.shape = (horizon, len(spec.action_space.low))
        else:
            self.n = spec.action_space.n
            self.shape = (horizon, self.n)

    def initial(self) -> jax.Array:
        """The plan before any search: the middle of the box, or uniform probabilities."""
        if self.continuous:
            return jnp.broadcast_to((self.low + self.high) / 2, self.shape)
        return jnp.full(self.shape, 1.0 / self.n)

    def shift(self, plan: jax.Array) -> jax.Array:
        """Warm start: drop the step just taken, repeat the initial plan at the end."""
        return jnp.concatenate([plan[1:], self.initial()[-1:]])

    def sample(self, key: jax.Array, plan: jax.Array, std: jax.Array, n: int) -> jax.Array:
        """``n`` sequences: Gaussian around the plan (clipped to the box), or categorical
        from the plan mixed with uniform probabilities in proportion ``std`` (the discrete
        counterpart of a spread, so a confident plan still explores)."""
        if self.continuous:
            noise = jax.random.normal(key, (n, *self.shape)) * std * self.half_range
            return jnp.clip(plan + noise, self.low, self.high)
        probs = (1 - std) * plan + std / self.n
        return jax.random.categorical(key, jnp.log(probs), shape=(n, self.horizon))

    def uniform(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` uniformly random sequences."""
        if self.continuous:
            return jax.random.uniform(key, (n, *self.shape), minval=self.low, maxval=self.high)
        return jax.random.randint(key, (n, self.horizon), 0, self.n)

    def fit(self, sequences: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Weighted refit: (plan, spread). The spread is the std in half ranges for continuous
        actions; for discrete ones, 0: the refitted probabilities carry the spread."""
        if self.continuous:
            mean = jnp.einsum("n,n...->...", weights, sequences)
            var = jnp.einsum("n,n...->...", weights, (sequences - mean) ** 2)
            return mean, jnp.sqrt(var) / self.half_range
        probs = jnp.einsum("n,nhk->hk", weights, jax.nn.one_hot(sequences, self.n))
        return probs, jnp.zeros(())

    def first_action(self, plan: jax.Array) -> jax.Array:
        """The action to take now: the plan's first mean action or most likely action."""
        return plan[0] if self.continuous else jnp.argmax(plan[0])


# ---- the planners ----------------------------------------------------------------------------


class MPC(Planner):
    """Common code of the three MPC planners: the plan state is a :class:`SequenceSpace` plan
    (random shooting: the best sequence), warm-started by one step each real step."""

    def __init__(self, spec: EnvSpec, config: Any):
        super().__init__(spec, config)
        self.space = SequenceSpace(spec, config.horizon)
        self.calls_per_step = config.num_candidates * config.horizon * self.iterations

    @property
    def iterations(self) -> int:
        return getattr(self.config, "iterations", 1)

    def init_plan(self, env: JaxEnv, key: jax.Array, hparams: dict) -> jax.Array:
        del env, hparams
        return self.initial_plan(key)

    def initial_plan(self, key: jax.Array) -> jax.Array:
        del key
        return self.space.initial()

    def plan(
        self,
        env: JaxEnv,
        env_params: Any,
        setup: Any,
        env_state: Any,
        plan: jax.Array,
        key: jax.Array,
        h: dict,
    ) -> tuple[jax.Array, jax.Array]:
        del setup

        def score(sequences: jax.Array, key: jax.Array) -> jax.Array:
            return rollout_returns(env, env_params, env_state, sequences, key, h["gamma"])

        return self.search(score, plan, key, h)

    def search(self, score: Any, plan: jax.Array, key: jax.Array, h: dict) -> tuple:
        """(action, next plan) given ``score(sequences, key) -> returns`` on the model."""
        raise NotImplementedError

    # ---- Gymnasium envs, through state save/restore -----------------------------------------

    def run_host(
        self, env: Any, plan: EvalPlan, seeds: list[int]
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Plan on a second copy of the Gymnasium env whose state is set to the real one's.

        The same search code scores its candidates through a host callback; such a program is
        never written to JAX's persistent cache, but it is small and compiles in a moment.
        """
        start = time.perf_counter()
        hparams = self.hparams()
        model = HostModel(env.make_one(), env.spec.id)
        gamma = float(hparams["gamma"])

        def score(sequences: jax.Array, key: jax.Array) -> jax.Array:
            del key
            shape = jax.ShapeDtypeStruct(sequences.shape[:1], jnp.float32)
            return jax.pure_callback(
                lambda seqs: model.returns(np.asarray(seqs), gamma), shape, sequences
            )

        step = jax.jit(lambda p, k: self.search(score, p, k, hparams))
        episodes, cap = plan.final_episodes, env.spec.time_limit or DEFAULT_EVAL_STEP_CAP
        returns = np.zeros((len(seeds), episodes))
        performance = np.zeros((len(seeds), episodes))
        reported = False
        steps = np.zeros((len(seeds), episodes), np.int64)
        finite = np.ones(len(seeds), bool)
        try:
            for i, seed in enumerate(seeds):
                key = jax.random.PRNGKey(seed)
                for e, reset_seed in enumerate(env_seeds(seed, 1, episodes)):
                    returns[i, e], steps[i, e], ok, hidden, key = self._host_episode(
                        env, model, step, reset_seed, key, cap
                    )
                    finite[i] &= ok
                    if hidden is not None:
                        performance[i, e], reported = hidden, True
        finally:
            model.close()
        results = planner_results(
            returns,
            steps,
            finite,
            self.calls_per_step,
            self.setup_calls,
            performance if reported else None,
        )
        return results, {"compile_s": 0.0, "run_s": time.perf_counter() - start}

    def _host_episode(
        self, env: Any, model: HostModel, step: Any, reset_seed: int, key: jax.Array, cap: int
    ) -> tuple[float, int, bool, float | None, jax.Array]:
        """One real episode: (return, steps, finite, hidden performance or None, key)."""
        real = env.make_one()
        try:
            obs, _ = real.reset(seed=reset_seed)
            key, key_plan = jax.random.split(key)
            plan = self.initial_plan(key_plan)
            total, t, finite, done = 0.0, 0, True, False
            hidden: float | None = None
            while not done and t < cap:
                model.copy_state_from(real)
                key, key_step = jax.random.split(key)
                action, plan = step(plan, key_step)
                action = np.asarray(action)
                obs, reward, terminated, truncated, info = real.step(
                    action if self.space.continuous else int(action)
                )
                if PERFORMANCE in info:
                    hidden = (hidden or 0.0) + float(info[PERFORMANCE])
                finite &= bool(np.isfinite(reward) and np.all(np.isfinite(obs)))
                total += float(reward)
                t += 1
                done = terminated or truncated
        finally:
            real.close()
        return total, t, finite, hidden, key


class RandomShooting(MPC):
    """Best of ``num_candidates`` uniformly random sequences (and last step's best, shifted)."""

    name = "random_shooting"

    def __init__(self, spec: EnvSpec, config: ShootingConfig, budget: int):
        del budget
        super().__init__(spec, config)

    def initial_plan(self, key: jax.Array) -> jax.Array:
        return self.space.uniform(key, 1)[0]

    def search(self, score: Any, plan: jax.Array, key: jax.Array, h: dict) -> tuple:
        key_sample, key_score, key_fill = jax.random.split(key, 3)
        sequences = self.space.uniform(key_sample, self.config.num_candidates)
        warm = jnp.concatenate([plan[1:], self.space.uniform(key_fill, 1)[0][-1:]])
        sequences = sequences.at[0].set(warm)
        best = sequences[jnp.argmax(score(sequences, key_score))]
        return best[0], best


class CEM(MPC):
    """Cross-entropy method: refit to the elites ``iterations`` times, act with the mean."""

    name = "cem"

    def __init__(self, spec: EnvSpec, config: CEMConfig, budget: int):
        del budget
        if not 1 <= config.num_elites <= config.num_candidates:
            raise ValueError(
                f"num_elites = {config.num_elites} must be between 1 and num_candidates"
            )
        super().__init__(spec, config)

    def search(self, score: Any, plan: jax.Array, key: jax.Array, h: dict) -> tuple:
        alpha = h["smoothing"]

        def refit(carry: tuple, key: jax.Array) -> tuple:
            plan, std = carry
            key_sample, key_score = jax.random.split(key)
            sequences = self.space.sample(key_sample, plan, std, self.config.num_candidates)
            weights = cem_weights(score(sequences, key_score), self.config.num_elites)
            fitted, fitted_std = self.space.fit(sequences, weights)
            plan = alpha * plan + (1 - alpha) * fitted
            return (plan, alpha * std + (1 - alpha) * fitted_std), None

        # Only the location is warm-started; the spread starts afresh every real step (for
        # discrete actions: mixed with uniform by std_init in the first sampling only).
        std = jnp.broadcast_to(h["std_init"], self.space.shape if self.space.continuous else ())
        (plan, _), _ = jax.lax.scan(
            refit, (plan, std), jax.random.split(key, self.config.iterations)
        )
        return self.space.first_action(plan), self.space.shift(plan)


class MPPI(MPC):
    """MPPI: reweight perturbations of the plan by their returns, ``iterations`` times."""

    name = "mppi"

    def __init__(self, spec: EnvSpec, config: MPPIConfig, budget: int):
        del budget
        super().__init__(spec, config)

    def search(self, score: Any, plan: jax.Array, key: jax.Array, h: dict) -> tuple:
        alpha = h["smoothing"]

        def reweight(plan: jax.Array, key: jax.Array) -> tuple:
            key_sample, key_score = jax.random.split(key)
            sequences = self.space.sample(
                key_sample, plan, h["noise_std"], self.config.num_candidates
            )
            weights = mppi_weights(score(sequences, key_score), h["temperature"])
            fitted, _ = self.space.fit(sequences, weights)
            return alpha * plan + (1 - alpha) * fitted, None

        plan, _ = jax.lax.scan(reweight, plan, jax.random.split(key, self.config.iterations))
        return self.space.first_action(plan), self.space.shift(plan)
