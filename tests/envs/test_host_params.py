"""Physical parameters of Gymnasium envs: MuJoCo model scales and classic-control attributes,
set on each made copy, derived fields recomputed, the dynamics changed."""

import gymnasium as gym
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.envs.host_params import (
    check_host_param,
    host_param_names,
    host_param_value,
    set_host_param,
    with_host_param,
)
from rlcheck.errors import UserError


def test_mujoco_model_parameters():
    env = gym.make("Hopper-v5")
    model = env.unwrapped.model
    assert host_param_names(env) == ["gravity", "mass_scale", "friction_scale"]
    assert host_param_value(env, "gravity") == pytest.approx(9.81)
    assert host_param_value(env, "mass_scale") == 1.0
    mass, friction = np.array(model.body_mass), np.array(model.geom_friction)
    set_host_param(env, "mass_scale", 2.0)
    set_host_param(env, "friction_scale", 0.5)
    set_host_param(env, "gravity", 3.0)
    np.testing.assert_allclose(model.body_mass, 2 * mass)
    np.testing.assert_allclose(model.geom_friction[:, 0], 0.5 * friction[:, 0])
    np.testing.assert_allclose(model.geom_friction[:, 1:], friction[:, 1:])
    np.testing.assert_allclose(model.opt.gravity, [0.0, 0.0, -3.0])
    env.close()


def test_a_changed_model_changes_the_dynamics():
    host = envs.make("gymnasium:Hopper-v5")
    heights = []
    for gravity in (9.81, 30.0):
        vec = with_host_param(host, "gravity", gravity).vector([7])
        vec.reset()
        for _ in range(20):
            step = vec.step(np.zeros((1, 3), np.float32))
        heights.append(step.obs[0, 0])
        vec.close()
    # Under three times Earth's gravity the torso falls further in the same 20 steps.
    assert heights[1] < heights[0] - 0.005


def test_classic_control_attributes_and_derived_fields():
    env = gym.make("CartPole-v1")
    assert {"length", "masspole", "gravity", "force_mag"} <= set(host_param_names(env))
    assert "total_mass" not in host_param_names(env)
    set_host_param(env, "length", 2.0)
    set_host_param(env, "masspole", 0.3)
    inner = env.unwrapped
    assert inner.polemass_length == pytest.approx(0.6)
    assert inner.total_mass == pytest.approx(1.3)
    with pytest.raises(UserError, match=r"unknown parameter 'lenght' of the Gymnasium env"):
        check_host_param(envs.make("gymnasium:CartPole-v1"), "lenght")
