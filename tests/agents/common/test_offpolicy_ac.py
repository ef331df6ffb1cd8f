import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlcheck import envs
from rlcheck.registry import make_agent

PENDULUM = envs.make("Pendulum-v1").spec
TINY = {"hidden_sizes": (8, 8), "batch_size": 4, "learning_starts": 0}


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_buffer_is_capped_at_what_the_run_collects(algo):
    # 2 envs × 3 steps per update: 1000 env steps are 166 whole updates, 996 transitions.
    agent = make_agent(algo, PENDULUM, {**TINY, "num_envs": 2, "train_frequency": 3}, 1000)
    buffer = agent.init(jax.random.PRNGKey(0), agent.hparams()).buffer
    assert agent.capacity == 996
    assert {k: v.shape for k, v in buffer.data.items()} == {
        "obs": (996, 3),
        "action": (996, 1),
        "reward": (996,),
        "next_obs": (996, 3),
        "done": (996,),
    }
    small = make_agent(algo, PENDULUM, {**TINY, "buffer_size": 50}, 1000)
    assert small.capacity == 50


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_critics_are_independent_and_take_actions_in_their_units(algo):
    agent = make_agent(algo, PENDULUM, {**TINY, "n_critics": 3}, 1000)
    critic = agent.init(jax.random.PRNGKey(0), agent.hparams()).learner.critic
    kernels = critic["params"]["Dense_0"]["kernel"]
    assert kernels.shape == (3, 3 + 1, 8)  # (critics, obs + action, hidden)
    assert not np.array_equal(kernels[0], kernels[1])
    # Pendulum's torque box is [-2, 2]: the env-unit critics see twice the policy's action.
    assert agent._critic_action(jnp.array([0.5])).tolist() == [1.0]
    unit = make_agent(algo, PENDULUM, {**TINY, "action_units": "unit"}, 1000)
    assert unit._critic_action(jnp.array([0.5])).tolist() == [0.5]


def test_actor_step_runs_after_every_nth_critic_step_with_zeros_between():
    agent = make_agent("td3", PENDULUM, TINY, 1000)
    learner = agent.init(jax.random.PRNGKey(0), agent.hparams()).learner

    def actor_step(learner):
        values = {"actor_loss": jnp.float32(-5.0), "actor_grad_norm": jnp.float32(2.0)}
        return learner.replace(actor_updates=learner.actor_updates + 1), values, jnp.float32(1)

    for critic_updates, due in [(1, False), (2, False), (3, True), (6, True)]:
        before = learner.replace(critic_updates=jnp.int32(critic_updates))
        after, values, ran = agent._every_nth(3, actor_step, before)
        assert int(after.actor_updates) == int(due)
        assert float(ran) == float(due)
        assert float(values["actor_loss"]) == (-5.0 if due else 0.0)
        internals, ran_by_name = agent._step_internals({"critic_loss": 1.0}, values, ran)
        assert set(internals) == {"critic_loss", "actor_loss", "actor_grad_norm"}
        assert float(ran_by_name["critic_loss"]) == 1.0
        assert float(ran_by_name["actor_grad_norm"]) == float(due)


def test_random_until_learning_starts_acts_uniformly_until_learning_starts():
    agent = make_agent("sac", PENDULUM, {**TINY, "learning_starts": 10}, 1000)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    action = jnp.full((1000, 1), 0.25)
    early = agent._random_until_learning_starts(state, action, jax.random.PRNGKey(1))
    assert float(early.min()) < -0.9 and float(early.max()) > 0.9
    late = agent._random_until_learning_starts(
        state.replace(env_steps=jnp.int32(10)), action, jax.random.PRNGKey(1)
    )
    assert np.array_equal(late, action)
