"""One Config vocabulary: the units fields are counted in, the meaning and unit of every field
name two or more algorithms share, and the old names of renamed fields.

A sweep varies Config fields by name across algorithms, so a shared name must mean one thing in
one unit everywhere; ``tests/test_glossary.py`` checks every Config against this table, and
``rlcheck algos --fields`` prints it. Results stored before a rename are read through
:data:`RENAMES` (``rlcheck.experiment.store``), and a spec that still uses an old name is told
the new one (``rlcheck.experiment.plan``). Plain data: this module imports nothing of rlcheck.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

# What a field's number counts or is measured in (``unit=`` of ``rlcheck.core.traced/static``).
UNITS: dict[str, str] = {
    "none": "a dimensionless number (coefficient, rate, probability), a flag or a choice",
    "count": "how many of what the field names (envs, epochs, critics, neurons, candidates…)",
    "env steps": "env steps of one seed, summed over its parallel envs",
    "env steps per env": "steps of each one of a seed's parallel envs",
    "gradient steps": "optimizer steps (the critic's, where actor and critic step apart)",
    "transitions": "samples of one env step of one env (replay entries, rollout samples)",
    "episodes": "whole episodes",
    "model steps": "transitions a planner computes on its model of the env",
    "half action ranges": "actions scaled so that the env's action box is [-1, 1]",
    "parameter units": "the units of the policy's parameters",
    "running stds": "standard deviations of the running observation statistics",
    "rewards": "rewards as the update sees them (scaled first when normalize_reward is on)",
    "returns": "returns and TD errors, in the env's reward units",
    "nats": "entropies and KL divergences (natural log)",
    "log action units": "the natural log of a standard deviation in the env's action units",
    "radians": "angles",
}


class Term(NamedTuple):
    """What a shared field name means, and its unit (a key of :data:`UNITS`)."""

    meaning: str
    unit: str


# Every field name that two or more algorithms' Configs have. Each Config's own help says what
# is particular to it; the meaning and unit here hold in all of them.
GLOSSARY: dict[str, Term] = {
    # ---- collecting experience
    "num_envs": Term("parallel envs each seed steps together", "count"),
    "num_steps": Term(
        "steps of each env in a rollout; one update follows each rollout", "env steps per env"
    ),
    "train_frequency": Term(
        "steps of each env between two updates (the rollout each update first stores)",
        "env steps per env",
    ),
    "learning_starts": Term(
        "no gradient steps until a seed has taken more than this many env steps", "env steps"
    ),
    "random_until_learning_starts": Term(
        "act uniformly at random until learning_starts env steps", "none"
    ),
    "bootstrap_on_truncation": Term(
        "bootstrap from the final observation of an episode a time limit cut; False treats the "
        "cut as a termination",
        "none",
    ),
    # ---- observations and rewards
    "normalize_obs": Term(
        "normalize observations by the running mean and std of those acted on", "none"
    ),
    "obs_clip": Term("normalized observations are clipped to ±this", "running stds"),
    "normalize_reward": Term(
        "divide rewards by the running std of the discounted return (as SB3 VecNormalize; "
        "rlcheck.agents.common.reward_scaling says how Gymnasium's NormalizeReward differs)",
        "none",
    ),
    "clip_reward": Term("clip the (scaled) rewards to ±reward_clip", "none"),
    "reward_clip": Term("the bound of clip_reward", "rewards"),
    # ---- targets
    "gamma": Term("discount factor of returns", "none"),
    "gae_lambda": Term("λ of generalized advantage estimation", "none"),
    "norm_adv": Term(
        "normalize advantages to zero mean and unit std over the samples a step uses", "none"
    ),
    "tau": Term(
        "target ← τ·online + (1 − τ)·target at each target-network update (1: a copy)", "none"
    ),
    # ---- networks
    "hidden_sizes": Term(
        "widths of the hidden layers (of each network where there are several; policy "
        "search: when policy = 'mlp')",
        "count",
    ),
    "activation": Term("hidden-layer activation: tanh, relu or swish", "none"),
    "weight_init": Term(
        "initial weights: 'orthogonal' (gain √2 hidden, a per-head output scale, zero biases; "
        "CleanRL's layer_init), 'torch' (PyTorch's default U(±1/√fan_in) weights and biases), "
        "'lecun' (flax's default: LeCun-normal weights, zero biases)",
        "none",
    ),
    "log_std_init": Term(
        "initial log-std of the state-independent Gaussian policy over continuous actions",
        "log action units",
    ),
    # ---- optimization
    "optimizer": Term("'adam' or 'rmsprop'", "none"),
    "learning_rate": Term(
        "step size of the main optimizer (over the policy, the Q-network or the search mean; "
        "the start value when annealed)",
        "none",
    ),
    "optimizer_eps": Term(
        "the optimizer's ε (Adam's; RMSProp's is added outside the square root, as in PyTorch)",
        "none",
    ),
    "rmsprop_decay": Term("RMSProp's decay of the squared-gradient average", "none"),
    "max_grad_norm": Term(
        "clip the gradient of each optimizer's parameters to this global norm; None: no clipping",
        "none",
    ),
    "anneal_lr": Term("decay the learning rate linearly to 0 over the run", "none"),
    "ent_coef": Term("coefficient of the entropy bonus in the loss", "none"),
    "vf_coef": Term("coefficient of the value loss (½·MSE) in the loss", "none"),
    "vf_learning_rate": Term("Adam step size of the value function's own optimizer", "none"),
    "gradient_steps": Term(
        "gradient steps per update, each on a fresh minibatch (the critic's, in the actor-critics)",
        "gradient steps",
    ),
    "batch_size": Term(
        "transitions in each gradient step's minibatch from the replay buffer", "transitions"
    ),
    "buffer_size": Term("replay buffer capacity of one seed", "transitions"),
    "trust_region_monitor": Term(
        "log ratio_max, ratio_p99, ratio_mean of π_new/π_old and kl_mean, kl_max of "
        "KL(π_old ‖ π_new) on the batch, after every update",
        "none",
    ),
    # ---- off-policy actor-critics
    "n_critics": Term("Q-networks trained on one target, which takes their minimum", "count"),
    "actor_learning_rate": Term("Adam step size of the actor", "none"),
    "critic_learning_rate": Term("Adam step size of the critics", "none"),
    "action_units": Term(
        "units of the actions the critics take: 'env' (the env's action box) or 'unit' ([-1, 1])",
        "none",
    ),
    "policy_delay": Term(
        "critic gradient steps per actor step and target-network update (TD3's delayed "
        "policy updates)",
        "gradient steps",
    ),
    "exploration_noise": Term(
        "action noise while exploring: 'normal' (independent Gaussian) or 'ou' "
        "(Ornstein–Uhlenbeck)",
        "none",
    ),
    "noise_std": Term(
        "std of the Gaussian noise on actions (actor-critics: the exploration noise, σ of the "
        "OU process with 'ou'; MPPI: the perturbations of the plan)",
        "half action ranges",
    ),
    "ou_theta": Term("mean-reversion rate θ of the Ornstein–Uhlenbeck noise", "none"),
    "ou_dt": Term("time step of the Ornstein–Uhlenbeck noise", "none"),
    "target_policy_noise": Term(
        "std of the Gaussian noise smoothing the target action", "half action ranges"
    ),
    "target_noise_clip": Term(
        "the target-smoothing noise is clipped to ±this", "half action ranges"
    ),
    # ---- policy search
    "policy": Term("the policy searched over: 'linear' or 'mlp'", "none"),
    "episodes_per_candidate": Term("episodes each candidate policy is scored on", "episodes"),
    "population_size": Term("candidate parameter vectors per generation", "count"),
    "param_noise_std": Term(
        "std of the Gaussian perturbations of the policy parameters (constant)",
        "parameter units",
    ),
    "param_noise_std_init": Term(
        "initial std of the search distribution over policy parameters (the strategy adapts it)",
        "parameter units",
    ),
    # ---- planners
    "num_candidates": Term("action sequences scored per iteration of the planner", "count"),
    "horizon": Term("steps each action sequence is played on the model", "model steps"),
    "iterations": Term("refits of the planner's sampling distribution per real step", "count"),
    "smoothing": Term(
        "α of the planner's update: new = α·old + (1 − α)·refitted distribution", "none"
    ),
}


class Rename(NamedTuple):
    """A Config field that had another name in ``algorithms``, and how an old value reads now
    (``values``: old value → new value; None: the value is unchanged)."""

    old: str
    new: str
    algorithms: tuple[str, ...]
    values: Mapping[Any, Any] | None = None


_ACTOR_CRITICS = ("ddpg", "td3", "sac")
# Every rename of a Config field, for results stored and specs written before it.
RENAMES: tuple[Rename, ...] = (
    Rename("train_freq", "train_frequency", _ACTOR_CRITICS),
    Rename("adam_eps", "optimizer_eps", ("ppo", "reinforce", "trpo", "ddpg", "td3", "sac")),
    Rename("rms_decay", "rmsprop_decay", ("a2c",)),
    Rename("uniform_warmup", "random_until_learning_starts", _ACTOR_CRITICS),
    Rename("layer_init", "weight_init", _ACTOR_CRITICS),
    Rename(
        "ortho_init",
        "weight_init",
        ("ppo", "a2c", "trpo", "reinforce"),
        {True: "orthogonal", False: "lecun"},
    ),
    # SAC's counted gradient steps, DQN's target_update_interval counts env steps.
    Rename("target_update_interval", "target_delay", ("sac",)),
    # n actor steps every n-th gradient step: not TD3's policy_delay, which takes one.
    Rename("policy_frequency", "actor_update_interval", ("sac",)),
    # gSDE's noise scale, not the Gaussian policy's log-std of A2C, TRPO and REINFORCE.
    Rename("log_std_init", "sde_log_std_init", ("sac",)),
    Rename("discount", "gamma", ("random_shooting", "cem", "mppi", "mcts")),
    Rename("noise", "param_noise_std", ("ars",)),
    Rename("sigma", "param_noise_std", ("openai_es",)),
    # CEM's std_init is in half action ranges and keeps its name.
    Rename("std_init", "param_noise_std_init", ("cma_es", "snes")),
)


def renamed(algorithm: str, name: str) -> Rename | None:
    """The rename of field ``name`` in ``algorithm``'s Config, if that is an old name there."""
    for rename in RENAMES:
        if rename.old == name and algorithm in rename.algorithms:
            return rename
    return None


