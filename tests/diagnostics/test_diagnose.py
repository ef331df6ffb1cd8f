"""``rlcheck diagnose``: units re-trained to fractions of their run (the same run, proved by its
final policy), diagnosed, stored, reused, and reported; what cannot be diagnosed says why."""

import json

import jax
import numpy as np
import pytest

from rlcheck.cli import main
from rlcheck.diagnostics import diagnose as d
from rlcheck.experiment.policies import read_policies
from rlcheck.experiment.store import Store
from tests.helpers.trained import train

SPEC = {
    "seeds": [0, 1],
    "budget": 320,  # 10 updates of 32 env steps
    "eval": {"checkpoints": 2, "episodes": 2, "final_episodes": 4},
    "env": [{"id": "CartPole-v1"}],
    "algo": [
        {
            "name": "ppo",
            "config": {"num_envs": 2, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1},
        },
        {"name": "random", "config": {"num_envs": 2, "num_steps": 16}},
    ],
}
# Every diagnostic at its smallest: one window of 512 pairs where a size is asked for.
TINY = [
    "--seeds", "2", "--batch-sizes", "512", "--estimates", "2", "--reference-pairs", "1024",
    "--mc-states", "8", "--mc-rollouts", "2", "--landscape-pairs", "512,1024",
    "--landscape-steps", "3",
]  # fmt: skip


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory):
    """A tiny PPO and random run, diagnosed at half and all of its training."""
    directory = train(tmp_path_factory.mktemp("diagnose"), SPEC)
    argv = ["diagnose", str(directory), "--at", "0.5,1.0", *TINY]
    return directory, argv, main(argv)


def _summary(directory):
    return json.loads((directory / "summary.json").read_text())


def test_diagnose_writes_the_section_and_the_summary(diagnosed, capsys):
    directory, _, code = diagnosed
    assert code == 0
    (entry,) = _summary(directory)["diagnostics"]
    assert entry["label"] == "ppo" and entry["seeds"] == 2 and entry["num_updates"] == 10
    assert [(p["fraction"], p["update"]) for p in entry["points"]] == [(0.5, 5), (1.0, 10)]
    for point in entry["points"]:
        g = point["gradient"]
        for estimate in (*g["pairwise_cosine"], *g["cosine_to_true"], g["true_vs_true"]):
            if estimate["point"] is not None:  # cosine-to-true may be refused (None)
                assert -1 <= estimate["low"] <= estimate["point"] <= estimate["high"] <= 1
        assert g["true_vs_true"]["point"] is not None and g["true_vs_true"]["n"] == 2
        for name, estimate in point["value"]["mre"].items():
            assert 0 <= estimate["point"] < 100, name
        landscape = point["landscape"]
        assert np.isfinite(landscape["return"]).all()
        assert np.asarray(landscape["return"]).shape == (3, 3)  # α ∈ {0, 1, 2}, β ∈ {−1, 0, 1}
        # CartPole pays 1 per step: a mean episode return is at least 1.
        assert np.min(landscape["return"]) >= 1
        for part in ("train", "heldout"):
            assert 0 < point["trust"][part]["ratio_max"]["point"] < 100
            assert point["trust"][part]["kl_mean"]["point"] >= 0
    # Half-way and at the end are different states: the numbers differ.
    first, last = (p["gradient"]["pairwise_cosine"][0]["point"] for p in entry["points"])
    assert first != last
    sentences = " ".join(entry["findings"])
    assert "at n = 512 the average pairwise cosine of ppo's gradient estimates is" in sentences
    assert "(2 seeds)" in sentences
    html = (directory / "report.html").read_text()
    section = html[html.index('<section id="diagnostics">') :]
    section = section[: section.index("</section>")]
    assert "average pairwise cosine of ppo&#x27;s gradient estimates" in section
    assert section.count("<img") == 2  # D1's cosines and D3's contours
    assert '<a href="#diagnostics">' in html


