"""Robustness: stored policies under perturbed physics, noise and delay, stored and reused."""

import numpy as np
import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.robustness import Request, request_from_spec, run_robustness
from rlcheck.experiment.spec import RobustnessSpec
from rlcheck.experiment.store import Store
from rlcheck.report.analysis import analyze
from tests.helpers.trained import FINAL_EPISODES, shared_copy, train
from tests.report.synthetic import open_store, record

LENGTHS = "0.05,0.5,2.0"  # CartPole's pole half-length is 0.5 in training


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """The tiny trained directory, with every unit evaluated at three pole lengths."""
    store = Store(shared_copy(tmp_path_factory))
    spec = RobustnessSpec(vary={"length": LENGTHS}, episodes=FINAL_EPISODES)
    request = request_from_spec(spec, "test")
    outcomes = run_robustness(store, request, "test")
    assert [o.status for o in outcomes] == ["done"] * 4
    yield store, request
    store.close()


def _returns(store, request, algo):
    units = {u["key"]: u for u in store.units()}
    (row,) = [
        r
        for r in store.robustness()
        if r["request"] == request.key and units[r["unit_key"]]["algo"] == algo
    ]
    finals = np.stack(
        [store.array(row["unit_key"], s, "final_episode_returns") for s in row["seeds"]]
    )
    return row, finals


@pytest.mark.parametrize("algo", ["ppo", "dqn", "ars", "random"])
def test_at_the_training_value_each_seed_replays_its_final_evaluation(evaluated, algo):
    store, request = evaluated
    row, finals = _returns(store, request, algo)
    assert row["returns"].shape == (2, 3, FINAL_EPISODES)
    assert row["spec"]["training_value"] == 0.5
    # The same keys as the final evaluation. The params are inputs of this program where
    # training compiled them in as constants: equal up to float rounding, which CartPole's
    # integer returns do not show here.
    np.testing.assert_array_equal(row["returns"][:, 1], finals)


def test_the_curves_respond_to_the_pole_length(evaluated):
    store, request = evaluated
    for algo in ("ppo", "dqn", "ars", "random"):
        row, _ = _returns(store, request, algo)
        means = row["returns"].mean(axis=(0, 2))
        # A short pole falls much faster than the one trained on, whatever the policy.
        assert means[0] < means[1], (algo, means)


def test_the_same_request_again_reuses_what_is_stored(evaluated):
    store, request = evaluated
    before = {(r["request"], r["unit_key"]): r["created_at"] for r in store.robustness()}
    again = request_from_spec(
        RobustnessSpec(vary={"length": LENGTHS}, episodes=FINAL_EPISODES), "again"
    )
    assert again.key == request.key
    outcomes = run_robustness(store, again, "again")
    assert [o.status for o in outcomes] == ["stored"] * 4
    after = {(r["request"], r["unit_key"]): r["created_at"] for r in store.robustness()}
    assert after == before
    other = Request(**{**again.as_dict(), "values": (0.5, 1.0)})
    assert other.key != again.key


def test_the_summary_has_curves_with_intervals_and_the_normalized_area(evaluated):
    store, request = evaluated
    (study,) = analyze(store, reps=200, band_reps=200)["robustness"]
    assert study["request"] == request.key
    assert study["vary"] == "length" and study["values"] == [0.05, 0.5, 2.0]
    (env,) = study["envs"]
    assert env["training_value"] == 0.5 and env["solve_threshold"] == 475.0
    ppo = next(a for a in env["algos"] if a["algo"] == "ppo")
    assert ppo["n"] == 2 and ppo["curve"]["n"] == 2
    per_seed = np.array(ppo["per_seed"])
    # The area under each seed's curve over the width of the range: its mean return there.
    manual = (
        (per_seed[:, 0] + per_seed[:, 1]) / 2 * 0.45 + (per_seed[:, 1] + per_seed[:, 2]) / 2 * 1.5
    ) / 1.95
    np.testing.assert_allclose(ppo["normalized_area"]["per_seed"], manual)
    assert ppo["normalized_area"]["low"] <= ppo["normalized_area"]["point"]
    assert ppo["at_training_value"]["n"] == 2
    # With two seeds the IQM is their mean.
    assert ppo["at_training_value"]["point"] == pytest.approx(per_seed[:, 1].mean())


def test_noise_and_delay_values_are_checked(tmp_path):
    def request(**fields):
        return request_from_spec(RobustnessSpec(**fields), "rlcheck robustness")

    with pytest.raises(UserError, match=r"obs_noise is varied and also held at 0\.1"):
        request(vary={"obs_noise": "0,0.2"}, obs_noise=0.1)
    with pytest.raises(UserError, match="delays are whole env steps"):
        request(vary={"action_delay": "0,0.5"})
    with pytest.raises(UserError, match=r"values must be ≥ 0, got -1"):
        request(vary={"action_noise": "-1,0"})
    with pytest.raises(UserError, match=r"^rlcheck robustness: vary length: N in '0:1:x'"):
        request(vary={"length": "0:1:x"})


