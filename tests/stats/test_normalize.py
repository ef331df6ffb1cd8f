"""Normalised scores and the reference table."""

import numpy as np
import pytest

from rlcheck.stats import REFERENCE_SCORES, env_reference, normalize, normalize_env


def test_normalize_maps_random_to_zero_and_reference_to_one():
    np.testing.assert_allclose(normalize(np.array([22.2, 500.0, 261.1]), 22.2, 500.0), [0, 1, 0.5])
    assert normalize(-300.0, random=-500.0, reference=-100.0) == pytest.approx(0.5)


def test_normalize_rejects_a_zero_range():
    with pytest.raises(ValueError, match="equal"):
        normalize(1.0, 2.0, 2.0)


def test_env_reference_ignores_the_backend_prefix_and_takes_overrides():
    cartpole = env_reference("gymnax:CartPole-v1")
    assert cartpole == env_reference("gymnasium:CartPole-v1") == REFERENCE_SCORES["CartPole-v1"]
    assert (cartpole.random, cartpole.reference, cartpole.solved) == (22.2, 500.0, 475.0)
    assert env_reference("CartPole-v1", reference=475.0).reference == 475.0
    assert normalize_env(500.0, "CartPole-v1", random=0.0) == pytest.approx(1.0)


def test_every_table_entry_is_usable():
    for env_id, ref in REFERENCE_SCORES.items():
        assert ref.reference > ref.random, env_id
        assert ref.solved is None or ref.random < ref.solved <= ref.reference, env_id


def test_unknown_env_needs_both_references():
    with pytest.raises(KeyError, match="my_pkg:make"):
        env_reference("my_pkg:make")
    assert env_reference("my_pkg:make", random=0.0, reference=10.0).reference == 10.0