def new_value(rename: Rename, value: Any) -> Any:
    """An old field's value as its new field takes it.

    Raises:
        KeyError: a value the old field never took (``rename.values`` has no entry for it).
    """
    if rename.values is None:
        return value
    return rename.values[value]


def rename_fields(algorithm: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Config fields (stored or written) under today's names, values converted; fields that
    were never renamed, and old values no rename knows, pass through unchanged, in order."""
    out = {}
    for name, value in fields.items():
        rename = renamed(algorithm, name)
        if rename is None:
            out[name] = value
            continue
        try:
            out[rename.new] = new_value(rename, value)
        except (KeyError, TypeError):  # a value the old field never took (TypeError: a list)
            out[name] = value
    return out


def rename_hint(algorithm: str, name: str, value: Any) -> str | None:
    """'<algorithm>'s <old> was renamed <new>; write <new> = <value>' for an old field name
    (the value converted, as TOML writes it), else None."""
    rename = renamed(algorithm, name)
    if rename is None:
        return None
    try:
        written = json.dumps(new_value(rename, value))
    except (KeyError, TypeError):
        written = "…"
    return f"{algorithm}'s {name} was renamed {rename.new}; write {rename.new} = {written}"


class FieldUse(NamedTuple):
    """One algorithm's declaration of a field: traced (an array value inside the compiled
    program, so it can vary there) or static (it sets shapes or program structure)."""

    algorithm: str
    traced: bool
    unit: str
    help: str


def field_uses(configs: Mapping[str, type]) -> dict[str, list[FieldUse]]:
    """Every field name of the Config classes ({algorithm: Config}), and where it is declared.

    Returns:
        {field name: its uses, in the order of ``configs``}, names in first-seen order.
    """
    uses: dict[str, list[FieldUse]] = {}
    for algorithm, config_cls in configs.items():
        for f in dataclasses.fields(config_cls):
            use = FieldUse(algorithm, f.metadata["traced"], f.metadata["unit"], f.metadata["help"])
            uses.setdefault(f.name, []).append(use)
    return uses
