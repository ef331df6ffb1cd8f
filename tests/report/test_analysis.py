"""The report's numbers against direct computations on a small synthetic store."""

import json
import math

import numpy as np
import pytest
import scipy.stats

from rlcheck import stats
from rlcheck.report.analysis import analyze
from tests.report.synthetic import (
    BUDGET,
    ENV_STEPS_LAG,
    EPISODE_OFFSETS,
    checkpoint_steps,
    open_store,
    write_failed_unit,
    write_unit,
)

ENV = "Toy-v0"
THRESHOLD = 10.0
PPO = [12.0, 11.0, 9.0, 14.0, 10.0, 13.0, 7.0, 12.5]
PPO_DIVERGED = 6
RANDOM = [1.0, 0.5, 1.5, 0.0, 2.0, 1.0, 0.8, 1.2]
SMALL = [11.0, 10.0, 12.0, 9.0, 13.0, 10.5, 12.0, 11.5]
REPS, BAND_REPS = 2000, 500
SPEC = {"seeds": 8, "env": [{"id": ENV}], "algo": [{"name": "ppo"}]}


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    store, run_id = open_store(tmp_path_factory.mktemp("results"), SPEC)
    write_unit(store, run_id, ENV, "ppo", PPO, threshold=THRESHOLD, diverged=[PPO_DIVERGED])
    write_unit(store, run_id, ENV, "random", RANDOM, threshold=THRESHOLD)
    write_unit(store, run_id, ENV, "ppo", SMALL, label="ppo-small", threshold=THRESHOLD)
    write_failed_unit(store, run_id, ENV, "dqn", "RuntimeError: boom")
    result = analyze(store, reps=REPS, band_reps=BAND_REPS)
    store.close()
    return result


def _algo(analysis, label):
    (env,) = analysis["envs"]
    return next(a for a in env["algos"] if a["label"] == label)


def _usable_ppo():
    return np.delete(np.array(PPO), PPO_DIVERGED)


def _ranked(values, diverged=()):
    """Final returns with diverged seeds as -inf: they lose to every other seed."""
    return np.array([-np.inf if i in diverged else v for i, v in enumerate(values)])


def _p_beats(x, y):
    wins = sum((a > b) + 0.5 * (a == b) for a in x for b in y)
    return wins / (len(x) * len(y))


def test_final_return_summary_leaves_out_the_diverged_seed(analysis):
    ppo, usable = _algo(analysis, "ppo"), _usable_ppo()
    assert ppo["seeds"] == 8
    assert ppo["usable_seeds"] == 7
    assert ppo["diverged"] == [{"seed": PPO_DIVERGED, "reason": "parameters became NaN/inf"}]
    assert ppo["final"]["n"] == 7
    assert ppo["final"]["mean"] == pytest.approx(usable.mean())
    assert ppo["final"]["std"] == pytest.approx(usable.std(ddof=1))
    assert ppo["final"]["median"] == pytest.approx(np.median(usable))
    assert (ppo["final"]["min"], ppo["final"]["max"]) == (9.0, 14.0)
    assert ppo["per_seed"][PPO_DIVERGED] == {
        "seed": PPO_DIVERGED,
        "final_return": None,
        "diverged": True,
    }


def test_iqm_is_the_trimmed_mean_with_the_stratified_bootstrap_interval(analysis):
    ppo, usable = _algo(analysis, "ppo"), _usable_ppo()
    assert ppo["iqm"]["point"] == pytest.approx(scipy.stats.trim_mean(usable, 0.25))
    expected = stats.interval_estimates({"x": usable[:, None]}, ("iqm",), REPS, 0.95, 0)["x"]
    assert ppo["iqm"]["low"] == pytest.approx(expected["iqm"].low)
    assert ppo["iqm"]["high"] == pytest.approx(expected["iqm"].high)
    assert ppo["iqm"]["low"] < ppo["iqm"]["point"] < ppo["iqm"]["high"]
    assert ppo["iqm"]["n"] == 7


