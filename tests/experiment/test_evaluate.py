"""rlcheck evaluate: external policies under rlcheck's evaluation protocol, stored as units."""

import json

import numpy as np
import pytest

import rlcheck
from rlcheck.cli import main
from rlcheck.errors import UserError
from rlcheck.experiment.evaluate import EVALUATION_SEEDS, TRAINING_RUNS, evaluate_policies
from rlcheck.experiment.store import Store
from rlcheck.report.analysis import analyze
from tests.experiment import evaluate_policies as policies
from tests.helpers.trained import FINAL_EPISODES, shared_copy

MODULE = "tests.experiment.evaluate_policies"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return shared_copy(tmp_path_factory)


def _stored_finals(directory, algo):
    store = Store(directory, create=False)
    (row,) = [r for r in store.units() if r["algo"] == algo]
    finals = {s: store.array(row["key"], s, "final_episode_returns") for s in row["seeds"]}
    store.close()
    return finals


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_a_callable_acting_as_a_stored_policy_gets_its_stored_returns(trained, tmp_path, algo):
    # Two policies are two training runs: evaluated as rlcheck evaluates seeds 0 and 1.
    policies.STORED = {s: rlcheck.load_policy(trained, algo, s) for s in (0, 1)}
    done = evaluate_policies(
        [f"{MODULE}:seed_0", f"{MODULE}:seed_1"],
        "CartPole-v1",
        tmp_path / algo,
        episodes=FINAL_EPISODES,
        seeds="0,1",
    )
    assert not done.traced  # load_policy's Policy returns numpy: called from the loop
    assert done.seeds_are == TRAINING_RUNS
    stored = _stored_finals(trained, algo)
    np.testing.assert_array_equal(done.returns, np.stack([stored[0], stored[1]]))
    store = Store(tmp_path / algo, create=False)
    (row,) = store.units()
    assert [s for s, *_ in store.seed_rows(row["key"])] == [0, 1]
    assert row["meta"]["evaluate"]["policies"][1]["source"] == f"{MODULE}:seed_1"
    assert len(row["meta"]["evaluate"]["policies"][1]["sha256"]) == 64
    store.close()


def test_traced_and_called_policies_play_the_same_episodes(tmp_path):
    called = evaluate_policies([f"{MODULE}:lean_numpy"], "CartPole-v1", tmp_path, 4, "3")
    traced = evaluate_policies([f"{MODULE}:lean_jax"], "CartPole-v1", tmp_path, 4, "3", jit=True)
    assert (called.traced, traced.traced) == (False, True)
    np.testing.assert_array_equal(called.returns, traced.returns)
    assert called.returns.shape == (3, 4) and called.returns.min() > 100  # it balances
    # The same policy again: already stored, not evaluated again.
    again = evaluate_policies([f"{MODULE}:lean_jax"], "CartPole-v1", tmp_path, 4, "3", jit=True)
    assert not again.stored
    np.testing.assert_array_equal(again.returns, traced.returns)


def test_one_policy_is_reported_with_evaluation_seeds(tmp_path, capsys):
    out = tmp_path / "one"
    code = main(
        [
            *("evaluate", f"{MODULE}:always_left", "--env", "CartPole-v1"),
            *("--episodes", "2", "--seeds", "4", "--out", str(out)),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 (evaluation)" in printed
    summary = json.loads((out / "summary.json").read_text())
    (algo,) = summary["envs"][0]["algos"]
    assert algo["seeds_are"] == EVALUATION_SEEDS and algo["seeds"] == 4
    verdict = summary["envs"][0]["verdict"]
    assert "one policy, 4 evaluation seeds" in verdict["lead"]
    assert "in 0 of 4 evaluation seeds" in verdict["text"]
    assert "seeds per algo" not in verdict["lead"]  # never "4 seeds" as if 4 training runs
    assert "not training runs" in verdict["text"]
    page = (out / "report.html").read_text()
    assert "4 (evaluation)" in page
    # The provenance names the function and its module file's SHA-256.
    assert f"{MODULE}:always_left" in page and algo["evaluated"]["policies"][0]["sha256"] in page
    # Always pushing left ends a CartPole episode within a few steps.
    assert max(p["final_return"] for p in algo["per_seed"]) < 20


def test_beside_trained_units_one_report(trained, capsys):
    main(
        [
            *("evaluate", f"{MODULE}:lean_jax", "--env", "CartPole-v1"),
            *("--episodes", "2", "--seeds", "2", "--out", str(trained)),
        ]
    )
    capsys.readouterr()
    store = Store(trained, create=False)
    analysis = analyze(store, reps=200, band_reps=50)
    store.close()
    labels = [a["label"] for a in analysis["envs"][0]["algos"]]
    assert "lean_jax" in labels and "ppo" in labels
    # load_policy says what the unit is, instead of looking it up as an algorithm.
    with pytest.raises(UserError, match="evaluated by rlcheck evaluate"):
        rlcheck.load_policy(trained, "lean_jax", 0)


def test_robustness_says_an_evaluated_unit_has_no_stored_policy(tmp_path, capsys):
    evaluate_policies([f"{MODULE}:lean_jax"], "CartPole-v1", tmp_path, 2, "2", jit=True)
    assert main(["robustness", str(tmp_path), "--vary", "length=0.5,1"]) == 2
    err = capsys.readouterr().err
    assert "evaluated by rlcheck evaluate" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nomodule_here:act"], "cannot import module 'nomodule_here'"),
        ([f"{MODULE}:missing"], "has no callable 'missing'"),
        (["just_a_name"], "give a Python callable as module:function"),
        ([f"{MODULE}:wrong_shape"], "returned float64[3]; gymnax:CartPole-v1 needs one integer"),
        ([f"{MODULE}:broken"], "it raised ValueError: no policy here"),
        ([f"{MODULE}:lean_jax", "--seeds", "x"], "--seeds: 'x' is not a count"),
        ([f"{MODULE}:lean_jax", f"{MODULE}:lean_numpy", "--seeds", "3"], "one seed each"),
        ([f"{MODULE}:lean_jax", "--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
        ([f"{MODULE}:lean_jax", "--episodes", "0"], "--episodes"),
        ([f"{MODULE}:lean_numpy", "--jit"], "--jit: policy"),
        ([f"{MODULE}:out_of_range"], "returned action 2; gymnax:CartPole-v1 has actions 0 … 1"),
        ([f"{MODULE}:fails_later"], "during an episode it raised RuntimeError: cart left"),
        ([f"{MODULE}:fails_later", "--env", "gymnasium:CartPole-v1"], "during an episode"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    env = [] if "--env" in args else ["--env", "CartPole-v1"]
    code = main(["evaluate", *args, *env, "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1, err


def test_on_a_gymnasium_env_the_episodes_are_reproducible(tmp_path):
    module = f"{MODULE}:lean_angle"
    first = evaluate_policies([module], "gymnasium:CartPole-v1", tmp_path / "a", 2, "2")
    again = evaluate_policies([module], "gymnasium:CartPole-v1", tmp_path / "b", 2, "2")
    np.testing.assert_array_equal(first.returns, again.returns)
    assert first.returns.shape == (2, 2) and first.returns.min() > 9
    assert len(set(first.returns.ravel().tolist())) > 1  # seeds and episodes differ
