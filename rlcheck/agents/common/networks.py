"""Small flax networks with the initialization choices made explicit."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}


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
            x = nn.relu(nn.Conv(16, (3, 3), **self._init(jnp.sqrt(2.0)))(x))
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
