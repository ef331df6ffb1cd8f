"""Peer benchmark: rejax SAC or TD3 on gymnax Pendulum-v1, many seeds under one jit(vmap(train))."""

# Hyperparameters: rejax's own published Pendulum-v1 configs (configs/gymnax/pendulum.yaml in
# the rejax repository), except the budget and the evaluation, which follow the rlcheck spec
# of the comparison. rlcheck runs the same settings through these Config fields
# (the "rejax" presets in rlcheck/agents/{sac,td3}.py), checked against rejax/algos/{sac,td3}.py,
# mixins.py and networks.py in the venv:
#
# SAC                                   rlcheck sac.Config
#   agent_kwargs.activation=swish       activation="swish"; weight_init="lecun" (flax default)
#   hidden_layer_sizes=(64, 64)         hidden_sizes=(64, 64)  (rejax's default)
#   num_envs=1                          num_envs=1, train_frequency=1, gradient_steps=1
#                                       (num_epochs)
#   buffer_size=10_000                  buffer_size=10_000
#   fill_buffer=256                     learning_starts=256 (both train once global_step > it)
#   batch_size=256                      batch_size=256
#   learning_rate=0.01                  actor/critic/alpha_learning_rate=0.01 (one optax tx)
#   gamma=0.99                          gamma=0.99
#   polyak=0.98                         tau=0.02 (target ← 0.98·target + 0.02·online each step)
#   target_entropy (−action_dim)        target_entropy=−1 + log 2 (see action_units)
#   log α starts at 0                   alpha_init=1.0, autotune=True
#   loss −α·(log π + H̄)                 alpha_loss="alpha"
#   log-std clipped to [−10, 2]         log_std_mode="clip", log_std_min=−10, log_std_max=2
#   distrax Tanh bijector (exact)       squash_epsilon=None
#   normalize_observations=true         normalize_obs=True, obs_clip=1e6 (rejax does not clip)
#   acts with the policy from step 0    random_until_learning_starts=False
#   critic takes env-scaled actions     action_units="env"; but rejax's log π is in [-1, 1]
#                                       units, ours then in env units: for Pendulum's ±2 box
#                                       ours is log 2 lower, so rejax's H̄ = −1 is ours
#                                       −1 + log 2 (the α step then matches exactly)
#   max_grad_norm=inf (default)         max_grad_norm=None
#   update order actor, critic, α       update_order="actor_first" (same minibatch; the
#                                       critic's target samples the stepped actor, old α)
#
# TD3                                   rlcheck td3.Config
#   actor/critic activation=swish       activation="swish"; weight_init="lecun"
#   (64, 64) fixed by rejax             hidden_sizes=(64, 64)
#   buffer_size=10_000                  buffer_size=10_000
#   fill_buffer=1000                    learning_starts=1000 (uniform actions before, as ours)
#   batch_size=100                      batch_size=100
#   learning_rate=0.001                 actor_learning_rate=critic_learning_rate=0.001
#   gamma=0.99, polyak=0.95             gamma=0.99, tau=0.05
#   policy_delay=2                      policy_delay=2 (critic every step; actor and targets
#                                       every 2nd)
#   exploration_noise=0.3 (env units)   noise_std=0.15 ([-1, 1] units; Pendulum's half-range 2)
#   target_noise=0.2, clip 0.5 (env)    target_policy_noise=0.1, target_noise_clip=0.25
#   normalize_observations=true         normalize_obs=True, obs_clip=1e6
#   critic takes env-scaled actions     action_units="env"
#   max_grad_norm=100                   max_grad_norm=None: rejax clips each gradient element
#                                       to ±100 (optax.clip), which Pendulum's gradients never
#                                       reach; rlcheck only has global-norm clipping
#
# Differences rejax 0.1.3 does not let us configure: minibatches are sampled without
# replacement (ours: with, as SB3 and CleanRL); its SAC evaluates the stochastic policy (ours:
# the mean action); rejax evaluates 8 episodes at each of 20 checkpoints and reports the last,
# rlcheck additionally plays 32 final episodes per seed.

