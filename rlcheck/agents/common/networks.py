"""Small flax networks with the initialization choices made explicit."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}


class MLP(nn.Module):
    """Hidden layers then a linear output layer.

    ``ortho_init`` uses orthogonal weights with gain √2 for hidden layers and ``output_scale``
    for the output layer, zero biases (the "orthogonal initialization and layer scaling" detail
    of Engstrom et al. 2020 / CleanRL's ``layer_init``); otherwise flax's defaults
    (LeCun-normal weights, zero biases).
    """

    hidden_sizes: Sequence[int]
    out_size: int
    activation: str = "tanh"
    ortho_init: bool = True
    output_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
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


def flatten_obs(obs: jax.Array, obs_shape: tuple[int, ...]) -> jax.Array:
    """Flatten the observation axes, keeping any leading batch axes."""
    batch_shape = obs.shape[: obs.ndim - len(obs_shape)]
    return obs.reshape((*batch_shape, -1))
