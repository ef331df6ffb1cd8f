import warnings

import gymnasium as gym
import pytest

from rlcheck import envs
from rlcheck.envs import Box, Discrete, registry
from rlcheck.envs.failure import ENVS
from rlcheck.errors import EnvWarning, UserError
from tests.helpers.envs import OUT_OF_BOUNDS


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


BROKEN = "tests.helpers.envs:make_reset_without_info"
WARNED = "tests.helpers.envs:make_out_of_bounds"


@pytest.fixture
def registered_out_of_bounds():
    """OutOfBounds registered the way a user's package would, as ``gymnasium:<its id>``."""
    env_id = "rlcheck-test/OutOfBounds-v0"
    gym.register(env_id, entry_point="tests.helpers.envs:OutOfBounds")
    yield f"gymnasium:{env_id}"
    del gym.registry[env_id]


@pytest.fixture
def registered_broken():
    env_id = "rlcheck-test/ResetWithoutInfo-v0"
    gym.register(env_id, entry_point="tests.helpers.envs:ResetWithoutInfo")
    yield f"gymnasium:{env_id}"
    del gym.registry[env_id]


def test_check_env_runs_once_per_make_on_user_gymnasium_envs_only(
    monkeypatch, registered_out_of_bounds
):
    checked = []
    monkeypatch.setattr(registry, "check_gymnasium_env", lambda env_id, env: checked.append(env_id))
    user_envs = ["tests.helpers.envs:make_cartpole", registered_out_of_bounds]
    gymnasiums_own = ["gymnasium:CartPole-v1", "gymnasium:Pendulum-v1", "gymnasium:Hopper-v5"]
    for env_id in [*user_envs, *gymnasiums_own, "tests.helpers.envs:make_line", *user_envs]:
        envs.make(env_id)
    assert checked == user_envs * 2


@pytest.mark.parametrize("source", ["factory", "entry point"])
def test_a_user_env_failing_check_env_is_a_one_line_error(source, request):
    env_id = BROKEN if source == "factory" else request.getfixturevalue("registered_broken")
    with pytest.raises(UserError) as raised:
        envs.make(env_id)
    assert str(raised.value) == (
        f"env {env_id}: check_env: The result returned by `env.reset()` was not a tuple of the "
        "form `(obs, info)`, where `obs` is a observation and `info` is a dictionary containing "
        "additional information. Actual type: `<class 'numpy.ndarray'>`"
    )


@pytest.mark.parametrize("source", ["factory", "entry point"])
def test_what_check_env_warns_about_is_one_warning_and_the_env_is_made(source, request):
    env_id = WARNED if source == "factory" else request.getfixturevalue("registered_out_of_bounds")
    with pytest.warns(EnvWarning) as caught:
        env = envs.make(env_id)
    assert [str(w.message) for w in caught if w.category is EnvWarning] == [
        f"env {env_id}: check_env: The obs returned by the `step()` method is not within the "
        "observation space."
    ]
    assert isinstance(env, envs.HostEnv) and env.spec.obs_shape == (1,)


def test_check_env_findings_that_do_not_apply_to_rlcheck_are_left_out():
    # CartPole from gym.make is wrapped, and its observation box is unbounded: check_env warns
    # about both.
    with warnings.catch_warnings():
        warnings.simplefilter("error", EnvWarning)
        envs.make("tests.helpers.envs:make_cartpole")


def test_the_envs_rlcheck_steps_are_not_the_one_check_env_stepped():
    OUT_OF_BOUNDS.clear()
    with pytest.warns(EnvWarning):
        env = envs.make(WARNED)
    (checked,) = OUT_OF_BOUNDS
    assert checked.steps > 0
    vector = env.vector([0, 1])
    vector.reset()
    vector.close()
    assert [e.steps for e in OUT_OF_BOUNDS] == [checked.steps, 0, 0]


# ---- rlcheck's own envs (rlcheck.envs.failure) ----
@pytest.mark.parametrize("name", sorted(ENVS))
def test_each_env_is_made_by_id_with_the_gridworld_conventions(name):
    env = envs.make(f"rlcheck:{name}")
    assert env.spec.id == f"rlcheck:{name}" and env.spec.kind == "jax"
    assert env.spec.action_space == Discrete(4)
    assert env.spec.time_limit == 100
    assert env.reports_performance
    assert envs.make(name).spec.id == f"rlcheck:{name}"  # the bare id too
    assert f"rlcheck:{name}" in envs.known_ids() and name in envs.known_ids()


def test_gymnax_envs_report_no_performance():
    assert not envs.make("CartPole-v1").reports_performance


def test_an_unknown_rlcheck_id_is_a_one_line_error_with_the_closest_ids():
    hint = r"unknown env id 'rlcheck:BoatRace-v1'; closest known ids: rlcheck:BoatRace-v0"
    with pytest.raises(UserError, match=hint):
        envs.make("rlcheck:BoatRace-v1")


def test_bad_constructor_arguments_are_one_line_errors():
    with pytest.raises(UserError, match="rlcheck:SuicidalRoom-v0: size must be at least 2"):
        envs.make("rlcheck:SuicidalRoom-v0", size=1)
    with pytest.raises(UserError, match="rlcheck:BoatRace-v0"):
        envs.make("rlcheck:BoatRace-v0", size=3)


def test_mujocos_compiler_warnings_are_env_warnings_not_lines_on_stderr(capfd):
    """MuJoCo 4 warns about Gymnasium's HalfCheetah XML ('settotalmass') each time the model
    compiles, from C, onto stderr: every copy a run makes would print it."""
    pytest.importorskip("mujoco")
    with pytest.warns(EnvWarning, match="MuJoCo: compiler attribute 'settotalmass'"):
        host = envs.make("gymnasium:HalfCheetah-v5")
        copy = host.make_one()
    copy.close()
    assert "settotalmass" not in capfd.readouterr().err
