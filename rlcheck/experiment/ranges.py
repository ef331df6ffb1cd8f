"""Values written as text: ``A:B:N`` (N evenly spaced from A to B), ``A:B:N:log`` (N spaced
evenly in log from A to B) and ``a,b,c`` (a list), as ``--vary`` and ``[sweep.vary]`` take them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rlcheck.errors import UserError


@dataclass(frozen=True)
class Range:
    """Parsed values: ``values`` is the grid; a range also keeps its bounds, which random search
    and TPE draw from (uniformly, or log-uniformly when ``scale`` is "log")."""

    values: tuple[float, ...]
    scale: Literal["linear", "log", "list"]
    low: float | None = None
    high: float | None = None


def parse_range(text: str, where: str) -> Range:
    """``A:B:N``, ``A:B:N:log`` or ``a,b,c`` as a :class:`Range`.

    Raises:
        UserError: one line naming ``where``: a part that is not a number, N below 1 or not a
            whole number, a log range with a bound ≤ 0, an empty list item.
    """
    text = text.strip()
    if ":" not in text:
        items = [item.strip() for item in text.split(",")]
        if not text or any(not item for item in items):
            raise UserError(f"{where}: empty value in '{text}'; write a,b,c, A:B:N or A:B:N:log")
        return Range(tuple(_number(item, where) for item in items), "list")
    parts = [p.strip() for p in text.split(":")]
    log = len(parts) == 4 and parts[3] == "log"
    if len(parts) != 3 and not log:
        raise UserError(
            f"{where}: '{text}' is not a range; write A:B:N (N evenly spaced values from A to "
            "B), A:B:N:log (log-spaced) or a,b,c (a list)"
        )
    low, high = _number(parts[0], where), _number(parts[1], where)
    try:
        n = int(parts[2])
    except ValueError:
        raise UserError(
            f"{where}: N in '{text}' must be a whole number, got '{parts[2]}'"
        ) from None
    if n < 1:
        raise UserError(f"{where}: N in '{text}' must be at least 1, got {n}")
    if log:
        if low <= 0 or high <= 0:
            raise UserError(f"{where}: a log range needs bounds above 0, got '{text}'")
        grid = np.geomspace(low, high, n)
    else:
        grid = np.linspace(low, high, n)
    return Range(tuple(float(v) for v in grid), "log" if log else "linear", low, high)


def parse_values(text: str, where: str) -> list[float]:
    """The values ``A:B:N``, ``A:B:N:log`` or ``a,b,c`` stand for (see :func:`parse_range`)."""
    return list(parse_range(text, where).values)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: '{text}' is not a number") from None
    if not np.isfinite(value):
        raise UserError(f"{where}: '{text}' is not a finite number")
    return value
