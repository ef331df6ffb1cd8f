"""A sweep trains configurations that differ in traced fields with the agent of the first one and
each row's own hparams (rlcheck.experiment.train.train_rows). That is right only if an agent
reads its traced fields from ``hparams`` and never from its Config: checked here for every
learner on the programs it compiles (init, act, policy_params + policy_apply, update), which
must be the same, constants included, whatever the traced fields' values in the Config."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.core import Trajectory
from rlcheck.registry import ALGORITHMS, make_agent

LEARNERS = [name for name, info in ALGORITHMS.items() if info.kind in ("rl", "random")]
BUDGET = 10_000


def _bumped(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value + 1
    return value * 0.5 + 0.001


def _programs(agent, hparams):
    """The jaxprs (text and constants) of the agent's four functions, for the same inputs."""
    key = jax.random.PRNGKey(0)
    obs = jnp.zeros((agent.num_envs, *agent.spec.obs_shape))
    state = jax.eval_shape(agent.init, key, hparams)
    _, action, aux = jax.eval_shape(agent.act, state, obs, key)

    def over_time(x):
        return jax.ShapeDtypeStruct((agent.rollout_len, *x.shape), x.dtype)

    flags = jax.ShapeDtypeStruct((agent.rollout_len, agent.num_envs), jnp.bool_)
    traj = Trajectory(
        aux=jax.tree.map(over_time, aux),
        action=over_time(action),
        reward=jax.ShapeDtypeStruct((agent.rollout_len, agent.num_envs), jnp.float32),
        terminated=flags,
        truncated=flags,
        final_obs=over_time(jax.ShapeDtypeStruct(obs.shape, jnp.float32)),
        last_obs=jax.ShapeDtypeStruct(obs.shape, jnp.float32),
    )
    closed = [
        jax.make_jaxpr(agent.init)(key, hparams),
        jax.make_jaxpr(agent.act)(state, obs, key),
        jax.make_jaxpr(lambda s, o, k: agent.policy_apply(agent.policy_params(s), o, k, True))(
            state, obs, key
        ),
        jax.make_jaxpr(agent.update)(state, traj, key),
    ]
    return [str(c.jaxpr) for c in closed], [np.asarray(x) for c in closed for x in c.consts]


@pytest.mark.parametrize("name", LEARNERS)
def test_traced_fields_enter_programs_only_through_hparams(name):
    info = ALGORITHMS[name]
    env_id = "CartPole-v1" if "discrete" in info.action_spaces else "Pendulum-v1"
    spec = envs.make(env_id).spec
    base = make_agent(name, spec, {}, BUDGET)
    traced = [f.name for f in dataclasses.fields(info.config_cls) if f.metadata["traced"]]
    changed = {f: _bumped(getattr(base.config, f)) for f in traced}
    other = make_agent(name, spec, changed, BUDGET)
    hparams = base.hparams()
    moved = [k for k, v in other.hparams().items() if float(v) != float(hparams[k])]
    assert len(moved) == len(hparams)
    text, consts = _programs(base, hparams)
    other_text, other_consts = _programs(other, hparams)
    assert text == other_text
    assert len(consts) == len(other_consts)
    for a, b in zip(consts, other_consts, strict=True):
        np.testing.assert_array_equal(a, b)
