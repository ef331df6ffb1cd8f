"""D2, value quality: is the learned value a value, and how much variance does it remove?

Following Ilyas, Engstrom et al. (2020, §2.2), at one checkpoint:

**How well V predicts** (:func:`value_quality`). The agent takes one real update (its own
``act`` and ``update`` on a fresh rollout, as in training), so there is an old V (the
checkpoint's) and a new one (fitted to its targets). Both are compared, by mean relative
error MRE = mean |V − y| / |y| and NMSE = mean (V − y)² / Var(y), against:

- the agent's own regression target y = V_old + Â (GAE with its λ; REINFORCE: the Monte-Carlo
  return) on the batch it trained on, and on a held-out batch collected by the same pre-update
  policy: the paper's "GAE MRE", which says whether the network solves its supervised problem;
- the single-rollout return of each held-out state (the paper's "returns MRE");
- the Monte-Carlo value V^π(s) of held-out states: the env state is cloned (a gymnax state is a
  pytree) and played out ``mc_rollouts`` times to the end of its episode.

The single-rollout return against V^π is the noise floor: how much of the "returns MRE" is the
return's noise rather than V's error. Returns are discounted with the agent's γ, in the reward
units its update sees (frozen scaling), and a time-limit cut is bootstrapped from V_old when
the agent bootstraps (so every target is of the value the agent is trying to learn). MRE is
unstable where the value is near 0 (madry.md §4.7) and undefined where it is 0 (those samples
are left out of it); NMSE is neither.

**How much variance the baseline removes** (:func:`baseline_variance`): the concentration of
gradient estimates (D1's metrics, :mod:`rlcheck.diagnostics.gradient`) with the agent's own
estimator and, in place of its critic, 0, the critic itself, and V*, an MLP of the critic's
shape regressed on Monte-Carlo returns of a large dataset from the current policy
(:func:`fit_value`; the paper's "true value"). The reference gradient uses V* (λ = 1).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rlcheck.diagnostics.gradient import (
    SIZES,
    Estimator,
    concentration_over_seeds,
    own_estimator,
    reference_estimator,
)
from rlcheck.diagnostics.intervals import over_seeds
from rlcheck.diagnostics.learner import Learner, learner_for
from rlcheck.diagnostics.rollouts import (
    advantages,
    agent_rollout,
    check_sizes,
    collect,
    require_jax_env,
    tail_length,
    training_batch,
    values_of,
)
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.errors import UserError

BASELINES = ("zero", "agent", "fitted")


def mre(prediction: jax.Array, target: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """Mean relative error, mean |ŷ − y| / |y| (Ilyas et al. 2020, §2.2), over the samples
    whose target is not 0 (where it is undefined: a terminal step with reward 0), each
    counted ``weight`` times (default once)."""
    weight = jnp.ones_like(target) if weight is None else weight
    weight = jnp.where(target == 0, 0.0, weight)
    safe = jnp.where(target == 0, 1.0, target)
    return jnp.sum(weight * jnp.abs(prediction - target) / jnp.abs(safe)) / jnp.sum(weight)


def nmse(prediction: jax.Array, target: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """Normalized mean squared error, mean (ŷ − y)² / Var(y): 1 − the explained variance of a
    predictor whose errors have mean 0; 1 is no better than the mean of y. Samples counted
    ``weight`` times (default once)."""
    weight = jnp.ones_like(target) if weight is None else weight
    total = jnp.sum(weight)
    mean = jnp.sum(weight * target) / total
    var = jnp.sum(weight * (target - mean) ** 2) / total
    return jnp.sum(weight * (prediction - target) ** 2) / total / var


def value_quality(
    agent: Any,
    states: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    *,
    num_states: int = 128,
    mc_rollouts: int = 32,
    heldout_envs: int = 8,
    window: int = 512,
    tail: int | None = None,
    fitted: Any = None,
) -> dict[str, Any]:
    """D2's value errors at one checkpoint, for every seed of ``states``.

    Args:
        agent: a PPO, A2C, TRPO, or REINFORCE-with-baseline agent.
        states: its states, leading seed axis.
        env, env_params: a JAX-native env (its states are cloned) and its params.
        key: PRNG key.
        num_states: held-out states whose V^π is estimated by Monte Carlo.
        mc_rollouts: rollouts per cloned state.
        heldout_envs, window: the held-out batch, ``heldout_envs × window`` pairs.
        tail: steps that complete episodes; None: the time limit.
        fitted: V* parameters from :func:`fit_value` (leading seed axis), also compared with
            V^π; None: left out.

    Returns:
        {"mre": {comparison: (seeds,)}, "nmse": {…}, "states": per-state arrays
        (seeds, num_states, …) of "x" (the policy input), "v_old", "v_new",
        "single_return", "mc_value", "mc_std" [, "fitted"], "summary": {"mre": {comparison:
        Estimate}, "nmse": …}}. Comparisons: "old_vs_target_train", "new_vs_target_train",
        "old_vs_target_heldout", "new_vs_target_heldout", "old_vs_return", "new_vs_return",
        "old_vs_mc", "new_vs_mc", "return_vs_mc" (the noise
        floor) [, "fitted_vs_mc"].
    """
    learner = learner_for(agent)
    if learner.critic(jax.tree.map(lambda x: x[0], states)) is None:
        raise UserError(f"{agent.name} without a baseline has no value function to diagnose")
    require_jax_env(env)
    tail = tail_length(env, tail)
    if num_states > heldout_envs * window:
        raise UserError(
            f"num_states ({num_states}) exceeds the held-out pairs ({heldout_envs * window})"
        )
    program = functools.partial(
        _value_quality, learner, env, num_states, mc_rollouts, heldout_envs, window, tail
    )
    seeds = jax.tree.leaves(states)[0].shape[0]
    keys = jax.random.split(key, seeds)
    fitted_axis = None if fitted is None else 0
    run = jax.jit(jax.vmap(program, in_axes=(0, 0, None, fitted_axis)))
    errors, per_state = jax.device_get(run(states, keys, env_params, fitted))
    out = {
        "mre": {k: np.asarray(v[0]) for k, v in errors.items()},
        "nmse": {k: np.asarray(v[1]) for k, v in errors.items()},
        "states": {k: np.asarray(v) for k, v in per_state.items()},
    }
    out["summary"] = {
        metric: {k: over_seeds(v) for k, v in out[metric].items()} for metric in ("mre", "nmse")
    }
    return out


def _value_quality(
    learner: Learner,
    env: JaxEnv,
    num_states: int,
    mc_rollouts: int,
    heldout_envs: int,
    window: int,
    tail: int,
    state: Any,
    key: jax.Array,
    env_params: Any,
    fitted: Any,
) -> tuple[dict, dict]:
    agent = learner.agent
    key_train, key_update, key_heldout, key_pick, key_mc = jax.random.split(key, 5)
    # One real update: what V is trained toward, and what it becomes.
    rolled, traj = agent_rollout(agent, state, env, env_params, key_train)
    new_state, _ = agent.update(rolled, traj, key_update)
    train = training_batch(learner, state, rolled, traj)
    x_train, target_train, used = train["x"], train["targets"], train["used"]
    old_critic, new_critic = learner.critic(state), learner.critic(new_state)

    # The held-out batch, by the pre-update policy, with the env state of every step.
    rollout = collect(
        learner,
        state,
        learner.actor(state),
        env,
        env_params,
        key_heldout,
        heldout_envs,
        window + tail,
        keep_env_states=True,
    )
    values = values_of(learner, old_critic, rollout)
    lam = learner.gae_lambda(state)
    horizon = "episode" if learner.rollout_len is None else "rollout"
    target_heldout = values[0][:window] + advantages(
        learner, state, rollout, values, window, horizon, lam
    )
    single_return = values[0][:window] + advantages(
        learner, state, rollout, values, window, "episode", 1.0
    )
    x = rollout.x[:window]
    v_old, v_new = learner.value(old_critic, x), learner.value(new_critic, x)

    pick = jax.random.choice(key_pick, window * heldout_envs, (num_states,), replace=False)

    def picked(a: jax.Array) -> jax.Array:
        return a[:window].reshape(window * heldout_envs, *a.shape[2:])[pick]

    env_states = jax.tree.map(picked, rollout.env_state)
    mc = _monte_carlo_values(
        learner,
        state,
        old_critic,
        env,
        env_params,
        key_mc,
        picked(rollout.x),
        env_states,
        mc_rollouts,
        tail,
    )
    mc_value = jnp.mean(mc, axis=1)
    per_state = {
        "x": picked(x),
        "v_old": picked(v_old),
        "v_new": picked(v_new),
        "single_return": picked(single_return),
        "mc_value": mc_value,
        "mc_std": jnp.std(mc, axis=1),
    }

    def both(prediction: jax.Array, target: jax.Array, weight: jax.Array | None = None) -> tuple:
        return mre(prediction, target, weight), nmse(prediction, target, weight)

    errors = {
        "old_vs_target_train": both(learner.value(old_critic, x_train), target_train, used),
        "new_vs_target_train": both(learner.value(new_critic, x_train), target_train, used),
        "old_vs_target_heldout": both(v_old, target_heldout),
        "new_vs_target_heldout": both(v_new, target_heldout),
        "old_vs_return": both(v_old, single_return),
        "new_vs_return": both(v_new, single_return),
        "old_vs_mc": both(per_state["v_old"], mc_value),
        "new_vs_mc": both(per_state["v_new"], mc_value),
        "return_vs_mc": both(per_state["single_return"], mc_value),
    }
    if fitted is not None:
        per_state["fitted"] = learner.value(fitted, picked(rollout.x))
        errors["fitted_vs_mc"] = both(per_state["fitted"], mc_value)
    return errors, per_state


def _monte_carlo_values(
    learner: Learner,
    state: Any,
    critic: dict,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    x: jax.Array,
    env_states: Any,
    rollouts: int,
    max_steps: int,
) -> jax.Array:
    """Discounted returns of ``rollouts`` plays from each cloned env state, (states, rollouts).

    Each clone starts where the held-out rollout observed ``x`` and plays the policy until its
    episode ends (the time limit in its state ends it within ``max_steps``); a time-limit cut is
    bootstrapped from V (``critic``) when the agent bootstraps.
    """
    count = x.shape[0] * rollouts
    clones = jax.tree.map(lambda s: jnp.repeat(s, rollouts, axis=0), env_states)
    x = jnp.repeat(x, rollouts, axis=0)
    actor = learner.actor(state)
    gamma = learner.gamma(state)

    def play(carry: tuple) -> tuple:
        t, x, env_state, ret, discount, done, key = carry
        key, key_act, key_env = jax.random.split(key, 3)
        action = learner.net.sample(learner.net.dist(actor, x), key_act)
        obs, env_state, reward, terminated, truncated = jax.vmap(
            env.step_no_reset, in_axes=(0, 0, 0, None)
        )(jax.random.split(key_env, count), env_state, action, env_params)
        ret = ret + jnp.where(done, 0.0, discount * learner.rewards(state, reward))
        x = learner.observe(state, obs)
        if learner.bootstrap_on_truncation:
            cut = truncated & ~done
            ret = ret + jnp.where(cut, discount * gamma * learner.value(critic, x), 0.0)
        return t + 1, x, env_state, ret, discount * gamma, done | terminated | truncated, key

    def running(carry: tuple) -> jax.Array:
        t, *_, done, _ = carry
        return (t < max_steps) & ~jnp.all(done)

    zeros = jnp.zeros(count)
    init = (0, x, clones, zeros, jnp.ones(count), jnp.zeros(count, bool), key)
    ret = jax.lax.while_loop(running, play, init)[3]
    return ret.reshape(-1, rollouts)


def fit_value(
    agent: Any,
    states: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    *,
    pairs: int = 2**18,
    window: int = 512,
    tail: int | None = None,
    epochs: int = 10,
    batch_size: int = 2048,
    learning_rate: float = 1e-3,
    group_envs: int = 64,
) -> tuple[Any, dict[str, np.ndarray]]:
    """V*: an MLP of the critic's shape regressed on the Monte-Carlo returns of ``pairs``
    state-action pairs from each seed's current policy (the paper's "true value function").

    Targets are the single-rollout returns (γ of the agent, its reward units, a time-limit cut
    bootstrapped from its V when it bootstraps). The net starts from a fresh initialization,
    learns the standardized targets with Adam (``epochs`` passes of minibatches of
    ``batch_size``, the step size decaying linearly to 0), and the standardization is folded
    into its output layer, so the result is a plain parameter set of the critic's network.

    Returns:
        (parameters with a leading seed axis, {"train_nmse": (seeds,)}).
    """
    learner = learner_for(agent)
    check_sizes((pairs,), window, "pairs")
    if pairs % batch_size:
        raise UserError(f"pairs ({pairs}) must be a multiple of batch_size ({batch_size})")
    require_jax_env(env)
    tail = tail_length(env, tail)
    program = functools.partial(
        _fit_value,
        learner,
        env,
        pairs,
        window,
        tail,
        epochs,
        batch_size,
        learning_rate,
        group_envs,
    )
    seeds = jax.tree.leaves(states)[0].shape[0]
    params, train_nmse = jax.jit(jax.vmap(program, in_axes=(0, 0, None)))(
        states, jax.random.split(key, seeds), env_params
    )
    return params, {"train_nmse": np.asarray(train_nmse)}


def _fit_value(
    learner: Learner,
    env: JaxEnv,
    pairs: int,
    window: int,
    tail: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    group_envs: int,
    state: Any,
    key: jax.Array,
    env_params: Any,
) -> tuple[Any, jax.Array]:
    key_data, key_init, key_fit = jax.random.split(key, 3)
    num_envs = pairs // window
    group = min(group_envs, num_envs)
    critic = learner.critic(state)

    def dataset(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        rollout = collect(
            learner, state, learner.actor(state), env, env_params, key, group, window + tail
        )
        values = values_of(learner, critic, rollout)
        returns = values[0][:window] + advantages(
            learner, state, rollout, values, window, "episode", 1.0
        )
        return rollout.x[:window], returns

    x, returns = jax.lax.map(dataset, jax.random.split(key_data, -(-num_envs // group)))
    x = jnp.swapaxes(x, 1, 2).reshape(-1, *x.shape[3:])[:pairs]
    returns = jnp.swapaxes(returns, 1, 2).reshape(-1)[:pairs]
    mean, std = jnp.mean(returns), jnp.std(returns) + 1e-8
    targets = (returns - mean) / std

    params = learner.value_net.init(key_init, x[:1])
    # Decayed to 0, so the last iterate settles instead of jittering around the fit.
    steps = epochs * (pairs // batch_size)
    optimizer = optax.adam(optax.linear_schedule(learning_rate, 0.0, steps))

    def epoch(carry: tuple, key: jax.Array) -> tuple[tuple, None]:
        order = jax.random.permutation(key, pairs).reshape(-1, batch_size)

        def step(carry: tuple, idx: jax.Array) -> tuple[tuple, None]:
            params, opt_state = carry
            grads = jax.grad(lambda p: jnp.mean((learner.value(p, x[idx]) - targets[idx]) ** 2))(
                params
            )
            updates, opt_state = optimizer.update(grads, opt_state)
            return (optax.apply_updates(params, updates), opt_state), None

        return jax.lax.scan(step, carry, order)[0], None

    (params, _), _ = jax.lax.scan(
        epoch, (params, optimizer.init(params)), jax.random.split(key_fit, epochs)
    )
    params = _unstandardize(params, mean, std)
    return params, nmse(learner.value(params, x), returns)


def _unstandardize(params: dict, mean: jax.Array, std: jax.Array) -> dict:
    """Fold V = mean + std·net(x) into the net's last Dense layer."""
    layers = params["params"]
    last = max(layers, key=lambda name: int(name.rsplit("_", 1)[1]) if "Dense" in name else -1)
    out = dict(layers)
    out[last] = {
        "kernel": layers[last]["kernel"] * std,
        "bias": layers[last]["bias"] * std + mean,
    }
    return {**params, "params": out}


