"""Peer benchmark: rejax PPO on gymnax CartPole-v1, many seeds under one jit(vmap(train))."""

# Hyperparameters, CleanRL `ppo.py` name -> rejax 0.1.3 `PPO.create` keyword (checked against
# rejax/algos/ppo.py, rejax/algos/mixins.py and rejax/algos/algorithm.py in the venv):
#   num_envs=4              -> num_envs=4
#   num_steps=128           -> num_steps=128
#   num_minibatches=4       -> num_minibatches=4
#   update_epochs=4         -> num_epochs=4
#   learning_rate=2.5e-4    -> learning_rate=<schedule>; rejax has no anneal flag, but the value
#   anneal_lr=True             goes straight into optax.adam, which accepts a schedule (see
#                              `cleanrl_annealed_lr`)
#   gamma=0.99              -> gamma=0.99
#   gae_lambda=0.95         -> gae_lambda=0.95
#   clip_coef=0.2           -> clip_eps=0.2 (rejax uses it for the value clip too, as CleanRL does)
#   clip_vloss=True         -> always on in rejax (PPO.update_critic)
#   norm_adv=True           -> always on in rejax, per minibatch (PPO.update_actor)
#   ent_coef=0.01           -> ent_coef=0.01
#   vf_coef=0.5             -> vf_coef=0.5
#   max_grad_norm=0.5       -> max_grad_norm=0.5, but see the differences below
#   target_kl=None          -> no such option in rejax
#   64x64 tanh actor/critic -> agent_kwargs={"activation": "tanh", "hidden_layer_sizes": (64, 64)}
#                              (rejax's default activation is swish)
# Differences from CleanRL that rejax 0.1.3 does not let us configure:
#   - max_grad_norm is applied with optax.clip, i.e. each gradient *element* is clipped to
#     [-0.5, 0.5], not the global norm; actor and critic have separate Adam optimizers, so the
#     two losses are not summed before clipping.
#   - Adam eps is optax's 1e-8 (CleanRL: 1e-5); layers use flax's lecun-normal init (CleanRL:
#     orthogonal with gain sqrt(2), 0.01 for the policy head, 1 for the value head).
#   - Evaluation samples from the policy (DiscretePolicy.act), it does not take the argmax.

import argparse
import json
import math
import time
from importlib.metadata import version

import jax
import jax.numpy as jnp
import numpy as np
import rejax
from rejax.evaluate import evaluate
from scipy.stats import trim_mean

CLEANRL_PPO = {
    "env": "CartPole-v1",
    "num_envs": 4,
    "num_steps": 128,
    "num_minibatches": 4,
    "num_epochs": 4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_eps": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "normalize_observations": False,
    "normalize_rewards": False,
    "agent_kwargs": {"activation": "tanh", "hidden_layer_sizes": (64, 64)},
}
LEARNING_RATE = 2.5e-4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-seeds", type=int, default=16, help="seeds trained in one vmap")
    parser.add_argument("--total-timesteps", type=int, default=500_000, help="env steps per seed")
    parser.add_argument("--num-evals", type=int, default=20, help="evaluation checkpoints")
    parser.add_argument("--eval-episodes", type=int, default=8, help="episodes per checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="root PRNG seed")
    return parser.parse_args()


def cleanrl_annealed_lr(updates_per_iteration: int, num_iterations: int):
    """CleanRL's `anneal_lr`: constant within an iteration, falling linearly to ~0 at the end.

    Optax counts optimizer updates, so the update count is turned back into an iteration
    index; a plain optax.linear_schedule would also decay between minibatches of one iteration.
    """

    def schedule(count):
        iteration = count // updates_per_iteration
        return LEARNING_RATE * (1.0 - iteration / num_iterations)

    return schedule


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

    # rejax runs ceil(total_timesteps / eval_freq) evaluation blocks, each of
    # ceil(eval_freq / (num_envs * num_steps)) whole iterations, so it may round the budget up.
    eval_freq = args.total_timesteps // args.num_evals
    steps_per_iteration = CLEANRL_PPO["num_envs"] * CLEANRL_PPO["num_steps"]
    num_blocks = math.ceil(args.total_timesteps / eval_freq)
    num_iterations = num_blocks * math.ceil(eval_freq / steps_per_iteration)
    learning_rate = cleanrl_annealed_lr(
        CLEANRL_PPO["num_epochs"] * CLEANRL_PPO["num_minibatches"], num_iterations
    )

    algo = rejax.PPO.create(
        **CLEANRL_PPO,
        learning_rate=learning_rate,
        total_timesteps=args.total_timesteps,
        eval_freq=eval_freq,
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
    total_steps = steps_per_seed * args.num_seeds
    wall_s = t_end - t_start
    run_s = t_end - t_run
    result = {
        "peer": "rejax",
        "rejax_version": version("rejax"),
        "jax_version": jax.__version__,
        "env": CLEANRL_PPO["env"],
        "num_seeds": args.num_seeds,
        "env_steps_per_seed": steps_per_seed,
        "num_iterations": num_iterations,
        "num_evals": int(returns.shape[1]),
        "eval_episodes": int(returns.shape[2]),
        "wall_s": round(wall_s, 2),
        "build_s": round(t_compile - t_start, 2),
        "compile_s": round(t_run - t_compile, 2),
        "run_s": round(run_s, 2),
        "env_steps_per_s": round(total_steps / wall_s),
        "env_steps_per_s_excl_compile": round(total_steps / run_s),
        "final_returns": [round(float(r), 1) for r in final_returns],
        "iqm_final_return": round(float(trim_mean(final_returns, 0.25)), 1),
        "mean_return_per_eval": [round(float(r), 1) for r in returns.mean(axis=(0, 2))],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
