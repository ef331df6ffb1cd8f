import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.plan import plan_units
from rlcheck.experiment.spec import parse_spec


def _plan(**changes):
    data = {
        "seeds": 4,
        "budget": 10_000,
        "env": [{"id": "CartPole-v1"}],
        "algo": [{"name": "ppo"}, {"name": "random"}],
    }
    data.update(changes)
    return plan_units(parse_spec(data, "spec.toml"), "spec.toml")


def test_one_unit_per_env_and_algo_entry_with_every_seed():
    units = _plan(env=[{"id": "CartPole-v1"}, {"id": "Acrobot-v1"}])
    assert [(u.env.id, u.algo.name) for u in units] == [
        ("CartPole-v1", "ppo"),
        ("CartPole-v1", "random"),
        ("Acrobot-v1", "ppo"),
        ("Acrobot-v1", "random"),
    ]
    assert all(u.seeds == (0, 1, 2, 3) for u in units)
    assert len({u.key for u in units}) == 4


def test_keys_depend_on_what_determines_the_numbers_not_on_labels():
    base = _plan()[0].key
    assert _plan()[0].key == base
    assert _plan(algo=[{"name": "ppo", "label": "PPO (CleanRL)"}])[0].key == base
    assert _plan(algo=[{"name": "ppo", "config": {"gamma": 0.98}}])[0].key != base
    assert _plan(seeds=5)[0].key != base
    assert _plan(budget=20_000)[0].key != base


def test_unit_keys_of_existing_specs_do_not_change():
    # Results directories resume by key: a spec that does not use a newer option (domain
    # randomization, env params, ...) must keep the key it had when it was first stored.
    assert [u.key for u in _plan()] == ["abda4d2f0b7c3af2", "5b271c689b4174ed"]
    monitored = _plan(algo=[{"name": "ppo", "config": {"trust_region_monitor": True}}])[0]
    assert monitored.key != "abda4d2f0b7c3af2" and "ratio_max" in monitored.metric_names


def test_domain_randomization_is_part_of_the_key_and_checked_when_planning():
    base = _plan()[0].key
    env = {"id": "CartPole-v1", "randomize": {"length": [0.05, 2.0]}}
    randomized = _plan(env=[env])[0].key
    assert randomized != base
    assert _plan(env=[{**env, "randomize": {"length": [0.05, 1.0]}}])[0].key != randomized
    with pytest.raises(UserError, match=r"spec.toml: env\[0\]\.randomize: unknown env parameter"):
        _plan(env=[{"id": "CartPole-v1", "randomize": {"lenght": [0.1, 1.0]}}])
    with pytest.raises(UserError, match=r"env\[0\]\.randomize: domain randomization needs"):
        _plan(env=[{"id": "gymnasium:CartPole-v1", "randomize": {"length": [0.1, 1.0]}}])


def test_keys_of_specs_written_before_policies_were_kept_do_not_change():
    # The keys main gave these units before keep_checkpoint_policies existed: a results
    # directory written then resumes without retraining.
    assert [u.key for u in _plan()] == ["abda4d2f0b7c3af2", "5b271c689b4174ed"]
    kept = _plan(eval={"keep_checkpoint_policies": True})
    assert kept[0].key not in ("abda4d2f0b7c3af2", "5b271c689b4174ed")
    assert kept[0].eval_plan.keep_checkpoint_policies


def test_config_is_resolved_for_the_action_space():
    ppo = _plan(env=[{"id": "Pendulum-v1"}])[0]
    assert ppo.config["num_steps"] == 2048 and ppo.config["normalize_obs"] is True
    assert ppo.overrides == {}


@pytest.mark.parametrize(
    ("algo", "message"),
    [
        (
            {"name": "ppo", "config": {"learning_rat": 1e-3}},
            r"algo\[0\].config.learning_rat: ppo has "
            r"no such config field; did you mean 'learning_rate'\?",
        ),
        (
            {"name": "ppo", "config": {"norm_adv": "yes"}},
            r"algo\[0\].config.norm_adv: Input should "
            r"be a valid boolean",
        ),
        (
            {"name": "ppo", "config": {"activation": "gelu"}},
            r"Input should be 'tanh', 'relu' or 'swish'",
        ),
        (
            {"name": "ppo", "config": {"ortho_init": False}},
            r"^spec.toml: algo\[0\].config.ortho_init: ppo's ortho_init was renamed weight_init; "
            r'write weight_init = "lecun"$',
        ),
        (
            {"name": "ppo", "config": {"num_minibatches": 3}},
            r"not divisible by num_minibatches = 3",
        ),
        ({"name": "pop"}, r"algo\[0\].name: unknown algorithm 'pop' .*did you mean 'ppo'\?"),
    ],
)
def test_bad_algo_entries(algo, message):
    with pytest.raises(UserError, match=message):
        _plan(algo=[algo])


def test_labels_must_be_distinct():
    with pytest.raises(UserError, match=r"algo\[1\].label: 'ppo' is already used by algo\[0\]"):
        _plan(algo=[{"name": "ppo"}, {"name": "ppo", "config": {"gamma": 0.9}}])


def test_budget_below_one_update():
    with pytest.raises(UserError, match="budget 100 is smaller than one update of ppo"):
        _plan(budget=100)


def test_a_preset_sets_published_fields_and_the_config_overrides_them():
    ppo = _plan(algo=[{"name": "ppo", "preset": "rl-zoo"}])[0]
    assert (ppo.config["num_envs"], ppo.config["num_steps"], ppo.config["gamma"]) == (8, 32, 0.98)
    assert ppo.config["vf_coef"] == 1.0  # SB3's MSE value loss without the factor ½
    tuned = _plan(algo=[{"name": "ppo", "preset": "rl-zoo", "config": {"gamma": 0.9}}])[0]
    assert tuned.config["gamma"] == 0.9 and tuned.config["num_envs"] == 8
    assert tuned.key != ppo.key


@pytest.mark.parametrize(
    ("preset", "env", "message"),
    [
        ("zoo", "CartPole-v1", r"ppo has no preset source 'zoo' \(known: cleanrl, rl-zoo\)"),
        ("rl-zoo", "Pendulum-v1", r"no rl-zoo preset for ppo on Pendulum-v1 \(it has: Acrobot-v1"),
    ],
)
def test_unknown_presets(preset, env, message):
    with pytest.raises(UserError, match=message):
        _plan(env=[{"id": env}], algo=[{"name": "ppo", "preset": preset}])


def test_an_old_field_name_says_the_new_one_only_where_it_was_renamed():
    # SAC's target_update_interval counted gradient steps: it is target_delay now. DQN's
    # counts env steps and keeps its name.
    message = (
        r"algo\[0\].config.target_update_interval: sac's target_update_interval was renamed "
        r"target_delay; write target_delay = 4"
    )
    with pytest.raises(UserError, match=message):
        _plan(
            env=[{"id": "Pendulum-v1"}],
            algo=[{"name": "sac", "config": {"target_update_interval": 4}}],
        )
    (dqn,) = _plan(algo=[{"name": "dqn", "config": {"target_update_interval": 4}}])
    assert dqn.config["target_update_interval"] == 4
