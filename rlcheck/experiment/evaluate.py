"""Policies rlcheck did not train, evaluated under its protocol (``rlcheck evaluate``) and stored
as units beside its own, with their provenance.

A policy is a Python callable given as ``module:function``, observation → action, or a
Stable-Baselines3 model saved as a ``.zip`` (its deterministic ``predict``). On a JAX-native
env it plays in rlcheck's own evaluation loop (:func:`rlcheck.drivers.evaluation.play_policy`)
with the key rlcheck's final evaluation of a training seed uses (``fused.final_eval_key``), so a
callable that acts as a stored policy does gets that policy's stored final returns: called from
the loop (``jax.pure_callback``) one observation at a time, or, with ``jit`` (a pure function
written in jax.numpy), traced into it. Tracing is asked for, never tried: tracing runs the
function on tracers, and a callable with state (a key it splits, a counter) would keep them.
On a Gymnasium env it plays in a Python loop over a vector env.

What the "seeds" are: several policies are several training runs, one seed each; a single policy
is one training run, and its seeds are *evaluation seeds* (each its own episodes), which the unit
says (``meta.evaluate.seeds_are``) and the report repeats, so that one policy never reads as 16
training runs.

SB3's loader unpickles parts of the ``.zip`` (the spaces, schedules and policy class, written with
cloudpickle), and unpickling runs whatever code the file names: a zip is loaded only when the
user says ``--trust-pickle``. Which algorithm's class loads it is read from the zip's JSON
(the policy class's module, and PPO's clip range), not unpickled. A model trained inside SB3's
``VecNormalize`` acts on normalized observations: its saved statistics (RL Zoo's
``vecnormalize.pkl``, a pickle too) are applied with ``--vecnormalize``, as SB3's
``VecNormalize.normalize_obs`` does (the reward is left alone: returns are the env's own).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlcheck import envs
from rlcheck.drivers.common import DEFAULT_EVAL_STEP_CAP, env_seeds
from rlcheck.drivers.evaluation import play_policy
from rlcheck.drivers.fused import final_eval_key
from rlcheck.envs.jax_env import JaxEnv
from rlcheck.envs.spec import Box, EnvSpec
from rlcheck.errors import UserError
from rlcheck.experiment.provenance import provenance
from rlcheck.experiment.record import env_spec_dict
from rlcheck.experiment.store import Store, UnitRecord

# Bump when what an evaluated unit stores changes meaning (its key changes with it).
EVALUATE_FORMAT = 1
# Host env seeds of evaluated policies: a stream of their own, past the training (0),
# evaluation (1 + checkpoint) and robustness (1_000_000 + N) streams.
HOST_STREAM = 2_000_000
TRAINING_RUNS = "training runs"
EVALUATION_SEEDS = "evaluation seeds"


@dataclass(frozen=True)
class ExternalPolicy:
    """A policy given as ``module:function`` or an SB3 ``.zip``: the function (observation →
    action), the file it was read from, and the name the report gives it by default."""

    source: str
    function: Callable[[Any], Any]
    file: Path | None
    name: str
    normalization: Path | None = None  # SB3 VecNormalize statistics the function applies


@dataclass(frozen=True)
class Evaluated:
    """One ``rlcheck evaluate``: the unit stored (or found stored) and what it holds."""

    key: str
    label: str
    env: str
    seeds: list[int]
    seeds_are: str
    returns: np.ndarray  # (seeds, episodes)
    stored: bool
    traced: bool
    seconds: float


def load_callable(source: str) -> ExternalPolicy:
    """The function named by ``module:function`` (the current directory is importable).

    Raises:
        UserError: not of that form, a module that does not import, or no callable there.
    """
    module_name, _, attr = source.rpartition(":")
    if not module_name or not attr.isidentifier():
        raise UserError(
            f"policy '{source}': give a Python callable as module:function (observation → "
            "action), e.g. my_pkg.policies:act"
        )
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # user code: any error while importing it is bad input
        raise UserError(
            f"policy '{source}': cannot import module '{module_name}': {type(e).__name__}: {e}"
        ) from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise UserError(f"policy '{source}': module '{module_name}' has no callable '{attr}'")
    file = getattr(module, "__file__", None)
    return ExternalPolicy(source, function, Path(file) if file else None, attr)


def sb3_algorithm(path: Path) -> str:
    """The SB3 algorithm that saved ``path``, read from the zip's JSON without unpickling: the
    module of its policy class, and for the shared actor-critic policy whether the data has
    PPO's clip range (A2C's has none); DDPG is TD3 with one policy update per critic update
    and no target-policy noise clip.

    Raises:
        UserError: not a zip, no SB3 ``data`` in it, or a policy class of another package.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        module = data["policy_class"]["__module__"]
    except (OSError, zipfile.BadZipFile, KeyError, TypeError, ValueError) as e:
        raise UserError(
            f"policy '{path}': not a Stable-Baselines3 model zip ({type(e).__name__}: {e})"
        ) from None
    if module == "stable_baselines3.common.policies":
        return "PPO" if "clip_range" in data else "A2C"
    if module == "stable_baselines3.td3.policies":
        ddpg = data.get("policy_delay") == 1 and data.get("target_noise_clip") == 0.0
        return "DDPG" if ddpg else "TD3"
    algorithms = {"stable_baselines3.dqn.policies": "DQN", "stable_baselines3.sac.policies": "SAC"}
    if module not in algorithms:
        raise UserError(
            f"policy '{path}': its policy class comes from {module}; rlcheck loads models of "
            "stable_baselines3 itself (PPO, A2C, DQN, SAC, TD3, DDPG)"
        )
    return algorithms[module]


