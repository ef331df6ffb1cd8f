import json

import pytest

from rlcheck.agents import ALGORITHMS
from rlcheck.baselines import battery, verdict
from tests.helpers.cli import rlcheck


def _names(plan):
    return {a["name"] for spec in plan.specs for a in spec["algo"]}


def test_battery_fits_the_env():
    rl_discrete = {
        n
        for n, i in ALGORITHMS.items()
        if n not in battery.BASELINES and "discrete" in i.action_spaces
    }
    cartpole = battery.battery("CartPole-v1", seeds=3)
    assert _names(cartpole) == rl_discrete | {"ars", "cma_es", "lqr"}
    assert {s["seeds"] for s in cartpole.specs} == {3}
    assert "mcts" in _names(battery.battery("Acrobot-v1", seeds=2))
    pendulum = _names(battery.battery("Pendulum-v1", seeds=2))
    assert {"lqr", "cem", "ars", "cma_es"} <= pendulum
    assert not pendulum & {"dqn", "mcts"}


def test_default_budgets_and_the_budget_option():
    plan = battery.battery("CartPole-v1", seeds=2)
    budgets = {a["name"]: s["budget"] for s in plan.specs for a in s["algo"]}
    assert budgets["ppo"] == 100_000 and budgets["dqn"] == 50_000 and budgets["cma_es"] == 30_000
    assert battery.budget_for("sac", "gymnax:Pendulum-v1") == 20_000
    assert battery.budget_for("ppo", "Pendulum-v1") == 200_000
    tiny = battery.battery("CartPole-v1", seeds=2, budget=2048)
    assert "reinforce" not in _names(tiny)
    assert (
        "reinforce",
        "one update takes 4,000 env steps per seed, more than its budget (2,048)",
    ) in (tiny.skipped)
    forced = battery.battery("CartPole-v1", seeds=2, budget=4096)
    assert {s["budget"] for s in forced.specs} == {4096}
    # Planners are evaluated once, on fewer episodes than learners.
    lqr_spec = next(s for s in forced.specs if s["algo"][0]["name"] == "lqr")
    assert lqr_spec["eval"]["final_episodes"] == battery.PLANNER_EVAL["final_episodes"]


def test_learners_that_would_never_train_get_the_zoo_preset_or_are_left_out():
    # CleanRL's TD3/DDPG start learning after 25k env steps; the Pendulum budget is 20k.
    pendulum = battery.battery("Pendulum-v1", seeds=2)
    presets = {a["name"]: a.get("preset") for s in pendulum.specs for a in s["algo"]}
    assert presets["td3"] == presets["ddpg"] == "rl-zoo" and presets["sac"] is None
    short = battery.battery("Pendulum-v1", seeds=2, budget=5_000)
    assert "td3" not in _names(short)
    assert ("td3", "its learning_starts (25,000) is not below the budget (5,000)") in short.skipped


def test_host_envs_plan_through_state_or_say_why_not():
    host = battery.battery("gymnasium:Pendulum-v1", seeds=8)
    assert "cem" in _names(host) and not {"ars", "cma_es", "lqr"} & _names(host)
    planner = next(s for s in host.specs if s["algo"][0]["name"] == "cem")
    assert planner["seeds"] == battery.HOST_PLANNER_SEEDS
    host_cartpole = battery.battery("gymnasium:CartPole-v1", seeds=2)
    assert ("lqr, mcts", "plans on a JAX-native env's transition (try gymnax:ENV)") in (
        host_cartpole.skipped
    )
    stateless = battery.battery("tests.baselines.envs:make_stateless", seeds=2)
    assert "cem" not in _names(stateless)
    assert any("cannot be saved and restored" in why for _, why in stateless.skipped)
    # REINFORCE's default (drop cut-off episodes) needs a time limit; the env has none.
    assert "reinforce" not in _names(stateless)
    assert any(what == "reinforce" and "time limit" in why for what, why in stateless.skipped)


