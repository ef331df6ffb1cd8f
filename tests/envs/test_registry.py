import pytest

from rlcheck import envs
from rlcheck.envs import Box, Discrete
from rlcheck.errors import UserError


def test_bare_id_prefers_the_jax_native_env():
    env = envs.make("CartPole-v1")
    assert isinstance(env, envs.JaxEnv)
    assert env.spec.id == "gymnax:CartPole-v1"
    assert env.spec.obs_shape == (4,)
    assert env.spec.action_space == Discrete(2)
    assert env.spec.time_limit == 500
    assert env.spec.solve_threshold == 475.0  # Gymnasium's reward_threshold for CartPole-v1


def test_bare_id_falls_back_to_gymnasium():
    env = envs.make("gymnasium:MountainCarContinuous-v0")
    assert isinstance(env, envs.HostEnv)
    assert env.spec.action_space == Box((-1.0,), (1.0,))
    assert env.spec.time_limit == 999


def test_pendulum_is_continuous_without_a_solve_threshold():
    spec = envs.make("Pendulum-v1").spec
    assert spec.action_space == Box((-2.0,), (2.0,))
    assert spec.solve_threshold is None


def test_every_gymnax_env_without_a_download_is_available():
    from rlcheck.envs.registry import gymnax_ids

    ids = gymnax_ids()
    assert "Breakout-MinAtar" in ids and "Catch-bsuite" in ids
    assert "MNISTBandit-bsuite" not in ids  # downloads MNIST
    for env_id in ids:
        assert envs.make(f"gymnax:{env_id}").spec.kind == "jax"


def test_unknown_id_names_the_closest_ids():
    with pytest.raises(
        UserError,
        match=r"unknown env id 'CartPol-v1'; closest known ids: .*"
        r"CartPole-v1",
    ):
        envs.make("CartPol-v1")
    with pytest.raises(UserError, match="gymnax:CartPole-v1"):
        envs.make("gymnax:CartPole-v2")


def test_user_factory_returning_a_gymnasium_env():
    env = envs.make("tests.helpers.envs:make_cartpole", max_episode_steps=50)
    assert isinstance(env, envs.HostEnv)
    assert env.spec.time_limit == 50


def test_user_factory_returning_a_gymnax_style_env():
    env = envs.make("tests.helpers.envs:make_line")
    assert isinstance(env, envs.JaxEnv)
    assert env.spec.action_space == Discrete(2)
    assert env.spec.time_limit == 20


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        ("no_such_module_xyz:make", "cannot import module 'no_such_module_xyz'"),
        ("tests.helpers.envs:missing", "has no callable 'missing'"),
        ("tests.helpers.envs:not_an_env", "neither a Gymnasium env nor a gymnax-style env"),
    ],
)
def test_bad_user_factories_are_clear_errors(env_id, message):
    with pytest.raises(UserError, match=message):
        envs.make(env_id)


def test_bad_kwargs_are_clear_errors():
    with pytest.raises(UserError, match="factory raised TypeError"):
        envs.make("tests.helpers.envs:make_line", wrong=1)