def load_sb3(source: str, trust_pickle: bool, vecnormalize: Path | None = None) -> ExternalPolicy:
    """A Stable-Baselines3 model zip as a policy: ``model.predict(obs, deterministic=True)``,
    on observations normalized by the ``VecNormalize`` saved in ``vecnormalize`` when given.

    Raises:
        UserError: no ``--trust-pickle`` (checked before the file is opened), no
            stable-baselines3, not an SB3 zip, a zip SB3 cannot load, or a ``vecnormalize``
            file that is not a saved ``VecNormalize``.
    """
    path = Path(source)
    if not trust_pickle:
        raise UserError(
            f"policy '{source}': Stable-Baselines3 loads a model by unpickling parts of the zip, "
            "and unpickling can run any code the file names; add --trust-pickle if you trust "
            "where this file came from"
        )
    if not path.is_file():
        raise UserError(f"policy '{source}': no such file")
    try:
        import stable_baselines3
    except ImportError:
        raise UserError(
            "an SB3 .zip policy needs stable-baselines3: pip install 'rlcheck[sb3]'"
        ) from None
    algorithm = sb3_algorithm(path)
    try:
        model = getattr(stable_baselines3, algorithm).load(path, device="cpu")
    except Exception as e:  # a file SB3 cannot load: any error in its loader is bad input
        raise UserError(
            f"policy '{source}': Stable-Baselines3 could not load it as {algorithm} "
            f"({type(e).__name__}: {e})"
        ) from None
    normalize = _vecnormalize(vecnormalize) if vecnormalize is not None else None

    def predict(obs: Any) -> Any:
        obs = np.asarray(obs)
        if normalize is not None:
            obs = normalize.normalize_obs(obs)
        return model.predict(obs, deterministic=True)[0]

    return ExternalPolicy(source, predict, path, f"SB3 {algorithm}", vecnormalize)


