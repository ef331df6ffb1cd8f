import numpy as np
import pytest
from scipy import stats

from rlcheck.agents.common import distributions as d


def test_gaussian_log_prob_and_entropy_match_scipy():
    mean, log_std = np.array([0.3, -1.0]), np.array([-0.5, 0.2])
    action = np.array([0.1, 0.5])
    expected = stats.norm.logpdf(action, mean, np.exp(log_std)).sum()
    assert float(d.gaussian_log_prob(mean, log_std, action)) == pytest.approx(expected, rel=1e-5)
    assert float(d.gaussian_entropy(log_std)) == pytest.approx(
        stats.norm.entropy(mean, np.exp(log_std)).sum(), rel=1e-5
    )


def test_categorical_log_prob_and_entropy():
    logits = np.array([[1.0, 2.0, 0.5]])
    p = np.exp(logits) / np.exp(logits).sum()
    assert float(d.categorical_log_prob(logits, np.array([1]))[0]) == pytest.approx(
        np.log(p[0, 1]), rel=1e-5
    )
    assert float(d.categorical_entropy(logits)[0]) == pytest.approx(stats.entropy(p[0]), rel=1e-5)


def test_samples_follow_the_distribution():
    import jax

    logits = np.log(np.array([0.2, 0.5, 0.3]))
    draws = np.asarray(d.categorical_sample(jax.random.PRNGKey(0), np.tile(logits, (20000, 1))))
    freq = np.bincount(draws, minlength=3) / len(draws)
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.015)  # ≈ 4.5 binomial std errors
    x = np.asarray(
        d.gaussian_sample(jax.random.PRNGKey(1), np.full(20000, 2.0), np.full(20000, np.log(0.5)))
    )
    assert abs(x.mean() - 2.0) < 0.015 and abs(x.std() - 0.5) < 0.015
