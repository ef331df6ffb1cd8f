"""Published hyperparameters per (algorithm, env), named by source (e.g. ``rl-zoo``, ``cleanrl``).

Each algorithm module holds its own ``PRESETS = {source: {env: {field: value}}}``, every entry
citing the file it was taken from; a spec picks one with ``preset = "rl-zoo"`` and may still
override single fields in ``[algo.config]``.
"""

from __future__ import annotations

from typing import Any

from rlcheck.errors import UserError


def bare_env_id(env_id: str) -> str:
    """``gymnax:CartPole-v1`` and ``gymnasium:CartPole-v1`` both look up ``CartPole-v1``."""
    prefix, _, rest = env_id.partition(":")
    return rest if prefix in ("gymnax", "gymnasium") and rest else env_id


def resolve_preset(
    presets: dict[str, dict[str, dict[str, Any]]], algo: str, source: str, env_id: str, where: str
) -> dict[str, Any]:
    """The config fields preset ``source`` gives ``algo`` on ``env_id``.

    Raises:
        UserError: unknown source, or no entry for this env (the message lists what exists).
    """
    if source not in presets:
        known = ", ".join(sorted(presets)) or "none"
        raise UserError(f"{where}.preset: {algo} has no preset source '{source}' (known: {known})")
    table = presets[source]
    env = bare_env_id(env_id)
    if env not in table:
        raise UserError(
            f"{where}.preset: no {source} preset for {algo} on {env} (it has: "
            f"{', '.join(sorted(table))})"
        )
    return dict(table[env])