import argparse
import json
import time
from importlib.metadata import version

import jax
import jax.numpy as jnp
import numpy as np
import rejax
from rejax.evaluate import evaluate
from scipy.stats import trim_mean

CONFIGS = {
    "sac": {
        "env": "Pendulum-v1",
        "agent_kwargs": {"activation": "swish"},
        "num_envs": 1,
        "buffer_size": 10_000,
        "fill_buffer": 256,
        "batch_size": 256,
        "learning_rate": 0.01,
        "num_epochs": 1,
        "gamma": 0.99,
        "polyak": 0.98,
        "normalize_observations": True,
    },
    "td3": {
        "env": "Pendulum-v1",
        "actor_kwargs": {"activation": "swish"},
        "critic_kwargs": {"activation": "swish"},
        "num_envs": 1,
        "buffer_size": 10_000,
        "fill_buffer": 1000,
        "batch_size": 100,
        "learning_rate": 0.001,
        "num_epochs": 1,
        "gamma": 0.99,
        "polyak": 0.95,
        "max_grad_norm": 100,
        "exploration_noise": 0.3,
        "target_noise": 0.2,
        "target_noise_clip": 0.5,
        "policy_delay": 2,
        "normalize_observations": True,
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algo", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--num-seeds", type=int, default=16, help="seeds trained in one vmap")
    parser.add_argument("--total-timesteps", type=int, default=20_000, help="env steps per seed")
    parser.add_argument("--num-evals", type=int, default=20, help="evaluation checkpoints")
    parser.add_argument("--eval-episodes", type=int, default=8, help="episodes per checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="root PRNG seed")
    return parser.parse_args()


def make_eval_callback(num_episodes: int):
    """rejax's own evaluation (`rejax.evaluate.evaluate`) with fewer episodes than its 128."""

    def eval_callback(algo, train_state, rng):
        act = algo.make_act(train_state)
        max_steps = algo.env_params.max_steps_in_episode
        return evaluate(act, rng, algo.env, algo.env_params, num_episodes, max_steps)

    return eval_callback


def main() -> None:
    args = parse_args()
    t_start = time.perf_counter()
    algo_cls = rejax.get_algo(args.algo)
    algo = algo_cls.create(
        **CONFIGS[args.algo],
        total_timesteps=args.total_timesteps,
        eval_freq=args.total_timesteps // args.num_evals,
        # Otherwise rejax adds an evaluation of the untrained policy: 21 instead of 20.
        skip_initial_evaluation=True,
    )
    algo = algo.replace(eval_callback=make_eval_callback(args.eval_episodes))

    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.num_seeds)
    train = jax.jit(jax.vmap(algo.train))
    t_compile = time.perf_counter()
    compiled = train.lower(keys).compile()
    t_run = time.perf_counter()
    train_state, (_, returns) = compiled(keys)
    returns = np.asarray(jax.block_until_ready(returns))
    t_end = time.perf_counter()

    # returns: (num_seeds, num_evals, eval_episodes)
    final_returns = returns[:, -1, :].mean(axis=-1)
    steps_per_seed = int(jnp.asarray(train_state.global_step)[0])
    result = {
        "peer": "rejax",
        "algo": args.algo,
        "rejax_version": version("rejax"),
        "jax_version": jax.__version__,
        "env": CONFIGS[args.algo]["env"],
        "num_seeds": args.num_seeds,
        "env_steps_per_seed": steps_per_seed,
        "num_evals": int(returns.shape[1]),
        "eval_episodes": int(returns.shape[2]),
        "wall_s": round(t_end - t_start, 2),
        "build_s": round(t_compile - t_start, 2),
        "compile_s": round(t_run - t_compile, 2),
        "run_s": round(t_end - t_run, 2),
        "final_returns": [round(float(r), 1) for r in final_returns],
        "iqm_final_return": round(float(trim_mean(final_returns, 0.25)), 1),
        "mean_return_per_eval": [round(float(r), 1) for r in returns.mean(axis=(0, 2))],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
