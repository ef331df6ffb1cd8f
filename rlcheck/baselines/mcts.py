"""Monte Carlo tree search with the true model, for discrete JAX-native envs, via mctx.

The search tree's embedding is the gymnax env state itself and ``recurrent_fn`` is the env's
non-resetting transition, with discount 0 once an episode terminates or is truncated (nothing
after the end of an episode counts). Without a learned network, every prior is uniform and a
new leaf is valued by the discounted return of one random rollout of ``rollout_depth`` steps:
with mctx's PUCT selection (``muzero_policy``, no Dirichlet noise) this is a UCT-like planner
(Kocsis & Szepesvári 2006; Guo et al. 2014 used UCT with the Atari emulator as the model).
``search = "gumbel"`` uses Gumbel MuZero's root selection instead (Danihelka et al. 2022).
The action taken is the most visited root action (UCT) or Gumbel MuZero's choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp

from rlcheck.baselines.planning import Planner
from rlcheck.core import static, traced
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError


@dataclass(frozen=True)
class Config:
    """MCTS hyperparameters."""

    num_simulations: int = static(64, "simulations (leaf expansions) per real step", unit="count")
    rollout_depth: int = static(
        20,
        "steps of the uniformly random rollout that values each new leaf (0: value 0)",
        unit="model steps",
    )
    search: Literal["uct", "gumbel"] = static(
        "uct", "uct: PUCT with uniform priors; gumbel: Gumbel MuZero root selection", unit="none"
    )
    max_depth: int | None = static(
        None, "deepest the tree may grow; None: no limit", unit="model steps"
    )
    gamma: float = traced(
        0.99, "discount factor of rewards in the tree and the rollouts", unit="none"
    )
    pb_c_init: float = traced(1.25, "PUCT exploration constant c1 (mctx's default)", unit="none")


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """The defaults (the same for every env), with ``overrides``."""
    del spec
    return Config(**overrides)


def rollout_values(
    env: JaxEnv, env_params: Any, states: Any, key: jax.Array, depth: int, discount: jax.Array
) -> jax.Array:
    """Discounted return of one uniformly random rollout of ``depth`` steps on the model
    (``env`` with ``env_params``) from each state (batched), ending at termination or
    truncation."""
    batch = jax.tree.leaves(states)[0].shape[0]
    n = env.spec.action_space.n

    def step(carry: tuple, key: jax.Array) -> tuple:
        s, total, weight = carry
        key_action, key_env = jax.random.split(key)
        action = jax.random.randint(key_action, (batch,), 0, n)
        _, s, reward, terminated, truncated = jax.vmap(env.step_no_reset, in_axes=(0, 0, 0, None))(
            jax.random.split(key_env, batch), s, action, env_params
        )
        total = total + weight * reward
        weight = jnp.where(terminated | truncated, 0.0, weight * discount)
        return (s, total, weight), None

    init = (states, jnp.zeros(batch), jnp.ones(batch))
    (_, total, _), _ = jax.lax.scan(step, init, jax.random.split(key, depth))
    return total


def make_recurrent_fn(env: JaxEnv, env_params: Any, depth: int) -> Any:
    """mctx's ``recurrent_fn``: one transition of the model (``env`` with ``env_params``) per
    tree edge, discount 0 at the end of an episode, the new leaf valued by a random rollout;
    its ``params`` argument is mctx's name for the planner's hparams."""
    import mctx

    n = env.spec.action_space.n

    def recurrent_fn(params: dict, key: jax.Array, action: jax.Array, states: Any) -> tuple:
        batch = action.shape[0]
        key_env, key_value = jax.random.split(key)
        _, states, reward, terminated, truncated = jax.vmap(
            env.step_no_reset, in_axes=(0, 0, 0, None)
        )(jax.random.split(key_env, batch), states, action, env_params)
        discount = jnp.where(terminated | truncated, 0.0, params["gamma"])
        value = rollout_values(env, env_params, states, key_value, depth, params["gamma"])
        output = mctx.RecurrentFnOutput(
            reward=reward,
            discount=discount,
            prior_logits=jnp.zeros((batch, n)),
            value=value,
        )
        return output, states

    return recurrent_fn


class MCTS(Planner):
    """UCT-like or Gumbel MuZero search on the env itself (see the module doc)."""

    name = "mcts"

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        del budget
        if spec.kind != "jax":
            raise UserError(f"mcts needs a JAX-native env (gymnax:…); {spec.id} is a host env")
        super().__init__(spec, config)
        depth = config.rollout_depth
        # Each simulation steps the model once to expand a leaf, then rolls out from it; the
        # root is valued by one rollout too.
        self.calls_per_step = config.num_simulations * (1 + depth) + depth

    def plan_batch(
        self,
        env: JaxEnv,
        env_params: Any,
        setup: Any,
        env_states: Any,
        plan_states: Any,
        key: jax.Array,
        h: dict,
    ) -> tuple[jax.Array, Any]:
        import mctx

        del setup
        config = self.config
        batch = jax.tree.leaves(env_states)[0].shape[0]
        n = self.spec.action_space.n
        key_root, key_search = jax.random.split(key)
        root = mctx.RootFnOutput(
            prior_logits=jnp.zeros((batch, n)),
            value=rollout_values(
                env, env_params, env_states, key_root, config.rollout_depth, h["gamma"]
            ),
            embedding=env_states,
        )
        recurrent_fn = make_recurrent_fn(env, env_params, config.rollout_depth)
        if config.search == "gumbel":
            out = mctx.gumbel_muzero_policy(
                h,
                key_search,
                root,
                recurrent_fn,
                config.num_simulations,
                max_depth=config.max_depth,
                max_num_considered_actions=n,
            )
            return out.action, plan_states
        out = mctx.muzero_policy(
            h,
            key_search,
            root,
            recurrent_fn,
            config.num_simulations,
            max_depth=config.max_depth,
            dirichlet_fraction=0.0,
            pb_c_init=h["pb_c_init"],
        )
        return jnp.argmax(out.action_weights, axis=-1), plan_states
