"""Turn an env id (``rlcheck:…``, ``gymnax:…``, ``gymnasium:…``, ``pkg.module:factory``,
``package:EnvId`` or bare) into an env."""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import gymnasium as gym
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import FilterObservation, FlattenObservation

from rlcheck.envs.host_env import HostEnv, spec_from_gymnasium
from rlcheck.envs.jax_env import JaxEnv, spec_from_gymnax
from rlcheck.errors import EnvWarning, UserError

# gymnax's MNIST bandit downloads its data set on first use; every other gymnax env is pure JAX.
_NEEDS_DOWNLOAD = frozenset({"MNISTBandit-bsuite"})

# check_env warnings that do not apply to how rlcheck runs an env: it checks the env as the
# factory returns it, wrappers and all, because that is what rlcheck steps; and it never reads
# observation bounds, which Gymnasium's own CartPole and MuJoCo envs leave infinite.
_NOT_FOR_RLCHECK = (
    "is different from the unwrapped version",
    "observation space minimum value is -infinity",
    "observation space maximum value is infinity",
)


@functools.cache
def gymnax_ids() -> tuple[str, ...]:
    """gymnax env ids that run without a download."""
    import gymnax

    return tuple(i for i in gymnax.registered_envs if i not in _NEEDS_DOWNLOAD)


def gymnasium_ids() -> tuple[str, ...]:
    return tuple(gym.registry)


def rlcheck_ids() -> tuple[str, ...]:
    """Ids of rlcheck's own JAX-native envs (``rlcheck.envs.failure``)."""
    from rlcheck.envs.failure import ENVS

    return tuple(ENVS)


def bare_env_id(env_id: str) -> str:
    """``gymnax:CartPole-v1`` and ``gymnasium:CartPole-v1`` both look up ``CartPole-v1``."""
    prefix, _, rest = env_id.partition(":")
    return rest if prefix in ("gymnax", "gymnasium", "rlcheck") and rest else env_id


def known_ids() -> list[str]:
    """Every id :func:`make` accepts without user code, prefixed and bare."""
    jax_ids = gymnax_ids()
    host_ids = gymnasium_ids()
    own = rlcheck_ids()
    return (
        [f"rlcheck:{i}" for i in own]
        + [f"gymnax:{i}" for i in jax_ids]
        + [f"gymnasium:{i}" for i in host_ids]
        + sorted(set(own) | set(jax_ids) | set(host_ids))
    )


def import_packages(names: Iterable[str], where: str = "--env-packages") -> None:
    """Import packages that register Gymnasium envs when imported (``minigrid``, ``ale_py``,
    ``highway_env``…), as RL Zoo's ``--gym-packages`` does.

    Raises:
        UserError: a package that does not import, named with ``where``.
    """
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise UserError(f"{where}: cannot import '{name}': {e}") from None


def make(env_id: str, **kwargs: Any) -> JaxEnv | HostEnv:
    """Build an environment from its id.

    Args:
        env_id: ``rlcheck:<id>`` (rlcheck's own JAX-native envs, e.g. ``rlcheck:BoatRace-v0``),
            ``gymnax:<id>`` (JAX-native), ``gymnasium:<id>`` (host), ``pkg.module:factory``
            (user code returning a Gymnasium env or a gymnax-style env), Gymnasium's own
            ``package:EnvId`` (the package registers EnvId when imported, e.g.
            ``minigrid:MiniGrid-Empty-5x5-v0``), or a bare id, which picks rlcheck's env, else
            the JAX-native env when gymnax has it, else Gymnasium's.
        **kwargs: passed to the gymnax/Gymnasium constructor or to the user's factory.

    Returns:
        A :class:`JaxEnv` or a :class:`HostEnv`, each with a ``spec``.

    Observations that are not a Box are flattened into one (:func:`observation_wrapper`).

    Raises:
        UserError: unknown id (the message lists the closest known ids), unsupported spaces, or
            a Gymnasium env from a user's factory or entry point that fails Gymnasium's
            ``check_env`` (:func:`check_gymnasium_env`; Gymnasium's own envs are not checked).

    Warns:
        EnvWarning: what ``check_env`` only warns about, one per finding.
    """
    prefix, _, rest = env_id.partition(":")
    if prefix == "rlcheck" and rest:
        return _make_rlcheck(rest, env_id, kwargs)
    if prefix == "gymnax" and rest:
        return _make_gymnax(rest, env_id, kwargs)
    if prefix == "gymnasium" and rest:
        return _make_gymnasium(rest, env_id, kwargs)
    if rest:
        return _make_user(prefix, rest, env_id, kwargs)
    if env_id in rlcheck_ids():
        return _make_rlcheck(env_id, f"rlcheck:{env_id}", kwargs)
    if env_id in gymnax_ids():
        return _make_gymnax(env_id, f"gymnax:{env_id}", kwargs)
    if env_id in gym.registry:
        return _make_gymnasium(env_id, f"gymnasium:{env_id}", kwargs)
    raise _unknown(env_id)


