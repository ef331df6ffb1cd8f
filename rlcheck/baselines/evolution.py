"""Evolution strategies from evosax (CMA-ES, OpenAI-ES, SNES) searching policy parameters.

evosax (0.3.x: ``init``/``ask``/``tell`` on a flat solution vector) *minimises* fitness, so the
wrapper hands it the negated mean return of each candidate's episodes. Each strategy keeps
evosax's own defaults except where noted in its Config; the search runner, budget accounting
and stopping rule are shared with ARS (``rlcheck.baselines.search``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax

from rlcheck.agents.common.networks import Activation
from rlcheck.baselines.search import PolicyNet, PolicySearch
from rlcheck.core import static, traced
from rlcheck.envs.spec import EnvSpec


@dataclass(frozen=True)
class CMAESConfig:
    """CMA-ES (Hansen 2016, as evosax implements it); population size per Hansen's default."""

    population_size: int | None = static(
        None,
        "candidates per generation; None: 4 + ⌊3 ln d⌋ for d parameters (Hansen)",
        unit="count",
    )
    policy: Literal["linear", "mlp"] = static("linear", "linear policy or an MLP", unit="none")
    hidden_sizes: tuple[int, ...] = static(
        (16,), "MLP hidden widths (policy = 'mlp')", unit="count"
    )
    activation: Activation = static("tanh", "MLP hidden activation", unit="none")
    normalize_obs: bool = static(False, "normalize observations by running mean/std", unit="none")
    episodes_per_candidate: int = static(1, "episodes each candidate is scored on", unit="episodes")
    param_noise_std_init: float = traced(
        0.5,
        "initial step size σ of the search distribution (evosax std_init)",
        unit="parameter units",
    )


@dataclass(frozen=True)
class OpenAIESConfig:
    """OpenAI-ES (Salimans et al. 2017): antithetic sampling, centred ranks, Adam on the mean."""

    population_size: int = static(
        32, "candidates per generation (even: antithetic pairs)", unit="count"
    )
    learning_rate: float = static(0.03, "Adam step size on the mean", unit="none")
    param_noise_std: float = static(
        0.1, "standard deviation σ of the perturbations (constant)", unit="parameter units"
    )
    policy: Literal["linear", "mlp"] = static("linear", "linear policy or an MLP", unit="none")
    hidden_sizes: tuple[int, ...] = static(
        (16,), "MLP hidden widths (policy = 'mlp')", unit="count"
    )
    activation: Activation = static("tanh", "MLP hidden activation", unit="none")
    normalize_obs: bool = static(False, "normalize observations by running mean/std", unit="none")
    episodes_per_candidate: int = static(1, "episodes each candidate is scored on", unit="episodes")


@dataclass(frozen=True)
class SNESConfig:
    """Separable NES (Schaul et al. 2011), evosax's defaults for the learning rates."""

    population_size: int = static(16, "candidates per generation", unit="count")
    policy: Literal["linear", "mlp"] = static("linear", "linear policy or an MLP", unit="none")
    hidden_sizes: tuple[int, ...] = static(
        (16,), "MLP hidden widths (policy = 'mlp')", unit="count"
    )
    activation: Activation = static("tanh", "MLP hidden activation", unit="none")
    normalize_obs: bool = static(False, "normalize observations by running mean/std", unit="none")
    episodes_per_candidate: int = static(1, "episodes each candidate is scored on", unit="episodes")
    param_noise_std_init: float = traced(
        0.5, "initial per-parameter standard deviation (evosax std_init)", unit="parameter units"
    )


class EvosaxStrategy:
    """An evosax algorithm as a search :class:`~rlcheck.baselines.search.Strategy`.

    ``make_params(hparams)`` builds evosax's Params inside the program, so traced Config
    fields (``param_noise_std_init``) stay array values.
    """

    def __init__(self, algo: Any, make_params: Any):
        self.algo = algo
        self.make_params = make_params
        self.population_size = algo.population_size

    def init(self, key: jax.Array, mean: jax.Array, hparams: dict) -> Any:
        return self.algo.init(key, mean, self.make_params(hparams))

    def ask(self, key: jax.Array, state: Any, hparams: dict) -> tuple[jax.Array, Any]:
        return self.algo.ask(key, state, self.make_params(hparams))

    def tell(
        self,
        key: jax.Array,
        population: jax.Array,
        returns: jax.Array,
        state: Any,
        hparams: dict,
    ) -> Any:
        # evosax minimises; rlcheck maximises the return.
        state, _ = self.algo.tell(key, population, -returns, state, self.make_params(hparams))
        return state

    def mean(self, state: Any) -> jax.Array:
        return state.mean

    def step_size(self, state: Any) -> jax.Array:
        return state.std


def _evosax() -> Any:
    # Imported when a strategy is built, not with the registry: it adds ≈ 0.3 s to every
    # command's start-up.
    import evosax.algorithms

    return evosax.algorithms


def _policy(spec: EnvSpec, config: Any) -> PolicyNet:
    hidden = config.hidden_sizes if config.policy == "mlp" else ()
    return PolicyNet(spec, hidden, config.activation)


class CMAES(PolicySearch):
    """CMA-ES over a linear or MLP policy."""

    name = "cma_es"

    def __init__(self, spec: EnvSpec, config: CMAESConfig, budget: int):
        del budget
        super().__init__(spec, config, _policy(spec, config))
        d = self.policy.num_params
        size = config.population_size or 4 + int(3 * math.log(d))
        algo = _evosax().CMA_ES(size, jnp.zeros(d))
        defaults = algo.default_params
        self.strategy = EvosaxStrategy(
            algo, lambda h: defaults.replace(std_init=h["param_noise_std_init"])
        )
        self.normalize_obs = config.normalize_obs
        self.episodes_per_candidate = config.episodes_per_candidate


class OpenAIES(PolicySearch):
    """OpenAI-ES over a linear or MLP policy."""

    name = "openai_es"

    def __init__(self, spec: EnvSpec, config: OpenAIESConfig, budget: int):
        del budget
        if config.population_size % 2:
            raise ValueError(f"population_size = {config.population_size} must be even")
        super().__init__(spec, config, _policy(spec, config))
        algo = _evosax().Open_ES(
            config.population_size,
            jnp.zeros(self.policy.num_params),
            optimizer=optax.adam(config.learning_rate),
            std_schedule=optax.constant_schedule(config.param_noise_std),
        )
        defaults = algo.default_params
        self.strategy = EvosaxStrategy(algo, lambda h: defaults)
        self.normalize_obs = config.normalize_obs
        self.episodes_per_candidate = config.episodes_per_candidate


class SNES(PolicySearch):
    """Separable NES over a linear or MLP policy."""

    name = "snes"

    def __init__(self, spec: EnvSpec, config: SNESConfig, budget: int):
        del budget
        super().__init__(spec, config, _policy(spec, config))
        algo = _evosax().SNES(config.population_size, jnp.zeros(self.policy.num_params))
        defaults = algo.default_params
        self.strategy = EvosaxStrategy(
            algo, lambda h: defaults.replace(std_init=h["param_noise_std_init"])
        )
        self.normalize_obs = config.normalize_obs
        self.episodes_per_candidate = config.episodes_per_candidate


def default_config(config_cls: type, spec: EnvSpec, **overrides: Any) -> Any:
    """The Config's defaults (the same for every action space), with ``overrides``."""
    del spec
    return config_cls(**overrides)