def test_the_retrained_state_is_the_stored_run(diagnosed):
    directory, _, _ = diagnosed
    (entry,) = _summary(directory)["diagnostics"]
    store = Store(directory, create=False)
    (row,) = [r for r in store.units() if r["algo"] == "ppo"]
    stored = [r for _, _, r, _ in store.seed_rows(row["key"])]
    assert entry["replay"]["matches"] is True
    assert entry["replay"]["final_returns"] == stored
    # Stronger: the re-trained final actor is the stored policy, bit for bit.
    (candidate,) = [c for c in d.candidates(store) if c.plan is not None]
    from rlcheck.experiment.train import make_driver

    _, driver = make_driver(candidate.plan)
    ((_, update, states),) = list(d.replay_states(driver, candidate.plan, [0, 1], (1.0,)))
    assert update == 10
    retrained = jax.vmap(driver.agent.policy_params)(states)
    policies = read_policies(store, row)
    store.close()
    for a, b in zip(jax.tree.leaves(retrained), jax.tree.leaves(policies.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)


def test_the_same_request_again_reuses_what_is_stored(diagnosed, capsys):
    directory, argv, _ = diagnosed
    store = Store(directory, create=False)
    before = [(r["request"], r["created_at"]) for r in store.diagnostics()]
    store.close()
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ppo on CartPole-v1" in out and "already stored" in out
    assert "random on CartPole-v1" in out and "skipped: random is not an on-policy" in out
    store = Store(directory, create=False)
    assert [(r["request"], r["created_at"]) for r in store.diagnostics()] == before
    store.close()


def _one_line_error(capsys, argv, expected):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert expected in err, err
    return err


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--which", "gradient,vibes", "--which: unknown diagnostic 'vibes'"),
        ("--at", "0.5,1.5", "--at: 1.5 is not a fraction of training in (0, 1]"),
        ("--at", "half", "--at: 'half' is not a number"),
        ("--batch-sizes", "500", "--batch-sizes: 500 is not a positive multiple of 512"),
        ("--landscape-pairs", "512", "--landscape-pairs: give 2 numbers"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, tmp_path, option, value, expected):
    _one_line_error(capsys, ["diagnose", str(tmp_path), option, value], expected)


def test_a_gymnasium_env_cannot_clone_state(capsys, tmp_path):
    spec = tmp_path / "host.toml"
    spec.write_text(
        'seeds = 2\nbudget = 4096\n[[env]]\nid = "gymnasium:CartPole-v1"\n[[algo]]\nname = "ppo"\n'
    )
    err = _one_line_error(capsys, ["diagnose", str(spec), "--out", str(tmp_path / "o")], "")
    assert "cannot clone state: gymnasium:CartPole-v1 is a Gymnasium env" in err
    assert not (tmp_path / "o").exists()  # refused before anything trained


def test_a_directory_with_nothing_to_diagnose_says_why(capsys, tmp_path):
    spec = tmp_path / "dqn.toml"
    spec.write_text(
        'seeds = 2\nbudget = 4096\n[[env]]\nid = "CartPole-v1"\n[[algo]]\nname = "dqn"\n'
    )
    _one_line_error(
        capsys, ["diagnose", str(spec)], "nothing to diagnose: dqn is not an on-policy gradient"
    )


def test_fractions_are_sorted_and_map_to_updates():
    assert d.parse_fractions("1.0, 0.25,0.5,0.5") == (0.25, 0.5, 1.0)
    assert d.updates_at((0.01, 0.25, 0.5, 1.0), 10) == [1, 2, 5, 10]
    assert d.parse_which("trust,gradient") == ("gradient", "trust")


def test_the_request_key_changes_with_what_is_measured():
    assert d.Request().key == d.Request().key
    assert d.Request().key != d.Request(at=(1.0,)).key
    assert d.Request().key != d.Request(batch_sizes=(512,)).key
