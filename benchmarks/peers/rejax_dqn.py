"""Peer benchmark: rejax DQN on gymnax CartPole-v1, many seeds under one jit(vmap(train))."""

# Hyperparameters: rejax's tuned DQN for CartPole (keraJLi/rejax configs/gymnax/cartpole.yaml,
# the file of the rejax 0.1.3 era), passed to `rejax.DQN.create` unchanged except the evaluation
# schedule. rejax keyword -> rlcheck `dqn` Config field (the `rejax` preset in
# rlcheck/agents/dqn.py), checked against rejax/algos/dqn.py and rejax/algos/mixins.py:
#   num_envs=10                   -> num_envs=10
#   (one env step per iteration)  -> train_frequency=1
#   num_epochs=5                  -> gradient_steps=5 (gradient steps per iteration)
#   batch_size=100                -> batch_size=100
#   buffer_size=50_000            -> buffer_size=50_000
#   fill_buffer=5_000             -> learning_starts=5_000, random_until_learning_starts=True
#                                    (rejax acts uniformly at random until then)
#   learning_rate=0.001           -> learning_rate=1e-3 (Adam, optax's ε 1e-8 = optimizer_eps)
#   max_grad_norm=10              -> max_grad_norm=10, but see the differences below
#   agent=DuelingQNetwork         -> dueling=True
#   activation=swish, (64, 64)    -> activation="swish", hidden_sizes=(64, 64),
#                                    weight_init="lecun" (flax's default init, as rejax)
#   polyak=0.98, target_update_freq=1 (default)
#                                 -> tau=0.02, target_update_interval=10 (every iteration)
#   eps_start=1, eps_end=0.05, exploration_fraction=0.5
#                                 -> start_e=1, end_e=0.05, exploration_fraction=0.5
#   gamma=0.99, ddqn=True         -> gamma=0.99, double_q=True
#   normalize_observations=False  -> (rlcheck's DQN has no observation normalization)
#   total_timesteps=100_000       -> budget 100_000
#   eval_freq=2_500 (40 evals)    -> here 5_000 (20 evals × 8 episodes, rlcheck's defaults)
# Differences rejax 0.1.3 does not let us configure:
#   - max_grad_norm goes to optax.clip: each gradient *element* is clipped to ±10, not the
#     global norm.
#   - The loss is optax.l2_loss, ½·TD² (rlcheck "mse" is TD², CleanRL's; under Adam the factor
#     only rescales ε).
#   - Time-limit truncations are treated as terminations (rlcheck bootstraps from them).
#   - Minibatches are drawn without replacement (rlcheck, CleanRL and SB3: with replacement).
#   - Evaluation is ε-greedy with ε = 0.005 (rlcheck: greedy).

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

REJAX_CARTPOLE_DQN = {
    "env": "CartPole-v1",
    "agent": "DuelingQNetwork",
    "agent_kwargs": {"activation": "swish"},
    "num_envs": 10,
    "buffer_size": 50_000,
    "fill_buffer": 5_000,
    "batch_size": 100,
    "max_grad_norm": 10,
    "learning_rate": 0.001,
    "num_epochs": 5,
    "polyak": 0.98,
    "eps_start": 1,
    "eps_end": 0.05,
    "exploration_fraction": 0.5,
    "gamma": 0.99,
    "ddqn": True,
    "normalize_observations": False,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-seeds", type=int, default=16, help="seeds trained in one vmap")
    parser.add_argument("--total-timesteps", type=int, default=100_000, help="env steps per seed")
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

    algo = rejax.DQN.create(
        **REJAX_CARTPOLE_DQN,
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
    total_steps = steps_per_seed * args.num_seeds
    wall_s = t_end - t_start
    run_s = t_end - t_run
    result = {
        "peer": "rejax",
        "algo": "dqn",
        "rejax_version": version("rejax"),
        "jax_version": jax.__version__,
        "env": REJAX_CARTPOLE_DQN["env"],
        "num_seeds": args.num_seeds,
        "env_steps_per_seed": steps_per_seed,
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
