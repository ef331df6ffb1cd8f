"""Small flax networks with the initialization choices made explicit: the hidden activations
and the weight-initialization schemes every network of rlcheck takes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "swish": nn.swish,
}
Activation = Literal["tanh", "relu", "swish"]

# The schemes of a Config's ``weight_init`` (rlcheck.glossary says what each one is).
WeightInit = Literal["orthogonal", "torch", "lecun"]
Initializer = Callable[..., jax.Array]


def torch_uniform(fan_in: int) -> Initializer:
    """U(−1/√fan_in, 1/√fan_in): PyTorch's ``nn.Linear``/``nn.Conv2d`` default for weights
    (kaiming_uniform with a = √5) and for biases, what SB3, CleanRL and MinAtar's networks get."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


# The same U(±1/√fan_in) drawn as a variance scaling (variance 1/(3·fan_in)). DQN's Q-network
# has always drawn its "torch" kernels this way and the off-policy actor-critics theirs through
# torch_uniform; the two round differently in the last bit for some fan_ins (5, 17, 120…), so
# each network keeps its own and every result recorded before stays bit for bit the same.
TORCH_KERNEL_BY_VARIANCE_SCALING = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def layer_initializers(
    scheme: WeightInit,
    fan_in: int,
    gain: float | jax.Array,
    torch_kernel: Literal["uniform", "variance_scaling"] = "uniform",
) -> dict[str, Initializer]:
    """The ``kernel_init``/``bias_init`` arguments of one flax Dense or Conv layer.

    Args:
        scheme: "orthogonal": orthogonal weights scaled by ``gain``, zero biases (Saxe et al.
            2014; CleanRL's ``layer_init``, SB3's ``ortho_init``); "torch": weights and biases
            from :func:`torch_uniform`; "lecun": flax's default, LeCun-normal weights and zero
            biases (what rejax gets).
        fan_in: inputs per output of the layer (a convolution's kh·kw·channels).
        gain: the orthogonal scale: √2 before ReLU/tanh hidden layers, the head's own scale
            for an output layer; the other schemes ignore it.
        torch_kernel: how "torch" kernels are drawn (see TORCH_KERNEL_BY_VARIANCE_SCALING).
    """
    if scheme == "lecun":
        return {}
    if scheme == "orthogonal":
        return {"kernel_init": nn.initializers.orthogonal(gain), "bias_init": nn.initializers.zeros}
    if scheme != "torch":
        raise ValueError(f"unknown weight_init '{scheme}' (orthogonal, torch or lecun)")
    kernel = torch_uniform(fan_in)
    if torch_kernel == "variance_scaling":
        kernel = TORCH_KERNEL_BY_VARIANCE_SCALING
    return {"kernel_init": kernel, "bias_init": torch_uniform(fan_in)}


_NHWC = ("NHWC", "HWIO", "NHWC")


def im2col_conv(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: lax.ConvDimensionNumbers | None = None,
    feature_group_count: int = 1,
    precision: lax.PrecisionLike = None,
) -> jax.Array:
    """A stride-1 NHWC convolution as one matrix product over image patches ("im2col").

    Same result as ``lax.conv_general_dilated`` (to float rounding), and a drop-in for
    ``flax.linen.Conv(conv_general_dilated=...)``. Written by hand because of XLA:CPU
    (jaxlib 0.10.2): inside a loop (``lax.scan``/``while``, i.e. every training loop) it leaves
    the kernel-gradient convolution in a non-canonical layout and runs it through a naive
    elemental kernel, 8× slower than the same convolution outside a loop. A matrix product
    does not have that problem: PPO's update on Breakout-MinAtar runs ≈ 10× faster this way
    (8 seeds, one core; benchmarks/conv_speed.py, BENCHMARKS.md). Outside a loop it is slower
    than lax's convolution, but training programs take their gradients inside one. The patches
    cost kh·kw times the input's memory, which is small for MinAtar's 10×10 grids.
    """
    ones = (1, 1)
    if (
        lhs.ndim != 4
        or rhs.ndim != 4
        or tuple(window_strides) != ones
        or tuple(lhs_dilation or ones) != ones
        or tuple(rhs_dilation or ones) != ones
        or feature_group_count != 1
        or (
            dimension_numbers is not None
            and dimension_numbers != lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)
        )
    ):
        raise ValueError("im2col_conv supports only stride-1, undilated, ungrouped NHWC 2-D convs")
    kh, kw, c_in, c_out = rhs.shape
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:3], (kh, kw), ones, padding)
    x = jnp.pad(lhs, ((0, 0), *padding, (0, 0)))
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    # Last axis ordered (row offset, column offset, channel), as HWIO's kernel flattens.
    patches = jnp.concatenate(
        [x[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)], axis=-1
    )
    out = jnp.dot(patches.reshape(-1, kh * kw * c_in), rhs.reshape(-1, c_out), precision=precision)
    return out.reshape(lhs.shape[0], h, w, c_out)


class MLP(nn.Module):
    """Optional conv layer for image observations, hidden layers, a linear output layer.

    Observations of rank 3 (height, width, channels — MinAtar's 10×10×c grids) first go through
    one 3×3 convolution with 16 channels and a ReLU, as in the MinAtar paper's networks (Young
    & Tian 2019); everything else is flattened. Weights follow ``weight_init`` (see
    :func:`layer_initializers`); with "orthogonal" the hidden layers have gain √2 and the output
    layer ``output_scale`` (the "orthogonal initialization and layer scaling" detail of
    Engstrom et al. 2020).
    """

    hidden_sizes: Sequence[int]
    out_size: int
    obs_ndim: int = 1
    activation: Activation = "tanh"
    weight_init: WeightInit = "orthogonal"
    output_scale: float = 1.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        x = obs
        if self.obs_ndim == 3:
            conv = nn.Conv(
                16, (3, 3), conv_general_dilated=im2col_conv, **self._init(9 * x.shape[-1])
            )
            x = nn.relu(conv(x))
        x = x.reshape((*x.shape[: x.ndim - self.obs_ndim], -1))
        for width in self.hidden_sizes:
            x = act(nn.Dense(width, **self._init(x.shape[-1]))(x))
        return nn.Dense(self.out_size, **self._init(x.shape[-1], self.output_scale))(x)

    def _init(self, fan_in: int, gain: float | jax.Array | None = None) -> dict:
        """A layer's initializers: gain √2 unless given (the output layer's scale)."""
        return layer_initializers(self.weight_init, fan_in, jnp.sqrt(2.0) if gain is None else gain)