def test_unsolved_rate_counts_the_diverged_seed_as_a_failure(analysis):
    solve = _algo(analysis, "ppo")["failure"]["solve"]
    # Seed 2 ends at 9 < 10 and seed 6 diverged; 10.0 itself reaches the threshold.
    assert (solve["failures"], solve["n"]) == (2, 8)
    assert solve["rate"] == 0.25
    assert (solve["low"], solve["high"]) == pytest.approx(stats.wilson_interval(2, 8))
    assert solve["threshold"] == THRESHOLD
    assert "solve threshold" in solve["criterion"]
    random_solve = _algo(analysis, "random")["failure"]["solve"]
    assert (random_solve["failures"], random_solve["n"]) == (8, 8)


def test_no_better_than_random_uses_the_random_baselines_episodes(analysis):
    episodes = (np.array(RANDOM)[:, None] + EPISODE_OFFSETS).ravel()
    t = scipy.stats.t.ppf(0.975, episodes.size - 1)
    bound = episodes.mean() + t * episodes.std(ddof=1) / math.sqrt(episodes.size)
    (env,) = analysis["envs"]
    assert env["random_baseline"] == "random"
    assert env["random_bound"] == pytest.approx(bound)
    rate = _algo(analysis, "ppo")["failure"]["random"]
    assert rate["threshold"] == pytest.approx(bound)
    assert (rate["failures"], rate["n"]) == (1, 8)
    assert "40 episodes" in rate["criterion"]
    assert _algo(analysis, "random")["failure"]["random"] is None


def test_probability_of_improvement_ranks_diverged_seeds_last(analysis):
    (env,) = analysis["envs"]
    matrix = env["comparisons"]["matrix"]
    ppo = _ranked(PPO, [PPO_DIVERGED])
    assert matrix["ppo"]["random"]["point"] == pytest.approx(_p_beats(ppo, RANDOM))
    assert matrix["ppo"]["random"]["point"] == pytest.approx(56 / 64)
    assert matrix["ppo"]["ppo-small"]["point"] == pytest.approx(_p_beats(ppo, SMALL))
    for a in matrix:
        assert matrix[a][a] is None
        for b in matrix:
            if a != b:
                assert matrix[a][b]["point"] == pytest.approx(1 - matrix[b][a]["point"])
                assert matrix[a][b]["low"] == pytest.approx(1 - matrix[b][a]["high"])


def test_interval_is_the_stats_bootstrap_of_the_ranked_scores(analysis):
    (env,) = analysis["envs"]
    pair = next(p for p in env["comparisons"]["pairs"] if {p["a"], p["b"]} == {"ppo", "random"})
    x = _ranked(PPO, [PPO_DIVERGED]) if pair["a"] == "ppo" else np.array(RANDOM)
    y = np.array(RANDOM) if pair["a"] == "ppo" else _ranked(PPO, [PPO_DIVERGED])
    # Any stand-in below every score gives the same ranks, so the same resamples.
    x, y = np.maximum(x, -100.0), np.maximum(y, -100.0)
    expected = stats.probability_of_improvement_interval(x[:, None], y[:, None], REPS, 0.95, 0)
    assert pair["p_a_beats_b"]["low"] == pytest.approx(expected.low)
    assert pair["p_a_beats_b"]["high"] == pytest.approx(expected.high)


def test_holm_bonferroni_adjusts_the_rank_tests_of_all_pairs(analysis):
    (env,) = analysis["envs"]
    scores = {
        "ppo": np.maximum(_ranked(PPO, [PPO_DIVERGED]), -100.0),
        "random": np.array(RANDOM),
        "ppo-small": np.array(SMALL),
    }
    pairs = env["comparisons"]["pairs"]
    raw = [scipy.stats.mannwhitneyu(scores[p["a"]], scores[p["b"]]).pvalue for p in pairs]
    adjusted = stats.holm_bonferroni(np.array(raw))
    assert [p["mann_whitney_p"] for p in pairs] == pytest.approx(raw)
    assert [p["holm_p"] for p in pairs] == pytest.approx(adjusted)
    assert all(p["holm_applied"] for p in pairs)
    assert max(adjusted) > min(adjusted) * 1.5


