"""Exports other tools read: rliable's score arrays (fed to rliable itself) and TensorBoard runs
(read back with TensorBoard's own loader)."""

import json

import numpy as np
import pytest

from rlcheck.cli import main
from rlcheck.errors import UserError
from rlcheck.experiment.external import rliable_scores, write_rliable, write_tensorboard
from rlcheck.experiment.importing import import_runs
from rlcheck.experiment.readers import Options
from rlcheck.experiment.store import Store
from rlcheck.experiment.tensorboard import read_scalars
from tests.report.synthetic import BUDGET, checkpoint_steps, open_store, write_unit


def _results(directory):
    store, run_id = open_store(directory)
    for env, shift in (("Pong", 0.0), ("Qbert", 10.0)):
        write_unit(store, run_id, env, "ppo", shift + np.arange(4.0), diverged=[3])
        write_unit(store, run_id, env, "random", shift + np.arange(4.0) / 2)
    write_unit(store, run_id, "Breakout", "ppo", np.arange(4.0))
    store.close()
    return Store(directory, create=False)


def test_rliable_arrays_are_runs_by_tasks_of_final_returns(tmp_path):
    store = _results(tmp_path)
    scores, description = rliable_scores(store)
    assert description["tasks"] == ["Pong", "Qbert"]
    assert description["left_out_envs"] == ["Breakout"]
    np.testing.assert_array_equal(
        scores["random"], np.stack([np.arange(4) / 2, 10 + np.arange(4) / 2], 1)
    )
    # The diverged seed is NaN, never a number.
    np.testing.assert_array_equal(
        scores["ppo"][:3], np.stack([np.arange(3.0), 10 + np.arange(3.0)], 1)
    )
    assert np.isnan(scores["ppo"][3]).all()
    curves, description = rliable_scores(store, curves=True)
    assert curves["random"].shape == (4, 2, len(checkpoint_steps()))
    assert description["algorithms"]["random"]["checkpoint_steps"] == checkpoint_steps().tolist()
    np.testing.assert_allclose(curves["random"][:, 0, -1], np.arange(4) / 2)
    store.close()


def test_rliable_takes_the_export(tmp_path):
    from rliable import library, metrics

    store = _results(tmp_path)
    target = tmp_path / "scores.npz"
    write_rliable(store, target)
    store.close()
    scores = dict(np.load(target))
    assert json.loads(target.with_suffix(".json").read_text())["tasks"] == ["Pong", "Qbert"]
    scores["ppo"] = scores["ppo"][:3]  # rliable has no notion of a diverged run
    np.random.seed(0)
    points, intervals = library.get_interval_estimates(
        scores, lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)]), reps=200
    )
    assert points["random"][1] == pytest.approx(np.mean(scores["random"]))
    assert intervals["ppo"].shape == (2, 2)
    profile = library.create_performance_profile(scores, np.linspace(0, 12, 5))[0]
    assert set(profile) == {"ppo", "random"}


def test_no_common_task_is_an_error(tmp_path):
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, "Pong", "ppo", [1.0, 2.0])
    write_unit(store, run_id, "Qbert", "dqn", [1.0, 2.0])
    store.close()
    with pytest.raises(UserError, match="no env has a unit of every algorithm"):
        rliable_scores(Store(tmp_path, create=False))


def test_tensorboard_export_is_one_run_per_seed_read_back_as_stored(tmp_path):
    store = _results(tmp_path / "results")
    assert write_tensorboard(store, tmp_path / "tb") == 4 * 4 + 4
    run = tmp_path / "tb" / "Qbert" / "random" / "seed_2"
    (event_file,) = run.glob("events.out.tfevents.*")
    scalars = read_scalars(event_file)
    assert set(scalars) == {"eval_return", "final_return"}
    steps, values = scalars["eval_return"]
    np.testing.assert_array_equal(steps, checkpoint_steps())
    np.testing.assert_allclose(values, 11.0 * np.linspace(0.2, 1.0, len(steps)), rtol=1e-6)
    assert scalars["final_return"][0].tolist() == [BUDGET]
    # Written again, a run keeps one event file.
    write_tensorboard(store, tmp_path / "tb")
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    store.close()


def test_cli_exports(tmp_path, capsys):
    np.savez(tmp_path / "s.npz", A=np.arange(6.0).reshape(3, 2), B=np.ones((3, 2)))
    import_runs([tmp_path / "s.npz"], tmp_path / "out", Options())
    assert main(["export", str(tmp_path / "out"), "--format", "rliable"]) == 0
    exported = dict(np.load(tmp_path / "out" / "results.rliable.npz"))
    np.testing.assert_array_equal(exported["A"], np.arange(6.0).reshape(3, 2))
    assert main(["export", str(tmp_path / "out"), "--tensorboard", str(tmp_path / "tb")]) == 0
    assert "wrote 12 TensorBoard runs (one per seed)" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "out"), "--format", "xls"]) == 2
    assert "unknown format 'xls' (choose csv, parquet, npz, rliable, tensorboard)" in (
        capsys.readouterr().err
    )
