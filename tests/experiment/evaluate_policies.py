"""Policies for tests/experiment/test_evaluate.py, named as a user names them: module:function."""

import jax.numpy as jnp
import numpy as np

# Set by the tests: a stored policy (rlcheck.load_policy) that `stored` acts with.
STORED = None


def stored(obs):
    """A policy rlcheck trained, called as any external policy: numpy in, action out."""
    return STORED(obs)


def lean_numpy(obs):
    """Push toward the side the pole leans and falls (numpy: called, not traced)."""
    return int(obs[2] + obs[3] > 0)


def lean_jax(obs):
    """The same policy in jax.numpy: traced into rlcheck's evaluation loop."""
    return (obs[2] + obs[3] > 0).astype(jnp.int32)


def always_left(obs):
    return 0


def wrong_shape(obs):
    return np.zeros(3)


def broken(obs):
    raise ValueError("no policy here")
