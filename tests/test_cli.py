import contextlib
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from rlcheck.cli import main
from tests.helpers.cli import TINY_PPO, rlcheck, spec_text


def _one_line_error(capsys, argv, expected):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expected in err, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["quick", "CartPole-v1", "--seeds", "0"], "Invalid value for '--seeds'"),
        (["quick", "CartPole-v1", "--algos", "ppo2"], "--algos: unknown algorithm 'ppo2'"),
        (["quick", "CartPol-v1"], "unknown env id 'CartPol-v1'; closest known ids"),
        (["quick", "CartPole-v1", "--steps", "10"], "budget 10 is smaller than one update of ppo"),
        (["quick"], "Missing argument 'env'"),
        (["quick", "CartPole-v1", "--bogus"], "No such option: --bogus"),
        (["export", ".", "--format", "xml"], "--format: unknown format 'xml'"),
        (["ls", "/nonexistent/dir"], "/nonexistent/dir: no rlcheck results here"),
        (["run", "/nonexistent/spec.toml"], "/nonexistent/spec.toml: no such file"),
        (["study", "run", "reward-hack"], "unknown study 'reward-hack'"),
        (["study", "run", "exploration", "--seeds", "1"], "Invalid value for '--seeds'"),
        (["study", "report", "--root", "/nonexistent/dir"], "no study results here"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, expected):
    _one_line_error(capsys, argv, expected)


def test_the_ray_executor_without_ray_is_one_line_saying_how_to_install_it(
    capsys, monkeypatch, tmp_path
):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, as when not installed
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text())
    ray_spec = tmp_path / "ray.toml"
    ray_spec.write_text('executor = "ray"\n' + spec_text())
    expected = "--executor ray needs Ray, an optional extra: pip install 'rlcheck[ray]'"
    for argv in (
        ["run", str(spec), "--executor", "ray"],
        ["run", str(spec), "--address", "127.0.0.1:6379"],
        ["run", str(ray_spec)],
        ["quick", "CartPole-v1", "--executor", "ray"],
        ["sweep", "CartPole-v1", "--vary", "gamma=0.9,0.99", "--executor", "ray"],
        ["verdict", "CartPole-v1", "--executor", "ray"],
    ):
        _one_line_error(capsys, [*argv, "--out", str(tmp_path / "out")], expected)
    assert not (tmp_path / "out").exists()  # nothing ran, not even a run was recorded


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--executor", "spark"], "--executor: unknown executor 'spark' (choose local or ray)"),
        (
            ["--executor", "local", "--address", "auto"],
            "--address: a Ray cluster's address goes with --executor ray",
        ),
        (["--retries", "3"], "--retries: only the Ray executor retries units"),
    ],
)
def test_bad_executor_options_exit_2_with_one_line(capsys, tmp_path, options, expected):
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text())
    _one_line_error(capsys, ["run", str(spec), "--out", str(tmp_path / "out"), *options], expected)
    assert not (tmp_path / "out").exists()


