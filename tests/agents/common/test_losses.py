import math

import numpy as np

from rlcheck.agents.common.losses import (
    clipped_policy_loss,
    explained_variance,
    normalize_advantages,
    value_loss,
)


def test_clipped_policy_loss_takes_the_pessimistic_side():
    # ratio 1.5 for both samples; with A = +2 the clipped term (−2·1.2) wins, with A = −2 the
    # unclipped one (+3): mean(−2.4, 3) = 0.3.
    log_prob = np.log([1.5, 1.5])
    loss, diag = clipped_policy_loss(log_prob, np.zeros(2), np.array([2.0, -2.0]), 0.2)
    assert math.isclose(float(loss), 0.3, rel_tol=1e-6)
    assert float(diag["clip_fraction"]) == 1.0
    assert math.isclose(float(diag["approx_kl"]), 0.5 - math.log(1.5), rel_tol=1e-5)


def test_policy_loss_inside_the_trust_region_is_the_plain_surrogate():
    loss, diag = clipped_policy_loss(np.log([1.1]), np.zeros(1), np.array([3.0]), 0.2)
    assert math.isclose(float(loss), -3.3, rel_tol=1e-6)
    assert float(diag["clip_fraction"]) == 0.0


def test_value_clipping_keeps_the_larger_error():
    # value 1 moved from old 2 by at most 0.5 → 1.5; errors to return 0: 1 vs 2.25 → 0.5·2.25
    v = value_loss(np.array([1.0]), np.array([2.0]), np.array([0.0]), 0.5, clip=True)
    assert math.isclose(float(v), 1.125)
    v = value_loss(np.array([1.0]), np.array([2.0]), np.array([0.0]), 0.5, clip=False)
    assert math.isclose(float(v), 0.5)


def test_normalized_advantages_have_zero_mean_unit_std():
    adv = np.asarray(normalize_advantages(np.array([1.0, 2.0, 3.0, 10.0])))
    assert abs(adv.mean()) < 1e-6
    assert abs(adv.std() - 1.0) < 1e-6


def test_explained_variance():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert math.isclose(float(explained_variance(y, y)), 1.0)
    assert math.isclose(float(explained_variance(np.full(4, y.mean()), y)), 0.0, abs_tol=1e-7)
    assert math.isclose(
        float(explained_variance(y[::-1], y)), 1 - np.var(y - y[::-1]) / np.var(y), rel_tol=1e-6
    )
    assert np.isnan(float(explained_variance(y, np.ones(4))))
