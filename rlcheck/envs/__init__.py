"""Environments: one :class:`EnvSpec` for JAX-native (gymnax) and host (Gymnasium) envs."""

from rlcheck.envs.host_env import HostEnv, HostVector
from rlcheck.envs.jax_env import PERFORMANCE, JaxEnv, Step
from rlcheck.envs.params import replace_params
from rlcheck.envs.registry import import_packages, known_ids, make
from rlcheck.envs.spec import Box, Discrete, EnvSpec

__all__ = [
    "PERFORMANCE",
    "Box",
    "Discrete",
    "EnvSpec",
    "HostEnv",
    "HostVector",
    "JaxEnv",
    "Step",
    "import_packages",
    "known_ids",
    "make",
    "replace_params",
]
