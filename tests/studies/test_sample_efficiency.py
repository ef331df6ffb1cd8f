import numpy as np
import pytest

from rlcheck.studies import sample_efficiency
from tests.studies.synthetic import results, unit

CARTPOLE = "gymnax:CartPole-v1"
STEPS = [100, 200, 300, 400]


def _ppo():
    # Seeds first reach 475 at 200, 200 and 300 env steps; the last never does.
    curves = np.array(
        [[100, 480, 500, 500], [300, 475, 470, 500], [20, 60, 490, 500], [10, 20, 30, 40.0]]
    )
    return unit(CARTPOLE, "ppo", curves[:, -1], curves=curves, steps=STEPS, threshold=475.0)


def test_steps_to_solve_is_the_first_checkpoint_at_the_threshold_and_never_is_infinite():
    steps = sample_efficiency.steps_to_solve(_ppo())
    np.testing.assert_array_equal(steps, [200, 200, 300, np.inf])


def test_the_sentence_sets_the_learners_median_against_the_planners_calls():
    lqr = unit(
        CARTPOLE,
        "lqr",
        [500.0] * 4,
        simulator_calls=[40] * 4,
        final_episodes=np.full((4, 8), 500.0),
        threshold=475.0,
    )
    finding = sample_efficiency.analyze(results(_ppo(), lqr))
    ppo = finding.numbers["CartPole-v1: PPO"]
    assert ppo["median_env_steps"] == 250.0 and ppo["reached"] == 3
    assert ppo["low"] <= 200 and ppo["high"] == np.inf  # a quarter of the seeds never got there
    assert finding.numbers["CartPole-v1: LQR"]["simulator_calls_per_seed"] == 40.0
    assert finding.sentence.startswith(
        "To first reach 475 on CartPole-v1 PPO needed a median 250 env steps [95% CI 200, "
    )
    assert "(3/4 seeds got there)" in finding.sentence
    assert (
        "LQR with the true model reached it in 4/4 seeds with no env step and 40 simulator "
        "calls per seed over its 8 episodes" in finding.sentence
    )


def test_a_learner_that_mostly_never_solves_is_not_given_a_median():
    curves = np.full((4, 4), 10.0)
    ppo = unit(CARTPOLE, "ppo", curves[:, -1], curves=curves, steps=STEPS, threshold=475.0)
    finding = sample_efficiency.analyze(results(ppo))
    assert "more than its 1k-step budget in most seeds (0/4 seeds got there)" in finding.sentence


def test_pendulum_gets_its_threshold_in_the_spec():
    specs = sample_efficiency.specs(sample_efficiency.STUDY.scale(quick=True))
    pendulum = [s for s in specs if s["env"][0]["id"] == "Pendulum-v1"]
    assert all(s["env"][0]["solve_threshold"] == pytest.approx(-200.0) for s in pendulum)
    planners = {a["name"] for s in specs for a in s["algo"] if s["eval"]["checkpoints"] == 1}
    assert planners == {"lqr", "mcts", "cem"}
