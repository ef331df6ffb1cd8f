"""Policies for tests/experiment/test_evaluate.py, named as a user names them: module:function."""

import jax.numpy as jnp
import numpy as np

# Set by the tests: stored policies (rlcheck.load_policy) by seed, that `seed_0`/`seed_1` act with.
STORED = {}


def seed_0(obs):
    """A policy rlcheck trained, called as any external policy: numpy in, action out."""
    return STORED[0](obs)


def seed_1(obs):
    return STORED[1](obs)


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


def lean_angle(obs):
    """Push toward the pole's lean, ignoring its speed: falls after a varying while."""
    return int(obs[2] > 0)


def fails_later(obs):
    """Fine at the reset, raises once the cart has moved."""
    if abs(obs[0]) > 0.06:
        raise RuntimeError("cart left the middle")
    return 0


def out_of_range(obs):
    return 2