def test_algos_lists_every_registered_algorithm_with_its_presets(capsys):
    from rlcheck.registry import ALGORITHMS

    assert main(["algos"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split("│")[1].strip(): line for line in lines if line.count("│") > 3}
    assert set(ALGORITHMS) <= set(rows)
    assert "discrete" in rows["dqn"] and "continuous" not in rows["dqn"]
    assert "rl-zoo" in rows["sac"] and "continuous" in rows["sac"]


def _table_rows(out: str) -> dict[str, list[str]]:
    """{first cell: cells} of a rich table, a row's wrapped lines joined cell by cell."""
    rows: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        if line.count("│") < 3:
            current = None
            continue
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells[0]:
            current = rows.setdefault(cells[0], cells)
        elif current is not None:
            for i, cell in enumerate(cells):
                current[i] = f"{current[i]} {cell}".strip()
    return rows


def test_algos_lists_rlchecks_own_envs(capsys):
    assert main(["algos"]) == 0
    out = capsys.readouterr().out
    for name in ("BoatRace-v0", "TomatoWatering-v0", "AbsentSupervisor-v0", "SuicidalRoom-v0"):
        assert f"rlcheck:{name}" in out


def test_study_list_lists_every_study_with_its_costs(capsys):
    from rlcheck.studies import studies

    assert main(["study", "list"]) == 0
    out = capsys.readouterr().out
    for name, study in studies().items():
        assert name in out
        assert f"{study.quick_seeds} seeds, ~{study.quick_seconds:.0f} s" in out
    assert len(studies()) >= 6


def test_algos_fields_prints_the_glossary_with_where_each_field_is_traced(capsys):
    from rlcheck.glossary import GLOSSARY, UNITS

    assert main(["algos", "--fields"]) == 0
    # Rich wraps and folds long cells: compare the text without its whitespace.
    rows = {
        k: ["".join(c.split()) for c in v] for k, v in _table_rows(capsys.readouterr().out).items()
    }
    assert set(GLOSSARY) <= set(rows)
    for name, term in GLOSSARY.items():
        assert rows[name][1:3] == ["".join(term.unit.split()), "".join(term.meaning.split())]
    assert rows["learning_starts"][3:] == ["dqn,ddpg,td3,sac", "—"]
    # learning_rate is traced in the RL algorithms, static in OpenAI-ES (evosax's optimizer is
    # built with it).
    assert rows["learning_rate"][3:] == ["ppo,dqn,a2c,reinforce", "openai_es"]
    assert rows["train_frequency"][3:] == ["—", "dqn,ddpg,td3,sac"]
    assert "target_update_interval" not in rows  # DQN's alone since SAC's became target_delay
    assert rows["env steps"][1] == "".join(UNITS["env steps"].split())  # the units, below


def test_bad_spec_exits_2_with_one_line_in_a_real_process(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text().replace("budget = 320", "budget = 320\nbudgett = 1"))
    result = rlcheck("run", str(spec), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"rlcheck: error: {spec}: budgett: unknown field"
    assert not (tmp_path / "out").exists()


def test_a_bad_robustness_table_exits_2_before_training(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text() + '[robustness]\nvary = { lenght = "0.1:1:3" }\n')
    _one_line_error(
        capsys,
        ["run", str(spec), "--out", str(tmp_path / "out")],
        f"{spec}: robustness: vary lenght: unknown env parameter 'lenght' of cartpole "
        "EnvParams; did you mean 'length'?",
    )
    assert not (tmp_path / "out").exists()
    spec.write_text(spec_text() + '[robustness]\nvary = { length = "1", masspole = "1" }\n')
    _one_line_error(
        capsys, ["run", str(spec)], f"{spec}: robustness.vary: vary one quantity per request"
    )


def _policy_store(directory: Path, algo: str = "ppo", **meta) -> Path:
    """A results directory holding one (untrained) unit: enough for the checks that come before
    any policy is loaded."""
    from tests.report.synthetic import open_store, record

    store, run_id = open_store(directory)
    unit = record("CartPole-v1", algo, None, 1, 475.0)
    unit.meta.update({"policy": {"final": True}, "env_kwargs": {}, **meta})
    store.write_unit(run_id, unit, [(0, "ok", 1.0, None)], [], [])
    store.close()
    return directory


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "--vary NAME=VALUES is required"),
        (["--vary", "length=1,2", "--vary", "gravity=9"], "--vary once per request (got 2)"),
        (["--vary", "length"], "--vary: expected NAME=VALUES"),
        (["--vary", "length=0:2:8:log"], "a log range needs bounds above 0, got '0:2:8:log'"),
        (["--vary", "length=1:2:x"], "N in '1:2:x' must be a whole number"),
        (["--vary", "lenght=1,2"], "unknown env parameter 'lenght' of cartpole EnvParams"),
        (["--vary", "polemass_length=1,2"], "'polemass_length' of cartpole EnvParams is derived"),
        (["--vary", "length=1,2", "--episodes", "0"], "Invalid value for '--episodes'"),
        (["--vary", "action_noise=0,2"], "discrete actions is the probability of a random action"),
    ],
)
def test_bad_robustness_arguments_exit_2_with_one_line(tmp_path, capsys, argv, expected):
    directory = _policy_store(tmp_path)
    _one_line_error(capsys, ["robustness", str(directory), *argv], expected)