def _unknown(env_id: str) -> UserError:
    close = difflib.get_close_matches(env_id, known_ids(), n=3, cutoff=0.5)
    hint = f"; closest known ids: {', '.join(close)}" if close else ""
    return UserError(f"unknown env id '{env_id}'{hint}")


def _solve_threshold(bare_id: str) -> float | None:
    # Gymnasium's registry carries the conventional "solved" return for the classic tasks that
    # gymnax re-implements (CartPole-v1: 475, Acrobot-v1: -100, MountainCar-v0: -110, …).
    return gym.spec(bare_id).reward_threshold if bare_id in gym.registry else None


def _make_gymnax(name: str, env_id: str, kwargs: dict[str, Any]) -> JaxEnv:
    import gymnax

    if name not in gymnax_ids():
        raise _unknown(env_id)
    try:
        env, params = gymnax.make(name, **kwargs)
    except TypeError as e:
        raise UserError(f"env {env_id}: {e}") from None
    return JaxEnv(env, params, spec_from_gymnax(env_id, env, params, _solve_threshold(name)))


def _make_rlcheck(name: str, env_id: str, kwargs: dict[str, Any]) -> JaxEnv:
    from rlcheck.envs.failure import ENVS

    if name not in ENVS:
        raise _unknown(env_id)
    try:
        env = ENVS[name](**kwargs)
    except (TypeError, ValueError) as e:
        raise UserError(f"env {env_id}: {e}") from None
    params = env.default_params
    return JaxEnv(env, params, spec_from_gymnax(env_id, env, params))


def _make_gymnasium(name: str, env_id: str, kwargs: dict[str, Any]) -> HostEnv:
    try:
        probe = _make_quietly(name, kwargs)
    except gym.error.NameNotFound:
        raise _unknown(env_id) from None
    except (gym.error.Error, TypeError, ValueError, ImportError) as e:
        raise UserError(f"env {env_id}: {e}") from None
    try:
        wrap = observation_wrapper(env_id, probe.observation_space)
        spec = spec_from_gymnasium(env_id, wrap(probe) if wrap else probe)
        if not _is_gymnasiums_own(probe):
            check_gymnasium_env(env_id, probe)
    finally:
        probe.close()
    return HostEnv(_wrapped(functools.partial(_make_quietly, name, kwargs), wrap), spec)


def _make_quietly(name: str, kwargs: dict[str, Any]) -> gym.Env:
    """``gym.make``, with MuJoCo's warnings (printed to stderr by its C library each time a
    model compiles: MuJoCo 4 warns about Gymnasium's XML files on every make) turned into one
    EnvWarning per distinct message and process."""
    try:
        entry_point = str(gym.spec(name).entry_point)
    except gym.error.Error:
        entry_point = ""  # gym.make says what is wrong
    if "mujoco" in entry_point:
        import mujoco

        mujoco.set_mju_user_warning(_mujoco_warning)
    return gym.make(name, **kwargs)


def _mujoco_warning(message: str) -> None:
    warnings.warn(f"MuJoCo: {message}", EnvWarning, stacklevel=2)


def _wrapped(factory: Callable[[], gym.Env], wrap: Callable | None) -> Callable[[], gym.Env]:
    return factory if wrap is None else functools.partial(_make_wrapped, factory, wrap)


def _make_wrapped(factory: Callable[[], gym.Env], wrap: Callable) -> gym.Env:
    return wrap(factory())


_FLAT = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)


def _numeric(space: gym.Space) -> bool:
    """Whether a space holds numbers a network can take once flattened."""
    if isinstance(space, gym.spaces.Dict):
        return all(_numeric(s) for s in space.spaces.values())
    if isinstance(space, gym.spaces.Tuple):
        return all(_numeric(s) for s in space.spaces)
    return isinstance(space, _FLAT)


def observation_wrapper(env_id: str, space: gym.Space) -> Callable[[gym.Env], gym.Env] | None:
    """How an observation space that is not a Box becomes one, as SB3's MLP policies see it:
    Gymnasium's ``FlattenObservation`` (Discrete one-hot, Dict and Tuple entries flattened and
    concatenated, as SB3's ``preprocess_obs`` and ``CombinedExtractor`` do for non-image
    entries). Dict entries that hold no numbers (MiniGrid's mission text) are dropped first
    with Gymnasium's ``FilterObservation``, and a warning says so. None for a Box.

    Raises:
        UserError: a space with nothing numeric in it, naming the space and what to do.

    Warns:
        EnvWarning: Dict entries dropped.
    """
    if isinstance(space, gym.spaces.Box):
        return None
    if isinstance(space, gym.spaces.Dict):
        kept = [k for k, s in space.spaces.items() if _numeric(s)]
        dropped = {k: type(s).__name__ for k, s in space.spaces.items() if k not in kept}
        if not kept:
            raise UserError(
                f"env {env_id}: observation space Dict has no entry of numbers (only "
                f"{', '.join(f'{k}: {t}' for k, t in dropped.items())}); give a factory "
                "(module:factory) that wraps the env into Box observations"
            )
        if dropped:
            warnings.warn(
                f"env {env_id}: observation entries dropped, a network takes numbers: "
                f"{', '.join(f'{k} ({t})' for k, t in dropped.items())}; the others are "
                "flattened into one Box (for images only, wrap the env in a factory, e.g. "
                "minigrid.wrappers.ImgObsWrapper)",
                EnvWarning,
                stacklevel=2,
            )
            return functools.partial(_filter_and_flatten, kept)
        return FlattenObservation
    if _numeric(space):
        return FlattenObservation
    raise UserError(
        f"env {env_id}: observation space {type(space).__name__} is not supported (a network "
        "takes Box, Discrete, MultiDiscrete, MultiBinary or a Dict/Tuple of them); give a "
        "factory (module:factory) that wraps the env into Box observations"
    )


