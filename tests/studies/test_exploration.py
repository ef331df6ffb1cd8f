import numpy as np

from rlcheck.studies import exploration
from tests.studies.synthetic import results, unit

STEPS = [10, 20]


def _deepsea(algo, size, hits):
    """4 seeds; seed i's greedy policy found the treasure at its last checkpoint iff hits[i]."""
    curves = np.array([[0.0, 0.99 if h else 0.0] for h in hits])
    env = exploration.label(size)
    return unit("gymnax:DeepSea-bsuite", algo, [0.0] * 4, env=env, curves=curves, steps=STEPS)


def test_a_seed_reached_the_goal_if_any_evaluation_episode_did():
    u = _deepsea("ppo", 5, [True, False, False, True])
    np.testing.assert_array_equal(exploration.reached(u, 0.5), [True, False, False, True])
    final = np.zeros((4, 4))
    final[1, 2] = 0.99  # one final episode of seed 1
    u = unit("gymnax:DeepSea-bsuite", "ppo", [0.0] * 4, final_episodes=final)
    np.testing.assert_array_equal(exploration.reached(u, 0.5), [False, True, False, False])


def test_the_sentence_follows_the_best_explorer_from_the_smallest_to_the_largest_size():
    units = [
        _deepsea("ppo", 5, [True] * 4),
        _deepsea("ppo", 15, [False] * 4),
        _deepsea("dqn", 5, [True, True, False, False]),
        _deepsea("dqn", 15, [True, False, False, False]),
        unit(
            "gymnax:MountainCar-v0",
            "ppo",
            [-200.0] * 4,
            curves=np.array([[-200.0, -150.0]] + [[-200.0, -200.0]] * 3),
            steps=STEPS,
        ),
    ]
    finding = exploration.analyze(results(*units))
    # Wilson interval of 1/4 at 95%: [0.046, 0.70].
    assert finding.sentence == (
        "The share of DQN seeds (the best explorer here) whose greedy policy ever reached the "
        "DeepSea treasure went from 2/4 at size 5 to 1/4 at size 15 (25%, 95% CI 5%–70%); on "
        "MountainCar-v0 1/4 PPO seeds ever reached the flag (25%, 5%–70%)."
    )
    ppo = finding.chart.series[0]
    assert [(p.x, p.point) for p in ppo.points] == [(5.0, 1.0), (15.0, 0.0)]
    assert ppo.points[1].high > 0.4  # 0/4 does not rule out 49%


def test_bsuite_sizes_and_episodes():
    quick = exploration.specs(exploration.STUDY.scale(quick=True))
    deepsea = [s for s in quick if s["env"][0]["id"] == "DeepSea-bsuite"]
    assert [s["env"][0]["kwargs"]["size"] for s in deepsea] == [5, 10, 15]
    assert [s["budget"] for s in deepsea] == [10_000, 20_000, 30_000]  # 2,000 episodes each
    full = exploration.specs(exploration.STUDY.scale(quick=False))
    assert full[-2]["budget"] == 10_000 * 30  # bsuite's 10,000 episodes at size 30


def test_a_tie_at_the_largest_size_goes_to_the_better_explorer_below_it():
    units = [
        _deepsea("ppo", 5, [True] * 4),
        _deepsea("ppo", 10, [True, False, False, False]),
        _deepsea("ppo", 15, [False] * 4),
        _deepsea("dqn", 5, [True] * 4),
        _deepsea("dqn", 10, [True, True, True, False]),
        _deepsea("dqn", 15, [False] * 4),
    ]
    finding = exploration.analyze(results(*units))
    assert finding.sentence.startswith("The share of DQN seeds (the best explorer here)")
    assert "went from 4/4 at size 5 to 0/4 at size 15 (0%, 95% CI 0%–49%)" in finding.sentence
