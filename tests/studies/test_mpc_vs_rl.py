import numpy as np

from rlcheck.studies import mpc_vs_rl
from tests.studies.synthetic import results, unit

PENDULUM = "gymnax:Pendulum-v1"
STEPS = [5_000, 10_000, 15_000, 20_000]


def _td3(wall_s=12.0):
    curves = np.array([[-1200.0, -800.0, -400.0, -300.0]] * 4)
    return unit(
        PENDULUM, "td3", [-300.0] * 4, budget=20_000, curves=curves, steps=STEPS, wall_s=wall_s
    )


def test_the_checkpoint_reached_at_a_wall_time_spreads_run_time_over_env_steps():
    td3 = _td3()  # compile 2 s, then 10 s for 20k steps: checkpoints at 4.5, 7, 9.5, 12 s
    assert mpc_vs_rl.at_wall_time(td3, 8.0) == 1
    assert mpc_vs_rl.at_wall_time(td3, 12.0) == 3
    assert mpc_vs_rl.at_wall_time(td3, 3.0) is None


def test_mpc_against_rl_at_equal_budget_and_equal_wall_time():
    cem = unit(PENDULUM, "cem", [-150.0] * 4, simulator_calls=[10**6] * 4, wall_s=8.0)
    finding = mpc_vs_rl.analyze(results(_td3(), cem))
    assert finding.sentence == (
        "On Pendulum-v1 CEM-MPC with the true model and no training beat TD3 trained on 20k env "
        "steps (P(MPC > TD3) = 1 [95% CI 1, 1]; mean returns -150 vs -300), and in the 8 s MPC "
        "took TD3 had reached -800 after 10k env steps."
    )
    early = finding.numbers["Pendulum-v1"]["td3"]["at_mpc_wall_time"]
    assert early["checkpoint_env_steps"] == 10_000


def test_rl_that_had_not_evaluated_yet_is_said_so():
    cem = unit(PENDULUM, "cem", [-400.0] * 4, simulator_calls=[10**6] * 4, wall_s=1.0)
    finding = mpc_vs_rl.analyze(results(_td3(), cem))
    assert "CEM-MPC with the true model and no training lost to TD3" in finding.sentence
    assert "TD3 had not reached its first evaluation" in finding.sentence


def test_mujoco_joins_the_full_version_only_when_installed(monkeypatch):
    scale = mpc_vs_rl.STUDY.scale(quick=False)
    monkeypatch.setattr(mpc_vs_rl, "mujoco_installed", lambda: True)
    assert any("HalfCheetah" in s["env"][0]["id"] for s in mpc_vs_rl.specs(scale))
    monkeypatch.setattr(mpc_vs_rl, "mujoco_installed", lambda: False)
    assert not any("HalfCheetah" in s["env"][0]["id"] for s in mpc_vs_rl.specs(scale))
    quick = mpc_vs_rl.specs(mpc_vs_rl.STUDY.scale(quick=True))
    assert not any("HalfCheetah" in s["env"][0]["id"] for s in quick)
