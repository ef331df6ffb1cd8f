"""The verdict claims "better" only when the CI of P(A > B) excludes 0.5, and says it plainly."""

import copy

import numpy as np
import pytest

from rlcheck import stats
from rlcheck.report.analysis import analyze
from rlcheck.report.verdict import env_verdict, success_phrase
from tests.report.synthetic import open_store, write_failed_unit, write_unit

REPS, BAND_REPS = 2000, 200
CLOSE_A = [2.5, 3.5, 4.5, 5.5]
CLOSE_B = [1.0, 2.0, 3.0, 4.0]


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    store, run_id = open_store(tmp_path_factory.mktemp("results"))
    write_unit(store, run_id, "Clear-v0", "ppo", 100 + np.arange(8.0), threshold=50.0)
    write_unit(store, run_id, "Clear-v0", "random", np.arange(8.0), threshold=50.0)
    write_unit(store, run_id, "Close-v0", "ppo", CLOSE_A, label="a")
    write_unit(store, run_id, "Close-v0", "ppo", CLOSE_B, label="b")
    write_unit(store, run_id, "Broken-v0", "ppo", 10 + np.arange(8.0), diverged=[3])
    write_unit(store, run_id, "Broken-v0", "random", np.arange(8.0) / 10)
    write_failed_unit(store, run_id, "Broken-v0", "dqn", "RuntimeError: boom")
    analysis = analyze(store, reps=REPS, band_reps=BAND_REPS)
    store.close()
    return {env["env"]: env for env in analysis["envs"]} | {"settings": analysis["settings"]}


def test_success_phrase_turns_the_failure_interval_around():
    low, high = stats.wilson_interval(2, 16)
    rate = {"failures": 2, "n": 16, "rate": 2 / 16, "low": low, "high": high}
    assert success_phrase(rate, 0.95) == (14, 16, "88%, 95% CI 64–97%")


def test_clear_difference_is_claimed(envs):
    env = envs["Clear-v0"]
    (pair,) = env["comparisons"]["pairs"]
    assert pair["p_a_beats_b"]["low"] > 0.5
    text = env["verdict"]["text"]
    assert "ppo reached the solve threshold (50) in 8 of 8 seeds (100%, 95% CI 68–100%)" in text
    assert "random reached the solve threshold (50) in 0 of 8 seeds (0%, 95% CI 0–32%)" in text
    assert "ppo is better than random: P(ppo > random) = 1.00, 95% CI [1.00, 1.00]." in text
    # Two algos: no multiple-comparison correction to mention.
    assert "Holm" not in text
    assert env["verdict"]["short"] == "Clear-v0: ppo 8/8 solved; random 0/8 solved | ppo > random"


def test_overlapping_results_are_not_distinguishable(envs):
    env = envs["Close-v0"]
    (pair,) = env["comparisons"]["pairs"]
    assert pair["p_a_beats_b"]["low"] <= 0.5 <= pair["p_a_beats_b"]["high"]
    needed = stats.seeds_needed(np.array(CLOSE_A), np.array(CLOSE_B), 1.5)
    assert needed is not None and needed > 4
    text = env["verdict"]["text"]
    assert "better than" not in text
    assert "a and b are not distinguishable with 4 seeds (P(a > b) = " in text
    assert (
        f"about {needed} seeds per algo would detect the observed difference in mean final "
        "return (1.5) with 80% power" in text
    )
    assert env["verdict"]["short"].endswith(f"a ≈ b (~{needed} seeds needed)")


def test_claims_follow_the_interval_on_random_data(tmp_path):
    rng = np.random.default_rng(1)
    store, run_id = open_store(tmp_path)
    shifts = [0.0, 0.3, 0.6, 1.0, 1.5, 2.5] * 2
    for i, shift in enumerate(shifts):
        env = f"Env{i}-v0"
        write_unit(store, run_id, env, "ppo", rng.normal(shift, 1.0, 6), label="x")
        write_unit(store, run_id, env, "ppo", rng.normal(0.0, 1.0, 6), label="y")
    analysis = analyze(store, reps=REPS, band_reps=BAND_REPS)
    store.close()
    outcomes = set()
    for env in analysis["envs"]:
        assert len(env["comparisons"]["pairs"]) == 1
        p = env["comparisons"]["matrix"]["x"]["y"]
        excludes = p["low"] > 0.5 or p["high"] < 0.5
        text = env["verdict"]["text"]
        assert ("is better than" in text) == excludes
        assert ("not distinguishable" in text) == (not excludes)
        if excludes:
            winner, loser = ("x", "y") if p["low"] > 0.5 else ("y", "x")
            assert f"{winner} is better than {loser}" in text
        outcomes.add(excludes)
    assert outcomes == {True, False}


def test_holm_correction_can_hold_a_claim_back(envs):
    env = copy.deepcopy(envs["Clear-v0"])
    (pair,) = env["comparisons"]["pairs"]
    pair.update(
        better=None,
        held_back="holm",
        holm_applied=True,
        holm_p=0.2,
        seeds_needed={"effect": 100.0, "seeds": None, "more_than": 49, "note": None},
    )
    env["comparisons"]["tests"] = 3
    text = env_verdict(env, envs["settings"])["text"]
    assert "is better than" not in text
    assert "not distinguishable with 8 seeds" in text
    assert "excludes 0.5, but not after Holm–Bonferroni correction over 3 comparisons" in text
    assert "(adjusted p = 0.2)" in text
    assert "more than 49 seeds per algo would be needed" in text


def test_diverged_seeds_failed_units_and_the_random_criterion(envs):
    env = envs["Broken-v0"]
    verdict = env["verdict"]
    assert "ppo beat the random baseline (mean return above " in verdict["text"]
    assert "in 7 of 8 seeds (88%, 95% CI 53–98%)" in verdict["text"]
    assert "1 of 8 seeds diverged" in verdict["text"]
    assert verdict["notes"][0] == "dqn failed on this env and has no results: RuntimeError: boom."
    assert "never averaged" in verdict["notes"][1]
    assert "dqn failed" in verdict["short"]


def test_one_seed_each_is_never_enough_for_a_claim(tmp_path):
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, "One-v0", "ppo", [100.0], label="x")
    write_unit(store, run_id, "One-v0", "ppo", [0.0], label="y")
    (env,) = analyze(store, reps=REPS, band_reps=BAND_REPS)["envs"]
    store.close()
    (pair,) = env["comparisons"]["pairs"]
    assert pair["ci_excludes_half"] and pair["better"] is None
    assert pair["held_back"] == "too few seeds"
    text = env["verdict"]["text"]
    assert "x and y are not distinguishable with 1 seed: P(x > y) = 1.00" in text
    assert "a claim needs at least 2 seeds per algo" in text
