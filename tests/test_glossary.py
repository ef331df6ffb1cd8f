"""One Config vocabulary: a field name two algorithms share means one thing in one unit (the
glossary's), and every old name maps onto a field that exists."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from rlcheck.agents import sac
from rlcheck.core import static, traced
from rlcheck.glossary import (
    GLOSSARY,
    RENAMES,
    UNITS,
    Term,
    field_uses,
    rename_fields,
    rename_hint,
    renamed,
)
from rlcheck.registry import ALGORITHMS

CONFIGS = {name: info.config_cls for name, info in ALGORITHMS.items()}


def vocabulary_problems(configs: dict[str, type], glossary: dict[str, Term]) -> list[str]:
    """What breaks the one-vocabulary rule: a name two algorithms share that the glossary does
    not have, or that some Config declares in another unit; a glossary entry fewer than two
    algorithms use."""
    problems = []
    for name, uses in field_uses(configs).items():
        if len(uses) < 2:
            continue
        declared = ", ".join(f"{u.algorithm} ({u.unit})" for u in uses)
        if name not in glossary:
            problems.append(f"{name}: shared by {declared}, not in the glossary")
            continue
        for use in uses:
            if use.unit != glossary[name].unit:
                problems.append(
                    f"{name}: {use.algorithm} counts it in {use.unit}, the glossary in "
                    f"{glossary[name].unit}"
                )
    uses = field_uses(configs)
    for name in glossary:
        if len(uses.get(name, [])) < 2:
            problems.append(f"{name}: in the glossary, but fewer than two algorithms have it")
    return problems


def test_every_shared_field_name_has_the_glossarys_meaning_and_unit():
    assert vocabulary_problems(CONFIGS, GLOSSARY) == []


def test_the_check_catches_one_name_in_two_units():
    # The conflict this vocabulary removed: SAC's target_update_interval counted gradient
    # steps, DQN's counts env steps.
    @dataclass(frozen=True)
    class OldSACConfig(sac.Config):
        target_update_interval: int = static(1, "gradient steps between", unit="gradient steps")

    configs = {**CONFIGS, "sac": OldSACConfig}
    assert vocabulary_problems(configs, GLOSSARY) == [
        "target_update_interval: shared by dqn (env steps), sac (gradient steps), not in the "
        "glossary"
    ]
    with_entry = {**GLOSSARY, "target_update_interval": Term("target updates", "env steps")}
    assert vocabulary_problems(configs, with_entry) == [
        "target_update_interval: sac counts it in gradient steps, the glossary in env steps"
    ]


def test_the_check_catches_a_glossary_entry_nobody_shares():
    glossary = {**GLOSSARY, "warp_factor": Term("how fast", "none")}
    assert vocabulary_problems(CONFIGS, glossary) == [
        "warp_factor: in the glossary, but fewer than two algorithms have it"
    ]


def test_every_field_of_every_config_says_its_unit_and_whether_it_is_traced():
    for algorithm, config_cls in CONFIGS.items():
        for f in dataclasses.fields(config_cls):
            assert f.metadata["unit"] in UNITS, (algorithm, f.name)
            assert isinstance(f.metadata["traced"], bool), (algorithm, f.name)
            assert f.metadata["help"], (algorithm, f.name)
    units = {f.metadata["unit"] for c in CONFIGS.values() for f in dataclasses.fields(c)}
    assert units == set(UNITS)  # no unit in the vocabulary that nothing is counted in


def test_a_field_in_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match=r"unit 'steps' is not one of rlcheck\.glossary\.UNITS"):
        traced(1, "a number", unit="steps")


@pytest.mark.parametrize("rename", RENAMES, ids=lambda r: f"{r.old}->{r.new}")
def test_every_rename_leads_from_a_gone_name_to_a_field_that_exists(rename):
    for algorithm in rename.algorithms:
        names = {f.name for f in dataclasses.fields(CONFIGS[algorithm])}
        assert rename.new in names, (algorithm, rename)
        assert rename.old not in names, (algorithm, rename)
        assert renamed(algorithm, rename.old) == rename


def test_old_fields_read_under_new_names_with_their_values_converted():
    old = {"ortho_init": True, "adam_eps": 1e-5, "gamma": 0.99}
    assert rename_fields("ppo", old) == {
        "weight_init": "orthogonal",
        "optimizer_eps": 1e-5,
        "gamma": 0.99,
    }
    assert rename_fields("reinforce", {"ortho_init": False}) == {"weight_init": "lecun"}
    assert rename_fields("sac", {"target_update_interval": 2, "log_std_init": -3.0}) == {
        "target_delay": 2,
        "sde_log_std_init": -3.0,
    }
    # Where an old name still means what it meant, it stays: DQN's target_update_interval
    # (env steps) and A2C's log_std_init (the Gaussian policy's).
    assert rename_fields("dqn", {"target_update_interval": 500}) == {"target_update_interval": 500}
    assert rename_fields("a2c", {"log_std_init": 0.0}) == {"log_std_init": 0.0}
    assert rename_fields("cem", {"std_init": 0.5, "discount": 1.0}) == {
        "std_init": 0.5,
        "gamma": 1.0,
    }


def test_rename_hints_give_the_new_name_and_the_value_to_write():
    assert rename_hint("ppo", "ortho_init", False) == (
        'ppo\'s ortho_init was renamed weight_init; write weight_init = "lecun"'
    )
    assert rename_hint("td3", "train_freq", 4) == (
        "td3's train_freq was renamed train_frequency; write train_frequency = 4"
    )
    assert rename_hint("dqn", "target_update_interval", 500) is None
    assert rename_hint("ppo", "learning_rat", 1e-3) is None