def _filter_and_flatten(keys: list[str], env: gym.Env) -> gym.Env:
    return FlattenObservation(FilterObservation(env, keys))


def _is_gymnasiums_own(env: gym.Env) -> bool:
    """Whether ``env`` is one of Gymnasium's built-in envs, told by its entry point's module.

    Gymnasium's test suite runs check_env on every env it registers (tests/envs/test_envs.py),
    so checking CartPole, Pendulum or a MuJoCo env again costs its construction and steps and
    finds nothing; an entry point outside ``gymnasium.`` (a user's package that called
    ``gymnasium.register``, a third-party suite) is code Gymnasium has not checked."""
    entry = env.spec.entry_point if env.spec is not None else None
    module = entry.partition(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")
    return module == "gymnasium" or module.startswith("gymnasium.")


def _make_user(
    module_name: str, attr: str, env_id: str, kwargs: dict[str, Any]
) -> JaxEnv | HostEnv:
    # Like `python -m`, find the user's module in the current directory too.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UserError(f"env {env_id}: cannot import module '{module_name}': {e}") from None
    factory = getattr(module, attr, None)
    if not callable(factory) and attr in gym.registry:
        # Gymnasium's own module:EnvId form: importing the module registered the id.
        return _make_gymnasium(attr, env_id, kwargs)
    if not callable(factory):
        raise UserError(
            f"env {env_id}: module '{module_name}' has no callable '{attr}' (read as "
            f"module:factory) and registers no Gymnasium env '{attr}' (read as module:EnvId)"
        )
    try:
        env = factory(**kwargs)
    except Exception as e:  # the user's code: report it, do not crash with its traceback
        raise UserError(f"env {env_id}: the factory raised {type(e).__name__}: {e}") from None
    if all(hasattr(env, a) for a in ("reset_env", "step_env", "default_params")):
        params = env.default_params
        return JaxEnv(env, params, spec_from_gymnax(env_id, env, params))
    if isinstance(env, gym.Env):
        try:
            wrap = observation_wrapper(env_id, env.observation_space)
            spec = spec_from_gymnasium(env_id, wrap(env) if wrap else env)
            check_gymnasium_env(env_id, env)
        finally:
            env.close()
        # Every env rlcheck steps comes fresh from the factory, untouched by the check's steps.
        return HostEnv(_wrapped(functools.partial(factory, **kwargs), wrap), spec)
    raise UserError(
        f"env {env_id}: factory returned {type(env).__name__}, which is neither a "
        "Gymnasium env nor a gymnax-style env (reset_env/step_env/default_params)"
    )


def check_gymnasium_env(env_id: str, env: gym.Env) -> None:
    """Run Gymnasium's ``check_env`` on a user's env (it resets and steps ``env``).

    Raises:
        UserError: what check_env raises, or the env raises while checked, in one line:
            ``env <id>: check_env: <problem>``.

    Warns:
        EnvWarning: one per distinct check_env warning that applies to rlcheck, in the same form.
    """
    # Rendering is skipped (rlcheck never renders; "human" mode would open a window), and so is
    # the double-close check, which builds another env (rlcheck closes each env once).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_env(env, skip_render_check=True, skip_close_check=True)
        except Exception as e:  # the user's env: report it, do not crash with its traceback
            detail = _one_line(str(e))
            if not isinstance(e, AssertionError) or not detail:
                detail = f"{type(e).__name__}: {detail}" if detail else type(e).__name__
            raise UserError(f"env {env_id}: check_env: {detail}") from None
    found = dict.fromkeys(_one_line(str(w.message)) for w in caught)
    for message in found:
        if not any(part in message for part in _NOT_FOR_RLCHECK):
            warnings.warn(f"env {env_id}: check_env: {message}", EnvWarning, stacklevel=1)


def _one_line(text: str) -> str:
    """Gymnasium's message without its colour codes and "WARN: " prefix, on one line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip().removeprefix("WARN: ")
    return " ".join(text.split())
