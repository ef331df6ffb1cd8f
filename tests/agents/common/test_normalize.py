import numpy as np
from gymnasium.wrappers.utils import RunningMeanStd as GymnasiumRMS

from rlcheck.agents.common.normalize import rms_init, rms_normalize, rms_update


def test_running_statistics_match_gymnasium():
    rng = np.random.default_rng(1)
    ours, reference = rms_init((3,)), GymnasiumRMS(shape=(3,))
    for size in (1, 5, 64, 2):
        batch = rng.normal(loc=[1.0, -2.0, 10.0], scale=[0.5, 3.0, 0.1], size=(size, 3))
        ours = rms_update(ours, batch)
        reference.update(batch)
    np.testing.assert_allclose(ours.mean, reference.mean, rtol=1e-5)
    np.testing.assert_allclose(ours.var, reference.var, rtol=1e-4)
    np.testing.assert_allclose(float(ours.count), reference.count, rtol=1e-6)


def test_normalize_centres_scales_and_clips():
    rms = rms_update(rms_init(()), np.array([0.0, 2.0, 4.0]))  # mean ≈ 2, var ≈ 8/3
    x = np.asarray(rms_normalize(rms, np.array([2.0, 2.0 + np.sqrt(8 / 3), 1000.0]), clip=5.0))
    np.testing.assert_allclose(x, [0.0, 1.0, 5.0], atol=1e-3)
