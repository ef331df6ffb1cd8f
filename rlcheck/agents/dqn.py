"""Deep Q-Networks (Mnih et al. 2015) with the later improvements as independent switches.

Reads top to bottom: the Config (every implementation detail a named field; defaults are
CleanRL's ``dqn.py``, or the MinAtar paper's DQN on MinAtar games), the published presets, the
Q-network, ε-greedy acting, then the update: append the rollout to the replay buffer, take
gradient steps on sampled transitions, move the target network. Double DQN, dueling heads,
n-step returns, prioritized replay and the C51 distributional head can each be switched on
alone or together.

Counting conventions follow Stable-Baselines3: env steps are a seed's steps summed over its
envs (they drive ε, ``learning_starts`` and the target schedule); an update follows every
``train_frequency`` steps of each env and takes ``gradient_steps`` gradient steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from rlcheck.agents.common.distributional import categorical_projection
from rlcheck.agents.common.networks import (
    ACTIVATIONS,
    Activation,
    WeightInit,
    im2col_conv,
    layer_initializers,
)
from rlcheck.agents.common.nstep import n_step_returns
from rlcheck.agents.common.offpolicy import run_if
from rlcheck.agents.common.prioritized import (
    Priorities,
    priorities_add,
    priorities_init,
    priorities_sample,
    priorities_update,
)
from rlcheck.agents.common.replay import Replay, replay_add, replay_init, replay_sample
from rlcheck.core import Trajectory, all_finite, static, traced, traced_values
from rlcheck.envs.spec import Discrete, EnvSpec


@dataclass(frozen=True)
class Config:
    """DQN hyperparameters. Defaults: CleanRL ``dqn.py`` (vanilla DQN, every switch off)."""

    # ---- collecting and replaying experience
    num_envs: int = static(1, "parallel envs per seed", unit="count")
    train_frequency: int = static(
        10,
        "steps of each env between updates (CleanRL --train-frequency, SB3 train_freq)",
        unit="env steps per env",
    )
    gradient_steps: int = static(
        1,
        "gradient steps per update, each on a freshly sampled batch (SB3 gradient_steps)",
        unit="gradient steps",
    )
    batch_size: int = static(128, "transitions per gradient step", unit="transitions")
    buffer_size: int = static(
        10_000, "replay capacity in transitions, per seed", unit="transitions"
    )
    store_obs_as_uint8: bool = static(
        False,
        "keep observations in the replay buffer as uint8: 4× less memory, exact only for "
        "integer observations in 0..255 (MinAtar's 0/1 grids)",
        unit="none",
    )
    learning_starts: int = traced(
        10_000,
        "no gradient steps until the seed has taken more than this many env steps",
        unit="env steps",
    )
    random_until_learning_starts: bool = static(
        False,
        "uniformly random actions until learning starts (SB3, rejax, MinAtar); "
        "False follows the ε schedule from the first step (CleanRL)",
        unit="none",
    )
    # ---- exploration
    start_e: float = traced(1.0, "ε at the first env step", unit="none")
    end_e: float = traced(0.05, "ε after the decay, kept to the end", unit="none")
    exploration_fraction: float = traced(
        0.5,
        "fraction of the budget over which ε decays linearly from start_e to end_e",
        unit="none",
    )
    exploration_steps: int | None = traced(
        None,
        "env steps over which ε decays, whatever the budget (MinAtar: 100k); "
        "None: exploration_fraction × budget",
        unit="env steps",
    )
    eval_epsilon: float = traced(
        0.05,
        "ε of the evaluated policy when evaluation is not deterministic (CleanRL eval)",
        unit="none",
    )
    # ---- targets
    gamma: float = traced(0.99, "discount factor", unit="none")
    n_step: int = static(
        1,
        "rewards summed before bootstrapping (multi-step returns, Hessel et al. 2018); the "
        "sum stops at episode ends and at the newest transition",
        unit="env steps per env",
    )
    double_q: bool = static(
        False,
        "Double DQN: the online network picks the next action, the target network values "
        "it (van Hasselt et al. 2016)",
        unit="none",
    )
    bootstrap_on_truncation: bool = static(
        True,
        "bootstrap from the final observation of an episode cut by a time limit (Pardo et "
        "al. 2018; SB3 and CleanRL do); False treats it as terminal (rejax)",
        unit="none",
    )
    target_update_interval: int = traced(
        500,
        "env steps between target-network updates (CleanRL --target-network-frequency)",
        unit="env steps",
    )
    tau: float = traced(
        1.0,
        "target ← τ·online + (1−τ)·target at each target update; 1: copy (Polyak if < 1)",
        unit="none",
    )
    # ---- loss and optimizer
    loss: Literal["mse", "huber"] = static(
        "mse",
        "TD loss: mse = mean squared TD error (CleanRL); huber = smooth L1 with "
        "huber_delta (SB3, Mnih et al. 2015's error clipping)",
        unit="none",
    )
    huber_delta: float = traced(
        1.0, "Huber loss threshold (quadratic below, linear above)", unit="returns"
    )
    optimizer: Literal["adam", "rmsprop"] = static(
        "adam", "adam, or rmsprop (the MinAtar paper's DQN: centered, with momentum)", unit="none"
    )
    learning_rate: float = traced(2.5e-4, "optimizer step size (constant)", unit="none")
    optimizer_eps: float = traced(
        1e-8,
        "Adam ε, or RMSProp ε added to the root (PyTorch's placement); PyTorch default 1e-8",
        unit="none",
    )
    rmsprop_decay: float = traced(
        0.95, "RMSProp decay of the squared-gradient average", unit="none"
    )
    rmsprop_momentum: float = traced(0.0, "RMSProp momentum", unit="none")
    rmsprop_centered: bool = static(
        False, "RMSProp divides by the gradient's std, not its RMS", unit="none"
    )
    max_grad_norm: float | None = traced(
        None,
        "clip the global gradient norm to this (SB3: 10); None: no clipping (CleanRL)",
        unit="none",
    )
    # ---- network
    hidden_sizes: tuple[int, ...] = static(
        (120, 84), "hidden layer widths (CleanRL: 120, 84)", unit="count"
    )
    activation: Activation = static("relu", "hidden activation", unit="none")
    weight_init: WeightInit = static(
        "torch",
        "torch: PyTorch's default U(±1/√fan_in) weights and biases (CleanRL, SB3, MinAtar); "
        "lecun: flax's default (rejax); orthogonal: gain √2 hidden, 1 output, zero biases",
        unit="none",
    )
    conv_channels: int = static(
        16,
        "channels of the one 3×3 'valid' convolution that image observations (rank 3, e.g. "
        "MinAtar's 10×10×c) go through first (Young & Tian 2019)",
        unit="count",
    )
    dueling: bool = static(
        False,
        "dueling head: Q = V + A − mean(A), two linear streams on the shared torso "
        "(Wang et al. 2016; one layer per stream, as rejax)",
        unit="none",
    )
    # ---- distributional (C51)
    distributional: bool = static(
        False,
        "C51: a categorical return distribution per action on num_atoms atoms, trained by "
        "cross-entropy to the projected target (Bellemare et al. 2017); ignores `loss`",
        unit="none",
    )
    num_atoms: int = static(101, "atoms of the C51 support (CleanRL c51.py: 101)", unit="count")
    v_min: float = traced(-100.0, "smallest atom of the C51 support", unit="returns")
    v_max: float = traced(100.0, "largest atom of the C51 support", unit="returns")
    # ---- prioritized replay
    prioritized: bool = static(
        False,
        "proportional prioritized replay with importance-sampling weights (Schaul et al. 2016)",
        unit="none",
    )
    per_alpha: float = traced(0.6, "priority exponent α: P(i) ∝ p_i^α", unit="none")
    per_beta: float = traced(
        0.4,
        "importance-sampling exponent β at the start; annealed linearly to 1 over the budget",
        unit="none",
    )
    per_eps: float = traced(1e-6, "added to |TD error| so no priority is zero", unit="returns")


# The MinAtar paper's DQN (Young & Tian 2019, kenjyoung/MinAtar examples/dqn.py): one 3×3 conv
# with 16 channels, 128 hidden units, centered RMSProp with momentum, Huber loss, one gradient
# step per env step. One difference: there ε starts decaying when learning starts (step 5000);
# here it decays from step 0.
MINATAR_DEFAULTS: dict[str, Any] = {
    "train_frequency": 1,
    "batch_size": 32,
    "buffer_size": 100_000,
    "store_obs_as_uint8": True,
    "learning_starts": 5_000,
    "random_until_learning_starts": True,
    "end_e": 0.1,
    "exploration_steps": 100_000,
    "target_update_interval": 1_000,
    "loss": "huber",
    "optimizer": "rmsprop",
    "learning_rate": 2.5e-4,
    "optimizer_eps": 0.01,
    "rmsprop_decay": 0.95,
    "rmsprop_momentum": 0.95,
    "rmsprop_centered": True,
    "hidden_sizes": (128,),
}

# Stable-Baselines3 2.x DQN defaults that differ from ours (stable_baselines3/dqn/dqn.py,
# dqn/policies.py): Huber loss, global-norm clipping at 10, random actions before
# learning_starts, a [64, 64] ReLU network with PyTorch's default init and Adam ε 1e-8.
# SB3's ε-greedy draws one coin per vector-env step; ours one per env (same with one env).
_SB3 = {
    "loss": "huber",
    "max_grad_norm": 10.0,
    "random_until_learning_starts": True,
    "hidden_sizes": (64, 64),
}
_ZOO_MLP = {**_SB3, "hidden_sizes": (256, 256)}
# CleanRL c51.py: C51 on dqn.py's defaults, Adam ε = 0.01 / batch_size (0.01 / 128).
_CLEANRL_C51 = {"distributional": True, "num_atoms": 101, "optimizer_eps": 0.01 / 128}
_CLASSIC = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")
_MINATAR = (
    "Asterix-MinAtar",
    "Breakout-MinAtar",
    "Freeway-MinAtar",
    "SpaceInvaders-MinAtar",
)

# Published hyperparameters: {source: {env: Config fields}} (see rlcheck.registry.resolve_preset).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # CleanRL dqn.py defaults, which its benchmark uses on these envs
    # (docs.cleanrl.dev/rl-algorithms/dqn): the same as default_config.
    "cleanrl": {env: {} for env in _CLASSIC},
    # CleanRL c51.py defaults on the same envs (docs.cleanrl.dev/rl-algorithms/c51).
    "cleanrl-c51": {env: dict(_CLEANRL_C51) for env in _CLASSIC},
    # RL Baselines3 Zoo, hyperparams/dqn.yml (DLR-RM/rl-baselines3-zoo at ce95481), on SB3's
    # defaults (_SB3). train_freq → train_frequency; gradient_steps: -1 means one gradient
    # step per env step collected, i.e. train_freq with one env.
    "rl-zoo": {
        "CartPole-v1": {  # n_timesteps 5e4
            **_ZOO_MLP,
            "learning_rate": 2.3e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1_000,
            "gamma": 0.99,
            "target_update_interval": 10,
            "train_frequency": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.16,
            "end_e": 0.04,
        },
        "MountainCar-v0": {  # n_timesteps 1.2e5
            **_ZOO_MLP,
            "learning_rate": 4e-3,
            "batch_size": 128,
            "buffer_size": 10_000,
            "learning_starts": 1_000,
            "gamma": 0.98,
            "target_update_interval": 600,
            "train_frequency": 16,
            "gradient_steps": 8,
            "exploration_fraction": 0.2,
            "end_e": 0.07,
        },
        "Acrobot-v1": {  # n_timesteps 1e5
            **_ZOO_MLP,
            "learning_rate": 6.3e-4,
            "batch_size": 128,
            "buffer_size": 50_000,
            "learning_starts": 0,
            "gamma": 0.99,
            "target_update_interval": 250,
            "train_frequency": 4,
            "gradient_steps": 4,
            "exploration_fraction": 0.12,
            "end_e": 0.1,
        },
        # The zoo's entry is for LunarLander-v2, which Gymnasium 1.x replaced by v3 (bug fixes,
        # same task).
        "LunarLander-v3": {  # n_timesteps 1e5
            **_ZOO_MLP,
            "learning_rate": 6.3e-4,
            "batch_size": 128,
            "buffer_size": 50_000,
            "learning_starts": 0,
            "gamma": 0.99,
            "target_update_interval": 250,
            "train_frequency": 4,
            "gradient_steps": 4,
            "exploration_fraction": 0.12,
            "end_e": 0.1,
        },
    },
    # rejax's tuned DQN for gymnax CartPole-v1 (keraJLi/rejax configs/gymnax/cartpole.yaml, the
    # file of the rejax 0.1.3 era; benchmarks/peers/rejax_dqn.py maps every field). rejax
    # clips each gradient element to ±10 (optax.clip); we clip the global norm at 10.
    "rejax": {
        "CartPole-v1": {
            "num_envs": 10,
            "train_frequency": 1,
            "gradient_steps": 5,
            "batch_size": 100,
            "buffer_size": 50_000,
            "learning_starts": 5_000,
            "random_until_learning_starts": True,
            "learning_rate": 1e-3,
            "max_grad_norm": 10.0,
            "dueling": True,
            "double_q": True,
            "hidden_sizes": (64, 64),
            "activation": "swish",
            "weight_init": "lecun",
            "tau": 0.02,
            "target_update_interval": 10,
            "start_e": 1.0,
            "end_e": 0.05,
            "exploration_fraction": 0.5,
            "gamma": 0.99,
        },
    },
    # The MinAtar paper's DQN (Young & Tian 2019): the same as default_config on MinAtar.
    "minatar": {env: {} for env in _MINATAR},
}


def default_config(spec: EnvSpec, **overrides: Any) -> Config:
    """CleanRL's defaults, or the MinAtar paper's on MinAtar games, with ``overrides`` applied."""
    base = MINATAR_DEFAULTS if "MinAtar" in spec.id else {}
    return Config(**{**base, **overrides})


# ---- the Q-network -----------------------------------------------------------------------------


class QNetwork(nn.Module):
    """Q-values (or, with ``num_atoms > 1``, logits over atoms) for every action.

    Image observations (rank 3) go through one 3×3 convolution first, as in the MinAtar paper;
    everything else is flattened. Output: (..., actions) or (..., actions, atoms).
    """

    num_actions: int
    hidden_sizes: Sequence[int]
    obs_ndim: int = 1
    activation: Activation = "relu"
    weight_init: WeightInit = "torch"
    conv_channels: int = 16
    dueling: bool = False
    num_atoms: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        gain = jnp.sqrt(2.0)
        batch_shape = obs.shape[: obs.ndim - self.obs_ndim]
        x = obs
        if self.obs_ndim == 3:
            fan_in = 9 * x.shape[-1]
            init = self._init(fan_in, gain)
            conv = nn.Conv(
                self.conv_channels,
                (3, 3),
                padding="VALID",
                conv_general_dilated=im2col_conv,  # fast on CPU inside loops (see its doc)
                **init,
            )
            x = act(conv(x))
        x = x.reshape((*batch_shape, -1))
        for width in self.hidden_sizes:
            x = act(nn.Dense(width, **self._init(x.shape[-1], gain))(x))
        out_init = self._init(x.shape[-1], 1.0)
        atoms, actions = self.num_atoms, self.num_actions
        out = nn.Dense(actions * atoms, **out_init)(x).reshape((*batch_shape, actions, atoms))
        if self.dueling:
            value = nn.Dense(atoms, **out_init)(x)[..., None, :]
            out = value + out - jnp.mean(out, axis=-2, keepdims=True)
        return out[..., 0] if atoms == 1 else out

    def _init(self, fan_in: int, gain: float | jax.Array) -> dict:
        # "torch" kernels by variance scaling, as this network has always drawn them.
        return layer_initializers(self.weight_init, fan_in, gain, torch_kernel="variance_scaling")


# ---- small pure pieces (unit-tested) -------------------------------------------------------------


def linear_schedule(
    start: jax.Array | float,
    end: jax.Array | float,
    duration: jax.Array | float,
    step: jax.Array | float,
) -> jax.Array:
    """``start`` moving linearly to ``end`` over ``duration`` steps, then ``end`` (CleanRL's
    ``linear_schedule``; SB3's ``LinearSchedule`` on the progress fraction)."""
    progress = jnp.clip(step / jnp.maximum(duration, 1.0), 0.0, 1.0)
    return start + (end - start) * progress


def next_action(q_online: jax.Array, q_target: jax.Array, double: bool) -> jax.Array:
    """The action bootstrapped from: argmax of the target network's values, or with Double DQN
    of the online network's (van Hasselt et al. 2016)."""
    return jnp.argmax(q_online if double else q_target, axis=-1)


def td_loss(
    td_error: jax.Array, kind: Literal["mse", "huber"], delta: jax.Array | float
) -> jax.Array:
    """Per-sample loss of a TD error: its square (mse), or Huber with threshold ``delta``
    (½x² for |x| ≤ δ, δ(|x| − ½δ) above; PyTorch's smooth_l1_loss with β = δ = 1)."""
    if kind == "huber":
        return optax.huber_loss(td_error, delta=delta)
    return td_error**2


def target_update(
    online: Any, target: Any, tau: jax.Array | float, updates: jax.Array | int
) -> Any:
    """``updates`` Polyak steps target ← τ·online + (1−τ)·target with the online network fixed,
    in closed form: target ← online + (1−τ)^updates·(target − online). τ = 1 copies."""
    keep = (1.0 - tau) ** jnp.asarray(updates, jnp.float32)
    return jax.tree.map(lambda o, t: o + keep * (t - o), online, target)


# ---- the agent ---------------------------------------------------------------------------------


@struct.dataclass
class State:
    params: dict
    target_params: dict
    opt_state: Any
    replay: Replay
    priorities: Priorities | None  # prioritized replay only
    env_steps: jax.Array  # this seed's env steps so far, over all its envs
    hparams: dict


class DQN:
    """DQN's pure functions for one env spec and config (see :mod:`rlcheck.core`).

    Internals logged per update (0 before learning starts, which ``gradient_steps`` = 0 marks):
    loss, mean Q of the sampled actions, mean |TD error|, global gradient norm, ε, learning
    rate; with prioritized replay also the largest priority, the mean new priority, the mean
    importance weight and β.
    """

    name = "dqn"

    def __init__(self, spec: EnvSpec, config: Config, budget: int):
        if not isinstance(spec.action_space, Discrete):
            raise ValueError("DQN needs a discrete action space")
        if config.n_step < 1:
            raise ValueError(f"n_step must be ≥ 1, got {config.n_step}")
        if config.distributional and config.num_atoms < 2:
            raise ValueError(f"num_atoms must be ≥ 2 for C51, got {config.num_atoms}")
        if config.target_update_interval < 1:
            raise ValueError(
                f"target_update_interval must be ≥ 1 env step, got {config.target_update_interval}"
            )
        if config.distributional and not config.v_min < config.v_max:
            raise ValueError(f"v_min = {config.v_min} must be below v_max = {config.v_max}")
        self.spec = spec
        self.config = config
        self.budget = budget
        self.num_envs = config.num_envs
        self.rollout_len = config.train_frequency
        self.steps_per_update = config.num_envs * config.train_frequency
        if config.buffer_size < self.steps_per_update:
            raise ValueError(
                f"buffer_size = {config.buffer_size} holds less than one rollout "
                f"(num_envs × train_frequency = {self.steps_per_update})"
            )
        self.num_actions = spec.action_space.n
        self.network = QNetwork(
            num_actions=self.num_actions,
            hidden_sizes=config.hidden_sizes,
            obs_ndim=len(spec.obs_shape),
            activation=config.activation,
            weight_init=config.weight_init,
            conv_channels=config.conv_channels,
            dueling=config.dueling,
            num_atoms=config.num_atoms if config.distributional else 1,
        )
        self.metric_names = (
            "loss",
            "q_mean",
            "td_error",
            "grad_norm",
            "epsilon",
            "learning_rate",
            "gradient_steps",
        )
        if config.prioritized:
            self.metric_names += ("priority_max", "priority_mean", "is_weight_mean", "per_beta")

    def hparams(self) -> dict[str, jax.Array]:
        return traced_values(self.config)

    # ---- networks ---------------------------------------------------------------------------

    def init(self, key: jax.Array, hparams: dict[str, jax.Array]) -> State:
        params = self.network.init(key, jnp.zeros((1, *self.spec.obs_shape)))
        obs_dtype = jnp.uint8 if self.config.store_obs_as_uint8 else jnp.float32
        obs = jnp.zeros(self.spec.obs_shape, obs_dtype)
        example = {
            "obs": obs,
            "action": jnp.asarray(0, jnp.int32),
            "reward": jnp.asarray(0.0),
            "next_obs": obs,
            "terminated": jnp.asarray(False),
            "truncated": jnp.asarray(False),
        }
        return State(
            params=params,
            target_params=params,
            opt_state=self._optimizer(hparams).init(params),
            replay=replay_init(self.config.buffer_size, example),
            priorities=priorities_init(self.config.buffer_size)
            if self.config.prioritized
            else None,
            env_steps=jnp.asarray(0, jnp.int32),
            hparams=hparams,
        )

    def _optimizer(self, hparams: dict) -> optax.GradientTransformation:
        if self.config.optimizer == "rmsprop":
            optimizer = optax.rmsprop(
                hparams["learning_rate"],
                decay=hparams["rmsprop_decay"],
                eps=hparams["optimizer_eps"],
                eps_in_sqrt=False,
                centered=self.config.rmsprop_centered,
                momentum=hparams["rmsprop_momentum"],
            )
        else:
            optimizer = optax.adam(hparams["learning_rate"], eps=hparams["optimizer_eps"])
        if "max_grad_norm" in hparams:
            return optax.chain(optax.clip_by_global_norm(hparams["max_grad_norm"]), optimizer)
        return optax.chain(optimizer)

    def _support(self, hparams: dict) -> jax.Array:
        return jnp.linspace(hparams["v_min"], hparams["v_max"], self.config.num_atoms)

    def _q_values(self, params: dict, hparams: dict, obs: jax.Array) -> jax.Array:
        out = self.network.apply(params, obs)
        if self.config.distributional:
            return jnp.sum(jax.nn.softmax(out, axis=-1) * self._support(hparams), axis=-1)
        return out

    # ---- acting ---------------------------------------------------------------------------

    def epsilon(self, state: State) -> jax.Array:
        """ε of the behaviour policy at the seed's current env step."""
        hp = state.hparams
        duration = hp.get("exploration_steps", hp["exploration_fraction"] * self.budget)
        eps = linear_schedule(hp["start_e"], hp["end_e"], duration, state.env_steps)
        if self.config.random_until_learning_starts:
            eps = jnp.where(state.env_steps < hp["learning_starts"], 1.0, eps)
        return eps

    def _epsilon_greedy(
        self, params: dict, hparams: dict, obs: jax.Array, key: jax.Array, epsilon: jax.Array
    ) -> jax.Array:
        key_coin, key_action = jax.random.split(key)
        greedy = jnp.argmax(self._q_values(params, hparams, obs), axis=-1)
        batch = greedy.shape
        explore = jax.random.uniform(key_coin, batch) < epsilon
        return jnp.where(
            explore, jax.random.randint(key_action, batch, 0, self.num_actions), greedy
        )

    def act(self, state: State, obs: jax.Array, key: jax.Array) -> tuple[State, jax.Array, dict]:
        action = self._epsilon_greedy(state.params, state.hparams, obs, key, self.epsilon(state))
        state = state.replace(env_steps=state.env_steps + self.num_envs)
        return state, action, {"obs": obs}

    def policy_params(self, state: State) -> dict:
        """The online network and the hyperparameters acting reads: the evaluation ε and, for
        C51, the support's bounds."""
        names = ["eval_epsilon"]
        if self.config.distributional:
            names += ["v_min", "v_max"]
        return {"network": state.params, "hparams": {k: state.hparams[k] for k in names}}

    def policy_apply(
        self, params: dict, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> jax.Array:
        network, hparams = params["network"], params["hparams"]
        if deterministic:
            return jnp.argmax(self._q_values(network, hparams, obs), axis=-1)
        return self._epsilon_greedy(network, hparams, obs, key, hparams["eval_epsilon"])

    # ---- learning -------------------------------------------------------------------------

    def _store(self, state: State, traj: Trajectory) -> State:
        """Append the rollout, time-major, so the next transition of an env is num_envs slots on."""
        steps = self.steps_per_update
        batch = {
            "obs": traj.aux["obs"],
            "action": traj.action,
            "reward": traj.reward,
            "next_obs": traj.final_obs,
            "terminated": traj.terminated,
            "truncated": traj.truncated,
        }
        batch = jax.tree.map(lambda x: x.reshape(steps, *x.shape[2:]), batch)
        priorities = state.priorities
        if priorities is not None:
            slots = (state.replay.position + jnp.arange(steps)) % self.config.buffer_size
            priorities = priorities_add(priorities, slots, state.hparams["per_alpha"])
        return state.replace(replay=replay_add(state.replay, batch), priorities=priorities)

    def _sample(
        self, state: State, priorities: Priorities | None, key: jax.Array, beta: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Slots of a batch and their importance weights (all 1 without prioritized replay)."""
        if priorities is None:
            _, slots = replay_sample(state.replay, key, self.config.batch_size)
            return slots, jnp.ones(self.config.batch_size)
        return priorities_sample(priorities, key, self.config.batch_size, state.replay.size, beta)

    def _n_step_batch(self, replay: Replay, slots: jax.Array, hparams: dict) -> dict:
        """Observations, actions, n-step returns and bootstrap discounts for sampled slots."""
        data, capacity = replay.data, replay.capacity
        offsets = self.num_envs * jnp.arange(self.config.n_step)
        window = (slots[:, None] + offsets) % capacity
        # How many slots ago each sampled transition was written: later ones of its env exist
        # only that far ahead.
        age = (replay.position - 1 - slots) % capacity
        available = offsets[None] <= age[:, None]
        terminated, truncated = data["terminated"][window], data["truncated"][window]
        terminal = terminated if self.config.bootstrap_on_truncation else terminated | truncated
        returns, discount, last = n_step_returns(
            data["reward"][window], terminal, terminated | truncated, available, hparams["gamma"]
        )
        next_slot = jnp.take_along_axis(window, last[:, None], axis=1)[:, 0]
        return {
            "obs": data["obs"][slots].astype(jnp.float32),
            "action": data["action"][slots],
            "returns": returns,
            "discount": discount,
            "next_obs": data["next_obs"][next_slot].astype(jnp.float32),
        }

    def _loss(
        self, params: dict, target_params: dict, hparams: dict, batch: dict, weights: jax.Array
    ) -> tuple[jax.Array, dict]:
        out = self.network.apply(params, batch["obs"])
        next_target = self.network.apply(target_params, batch["next_obs"])
        next_online = jax.lax.stop_gradient(self.network.apply(params, batch["next_obs"]))
        action = batch["action"][:, None]
        if self.config.distributional:
            support = self._support(hparams)
            next_probs = jax.nn.softmax(next_target, axis=-1)
            q_next_online = jnp.sum(jax.nn.softmax(next_online, axis=-1) * support, axis=-1)
            best = next_action(
                q_next_online, jnp.sum(next_probs * support, axis=-1), self.config.double_q
            )
            probs = jnp.take_along_axis(next_probs, best[:, None, None], axis=1)[:, 0]
            target = categorical_projection(probs, batch["returns"], batch["discount"], support)
            log_p = jnp.take_along_axis(
                jax.nn.log_softmax(out, axis=-1), action[..., None], axis=1
            )[:, 0]
            per_sample = -jnp.sum(target * log_p, axis=-1)
            q = jnp.sum(jnp.exp(log_p) * support, axis=-1)
            y = batch["returns"] + batch["discount"] * jnp.sum(probs * support, axis=-1)
            priority = per_sample
        else:
            q = jnp.take_along_axis(out, action, axis=1)[:, 0]
            best = next_action(next_online, next_target, self.config.double_q)
            bootstrap = jnp.take_along_axis(next_target, best[:, None], axis=1)[:, 0]
            y = batch["returns"] + batch["discount"] * bootstrap
            per_sample = td_loss(y - q, self.config.loss, hparams["huber_delta"])
            priority = jnp.abs(y - q)
        loss = jnp.mean(weights * per_sample)
        return loss, {
            "q_mean": jnp.mean(q),
            "td_error": jnp.mean(jnp.abs(y - q)),
            "priority": jax.lax.stop_gradient(priority),
        }

    def update(self, state: State, traj: Trajectory, key: jax.Array) -> tuple[State, dict]:
        hp = state.hparams
        state = self._store(state, traj)
        learning = state.env_steps > hp["learning_starts"]
        beta = linear_schedule(hp["per_beta"], 1.0, self.budget, state.env_steps)
        optimizer = self._optimizer(hp)

        def gradient_step(carry: tuple, key: jax.Array) -> tuple[tuple, dict]:
            params, opt_state, priorities = carry
            slots, weights = self._sample(state, priorities, key, beta)
            batch = self._n_step_batch(state.replay, slots, hp)
            (loss, aux), grads = jax.value_and_grad(self._loss, has_aux=True)(
                params, state.target_params, hp, batch, weights
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            stats = {
                "loss": loss,
                "q_mean": aux["q_mean"],
                "td_error": aux["td_error"],
                "grad_norm": optax.tree.norm(grads),
            }
            if priorities is not None:
                new_priorities = aux["priority"] + hp["per_eps"]
                priorities = priorities_update(priorities, slots, new_priorities, hp["per_alpha"])
                stats["priority_mean"] = jnp.mean(new_priorities)
                stats["is_weight_mean"] = jnp.mean(weights)
            return (params, opt_state, priorities), stats

        def gradient_steps(carry: tuple, keys: jax.Array) -> tuple[tuple, dict]:
            return jax.lax.scan(gradient_step, carry, keys)

        # No gradient steps before learning starts (zeros for their internals). In the fused
        # driver the step counter and the hparams are the same for every seed of a program
        # (unbatched under its seed vmap), so while learning_starts is too this is a real
        # branch and the warm-up costs no gradient steps. Under the host driver every state
        # leaf is batched: vmap turns the branch into a select, so the steps run and are
        # discarded, with the same results (and the same keys: the steps' keys come from
        # `key` alone, which nothing else uses).
        (params, opt_state, priorities), stats = run_if(
            learning,
            gradient_steps,
            (state.params, state.opt_state, state.priorities),
            jax.random.split(key, self.config.gradient_steps),
        )
        interval = hp["target_update_interval"].astype(jnp.int32)
        before = state.env_steps - self.steps_per_update
        target_params = target_update(
            params, state.target_params, hp["tau"], state.env_steps // interval - before // interval
        )
        state = state.replace(
            params=params, target_params=target_params, opt_state=opt_state, priorities=priorities
        )

        metrics = {k: jnp.mean(v) for k, v in stats.items()}
        metrics["epsilon"] = self.epsilon(state)
        metrics["learning_rate"] = hp["learning_rate"]
        metrics["gradient_steps"] = learning * jnp.float32(self.config.gradient_steps)
        if priorities is not None:
            metrics["priority_max"] = priorities.max_priority
            metrics["per_beta"] = beta
        return state, metrics

    def params_finite(self, state: State) -> jax.Array:
        return all_finite(state.params)