def _vecnormalize(path: Path) -> Any:
    """SB3's ``VecNormalize`` saved in ``path`` (unpickled as ``VecNormalize.load`` does, without
    the vector env it wrapped: only its observation statistics are used)."""
    import pickle

    from stable_baselines3.common.vec_env import VecNormalize

    if not path.is_file():
        raise UserError(f"--vecnormalize {path}: no such file")
    try:
        with path.open("rb") as f:
            loaded = pickle.load(f)  # only with --trust-pickle (load_sb3 checked it)
    except Exception as e:  # any error unpickling a file is bad input
        raise UserError(
            f"--vecnormalize {path}: not a saved VecNormalize ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(loaded, VecNormalize):
        raise UserError(
            f"--vecnormalize {path}: not a saved VecNormalize (it holds a {type(loaded).__name__})"
        )
    return loaded


def load_policy_source(
    source: str, trust_pickle: bool = False, vecnormalize: Path | None = None
) -> ExternalPolicy:
    """``source`` as ``rlcheck evaluate`` reads it: a path ending in ``.zip`` is an SB3 model
    (with its ``VecNormalize`` statistics when given), anything else ``module:function``."""
    if source.lower().endswith(".zip"):
        return load_sb3(source, trust_pickle, vecnormalize)
    if vecnormalize is not None:
        raise UserError(
            f"--vecnormalize: applies to SB3 .zip models; '{source}' is a function (normalize "
            "inside it)"
        )
    return load_callable(source)


def vecnormalize_paths(files: list[Path] | None, policies: int) -> list[Path | None]:
    """``--vecnormalize`` as given: none, one for every policy, or one per policy in order."""
    if not files:
        return [None] * policies
    if len(files) == 1:
        return [files[0]] * policies
    if len(files) != policies:
        raise UserError(
            f"--vecnormalize: give one file for every policy or one per policy; got "
            f"{len(files)} for {policies} policies"
        )
    return list(files)


def parse_seeds(text: str | None, policies: int) -> list[int]:
    """``--seeds``: N (0 … N-1) or a comma-separated list. Several policies: one seed per policy
    (default 0 … P-1); one policy: its evaluation seeds (default 0 … 15).

    Raises:
        UserError: not a count or a list of integers ≥ 0, repeated seeds, or, with several
            policies, not one seed per policy.
    """
    if text is None:
        return list(range(policies if policies > 1 else 16))
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            count = int(text)
            if count < 1:
                raise ValueError
            seeds = list(range(count))
    except ValueError:
        raise UserError(
            f"--seeds: '{text}' is not a count (N) or a comma-separated list of seeds"
        ) from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds: seeds must be distinct integers ≥ 0, got {text}")
    if policies > 1 and len(seeds) != policies:
        raise UserError(
            f"--seeds: {policies} policies are {policies} training runs, one seed each; got "
            f"{len(seeds)} seeds ({text})"
        )
    return seeds


def _action_shape(spec: EnvSpec) -> tuple[tuple[int, ...], Any]:
    if isinstance(spec.action_space, Box):
        return spec.action_space.shape, np.float32
    return (), np.int32


def check_policy(policy: ExternalPolicy, spec: EnvSpec, obs: np.ndarray) -> None:
    """Call the policy on one real observation: it must return an action of the env's shape.

    Raises:
        UserError: it raised, or returned something that is not an action of this env.
    """
    shape, _ = _action_shape(spec)
    try:
        action = np.asarray(policy.function(obs))
    except Exception as e:  # user code: any error in it is bad input
        raise UserError(
            f"policy '{policy.source}': on an observation of shape {obs.shape} it raised "
            f"{type(e).__name__}: {e}"
        ) from None
    if action.size != int(np.prod(shape)) or not np.issubdtype(action.dtype, np.number):
        what = f"{action.dtype}{list(action.shape)}"
        need = f"{shape[0]} numbers (a continuous action)" if shape else "one integer (an action)"
        raise UserError(f"policy '{policy.source}': returned {what}; {spec.id} needs {need}")
    if not shape and not 0 <= int(action.reshape(())) < spec.action_space.n:
        raise UserError(
            f"policy '{policy.source}': returned action {int(action.reshape(()))}; {spec.id} "
            f"has actions 0 … {spec.action_space.n - 1}"
        )


def _check_traceable(policy: ExternalPolicy, spec: EnvSpec) -> None:
    """That the policy traces into a compiled program (``--jit``).

    Raises:
        UserError: it does not (numpy, torch or Python control flow on values inside).
    """
    try:
        jax.eval_shape(policy.function, jax.ShapeDtypeStruct(spec.obs_shape, jnp.float32))
    except Exception as e:  # user code: any error in it is bad input
        message = (str(e).strip().splitlines() or [""])[0]
        raise UserError(
            f"--jit: policy '{policy.source}' does not trace with jax ({type(e).__name__}: "
            f"{message}); leave out --jit to have it called one observation at a time"
        ) from None


def act(policy: ExternalPolicy, spec: EnvSpec, batch: Any, errors: list[str]) -> np.ndarray:
    """The policy's actions on a batch of observations, one call each. An error in the user's
    code is kept in ``errors`` (the first one) and the batch gets zero actions, so that it
    surfaces as one line after the loop, not as an error inside a compiled program."""
    shape, dtype = _action_shape(spec)
    # The callback may be handed a jax.Array: indexing one is a device op per observation.
    batch = np.asarray(batch)
    if errors:
        return np.zeros((len(batch), *shape), dtype)
    try:
        return np.stack(
            [np.asarray(policy.function(o)).reshape(shape).astype(dtype) for o in batch]
        )
    except Exception as e:  # user code: any error in it is bad input
        errors.append(
            f"policy '{policy.source}': during an episode it raised {type(e).__name__}: {e}"
        )
        return np.zeros((len(batch), *shape), dtype)


def policy_apply(
    policy: ExternalPolicy, spec: EnvSpec, traced: bool, errors: list[str]
) -> Callable:
    """``policy_apply(params, obs, key, deterministic)`` on a batch of observations, as an
    agent's (see :mod:`rlcheck.core`); params, key and deterministic are unused. Called back,
    errors in the policy go to ``errors`` (see :func:`act`)."""
    shape, dtype = _action_shape(spec)

    def one(obs: Any) -> Any:
        return jnp.reshape(policy.function(obs), shape).astype(dtype)

    def on_host(batch: Any) -> np.ndarray:
        return act(policy, spec, batch, errors)

    def apply(params: Any, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        if traced:
            return jax.vmap(one)(obs)
        result = jax.ShapeDtypeStruct((obs.shape[0], *shape), dtype)
        return jax.pure_callback(on_host, result, obs)

    return apply


def play(
    policy: ExternalPolicy, env: Any, seeds: list[int], episodes: int, jit: bool = False
) -> tuple[np.ndarray, bool]:
    """Returns (seeds, episodes) of the policy, and whether it was traced (``jit``, on JAX envs
    only).

    On a JAX-native env seed ``s`` plays the episodes of rlcheck's final evaluation of a
    training seed ``s``; on a Gymnasium env, episodes reset with ``env_seeds(s, HOST_STREAM, …)``.
    """
    spec = env.spec
    cap = spec.time_limit or DEFAULT_EVAL_STEP_CAP
    if isinstance(env, JaxEnv):
        obs, _ = env.reset(jax.random.PRNGKey(0), env.params)
        check_policy(policy, spec, np.asarray(obs))
        traced = jit
        if traced:
            _check_traceable(policy, spec)
        errors: list[str] = []
        apply = policy_apply(policy, spec, traced, errors)
        program = jax.jit(
            lambda key: (
                play_policy(
                    env, apply, None, key, episodes, env.params, deterministic=True, step_cap=cap
                ).returns
            )
        )
        returns = []
        for seed in seeds:
            returns.append(np.asarray(program(final_eval_key(seed))))
            if errors:
                raise UserError(errors[0])
        return np.stack(returns), traced
    returns = np.zeros((len(seeds), episodes))
    for i, seed in enumerate(seeds):
        resets = env_seeds(seed, HOST_STREAM, episodes)
        vec = env.vector(resets)
        try:
            obs = vec.reset(resets)
            if i == 0:
                check_policy(policy, spec, np.asarray(obs[0]))
            done = np.zeros(episodes, bool)
            errors: list[str] = []
            for _ in range(cap):
                action = act(policy, spec, obs, errors)
                if errors:
                    raise UserError(errors[0])
                step = vec.step(action)
                returns[i] += np.where(done, 0.0, step.reward)
                done |= step.terminated | step.truncated
                if done.all():
                    break
                obs = step.obs
        finally:
            vec.close()
    return returns, False


def _sha256(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate_policies(
    sources: list[str],
    env_id: str,
    out: Path,
    episodes: int = 32,
    seeds: str | None = None,
    label: str | None = None,
    jit: bool = False,
    trust_pickle: bool = False,
    vecnormalize: list[Path] | None = None,
) -> Evaluated:
    """Evaluate the policies named by ``sources`` on ``env_id`` and store them as one unit.

    Args:
        sources: ``module:function`` names or SB3 ``.zip`` files, one per training run.
        env_id: the env (any id rlcheck takes).
        out: the results directory (created, or added to).
        episodes: episodes per seed (rlcheck's final evaluation plays 32).
        seeds: ``--seeds`` as the user wrote it (see :func:`parse_seeds`).
        label: the unit's algo label (default: the function's name; "SB3 PPO" etc. for a zip).
        jit: the policies are pure jax.numpy functions: trace them into the compiled loop
            (JAX-native envs; the same episodes, faster).
        trust_pickle: load SB3 zips (their loader unpickles; see the module's docstring).
        vecnormalize: SB3 ``VecNormalize`` files (RL Zoo's ``vecnormalize.pkl``): one for
            every zip, or one per zip in order; their observation statistics are applied.

    Returns:
        What was evaluated; a unit with the same key already stored is not evaluated again.

    Raises:
        UserError: a bad policy, env, seed list or episode count (one line naming it).
    """
    if episodes < 1:
        raise UserError(f"--episodes: must be ≥ 1, got {episodes}")
    normalizations = vecnormalize_paths(vecnormalize, len(sources))
    policies = [
        load_policy_source(s, trust_pickle, n) for s, n in zip(sources, normalizations, strict=True)
    ]
    seed_list = parse_seeds(seeds, len(policies))
    seeds_are = TRAINING_RUNS if len(policies) > 1 else EVALUATION_SEEDS
    env = envs.make(env_id)
    spec = env.spec
    label = label or policies[0].name
    identity = {
        "format": f"evaluate/{EVALUATE_FORMAT}",
        "env": spec.id,
        "episodes": episodes,
        "seeds": seed_list,
        "seeds_are": seeds_are,
        "label": label,
        # A policy's normalization joins it only when given: keys of earlier units stay.
        "policies": [
            [p.source, _sha256(p.file)] + ([_sha256(p.normalization)] if p.normalization else [])
            for p in policies
        ],
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    store = Store(out)
    try:
        if key in store.done_keys():
            returns = np.stack(
                [store.array(key, s, "final_episode_returns") for s in seed_list]
            ).astype(float)
            return Evaluated(key, label, env_id, seed_list, seeds_are, returns, False, False, 0.0)
        start = time.perf_counter()
        traced = True
        if len(policies) == 1:
            returns, traced = play(policies[0], env, seed_list, episodes, jit)
        else:
            rows = []
            for policy, seed in zip(policies, seed_list, strict=True):
                one, was_traced = play(policy, env, [seed], episodes, jit)
                rows.append(one[0])
                traced = traced and was_traced
            returns = np.stack(rows)
        seconds = time.perf_counter() - start
        recorded = {"evaluate": sources, "env": env_id, "episodes": episodes, "seeds": seeds}
        who = provenance()
        run_id = store.start_run(recorded, who)
        record = _record(key, label, env_id, env, policies, seed_list, seeds_are, episodes, seconds)
        record.provenance = {"evaluated": True, "evaluator": who}
        seed_rows, scalars, arrays = [], [], []
        for seed, episode_returns in zip(seed_list, returns, strict=True):
            final = float(np.mean(episode_returns))
            seed_rows.append((seed, "ok", final, None))
            scalars.append((seed, 0, "final_return", final))
            arrays.append((seed, "final_episode_returns", episode_returns.astype(np.float32)))
        store.write_unit(run_id, record, seed_rows, scalars, arrays)
        store.finish_run(run_id, "done")
    finally:
        store.close()
    return Evaluated(key, label, env_id, seed_list, seeds_are, returns, True, traced, seconds)


def _record(
    key: str,
    label: str,
    env_id: str,
    env: Any,
    policies: list[ExternalPolicy],
    seeds: list[int],
    seeds_are: str,
    episodes: int,
    seconds: float,
) -> UnitRecord:
    spec = env.spec
    how = (
        "each seed plays the episodes of rlcheck's final evaluation of a training seed with that "
        "number (the same key)"
        if isinstance(env, JaxEnv)
        else "each seed resets its episodes with env seeds of a stream of its own"
    )
    meta = {
        "driver": "evaluated",
        "env_spec": env_spec_dict(spec),
        "metric_names": [],
        "evaluate": {
            "seeds_are": seeds_are,
            "policies": [
                {
                    "source": p.source,
                    "file": str(p.file.resolve()) if p.file else None,
                    "sha256": _sha256(p.file),
                    "seed": seed if seeds_are == TRAINING_RUNS else None,
                    **(
                        {
                            "vecnormalize": str(p.normalization.resolve()),
                            "vecnormalize_sha256": _sha256(p.normalization),
                        }
                        if p.normalization
                        else {}
                    ),
                }
                for p, seed in zip(policies, seeds if len(policies) > 1 else seeds[:1], strict=True)
            ],
            "episodes": episodes,
            "episodes_from": how,
        },
    }
    return UnitRecord(
        key=key,
        env=env_id,
        env_label=env_id,
        algo=label,
        algo_label=label,
        config={},
        overrides={},
        seeds=seeds,
        budget=0,
        eval={"checkpoints": 0, "final_episodes": episodes, "deterministic": True},
        status="done",
        env_steps=None,
        wall_s=seconds,
        meta=meta,
    )