def _algo(label, iqm, low, solved, n, *, algo=None, steps=1000, calls=None):
    return {
        "label": label,
        "algo": algo or label,
        "iqm": {"point": iqm, "low": low, "high": iqm + 10, "n": n},
        "failure": {
            "solve": {"failures": n - solved, "n": n, "low": 0.0, "high": 0.2, "threshold": 475},
            "random": None,
        },
        "cost": {
            "env_steps_per_seed": steps,
            "seeds": n,
            "simulator_calls": calls,
            "wall_s": 2.0,
            "compile_s": 0.5,
        },
    }


def _pair(a, b, better, p):
    return {"a": a, "b": b, "better": better, "n_a": 8, "n_b": 8}, {
        a: {b: {"point": p, "low": p - 0.1, "high": p + 0.1}},
        b: {a: {"point": 1 - p, "low": 0.9 - p, "high": 1.1 - p}},
    }


def test_headline_says_which_simpler_method_does_better_or_as_well():
    algos = [
        _algo("ppo", 480.0, 470.0, 7, 8),
        _algo("dqn", 200.0, 150.0, 1, 8),
        _algo("lqr", 500.0, 500.0, 8, 8, steps=0, calls=40),
        _algo("ars", 475.0, 460.0, 6, 8),
        _algo("random", 22.0, 20.0, 0, 8),
    ]
    pairs, matrix = [], {}
    for other, better, p in (("lqr", "lqr", 0.9), ("ars", None, 0.45), ("random", "ppo", 0.0)):
        pair, m = _pair(other, "ppo", better, p)
        pairs.append(pair)
        for k, v in m.items():
            matrix.setdefault(k, {}).update(v)
    env = {
        "env": "CartPole-v1",
        "algos": algos,
        "comparisons": {"pairs": pairs, "matrix": matrix},
        "sample_efficiency": {"threshold": 475, "algos": {"ppo": {"median_env_steps": 40000}}},
    }
    out = verdict.env_headline(env)
    assert out["best_rl"] == "ppo" and out["rl_solves"] is True
    relations = {s["algo"]: s["relation"] for s in out["simpler"]}
    # random is the floor, not a simpler method; dqn is RL.
    assert relations == {"lqr": "better", "ars": "as well"}
    assert (
        out["headline"] == "RL can solve CartPole-v1 (ppo), but a simpler method does better: lqr."
    )
    text = " ".join(out["lines"])
    assert "solved it in 7 of 8 seeds" in text
    assert "median 40k env steps to reach 475" in text
    assert "5 simulator calls per seed" in text
    assert "2.0 s wall for all seeds (0.5 s of it compiling)" in text
    assert "P(lqr > ppo) = 0.90, 95% CI [0.80, 1.00]" in text


def test_a_pair_held_back_by_holm_says_why():
    pair, matrix = _pair("cma_es", "trpo", None, 0.34)
    pair.update(held_back="holm", holm_p=0.081)
    env = {
        "env": "CartPole-v1",
        "algos": [_algo("trpo", 500.0, 500.0, 8, 8), _algo("cma_es", 450.0, 400.0, 5, 8)],
        "comparisons": {"pairs": [pair], "matrix": matrix, "tests": 36},
    }
    (simpler,) = verdict.env_headline(env)["simpler"]
    assert simpler["relation"] == "unclear"
    assert "P(cma_es > trpo) = 0.34, 95% CI [0.24, 0.44]" in simpler["sentence"]
    held_back = "Mann–Whitney p = 0.081 after Holm's correction for 36 comparisons"
    assert held_back in simpler["sentence"]


@pytest.mark.slow
def test_verdict_end_to_end_on_cartpole(tmp_path):
    out = tmp_path / "verdict"
    result = rlcheck(
        "verdict", "CartPole-v1", "--seeds", "2", "--budget", "2048", "--out", str(out), timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rlcheck verdict" in result.stdout
    written = json.loads((out / "verdict.json").read_text())
    (env,) = written["envs"]
    assert env["env"] == "CartPole-v1"
    simpler = {s["algo"]: s for s in env["simpler"]}
    assert {"ars", "cma_es", "lqr"} <= set(simpler)
    assert "0 env steps per seed, 5 simulator calls per seed" in simpler["lqr"]["sentence"]
    assert (out / "verdict.md").read_text().startswith("# rlcheck verdict")
    assert (out / "report.html").exists()