def test_robustness_without_anything_to_evaluate_exits_2_with_one_line(tmp_path, capsys):
    vary = ["--vary", "length=0.5,1"]
    _one_line_error(
        capsys, ["robustness", str(tmp_path / "none"), *vary], "no rlcheck results here"
    )
    planners = _policy_store(tmp_path / "planners", algo="lqr", policy=None)
    _one_line_error(
        capsys,
        ["robustness", str(planners), *vary],
        "to evaluate: lqr is a planner: it has no policy to evaluate",
    )
    from rlcheck.experiment.store import Store

    Store(tmp_path / "empty").close()
    _one_line_error(
        capsys, ["robustness", str(tmp_path / "empty"), *vary], "no unit is stored here"
    )


def test_a_user_env_failing_check_env_exits_2_with_one_line_in_a_real_process():
    env_id = "tests.helpers.envs:make_reset_without_info"
    result = rlcheck("quick", env_id)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"rlcheck: error: rlcheck quick: env[0].id: env {env_id}: check_env: The result returned "
        "by `env.reset()` was not a tuple of the form `(obs, info)`, where `obs` is a observation "
        "and `info` is a dictionary containing additional information. Actual type: "
        "`<class 'numpy.ndarray'>`"
    )


def test_what_check_env_warns_about_is_one_line_and_rlcheck_goes_on(capsys):
    env_id = "tests.helpers.envs:make_out_of_bounds"
    # Planning goes on past the warning, to the budget check, which stops it before training.
    assert main(["quick", env_id, "--steps", "10"]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning == (
        f"rlcheck: warning: env {env_id}: check_env: The obs returned by the `step()` method is "
        "not within the observation space."
    )
    assert error.startswith(f"rlcheck: error: rlcheck quick: algo[0] on {env_id}: budget 10 ")


def test_each_env_warning_shows_once_however_often_the_env_is_made(capsys):
    from rlcheck.cli import _one_line_warnings
    from rlcheck.errors import EnvWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        _one_line_warnings()
        for message in ("env a: check_env: x", "env b: check_env: x", "env a: check_env: x"):
            warnings.warn(message, EnvWarning, stacklevel=1)
    assert capsys.readouterr().err.splitlines() == [
        "rlcheck: warning: env a: check_env: x",
        "rlcheck: warning: env b: check_env: x",
    ]


def test_run_resume_and_export(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        spec_text(
            algos='[[algo]]\nname = "ppo"\n'
            + TINY_PPO
            + '[[algo]]\nname = "random"\n[algo.config]\nnum_envs = 2\n'
            "num_steps = 16\n"
        )
        # Robustness after training: the final evaluation's episodes, then with noise.
        + '[robustness]\nvary = { obs_noise = "0,0.3" }\nepisodes = 2\n'
    )
    out = tmp_path / "out"
    first = rlcheck("run", str(spec), "--out", str(out), "--workers", "1")
    assert first.returncode == 0, first.stderr
    assert "✓ ppo on CartPole-v1" in first.stdout and "✓ random on CartPole-v1" in first.stdout
    assert "failed seeds" in first.stdout
    assert first.stdout.count("): evaluated in ") == 2
    second = rlcheck("run", str(spec), "--out", str(out), "--workers", "1")
    assert second.returncode == 0
    assert second.stdout.count("already stored, skipped") == 2
    assert second.stdout.count("): already stored") == 2  # the robustness of each unit
    db = sqlite3.connect(out / "results.sqlite")
    assert db.execute("SELECT COUNT(*) FROM units").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM robustness").fetchone()[0] == 2
    assert '"robustness": [' in (out / "summary.json").read_text()

    exported = rlcheck("export", str(out), "--format", "csv", "-o", str(tmp_path / "r.csv"))
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "r.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {"algo", "env", "config", "seed", "step", "metric", "value"} <= set(rows[0])
    finals = [r for r in rows if r["metric"] == "final_return"]
    assert len(finals) == 2 * 2 and {r["step"] for r in finals} == {"320"}
    evals = [r for r in rows if r["metric"] == "eval_return"]
    assert sorted({int(r["step"]) for r in evals}) == [160, 320]
    assert len(evals) == 2 * 2 * 2
    assert {r["config"] for r in rows if r["algo"] == "ppo"} == {
        '{"num_envs": 2, "num_minibatches": 2, "num_steps": 16, "update_epochs": 1}'
    }

    listed = rlcheck("ls", str(out))
    assert listed.returncode == 0 and listed.stdout.count("done") == 2


def test_a_failing_env_fails_its_unit_and_the_rest_goes_on(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        spec_text(
            budget=2048,
            envs=("tests.helpers.envs:make_exploding_cartpole", "CartPole-v1"),
            algos='[[algo]]\nname = "random"\n',
        )
    )
    result = rlcheck(
        "run", str(spec), "--out", str(tmp_path / "out"), "--workers", "1", cwd=os.getcwd()
    )
    assert result.returncode == 1
    assert "RuntimeError: simulator exploded" in result.stdout
    assert "unit failed" in result.stdout
    db = sqlite3.connect(tmp_path / "out" / "results.sqlite")
    statuses = dict(db.execute("SELECT env, status FROM units"))
    assert statuses == {
        "tests.helpers.envs:make_exploding_cartpole": "failed",
        "CartPole-v1": "done",
    }
    assert db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 1


def test_kill_9_mid_run_then_resume_stores_every_unit_once(tmp_path):
    algos = "".join(
        f'[[algo]]\nname = "ppo"\nlabel = "ppo-{i}"\n'
        + TINY_PPO.replace("[algo.config]\n", f"[algo.config]\ngamma = 0.9{i}\n")
        for i in range(3)
    )
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text(budget=40_000, algos=algos))
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlcheck.cli",
            "run",
            str(spec),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    stored = 0
    while time.monotonic() < deadline and stored < 1:
        time.sleep(0.2)
        if (out / "results.sqlite").exists():
            with contextlib.suppress(sqlite3.OperationalError):  # schema not created yet
                db = sqlite3.connect(out / "results.sqlite")
                stored = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
    assert stored == 1, "no unit was stored in time"
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and its workers, mid-way through unit 2
    process.wait()

    resumed = rlcheck("run", str(spec), "--out", str(out), "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("already stored, skipped") == 1
    db = sqlite3.connect(out / "results.sqlite")
    keys = [k for (k,) in db.execute("SELECT key FROM units WHERE status = 'done'")]
    assert len(keys) == len(set(keys)) == 3
    for (
        key
    ) in keys:  # 2 seeds × (2 eval_return + 1 final_return); train_return where episodes ended
        counts = dict(
            db.execute(
                "SELECT metric, COUNT(*) FROM scalars WHERE unit_key = ? GROUP BY metric", (key,)
            )
        )
        assert counts["eval_return"] == 4 and counts["final_return"] == 2


def test_same_spec_twice_gives_identical_numbers(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text())
    values = []
    for name in ("a", "b"):
        assert (
            rlcheck("run", str(spec), "--out", str(tmp_path / name), "--workers", "1").returncode
            == 0
        )
        db = sqlite3.connect(tmp_path / name / "results.sqlite")
        values.append(
            db.execute(
                "SELECT seed, step, metric, value FROM scalars ORDER BY seed, metric, step"
            ).fetchall()
        )
    assert values[0] == values[1] and len(values[0]) > 0


def _internal_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "Traceback" not in err, err
    log = Path(err.rsplit("traceback in ", 1)[1].strip())
    return err, log


def test_an_internal_error_is_one_line_and_a_log_in_the_results_directory(
    capsys, monkeypatch, tmp_path
):
    from rlcheck import stats

    def broken(*args, **kwargs):
        raise ValueError("timepoints must be strictly increasing\nsecond line")

    monkeypatch.setattr(stats, "short_term_risk", broken)
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text())
    out = tmp_path / "out"
    err, log = _internal_error(capsys, ["run", str(spec), "--out", str(out), "--workers", "0"])
    assert err.startswith(
        "rlcheck: internal error: ValueError: timepoints must be strictly increasing (in "
        "_reliability, rlcheck/report/analysis.py:"
    )
    assert log.parent == out and log.name.startswith("rlcheck-error-")
    text = log.read_text()
    assert text.startswith(f"rlcheck run {spec} --out {out} --workers 0\n")
    assert "Traceback (most recent call last)" in text and "in broken" in text
    # The unit trained before the report failed stays stored, and the run is on record.
    db = sqlite3.connect(out / "results.sqlite")
    assert db.execute("SELECT status FROM units").fetchall() == [("done",)]
    assert db.execute("SELECT status FROM runs").fetchall() == [("done",)]
    monkeypatch.undo()
    assert main(["report", str(out)]) == 0