def test_better_only_when_the_interval_excludes_one_half(analysis):
    (env,) = analysis["envs"]
    by_pair = {frozenset((p["a"], p["b"])): p for p in env["comparisons"]["pairs"]}
    clear = by_pair[frozenset(("ppo", "random"))]
    assert clear["better"] == "ppo"
    assert clear["p_a_beats_b"]["low"] > 0.5 or clear["p_a_beats_b"]["high"] < 0.5
    close = by_pair[frozenset(("ppo", "ppo-small"))]
    assert close["p_a_beats_b"]["low"] <= 0.5 <= close["p_a_beats_b"]["high"]
    assert close["better"] is None
    effect = abs(_usable_ppo().mean() - np.mean(SMALL))
    assert close["seeds_needed"]["effect"] == pytest.approx(effect)
    expected = stats.seeds_needed(_usable_ppo(), np.array(SMALL), effect)
    assert close["seeds_needed"]["seeds"] == expected
    assert close["seeds_needed"]["more_than"] == (49 if expected is None else None)


def test_learning_curve_band_is_the_iqm_per_checkpoint(analysis):
    curve = _algo(analysis, "ppo")["curve"]
    steps = checkpoint_steps()
    assert curve["steps"] == steps.tolist()
    assert curve["env_steps"] == (steps - ENV_STEPS_LAG).tolist()
    usable_curves = _usable_ppo()[:, None] * np.linspace(0.2, 1.0, len(steps))
    expected = scipy.stats.trim_mean(usable_curves, 0.25, axis=0)
    assert curve["band"]["iqm"] == pytest.approx(expected)
    assert curve["band"]["n"] == 7
    assert np.all(np.array(curve["band"]["low"]) <= expected + 1e-9)
    assert len(curve["seeds"]) == 8
    assert [s["diverged"] for s in curve["seeds"]].count(True) == 1


def test_steps_to_threshold_is_censored_not_dropped(analysis):
    (env,) = analysis["envs"]
    efficiency = env["sample_efficiency"]
    assert efficiency["threshold"] == THRESHOLD
    env_steps = checkpoint_steps() - ENV_STEPS_LAG
    ramp = np.linspace(0.2, 1.0, len(env_steps))
    expected = []
    for seed, final in enumerate(PPO):
        hits = np.nonzero(final * ramp >= THRESHOLD)[0]
        ok = seed != PPO_DIVERGED and hits.size
        expected.append(float(env_steps[hits[0]]) if ok else None)
    ppo = efficiency["algos"]["ppo"]
    assert [s["env_steps"] for s in ppo["per_seed"]] == expected
    assert ppo["reached"] == 6
    assert ppo["fraction"][-1]["reached"] == 6
    assert ppo["fraction"][-1]["low"] == pytest.approx(stats.wilson_interval(6, 8)[0])
    assert ppo["median_env_steps"] == pytest.approx(np.median([e or np.inf for e in expected]))
    assert efficiency["algos"]["random"]["median_env_steps"] is None


def test_reliability_metrics_match_direct_computation(analysis):
    metrics = _algo(analysis, "ppo")["reliability"]
    usable = _usable_ppo()
    # Every seed's final episodes are final + [-1, 0, 1, 2, -2]: IQR 2, lower 5% CVaR final − 2.
    assert metrics["dispersion_across_rollouts"]["point"] == pytest.approx(2.0)
    assert metrics["risk_across_rollouts"]["point"] == pytest.approx(
        scipy.stats.trim_mean(usable - 2.0, 0.25)
    )
    assert metrics["rollouts_per_seed"] == 5
    # Rising curves never fall from a peak.
    assert metrics["long_term_risk"]["point"] == 0.0
    assert metrics["dispersion_across_runs"]["point"] == pytest.approx(scipy.stats.iqr(usable))
    assert metrics["short_term_risk"]["n"] == 7
    slope = usable * 0.2 / (BUDGET / 5) * 1000
    assert metrics["short_term_risk"]["point"] == pytest.approx(scipy.stats.trim_mean(slope, 0.25))


