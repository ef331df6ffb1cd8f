"""Stored policies read back: they reproduce the stored final returns, under both drivers."""

import shutil
import sqlite3

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rlcheck
from rlcheck.baselines import search
from rlcheck.drivers import fused
from rlcheck.drivers.evaluation import play_policy
from rlcheck.drivers.host import HostDriver, final_stream
from rlcheck.errors import UserError
from rlcheck.experiment.execute import Executor
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec
from rlcheck.experiment.store import Store
from rlcheck.report.html import write_report
from tests.helpers.trained import FINAL_EPISODES, shared_copy
from tests.report.synthetic import open_store, record

SEEDS = [0, 1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return shared_copy(tmp_path_factory)


def _finals(directory, algo):
    store = Store(directory, create=False)
    (row,) = [r for r in store.units() if r["algo"] == algo]
    finals = [store.array(row["key"], s, "final_episode_returns") for s in SEEDS]
    store.close()
    return np.stack(finals)


@pytest.mark.parametrize(
    ("algo", "final_key"),
    [
        ("ppo", fused.final_eval_key),  # on-policy
        ("dqn", fused.final_eval_key),  # off-policy
        ("ars", search.final_eval_key),  # policy search
        ("random", fused.final_eval_key),  # no parameters at all
    ],
)
def test_reloaded_policies_replay_their_final_evaluation(trained, algo, final_key):
    for seed, stored in zip(SEEDS, _finals(trained, algo), strict=True):
        policy = rlcheck.load_policy(trained, algo, seed)
        assert (policy.algo, policy.seed, policy.env_id) == (algo, seed, "CartPole-v1")
        replay = jax.jit(
            lambda params, key, env=policy.env, agent=policy.agent: (
                play_policy(
                    env,
                    agent.policy_apply,
                    params,
                    key,
                    FINAL_EPISODES,
                    env.params,
                    deterministic=True,
                    step_cap=env.spec.time_limit,
                ).returns
            )
        )
        # The same keys as the driver's final evaluation: the same episodes, exactly.
        np.testing.assert_array_equal(replay(policy.params, final_key(seed)), stored)


def test_a_policy_acts_on_one_observation_or_a_batch(trained):
    policy = rlcheck.load_policy(trained, "ppo", 1)
    obs = np.array([[0.0, 0.0, 0.05, 0.0], [0.0, 0.0, -0.05, 0.0], [0.1, 0.2, 0.0, -0.3]])
    batch = policy(obs)
    assert batch.shape == (3,) and batch.dtype == np.int32
    assert [int(policy(o)) for o in obs] == batch.tolist()
    assert set(batch.tolist()) <= {0, 1}
    # Sampling draws from the policy's own key stream unless given a key.
    key = jax.random.PRNGKey(7)
    np.testing.assert_array_equal(
        policy(obs, key, deterministic=False), policy(obs, key, deterministic=False)
    )
    with pytest.raises(UserError, match=r"observation of shape \(3,\)"):
        policy(np.zeros(3))


def test_units_are_named_by_key_prefix_or_label_with_one_line_errors(trained):
    store = Store(trained, create=False)
    key = next(r["key"] for r in store.units() if r["algo"] == "dqn")
    store.close()
    assert rlcheck.load_policy(trained, key[:6], 0).algo == "dqn"
    assert rlcheck.load_policy(trained, key, 0).unit_key == key
    with pytest.raises(UserError, match=r"no unit 'sac'.*units: ppo on CartPole-v1 \(unit "):
        rlcheck.load_policy(trained, "sac", 0)
    with pytest.raises(UserError, match=r"has no seed 5 \(seeds: 0, 1\)"):
        rlcheck.load_policy(trained, "ppo", 5)
    with pytest.raises(UserError, match="kept only its final policies; set keep_checkpoint"):
        rlcheck.load_policy(trained, "ppo", 0, checkpoint=0)


def test_a_directory_written_before_policies_were_kept_still_reads(trained, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(trained, old)
    # What an older rlcheck wrote: no policy arrays, no policy entry in the units' meta.
    db = sqlite3.connect(old / "results.sqlite")
    db.execute("DELETE FROM arrays WHERE name LIKE 'policy/%'")
    db.execute("UPDATE units SET meta = json_remove(meta, '$.policy')")
    db.execute("DROP TABLE robustness")
    db.commit()
    db.close()
    with pytest.raises(UserError, match="was stored before rlcheck kept policies") as info:
        rlcheck.load_policy(old, "ppo", 0)
    assert "\n" not in str(info.value)
    html, _ = write_report(old)
    assert "Robustness" in html.read_text()


def test_a_planner_has_no_policy(tmp_path):
    store, run_id = open_store(tmp_path)
    unit = record("CartPole-v1", "lqr", None, 1, 475.0)
    unit.meta["policy"] = None  # what rlcheck/experiment/record.py stores for planners
    store.write_unit(run_id, unit, [(0, "ok", 500.0, None)], [], [])
    store.close()
    with pytest.raises(UserError, match="lqr is a planner; it has no policy to store or load"):
        rlcheck.load_policy(tmp_path, "lqr", 0)


def test_host_policies_and_checkpoint_policies_reload(tmp_path):
    spec = parse_spec(
        {
            "seeds": SEEDS,
            "budget": 256,
            "eval": {
                "checkpoints": 2,
                "episodes": 2,
                "final_episodes": FINAL_EPISODES,
                "keep_checkpoint_policies": True,
            },
            "env": [{"id": "gymnasium:CartPole-v1"}],
            "algo": [
                {
                    "name": "ppo",
                    "config": {
                        "num_envs": 2,
                        "num_steps": 16,
                        "num_minibatches": 2,
                        "update_epochs": 1,
                    },
                }
            ],
        },
        "host",
    )
    store = Store(tmp_path)
    with Executor(store, store.start_run({}, {}), workers=0) as executor:
        (outcome,) = executor.run(plan_units(spec, "host"))
    assert outcome.status == "done", outcome.reason
    unit = outcome.unit
    stored = np.stack([store.array(unit.key, s, "final_episode_returns") for s in SEEDS])
    store.close()
    policies = [rlcheck.load_policy(tmp_path, "ppo", s) for s in SEEDS]
    assert policies[0].env_params is None  # a Gymnasium env has no params
    driver = HostDriver(policies[0].agent, policies[0].env, unit.schedule, unit.eval_plan)
    params = jax.tree.map(lambda *xs: jnp.stack(xs), *(p.params for p in policies))
    # The final evaluation's envs are reset with the same seeds: the same episodes.
    returns, _, _ = driver.evaluate(
        params,
        SEEDS,
        final_stream(unit.schedule),
        FINAL_EPISODES,
        jnp.stack([jax.random.PRNGKey(s) for s in SEEDS]),
    )
    driver.close()
    np.testing.assert_array_equal(returns, stored)
    # The last checkpoint is the end of training: its policy is the final one.
    last = rlcheck.load_policy(tmp_path, "ppo", 1, checkpoint=-1)
    first = rlcheck.load_policy(tmp_path, "ppo", 1, checkpoint=0)
    kernel = ("actor", "net", "params", "Dense_0", "kernel")

    def leaf(p):
        value = p.params
        for k in kernel:
            value = value[k]
        return value

    np.testing.assert_array_equal(leaf(last), leaf(policies[1]))
    assert not np.array_equal(leaf(first), leaf(last))
    with pytest.raises(UserError, match=r"has 2 checkpoint policies \(0 … 1\); no checkpoint 2"):
        rlcheck.load_policy(tmp_path, "ppo", 1, checkpoint=2)
