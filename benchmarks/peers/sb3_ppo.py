"""Peer benchmark: Stable-Baselines3 PPO on gymnasium CartPole-v1, one training process per core."""

# Hyperparameters, CleanRL `ppo.py` name -> SB3 2.x `PPO(...)` keyword:
#   num_envs=4              -> n_envs=4 in make_vec_env, with DummyVecEnv (envs stepped in-process)
#   num_steps=128           -> n_steps=128
#   num_minibatches=4       -> batch_size=128 (= 4 * 128 / 4; SB3 takes the size, not the count)
#   update_epochs=4         -> n_epochs=4
#   learning_rate=2.5e-4    -> learning_rate=`annealed_lr`, a function of SB3's progress_remaining
#   anneal_lr=True             (1 -> 0), updated once per rollout like CleanRL's per-iteration frac
#   gamma, gae_lambda       -> gamma=0.99, gae_lambda=0.95
#   clip_coef=0.2           -> clip_range=0.2
#   clip_vloss=True         -> clip_range_vf=0.2 (SB3 default is None: no value clipping)
#   norm_adv=True           -> normalize_advantage=True
#   ent_coef, vf_coef       -> ent_coef=0.01, vf_coef=0.5
#   max_grad_norm=0.5       -> max_grad_norm=0.5 (global norm over all parameters, as CleanRL)
#   64x64 tanh actor/critic -> SB3's MlpPolicy default: separate pi/vf [64, 64] Tanh, orthogonal
#                              init, Adam eps=1e-5 (stated explicitly below)
# Differences from CleanRL that SB3 2.9 does not let us configure (they change learning, not the
# cost of a step, and this script measures only throughput):
#   - Value clipping uses the clipped prediction alone, not max(clipped, unclipped) loss, and the
#     value loss is a plain MSE where CleanRL halves it, so vf_coef=0.5 weighs it twice as much.
#   - On a time-limit truncation SB3 bootstraps from V(terminal_obs); CleanRL treats it as done.

import argparse
import json
import multiprocessing as mp
import os
import time

LEARNING_RATE = 2.5e-4
N_ENVS = 4
N_STEPS = 128


def annealed_lr(progress_remaining: float) -> float:
    return LEARNING_RATE * progress_remaining


def train_one(seed: int, total_timesteps: int, barrier, results) -> None:
    """Trains one PPO agent and puts its training-only timing on `results`."""
    # Imported here, after the thread limit, so each process uses exactly one core.
    import torch

    torch.set_num_threads(1)
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=seed, vec_env_cls=DummyVecEnv)
    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=annealed_lr,
        n_steps=N_STEPS,
        batch_size=N_ENVS * N_STEPS // 4,
        n_epochs=4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        clip_range_vf=0.2,
        normalize_advantage=True,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={
            "net_arch": {"pi": [64, 64], "vf": [64, 64]},
            "activation_fn": torch.nn.Tanh,
            "ortho_init": True,
            "optimizer_kwargs": {"eps": 1e-5},
        },
        device="cpu",
        seed=seed,
        verbose=0,
    )
    # Both processes start learning together, so the aggregate rate is for cores busy at once.
    barrier.wait()
    start = time.monotonic()
    model.learn(total_timesteps=total_timesteps)
    end = time.monotonic()
    episode_returns = [info["r"] for info in model.ep_info_buffer]
    results.put(
        {
            "seed": seed,
            "env_steps": int(model.num_timesteps),
            "train_s": end - start,
            "start": start,
            "end": end,
            # Returns of the last 100 training episodes: a check that it learned, not an eval.
            "last_100_train_episode_return": sum(episode_returns) / max(len(episode_returns), 1),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--total-timesteps", type=int, default=200_000, help="env steps per process"
    )
    parser.add_argument(
        "--num-procs", type=int, default=os.cpu_count(), help="training processes, one per core"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first process")
    args = parser.parse_args()
    t_start = time.monotonic()

    # spawn, not fork: each child imports torch fresh and sets its own thread count.
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.num_procs)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=train_one, args=(args.seed + i, args.total_timesteps, barrier, results))
        for i in range(args.num_procs)
    ]
    for proc in procs:
        proc.start()
    per_process = sorted((results.get() for _ in procs), key=lambda r: r["seed"])
    for proc in procs:
        proc.join()
    t_end = time.monotonic()

    import stable_baselines3
    import torch

    total_steps = sum(r["env_steps"] for r in per_process)
    span_s = max(r["end"] for r in per_process) - min(r["start"] for r in per_process)
    result = {
        "peer": "stable-baselines3",
        "sb3_version": stable_baselines3.__version__,
        "torch_version": torch.__version__,
        "env": "CartPole-v1",
        "num_procs": args.num_procs,
        "per_process": [
            {
                "seed": r["seed"],
                "env_steps": r["env_steps"],
                "train_s": round(r["train_s"], 2),
                "env_steps_per_s": round(r["env_steps"] / r["train_s"]),
                "last_100_train_episode_return": round(r["last_100_train_episode_return"], 1),
            }
            for r in per_process
        ],
        "aggregate_env_steps_per_s": round(total_steps / span_s),
        "train_span_s": round(span_s, 2),
        "wall_s": round(t_end - t_start, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