def test_cost_failures_provenance_and_spec(analysis):
    ppo = _algo(analysis, "ppo")
    assert ppo["cost"]["env_steps_per_seed"] == BUDGET - ENV_STEPS_LAG
    assert ppo["cost"]["env_steps_total"] == 8 * (BUDGET - ENV_STEPS_LAG)
    assert ppo["cost"]["simulator_calls"] is None
    assert analysis["cost"]["env_steps"] == 24 * (BUDGET - ENV_STEPS_LAG)
    assert analysis["cost"]["wall_s"] == pytest.approx(3 * 3.5)
    assert analysis["failed_units"] == [
        {
            "env": ENV,
            "algo": "dqn",
            "unit_key": f"{ENV}/dqn",
            "seeds": 4,
            "reason": "RuntimeError: boom",
            "attempts": 1,
        }
    ]
    assert [a["reason"] for a in analysis["failed_attempts"]] == ["RuntimeError: boom"]
    (provenance,) = analysis["provenance"]
    assert provenance["rlcheck_commit"] == "0123abcd"
    assert len(provenance["units"]) == 4
    assert analysis["runs"][0]["spec"] == SPEC


def test_analysis_is_valid_json_and_deterministic(analysis, tmp_path):
    text = json.dumps(analysis, allow_nan=False)
    assert json.loads(text) == analysis
    store, run_id = open_store(tmp_path, SPEC)
    write_unit(store, run_id, ENV, "ppo", PPO, threshold=THRESHOLD, diverged=[PPO_DIVERGED])
    first = analyze(store, reps=REPS, band_reps=BAND_REPS)
    assert analyze(store, reps=REPS, band_reps=BAND_REPS) == first
    store.close()


def test_env_without_threshold_or_baseline_has_no_failure_rates(tmp_path):
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, "Custom-v0", "ppo", [1.0, 2.0, 3.0])
    (env,) = analyze(store, reps=REPS, band_reps=BAND_REPS)["envs"]
    store.close()
    assert env["solve_threshold"] is None
    assert env["algos"][0]["failure"] == {
        "solve": None,
        "solve_reason": "the env has no solve threshold (set env.solve_threshold in the spec)",
        "random": None,
        "random_reason": "no random baseline on this env (add the random algo)",
    }
    assert env["sample_efficiency"] is None
    assert env["sample_efficiency_reason"] == (
        "no solve threshold and no random baseline to measure it against"
    )
    assert env["comparisons"]["pairs"] == []


def test_proxy_return_and_hidden_performance_side_by_side_with_the_gap(tmp_path):
    store, run_id = open_store(tmp_path)
    finals = [50.0, 50.0, 48.0, 50.0]
    hidden = [0.0, 2.0, 0.0, 100.0]
    write_unit(store, run_id, "Boat", "ppo", finals, diverged=[1], performance=hidden)
    write_unit(store, run_id, "Plain", "ppo", finals)
    result = analyze(store, reps=REPS, band_reps=BAND_REPS)
    store.close()
    boat, plain = result["envs"]
    assert boat["reports_performance"] and not plain["reports_performance"]
    perf = boat["algos"][0]["performance"]
    # The diverged seed 1 is left out: seeds 0, 2, 3.
    assert perf["return"]["n"] == 3
    assert perf["return"]["point"] == pytest.approx(148 / 3)
    assert perf["performance"]["point"] == pytest.approx(100 / 3)
    assert perf["gap"]["point"] == pytest.approx(48 / 3)
    # Per-seed gaps are 50, 48 and −50: the interval spans the seeds' spread.
    assert -50 <= perf["gap"]["low"] < 16 < perf["gap"]["high"] <= 50
    assert [s["seed"] for s in perf["per_seed"]] == [0, 2, 3]
    assert plain["algos"][0]["performance"] is None
    assert "info['performance']" in plain["algos"][0]["performance_reason"]
