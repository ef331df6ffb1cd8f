"""The battery `rlcheck verdict` runs fits the env: its actions, budgets and what can plan."""

from rlcheck.experiment import battery
from rlcheck.registry import ALGORITHMS


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