def test_an_internal_error_without_a_results_directory_logs_in_the_temp_directory(
    capsys, monkeypatch, tmp_path
):
    import tempfile

    from rlcheck.experiment import spec as spec_module

    def broken(path):
        raise KeyError("boom")

    monkeypatch.setattr(spec_module, "load_spec", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    err, log = _internal_error(capsys, ["run", "spec.toml"])
    # Where in rlcheck: the innermost frame of the package, the caller of the broken function.
    assert err.startswith("rlcheck: internal error: KeyError: 'boom' (in run, rlcheck/cli.py:")
    assert log.parent == tmp_path / "rlcheck"
    assert "KeyError: 'boom'" in log.read_text()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--vary", "learning_rat=1e-3,1e-2"],
            "--vary learning_rat: ppo has no such config field; did you mean 'learning_rate'?",
        ),
        (
            ["--vary", "env.lenght=0.25:1:4"],
            "--vary env.lenght: unknown env parameter 'lenght' of cartpole EnvParams; did you "
            "mean 'length'?",
        ),
        (
            ["--vary", "learning_rate=0:1e-2:4:log"],
            "--vary learning_rate: a log range needs bounds above 0",
        ),
        (["--vary", "ent_coef=0:1:0"], "--vary ent_coef: N in '0:1:0' must be at least 1, got 0"),
        (["--vary", "num_envs=1:8:4"], "--vary num_envs: num_envs takes whole numbers"),
        (
            ["--vary", "ent_coef=0,0.1", "--method", "bayes"],
            "--method: unknown method 'bayes' (choose grid, random or tpe)",
        ),
        (
            ["--vary", "ent_coef=0,0.1", "--method", "random"],
            "--trials: required with method 'random'",
        ),
        (["--vary", "ent_coef=0,0.1", "--method", "tpe"], "--trials: required with method 'tpe'"),
        ([], "--vary: give at least one"),
        (["--vary", "learning_rate"], "--vary learning_rate: write NAME=VALUES"),
        (["--algo", "pp", "--vary", "ent_coef=0,0.1"], "--algo: unknown algorithm 'pp'"),
        (["--vary", "env.reward_scale=-1,1"], "--vary env.reward_scale: reward scales must be"),
    ],
)
def test_bad_sweeps_exit_2_with_one_line(capsys, argv, expected):
    _one_line_error(capsys, ["sweep", "CartPole-v1", *argv], expected)


