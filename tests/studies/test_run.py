import json

import pytest

from rlcheck.errors import UserError
from rlcheck.studies import get_study, studies
from rlcheck.studies.run import (
    FINDING,
    conclude,
    default_directory,
    prepare,
    read_manifest,
    study_directories,
)
from tests.report.synthetic import open_store, write_unit


def test_a_directory_holds_one_study_at_one_scale(tmp_path):
    study = get_study("seed-failures")
    quick = study.scale(quick=True)
    prepare(tmp_path, study, quick)
    assert read_manifest(tmp_path) | {"started_at": None} == {
        "study": "seed-failures",
        "quick": True,
        "seeds": 10,
        "started_at": None,
    }
    prepare(tmp_path, study, quick)  # the same again resumes
    with pytest.raises(UserError, match=r"holds the study 'seed-failures' \(quick, 10 seeds\)"):
        prepare(tmp_path, study, study.scale(quick=False))
    with pytest.raises(UserError, match="give another --out"):
        prepare(tmp_path, get_study("exploration"), quick)


def test_conclude_writes_the_finding_from_the_stored_units(tmp_path):
    study = get_study("seed-failures")
    prepare(tmp_path, study, study.scale(quick=True, seeds=4))
    store, run_id = open_store(tmp_path)
    write_unit(store, run_id, "Pendulum-v1", "td3", [-150.0, -160.0, -900.0, -140.0])
    store.close()
    record = conclude(tmp_path, wall_s=12.5)
    assert record == json.loads((tmp_path / FINDING).read_text())
    assert "TD3 1/4 (25%" in record["sentence"]
    assert record["cost"]["command_wall_s"] == 12.5 and record["cost"]["units"] == 1
    assert record["seeds"] == 4 and record["quick"] is True
    # Concluding again (the findings page does) keeps the command's wall time.
    assert conclude(tmp_path)["cost"]["command_wall_s"] == 12.5


def test_study_directories_come_in_the_order_of_the_list(tmp_path):
    for name, quick in (("seed-failures", True), ("sample-efficiency", False)):
        study = get_study(name)
        prepare(tmp_path / default_directory(study, quick), study, study.scale(quick))
    found = [p.name for p in study_directories(tmp_path)]
    assert found == ["sample-efficiency", "seed-failures-quick"]


def test_concluding_where_no_study_ran_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="no study here"):
        conclude(tmp_path)


def test_every_study_of_the_issue_is_listed_in_order():
    assert list(studies())[:6] == [
        "sample-efficiency",
        "mpc-vs-rl",
        "black-box-search",
        "reward-hacking",
        "exploration",
        "seed-failures",
    ]
    # Issue 19's studies 7–13, in its order, right after issue 17's.
    names = list(studies())
    ours = [
        "overfitting-dynamics",
        "reward-scale",
        "code-level-optimizations",
        "gradient-concentration",
        "value-baseline",
        "clipping-trust-region",
        "hyperparameter-sensitivity",
    ]
    assert names[6:13] == ours


def test_an_unknown_study_is_a_one_line_error_with_the_closest_name():
    with pytest.raises(
        UserError, match=r"unknown study 'reward-hack' .*did you mean 'reward-hacking'"
    ):
        get_study("reward-hack")


def test_a_study_measures_once_and_its_analysis_reads_the_measurements(tmp_path):
    import dataclasses

    from rlcheck.studies.base import load_results
    from rlcheck.studies.run import measure

    calls = []

    def measured(scale, directory):
        calls.append(directory)
        return {"seeds": scale.seeds, "values": [1.0, float("nan")]}

    study = dataclasses.replace(get_study("seed-failures"), measure=measured)
    scale = study.scale(quick=True, seeds=3)
    prepare(tmp_path, study, scale)
    store, _ = open_store(tmp_path)
    store.close()
    assert measure(tmp_path, study, scale) is True
    assert measure(tmp_path, study, scale) is False  # a rerun keeps what was measured
    assert calls == [tmp_path]
    numbers = load_results(tmp_path).measurements
    assert numbers["seeds"] == 3 and numbers["values"][0] == 1.0
    assert measure(tmp_path, get_study("seed-failures"), scale) is False  # no measure
