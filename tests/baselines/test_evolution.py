import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs
from rlcheck.baselines import evolution


def _climb(baseline, steps=40):
    strategy = baseline.strategy
    hparams = baseline.hparams()
    d = baseline.policy.num_params
    target = jnp.linspace(-1.0, 1.0, d)

    def generation(state, key):
        population, state = strategy.ask(key, state, hparams)
        returns = -jnp.sum((population - target) ** 2, axis=1)
        return strategy.tell(key, population, returns, state, hparams), None

    state = strategy.init(jax.random.PRNGKey(0), jnp.zeros(d), hparams)
    keys = jax.random.split(jax.random.PRNGKey(1), steps)
    state, _ = jax.jit(lambda s: jax.lax.scan(generation, s, keys))(state)
    return np.linalg.norm(strategy.mean(state) - target), np.linalg.norm(target)


def test_cma_es_maximises_the_return_although_evosax_minimises():
    spec = envs.make("CartPole-v1").spec  # a linear policy: 4 × 2 + 2 = 10 parameters
    distance, start = _climb(evolution.CMAES(spec, evolution.CMAESConfig(), 1000))
    assert distance < 0.05 * start


def test_snes_and_openai_es_move_towards_higher_returns():
    spec = envs.make("CartPole-v1").spec
    for baseline in (
        evolution.SNES(spec, evolution.SNESConfig(), 1000),
        evolution.OpenAIES(spec, evolution.OpenAIESConfig(), 1000),
    ):
        distance, start = _climb(baseline, steps=60)
        assert distance < 0.5 * start, baseline.name


def test_the_wrapper_hands_evosax_the_negated_returns():
    spec = envs.make("CartPole-v1").spec
    baseline = evolution.CMAES(spec, evolution.CMAESConfig(), 1000)
    seen = {}
    algo = baseline.strategy.algo
    tell = algo.tell

    def spy(key, population, fitness, state, params):
        seen["fitness"] = np.asarray(fitness)
        return tell(key, population, fitness, state, params)

    algo.tell = spy
    state = baseline.strategy.init(jax.random.PRNGKey(0), jnp.zeros(10), baseline.hparams())
    population, state = baseline.strategy.ask(jax.random.PRNGKey(1), state, baseline.hparams())
    returns = jnp.arange(population.shape[0], dtype=jnp.float32)
    baseline.strategy.tell(jax.random.PRNGKey(2), population, returns, state, baseline.hparams())
    np.testing.assert_array_equal(seen["fitness"], -np.arange(population.shape[0]))


def test_cma_es_population_follows_hansens_default():
    spec = envs.make("CartPole-v1").spec
    # d = 10 parameters: 4 + ⌊3 ln 10⌋ = 10.
    assert evolution.CMAES(spec, evolution.CMAESConfig(), 1000).rollout_len == 10