SWEEP = """
[sweep]
batch = 2
fresh_seeds = 2
[sweep.vary]
gamma = [0.9, 0.95, 0.97, 0.99]
"""


def test_sweep_specs_and_run_specs_do_not_mix(capsys, tmp_path):
    swept = tmp_path / "swept.toml"
    swept.write_text(spec_text() + SWEEP)
    plain = tmp_path / "plain.toml"
    plain.write_text(spec_text())
    _one_line_error(capsys, ["run", str(swept)], "has a [sweep] table; run it with rlcheck sweep")
    _one_line_error(capsys, ["sweep", str(plain)], "plain.toml: no [sweep] table")
    _one_line_error(
        capsys,
        ["sweep", str(swept), "--trials", "3"],
        "--trials: a spec gives its sweep in its [sweep] table",
    )


def test_kill_9_mid_sweep_then_resume_stores_every_configuration_once(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(spec_text(budget=40_000) + SWEEP)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rlcheck.cli", "sweep", str(spec), "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    stored = 0
    while time.monotonic() < deadline and stored < 1:
        time.sleep(0.2)
        if (out / "results.sqlite").exists():
            with contextlib.suppress(sqlite3.OperationalError):  # schema not created yet
                db = sqlite3.connect(out / "results.sqlite")
                stored = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
    # The first program's two configurations are stored together, in one transaction.
    assert stored == 2, "no program was stored in time"
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and its worker, in the second program
    process.wait()

    resumed = rlcheck("sweep", str(spec), "--out", str(out), "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("already stored, skipped") == 2
    db = sqlite3.connect(out / "results.sqlite")
    keys = [k for (k,) in db.execute("SELECT key FROM units WHERE status = 'done'")]
    roles = db.execute("SELECT role, COUNT(*) FROM sweep_units GROUP BY role").fetchall()
    assert dict(roles) == {"tuning": 4, "chosen": 1, "default": 1}
    # Four configurations on the tuning seeds, the chosen and the default on fresh seeds (one
    # unit when the default was the best).
    fresh = {k for (k,) in db.execute("SELECT unit_key FROM sweep_units WHERE trial = -1")}
    assert len(keys) == len(set(keys)) == 4 + len(fresh)
    assert fresh <= set(keys)
    gammas = sorted(
        json.loads(c)["gamma"]
        for (c,) in db.execute("SELECT config FROM units WHERE json_extract(seeds, '$[0]') = 0")
    )
    assert gammas == [0.9, 0.95, 0.97, 0.99]


def test_a_reward_scale_sweep_from_the_command_line(tmp_path):
    out = tmp_path / "out"
    result = rlcheck(
        "sweep",
        "CartPole-v1",
        "--vary",
        "env.reward_scale=0.01,100",
        *("--seeds", "2", "--steps", "512", "--fresh-seeds", "2", "--checkpoints", "1"),
        *("--eval-episodes", "1", "--no-random", "--out", str(out), "--workers", "1"),
    )
    assert result.returncode == 0, result.stderr
    assert "Sweep: ppo on CartPole-v1 (grid, 2/2 configurations × 2 tuning seeds" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    (sweep,) = summary["sweep"]
    assert [p["name"] for p in sweep["parameters"]] == ["env.reward_scale"]
    assert sweep["per_parameter"]["env.reward_scale"]["log_axis"]
    assert sweep["tuning_seeds"] == [0, 1] and sweep["fresh_seeds"] == [10_000, 10_001]
    # Returns in CartPole's own units whatever the scale: 1 per step, at most 500.
    for config in sweep["configs"]:
        assert 0 < config["iqm"]["point"] <= 500
    labels = [a["label"] for a in summary["envs"][0]["algos"]]
    assert labels[0].startswith("ppo chosen [env.reward_scale=") and labels[1] == "ppo default"
    assert (
        sweep["fraction_beats_random_reason"]
        == "no random baseline on this env (add the random algo)"
    )
    # Every configuration is a unit like any other: ls lists it.
    listed = rlcheck("ls", str(out))
    for config in sweep["configs"]:
        assert config["unit_key"] in listed.stdout
    assert 'id="sensitivity"' in (out / "report.html").read_text()
