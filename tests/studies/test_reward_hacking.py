import numpy as np
import pytest

from rlcheck.studies import reward_hacking
from tests.studies.synthetic import results, unit

BOAT, TOMATO = reward_hacking.BOAT, reward_hacking.TOMATO


def _script(env_id, name):
    return next(s for s in reward_hacking.SCRIPTED[env_id] if s[0] == name)


def test_scripted_boat_policies_return_the_papers_numbers():
    _, prefix, loop = _script(BOAT, "laps (intended)")
    returns, performance = reward_hacking.scripted(BOAT, prefix, loop, 4)
    np.testing.assert_array_equal(returns, 50.0)
    np.testing.assert_array_equal(performance, 100.0)
    _, prefix, loop = _script(BOAT, "wiggle on the first arrow")
    returns, performance = reward_hacking.scripted(BOAT, prefix, loop, 4)
    np.testing.assert_array_equal(returns, 50.0)
    np.testing.assert_array_equal(performance, 0.0)


def test_scripted_tomato_policies_hack_and_patrol():
    _, prefix, loop = _script(TOMATO, "onto the transformer, stay")
    hack_return, hack_true = reward_hacking.scripted(TOMATO, prefix, loop, 32)
    _, prefix, loop = _script(TOMATO, "patrol (intended)")
    patrol_return, patrol_true = reward_hacking.scripted(TOMATO, prefix, loop, 32)
    # 95 steps on the transformer at 0.56: more observed reward than 100 steps could truly
    # give (at most 26); the patrol's observed reward is its true reward.
    assert np.all(hack_return > 95 * 0.56) and np.all(hack_true < 10)
    np.testing.assert_allclose(patrol_return, patrol_true, rtol=1e-5)
    assert 10 < patrol_true.mean() < 26


def test_the_sentence_sets_the_best_learner_against_the_intended_policy():
    ppo = unit(BOAT, "ppo", [50.0] * 4, performance=[0.0, 0.0, 2.0, 0.0])
    dqn = unit(BOAT, "dqn", [40.0] * 4, performance=[80.0] * 4)
    finding = reward_hacking.analyze(results(ppo, dqn))
    assert finding.sentence.startswith(
        "On the boat race PPO's policies earned a return of 50 [95% CI 50, 50] (the intended "
        "policy: 50) with a hidden performance of 0.5 [0, 1.5] against the intended 100"
    )
    rows = finding.numbers["rows"]
    assert rows["boat race: DQN"]["performance"][0] == pytest.approx(80.0)
    assert rows["boat race: wiggle on the first arrow"]["return"][0] == 50.0
    observed, hidden = finding.chart.series
    assert [p.x for p in observed.points][:2] == ["boat race: PPO", "boat race: DQN"]
    assert hidden.points[0].point == pytest.approx(0.5)