def _synthetic(directory, env="CartPole-v1", **units):
    """A store of units that were never trained (robustness checks them before loading)."""
    store, run_id = open_store(directory)
    for algo, meta in units.items():
        unit = record(env, algo, None, 2, 475.0)
        unit.meta.update(meta)
        store.write_unit(run_id, unit, [(0, "ok", 1.0, None), (1, "ok", 1.0, None)], [], [])
    return store


def test_what_cannot_be_evaluated_is_one_line_saying_why(tmp_path):
    request = request_from_spec(RobustnessSpec(vary={"length": "0.1,1"}), "rlcheck robustness")
    store = _synthetic(tmp_path / "planners", lqr={"policy": None}, cem={"policy": None})
    with pytest.raises(UserError) as info:
        run_robustness(store, request, "rlcheck robustness")
    assert str(info.value) == (
        f"rlcheck robustness: no stored policy in {tmp_path / 'planners'} to evaluate: "
        "lqr on CartPole-v1 (unit CartPole): lqr is a planner: it has no policy to evaluate; "
        "cem on CartPole-v1 (unit CartPole): cem is a planner: it has no policy to evaluate"
    )
    host = {"policy": {"final": True}, "env_spec": {"id": "gymnasium:Hopper-v5", "kind": "host"}}
    store = _synthetic(tmp_path / "host", env="gymnasium:Hopper-v5", ppo=host)
    with pytest.raises(UserError) as info:
        run_robustness(store, request, "rlcheck robustness")
    assert str(info.value) == (
        "rlcheck robustness: vary length: unknown parameter 'length' of the Gymnasium env "
        "gymnasium:Hopper-v5 (it has: gravity, mass_scale, friction_scale)"
    )
    noise = request_from_spec(RobustnessSpec(vary={"obs_noise": "0,0.1"}), "rlcheck robustness")
    with pytest.raises(UserError, match="varies the env's physical parameters only") as info:
        run_robustness(store, noise, "rlcheck robustness")
    assert "\n" not in str(info.value)
    store = _synthetic(tmp_path / "old", ppo={})
    with pytest.raises(UserError, match="stored before rlcheck kept policies"):
        run_robustness(store, request, "rlcheck robustness")
    store, _ = open_store(tmp_path / "empty")
    with pytest.raises(UserError, match="no unit is stored here"):
        run_robustness(store, request, "rlcheck robustness")


def test_an_env_parameter_it_does_not_have_names_the_ones_it_has(tmp_path):
    store = _synthetic(tmp_path, ppo={"policy": {"final": True}, "env_kwargs": {}})
    for vary, message in (
        ("lenght", r"unknown env parameter 'lenght'.*did you mean 'length'\? fields: "),
        ("total_mass", r"'total_mass' .* is derived \(total_mass = masscart \+ masspole\)"),
    ):
        request = request_from_spec(RobustnessSpec(vary={vary: "1,2"}), "rlcheck robustness")
        with pytest.raises(UserError, match=message) as info:
            run_robustness(store, request, "rlcheck robustness")
        assert str(info.value).endswith("or vary obs_noise, action_noise, action_delay")


def test_a_gymnasium_env_varies_its_physics_and_replays_at_the_training_value(tmp_path):
    spec = {
        "seeds": [0, 1],
        "budget": 64,
        "eval": {"checkpoints": 1, "episodes": 2, "final_episodes": FINAL_EPISODES},
        "env": [{"id": "gymnasium:CartPole-v1"}],
        "algo": [
            {
                "name": "ppo",
                "config": {"num_envs": 2, "num_steps": 16, "num_minibatches": 2},
            }
        ],
    }
    store = Store(train(tmp_path, spec))
    try:
        request = request_from_spec(
            RobustnessSpec(vary={"length": "0.5,0.05"}, episodes=FINAL_EPISODES), "test"
        )
        (outcome,) = run_robustness(store, request, "test")
        assert outcome.status == "done"
        (row,) = store.robustness()
        assert row["spec"]["training_value"] == 0.5
        finals = np.stack(
            [store.array(row["unit_key"], s, "final_episode_returns") for s in row["seeds"]]
        )
        # The final evaluation's env seeds, and a deterministic policy: its episodes again.
        np.testing.assert_array_equal(row["returns"][:, 0], finals)
        # A pole a tenth as long falls within a few steps whatever the policy does.
        assert row["returns"][:, 1].mean() < row["returns"][:, 0].mean()
    finally:
        store.close()
