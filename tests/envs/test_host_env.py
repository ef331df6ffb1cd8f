import numpy as np

from rlcheck import envs


def test_truncation_keeps_the_final_observation_and_resets():
    env = envs.make("tests.helpers.envs:make_cartpole", max_episode_steps=5)
    vec = env.vector([0, 1])
    obs = vec.reset()
    for t in range(5):
        step = vec.step(np.array([t % 2, (t + 1) % 2]))
        if t < 4:
            assert not step.truncated.any()
            np.testing.assert_array_equal(step.obs, step.final_obs)
    assert step.truncated.all() and not step.terminated.any()
    assert not np.array_equal(step.obs, step.final_obs)
    assert np.abs(step.obs).max() <= 0.05  # the next episode's first observation
    vec.close()
    assert obs.dtype == np.float32


def test_termination_is_not_a_truncation():
    vec = envs.make("gymnasium:CartPole-v1").vector([3])
    vec.reset()
    for _ in range(100):
        step = vec.step(np.array([1]))
        if step.terminated[0]:
            break
    assert step.terminated[0] and not step.truncated[0]
    vec.close()


def test_same_seeds_same_trajectory():
    def run():
        vec = envs.make("gymnasium:CartPole-v1").vector([7, 8])
        out = [vec.reset()]
        out += [vec.step(np.array([0, 1])).obs for _ in range(30)]
        vec.close()
        return np.stack(out)

    np.testing.assert_array_equal(run(), run())


def test_continuous_actions_are_clipped():
    vec = envs.make("gymnasium:Pendulum-v1").vector([0])
    vec.reset()
    a = vec.step(np.array([[50.0]]))
    vec2 = envs.make("gymnasium:Pendulum-v1").vector([0])
    vec2.reset()
    b = vec2.step(np.array([[2.0]]))
    np.testing.assert_allclose(a.obs, b.obs)
    np.testing.assert_allclose(a.reward, b.reward)
