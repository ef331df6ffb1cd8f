from rlcheck.studies import black_box_search
from tests.studies.synthetic import results, unit


def test_each_env_compares_its_best_search_method_with_its_best_rl_method():
    units = [
        unit("gymnax:CartPole-v1", "ars", [500.0] * 4),
        unit("gymnax:CartPole-v1", "cma_es", [400.0] * 4),
        unit("gymnax:CartPole-v1", "ppo", [100.0, 200.0, 300.0, 400.0]),
        unit("gymnax:CartPole-v1", "dqn", [50.0] * 4),
        unit("gymnax:Pendulum-v1", "ars", [-1000.0] * 4),
        unit("gymnax:Pendulum-v1", "cma_es", [-1100.0] * 4),
        unit("gymnax:Pendulum-v1", "td3", [-150.0] * 4),
    ]
    finding = black_box_search.analyze(results(*units))
    assert finding.sentence == (
        "At the same env-step budget, ARS beat PPO, the better RL method, on CartPole-v1 "
        "(1k env steps: P(ARS > PPO) = 1 [95% CI 1, 1]); ARS lost to TD3, the better RL "
        "method, on Pendulum-v1 (1k env steps: P(ARS > TD3) = 0 [95% CI 0, 0])."
    )
    # CMA-ES against PPO: 400 beats 100, 200 and 300 and ties 400: (3 + ½) / 4.
    assert finding.numbers["CartPole-v1: CMA-ES vs PPO"]["p_a_beats_b"] == 0.875
    assert len(finding.chart.series) == 2  # one series per search method


def test_overlapping_returns_are_not_told_apart():
    units = [
        unit("gymnax:CartPole-v1", "ars", [100.0, 300.0, 200.0, 400.0]),
        unit("gymnax:CartPole-v1", "ppo", [150.0, 250.0, 350.0, 120.0]),
    ]
    finding = black_box_search.analyze(results(*units))
    assert "ARS could not be told apart from PPO" in finding.sentence
