"""Small flax networks with the initialization choices made explicit."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}

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
    & Tian 2019); everything else is flattened. ``ortho_init`` uses orthogonal weights with gain
    √2 for hidden layers and ``output_scale`` for the output layer, zero biases (the "orthogonal
    initialization and layer scaling" detail of Engstrom et al. 2020 / CleanRL's
    ``layer_init``); otherwise flax's defaults (LeCun-normal weights, zero biases).
    """

    hidden_sizes: Sequence[int]
    out_size: int
    obs_ndim: int = 1
    activation: str = "tanh"
    ortho_init: bool = True
    output_scale: float = 1.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        x = obs
        if self.obs_ndim == 3:
            conv = nn.Conv(
                16, (3, 3), conv_general_dilated=im2col_conv, **self._init(jnp.sqrt(2.0))
            )
            x = nn.relu(conv(x))
        x = x.reshape((*x.shape[: x.ndim - self.obs_ndim], -1))
        for width in self.hidden_sizes:
            x = act(nn.Dense(width, **self._init(jnp.sqrt(2.0)))(x))
        return nn.Dense(self.out_size, **self._init(self.output_scale))(x)

    def _init(self, scale: float) -> dict:
        if not self.ortho_init:
            return {}
        return {
            "kernel_init": nn.initializers.orthogonal(scale),
            "bias_init": nn.initializers.zeros,
        }
