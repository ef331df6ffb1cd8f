"""LQR from the simulator's Jacobian: the classical-control answer for CartPole and Pendulum.

The env's own transition is linearized around its upright equilibrium with ``jax.jacfwd``
(x' ≈ A x + B u), the discrete algebraic Riccati equation is solved for the state cost Q and
action cost R, and the controller acts with u = −K x. gymnax's classic-control envs detach
their outputs (``stop_gradient``), so the transition is re-evaluated from its traced program
with ``stop_gradient`` as the identity. CartPole's two actions push with ±force: the
controller pushes in the direction of u (bang-bang on the sign of the LQR force). Pendulum
starts anywhere, and ±2 of torque cannot hold it far from upright, so with ``swing_up`` it
first pumps energy (Åström & Furuta 2000) and hands over to LQR within ``switch_angle`` of
upright. Its Q and R are the env's own quadratic cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core

from rlcheck.baselines.planning import Planner
from rlcheck.core import static, traced
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.randomize import RandomizedEnv, RandomizedState
from rlcheck.envs.registry import bare_env_id
from rlcheck.envs.spec import EnvSpec
from rlcheck.errors import UserError


@dataclass(frozen=True)
class System:
    """How one env is linearized: the state fields forming x, the action at the equilibrium
    (CartPole's a = 0.5 means zero force), which fields are angles (wrapped to (−π, π]), and
    the default costs."""

    fields: tuple[str, ...]
    action_offset: float
    angles: tuple[str, ...]
    q: tuple[float, ...]
    r: float


SYSTEMS = {
    # No cost in the env (reward 1 per step alive): unit costs on every state and the force.
    "CartPole-v1": System(("x", "x_dot", "theta", "theta_dot"), 0.5, (), (1, 1, 1, 1), 1.0),
    # The env's cost: θ² + 0.1 θ̇² + 0.001 u².
    "Pendulum-v1": System(("theta", "theta_dot"), 0.0, ("theta",), (1.0, 0.1), 0.001),
}


@dataclass(frozen=True)
class Config:
    """LQR settings; costs default to the env's (see ``SYSTEMS``)."""

    q: tuple[float, ...] | None = static(
        None, "diagonal of the state cost Q; None: the env's", unit="none"
    )
    r: float | None = static(None, "action cost R; None: the env's", unit="none")
    swing_up: bool = static(True, "Pendulum: pump energy until near upright, then LQR", unit="none")
    switch_angle: float = traced(
        0.5, "Pendulum: LQR takes over within this angle (rad)", unit="radians"
    )
    energy_gain: float = traced(1.0, "Pendulum: gain of the energy-pumping controller", unit="none")


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """The defaults, with ``overrides``."""
    del spec
    return Config(**overrides)


# ---- linearization -----------------------------------------------------------------------


def _eval_jaxpr(jaxpr: Any, consts: list, args: list) -> list:
    """Evaluate a jaxpr with ``stop_gradient`` as the identity (nested jit calls too)."""
    values: dict = {}

    def read(v: Any) -> Any:
        return v.val if isinstance(v, jax_core.Literal) else values[v]

    values.update(zip(jaxpr.constvars, consts, strict=True))
    values.update(zip(jaxpr.invars, args, strict=True))
    for eqn in jaxpr.eqns:
        inputs = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name == "stop_gradient":
            outputs = inputs
        elif name in ("pjit", "jit", "closed_call"):
            inner = eqn.params["jaxpr"]
            outputs = _eval_jaxpr(inner.jaxpr, inner.consts, inputs)
        else:
            outputs = eqn.primitive.bind(*inputs, **eqn.primitive.get_bind_params(eqn.params))
            if not eqn.primitive.multiple_results:
                outputs = [outputs]
        values.update(zip(eqn.outvars, outputs, strict=True))
    return [read(v) for v in jaxpr.outvars]


def differentiable(fn: Callable) -> Callable:
    """``fn`` with every ``stop_gradient`` in it removed, so it can be differentiated.

    Args:
        fn: a function of arrays (pytrees allowed).

    Returns:
        A function computing the same values whose derivatives flow through.
    """

    def wrapped(*args: Any) -> Any:
        closed, shapes = jax.make_jaxpr(fn, return_shape=True)(*args)
        out = _eval_jaxpr(closed.jaxpr, closed.consts, jax.tree.leaves(args))
        return jax.tree.unflatten(jax.tree.structure(shapes), out)

    return wrapped


def linearize(
    transition: Callable[[jax.Array, jax.Array], jax.Array], x: jax.Array, u: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(A, B) = the Jacobians of ``transition(x, u) -> x'`` at (x, u), by forward mode.

    Args:
        transition: next state vector from state vector ``x`` (n,) and action ``u`` (m,).
        x, u: the point of linearization.

    Returns:
        A (n, n) and B (n, m).
    """
    return jax.jacfwd(transition, argnums=(0, 1))(x, u)


def solve_dare(
    a: jax.Array, b: jax.Array, q: jax.Array, r: jax.Array, iterations: int = 40
) -> jax.Array:
    """P solving P = AᵀPA − AᵀPB (R + BᵀPB)⁻¹ BᵀPA + Q, by the structure-preserving doubling
    algorithm (Chu et al. 2004), which converges quadratically.

    Args:
        a, b: the discrete-time system (n, n) and (n, m).
        q, r: state cost (n, n) and action cost (m, m), symmetric positive (semi)definite.
        iterations: doubling steps (each doubles the horizon the solution covers).

    Returns:
        P (n, n).
    """
    eye = jnp.eye(a.shape[0])
    g = b @ jnp.linalg.solve(r, b.T)

    def double(carry: tuple, _: None) -> tuple:
        a_k, g_k, h_k = carry
        w = jnp.linalg.inv(eye + g_k @ h_k)
        return (a_k @ w @ a_k, g_k + a_k @ w @ g_k @ a_k.T, h_k + a_k.T @ h_k @ w @ a_k), None

    (_, _, p), _ = jax.lax.scan(double, (a, g, q), None, length=iterations)
    return (p + p.T) / 2


def lqr_gain(a: jax.Array, b: jax.Array, q: jax.Array, r: jax.Array) -> jax.Array:
    """K such that u = −K x minimises Σ xᵀQx + uᵀRu for x' = A x + B u."""
    p = solve_dare(a, b, q, r)
    return jnp.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)


# ---- the controller ------------------------------------------------------------------------


class LQR(Planner):
    """LQR on the linearized simulator (and Pendulum's energy swing-up; see the module doc)."""

    name = "lqr"

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        del budget
        env_name = bare_env_id(spec.id)
        if spec.kind != "jax" or env_name not in SYSTEMS:
            raise UserError(
                f"lqr knows the equilibrium of gymnax {', '.join(SYSTEMS)} only, not {spec.id}"
            )
        super().__init__(spec, config)
        self.system = SYSTEMS[env_name]
        self.pendulum = env_name == "Pendulum-v1"
        n, m = len(self.system.fields), 1
        if config.q is not None and len(config.q) != n:
            raise ValueError(f"q needs {n} entries for {env_name}, got {len(config.q)}")
        # Forward mode takes one model evaluation per input direction: n + m.
        self.setup_calls = n + m

    def state_vector(self, state: Any) -> jax.Array:
        """x: the system's fields of an env state, angles wrapped to (−π, π]."""
        parts = []
        for name in self.system.fields:
            value = jnp.asarray(getattr(state, name), jnp.float32).reshape(())
            if name in self.system.angles:
                value = (value + jnp.pi) % (2 * jnp.pi) - jnp.pi
            parts.append(value)
        return jnp.stack(parts)

    def setup(self, env: JaxEnv, env_params: Any, hparams: dict) -> jax.Array:
        """The gain K, from the model's transition (``env`` with ``env_params``) linearized at
        its upright equilibrium."""
        del hparams
        if isinstance(env, RandomizedEnv):
            # Under domain randomization the gain is designed once, for the nominal params: a
            # fixed controller facing physics it was not designed for.
            env = env.base
        _, template = env.reset(jax.random.PRNGKey(0), env_params)
        fields = self.system.fields
        equilibrium = template.replace(**{f: jnp.zeros_like(getattr(template, f)) for f in fields})

        def transition(x: jax.Array, u: jax.Array) -> jax.Array:
            state = equilibrium.replace(**{f: x[i] for i, f in enumerate(fields)})
            action = self.system.action_offset + u
            if not self.spec.discrete:
                action = action.reshape(self.spec.action_space.shape)
            else:
                action = action[0]
            step = differentiable(env.step_no_reset)(
                jax.random.PRNGKey(0), state, action, env_params
            )
            return jnp.stack([jnp.reshape(getattr(step[1], f), ()) for f in fields])

        a, b = linearize(transition, jnp.zeros(len(fields)), jnp.zeros(1))
        q = jnp.diag(jnp.asarray(self.config.q or self.system.q, jnp.float32))
        r = jnp.asarray([[self.config.r if self.config.r is not None else self.system.r]])
        return lqr_gain(a, b, q, r)

    def plan(
        self,
        env: JaxEnv,
        env_params: Any,
        gain: jax.Array,
        env_state: Any,
        plan_state: Any,
        key: jax.Array,
        h: dict,
    ) -> tuple[jax.Array, Any]:
        del key
        if isinstance(env_state, RandomizedState):
            env_state = env_state.inner
        x = self.state_vector(env_state)
        u = -(gain @ x)
        if self.spec.discrete:
            return (u[0] > 0).astype(jnp.int32), plan_state
        if self.pendulum and self.config.swing_up:
            u = jnp.where(jnp.abs(x[0]) < h["switch_angle"], u, self._pump(env_params, x, h))
        return u, plan_state

    def _pump(self, env_params: Any, x: jax.Array, h: dict) -> jax.Array:
        """Energy pumping for gymnax Pendulum, whose dynamics are θ̈ = (3g/2l) sin θ + b·u:
        E = θ̇²/2 + (3g/2l) cos θ is E_top at rest upright, and u = k (E_top − E) θ̇ raises E
        towards it (dE/dt = b·u·θ̇)."""
        a = 3 * env_params.g / (2 * env_params.l)
        theta, theta_dot = x
        energy = theta_dot**2 / 2 + a * jnp.cos(theta)
        return jnp.reshape(h["energy_gain"] * (a - energy) * theta_dot, (1,))