def baseline_variance(
    agent: Any,
    states: Any,
    env: JaxEnv,
    env_params: Any,
    key: jax.Array,
    *,
    fitted: Any,
    sizes: tuple[int, ...] = SIZES[:3],
    num_estimates: int = 10,
    reference_size: int = 2**18,
    lam: float | None = None,
    window: int = 512,
    tail: int | None = None,
    group_envs: int = 64,
) -> dict[str, Any]:
    """Gradient concentration with each baseline in place of the critic, on shared rollouts.

    Args:
        fitted: V* from :func:`fit_value`.
        lam: GAE λ of the estimators; None: the agent's (REINFORCE: Monte-Carlo returns).
        The rest as :func:`rlcheck.diagnostics.gradient.gradient_quality`.

    Returns:
        {"baselines": ("zero", "agent", "fitted"), "sizes", "pairwise_cosine" and
        "cosine_to_true" (seeds, baselines, sizes), "true_vs_true", "refused", "summary"}.
        The reference is the λ = 1 estimator with V* as baseline.
    """
    learner = learner_for(agent)
    estimators: list[Estimator] = []
    for baseline in BASELINES:
        estimator = own_estimator(learner, baseline)
        if lam is not None:
            estimator = estimator._replace(lam=lam)
        estimators.append(estimator)
    out = concentration_over_seeds(
        learner,
        states,
        env,
        env_params,
        key,
        estimators=tuple(estimators),
        reference=reference_estimator("fitted"),
        sizes=sizes,
        num_estimates=num_estimates,
        reference_size=reference_size,
        window=window,
        tail=tail,
        group_envs=group_envs,
        fitted=fitted,
    )
    out["baselines"] = BASELINES
    out["sizes"] = np.asarray(sizes)
    out["summary"] = {
        "pairwise_cosine": over_seeds(out["pairwise_cosine"]),
        "cosine_to_true": over_seeds(out["cosine_to_true"]),
        "true_vs_true": over_seeds(out["true_vs_true"]),
    }
    return out
