"""Writes the import fixtures with the real writers: Stable-Baselines3's Monitor, EvalCallback
and logger, and PyTorch's SummaryWriter as CleanRL calls it. Not run by the tests (they read
the files it wrote, committed beside it); rerun by hand to regenerate them:

    python -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install torch==2.13.0 stable-baselines3 tensorboard pandas matplotlib
    /tmp/fixvenv/bin/python tests/data/import/make_fixtures.py

Beside the files, ``expected.json`` holds what each writer was given or, for the Monitor files,
what SB3's own reader (``load_results`` + ``ts2xy``) makes of them: the numbers an importer must
reproduce.
"""

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.results_plotter import load_results, ts2xy
from torch.utils.tensorboard import SummaryWriter

HERE = Path(__file__).parent
ENV = "CartPole-v1"
STEPS = 4096


class EpisodeMeans(BaseCallback):
    """What SB3's logger writes as rollout/ep_rew_mean after each rollout: the mean return of
    the last 100 episodes, at num_timesteps."""

    def __init__(self) -> None:
        super().__init__()
        self.points: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.ep_info_buffer
        if buffer:
            mean = float(np.mean([e["r"] for e in buffer]))
            self.points.append((int(self.model.num_timesteps), mean))


def zoo_runs(expected: dict) -> None:
    """RL Baselines3 Zoo's layout: logs/ALGO/ENV_ID/{rank}.monitor.csv and evaluations.npz
    (rl_zoo3's ExperimentManager: make_vec_env(monitor_dir=save_path), EvalCallback(log_path=
    save_path)); SB3's TensorBoard files under logs/tensorboard/ENV/ALGO_ID."""
    root = HERE / "zoo" / "logs"
    for algo, cls, kwargs in (
        ("ppo", PPO, {"n_steps": 256, "batch_size": 64, "n_epochs": 4}),
        ("a2c", A2C, {}),
    ):
        for run_id, seed in ((1, 11), (2, 12)):
            save_path = root / algo / f"{ENV}_{run_id}"
            env = make_vec_env(ENV, n_envs=2, seed=seed, monitor_dir=str(save_path))
            eval_env = make_vec_env(ENV, n_envs=1, seed=seed + 1000)
            evaluation = EvalCallback(
                eval_env, eval_freq=512, n_eval_episodes=5, log_path=str(save_path), verbose=0
            )
            means = EpisodeMeans()
            model = cls(
                "MlpPolicy",
                env,
                seed=seed,
                tensorboard_log=str(root / "tensorboard" / ENV),
                verbose=0,
                **kwargs,
            )
            model.learn(STEPS, callback=[evaluation, means], tb_log_name=algo.upper())
            env.close()
            x, y = ts2xy(load_results(str(save_path)), "timesteps")
            evaluations = np.load(save_path / "evaluations.npz")
            expected[f"zoo/logs/{algo}/{ENV}_{run_id}"] = {
                "algo": algo,
                "env": ENV,
                "seed": run_id,
                "monitor_steps": x.tolist(),
                "monitor_returns": y.tolist(),
                "eval_steps": evaluations["timesteps"].tolist(),
                "eval_returns": evaluations["results"].tolist(),
            }
            expected[f"zoo/logs/tensorboard/{ENV}/{algo.upper()}_{run_id}"] = {
                "algo": algo,
                "env": ENV,
                "seed": run_id,
                "tag": "rollout/ep_rew_mean",
                "steps": [s for s, _ in means.points],
                "values": [v for _, v in means.points],
            }


def cleanrl_runs(expected: dict) -> None:
    """CleanRL's logging (cleanrl/ppo.py): runs/{env_id}__{exp_name}__{seed}__{time}, one
    charts/episodic_return and charts/episodic_length per finished episode at global_step,
    from gymnasium's RecordEpisodeStatistics. A uniformly random policy plays, so the files
    are small and the returns are real CartPole returns."""
    for seed in (1, 2, 3):
        run = HERE / "cleanrl" / "runs" / f"{ENV}__ppo__{seed}__{1700000000 + seed}"
        writer = SummaryWriter(str(run))
        writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n|seed|{seed}|")
        envs = gym.vector.SyncVectorEnv(
            [lambda: gym.wrappers.RecordEpisodeStatistics(gym.make(ENV)) for _ in range(2)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )
        envs.reset(seed=seed)
        envs.action_space.seed(seed)
        points = []
        for step in range(1, 1001):
            global_step = step * envs.num_envs
            _, _, _, _, infos = envs.step(envs.action_space.sample())
            if "final_info" in infos:
                final = infos["final_info"]
                for i in np.flatnonzero(final.get("_episode", [])):
                    episodic_return = float(final["episode"]["r"][i])
                    writer.add_scalar("charts/episodic_return", episodic_return, global_step)
                    writer.add_scalar(
                        "charts/episodic_length", final["episode"]["l"][i], global_step
                    )
                    points.append((global_step, episodic_return))
            if step % 100 == 0:
                writer.add_scalar("charts/SPS", 1000.0 + step, global_step)
        writer.close()
        envs.close()
        expected[f"cleanrl/runs/{run.name}"] = {
            "algo": "ppo",
            "env": ENV,
            "seed": seed,
            "tag": "charts/episodic_return",
            "steps": [s for s, _ in points],
            "values": [v for _, v in points],
        }


def main() -> None:
    for folder in ("zoo", "cleanrl"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    expected: dict = {}
    zoo_runs(expected)
    cleanrl_runs(expected)
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
