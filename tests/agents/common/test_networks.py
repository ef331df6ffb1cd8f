import math
import typing

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from rlcheck.agents.common.continuous_control import Network
from rlcheck.agents.common.networks import (
    ACTIVATIONS,
    MLP,
    Activation,
    WeightInit,
    im2col_conv,
    layer_initializers,
)
from rlcheck.agents.dqn import QNetwork

NHWC = ("NHWC", "HWIO", "NHWC")


def _lax_conv(x, k, padding):
    return lax.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=NHWC)


def _inputs(seed, batch=5, hw=(10, 7), c_in=4, kernel=(3, 3), c_out=6):
    kx, kk = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (batch, *hw, c_in))
    k = jax.random.normal(kk, (*kernel, c_in, c_out))
    return x, k


@pytest.mark.parametrize("padding", ["SAME", "VALID", ((2, 0), (1, 1))])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 3), (1, 1)])
def test_im2col_conv_matches_lax_values_and_gradients(padding, kernel):
    x, k = _inputs(0, kernel=kernel)
    ours = im2col_conv(x, k, (1, 1), padding)
    np.testing.assert_allclose(ours, _lax_conv(x, k, padding), rtol=1e-5, atol=1e-5)

    def loss(conv):
        return lambda x, k: jnp.sum(jnp.tanh(conv(x, k)) * jnp.arange(k.shape[-1]))

    ours_grads = jax.grad(loss(lambda x, k: im2col_conv(x, k, (1, 1), padding)), (0, 1))(x, k)
    lax_grads = jax.grad(loss(lambda x, k: _lax_conv(x, k, padding)), (0, 1))(x, k)
    for a, b in zip(ours_grads, lax_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_im2col_conv_matches_lax_vmapped_over_seeds_inside_a_scan():
    # The setting it was written for: one kernel per seed (vmap), gradient steps in a scan.
    seeds = 3
    x, _ = _inputs(1, batch=8)
    xs = jnp.stack([x * (s + 1) for s in range(seeds)])
    ks = jax.random.normal(jax.random.key(2), (seeds, 3, 3, 4, 6))

    def train(conv):
        def step(k, _):
            g = jax.grad(lambda k: jnp.mean(jnp.square(conv(x, k) - 1.0)))(k)
            return k - 0.01 * g, None

        def one_seed(x, k):
            return jax.lax.scan(step, k, None, length=4)[0]

        return jax.jit(jax.vmap(one_seed))(xs, ks)

    ours = train(lambda x, k: im2col_conv(x, k, (1, 1), "SAME"))
    reference = train(lambda x, k: _lax_conv(x, k, "SAME"))
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours, ks)  # the steps moved the kernels


def test_im2col_conv_supports_forward_over_reverse():
    # TRPO's Fisher-vector product is jax.jvp of jax.grad through the policy network.
    x, k = _inputs(3)
    v = jax.random.normal(jax.random.key(4), k.shape)

    def hvp(conv):
        grad = jax.grad(lambda k: jnp.sum(jnp.sin(conv(x, k))))
        return jax.jvp(grad, (k,), (v,))[1]

    np.testing.assert_allclose(
        hvp(lambda x, k: im2col_conv(x, k, (1, 1), "SAME")),
        hvp(lambda x, k: _lax_conv(x, k, "SAME")),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_strides": (2, 2)},
        {"rhs_dilation": (2, 2)},
        {"lhs_dilation": (1, 2)},
        {"feature_group_count": 2},
        {"dimension_numbers": lax.conv_dimension_numbers((1, 4, 10, 10), (6, 4, 3, 3), None)},
    ],
)
def test_im2col_conv_rejects_what_it_does_not_implement(kwargs):
    x, k = _inputs(5)
    args = {"window_strides": (1, 1), "padding": "SAME", **kwargs}
    with pytest.raises(ValueError, match="stride-1"):
        im2col_conv(x, k, **args)


@pytest.mark.parametrize(
    "net",
    [
        MLP(hidden_sizes=(32,), out_size=3, obs_ndim=3),
        QNetwork(num_actions=3, hidden_sizes=(32,), obs_ndim=3),
    ],
    ids=["MLP", "QNetwork"],
)
def test_networks_on_image_observations_equal_flax_conv(net, monkeypatch):
    obs = jax.random.uniform(jax.random.key(6), (2, 7, 10, 10, 4))  # two batch dimensions
    params = net.init(jax.random.key(7), obs)
    ours = net.apply(params, obs)
    original = nn.Conv

    def flax_conv(*args, conv_general_dilated=None, **kwargs):
        return original(*args, **kwargs)

    monkeypatch.setattr(nn, "Conv", flax_conv)
    reference = net.apply(params, obs)
    assert ours.shape == (2, 7, 3)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)


def test_every_activation_a_config_may_name_exists():
    assert set(typing.get_args(Activation)) == set(ACTIVATIONS)


def test_lecun_is_flaxs_own_default():
    # No initializer passed: flax.linen.Dense's LeCun-normal kernels and zero biases.
    assert layer_initializers("lecun", 17, 1.0) == {}


# The on-policy MLP, the off-policy actor-critics' Network and DQN's Q-network, each with
# 32 inputs, one hidden layer of 64 and 8 outputs (its head scaled by 0.5 where it can be).
NETWORKS = {
    "MLP": lambda scheme: MLP(hidden_sizes=(64,), out_size=8, weight_init=scheme, output_scale=0.5),
    "Network": lambda scheme: Network(
        hidden_sizes=(64,), out_size=8, weight_init=scheme, output_scale=0.5
    ),
    "QNetwork": lambda scheme: QNetwork(num_actions=8, hidden_sizes=(64,), weight_init=scheme),
}


@pytest.mark.parametrize("scheme", typing.get_args(WeightInit))
@pytest.mark.parametrize("network", NETWORKS)
def test_every_network_takes_every_weight_init_scheme(network, scheme):
    params = NETWORKS[network](scheme).init(jax.random.key(8), jnp.zeros((1, 32)))["params"]
    hidden, out = params["Dense_0"], params["Dense_1"]
    out_scale = 1.0 if network == "QNetwork" else 0.5
    for layer, fan_in, gain in ((hidden, 32, math.sqrt(2)), (out, 64, out_scale)):
        kernel, bias = np.asarray(layer["kernel"]), np.asarray(layer["bias"])
        if scheme == "orthogonal":
            # Orthonormal rows or columns (whichever are fewer), scaled by the layer's gain.
            small = kernel @ kernel.T if kernel.shape[0] <= kernel.shape[1] else kernel.T @ kernel
            np.testing.assert_allclose(small, gain**2 * np.eye(len(small)), atol=1e-5)
            assert not bias.any()
        elif scheme == "torch":
            bound = 1 / math.sqrt(fan_in)
            assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
            assert np.abs(kernel).max() > 0.9 * bound and np.abs(bias).max() > 0.5 * bound
        else:
            assert not bias.any()
            assert kernel.std() == pytest.approx(1 / math.sqrt(fan_in), rel=0.15)
