"""Value ranges as users write them, on the command line and in specs: ``A:B:N`` is N evenly
spaced values from A to B, ``A:B:N:log`` N log-spaced ones (A and B > 0), ``a,b,c`` a list, and
one number is itself. ``NAME=RANGE`` (``--vary length=0.05:2.0:32``) names what varies.

Shared by every command that varies something (``rlcheck sweep``, ``rlcheck robustness``), so
the same text means the same values everywhere; each mistake is a one-line
:class:`~rlcheck.errors.UserError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from rlcheck.errors import UserError

SYNTAX = "A:B:N (N evenly spaced values), A:B:N:log (log-spaced) or a,b,c (a list)"


@dataclass(frozen=True)
class Range:
    """Parsed values: ``values`` is the grid, in the order written; a range also keeps its
    bounds, which random search and TPE draw from (uniformly, or log-uniformly when ``scale``
    is "log")."""

    values: tuple[float, ...]
    scale: Literal["linear", "log", "list"]
    low: float | None = None
    high: float | None = None

    @property
    def log(self) -> bool:
        """Asked for log-spaced (``A:B:N:log``): plot and integrate the values on a log axis."""
        return self.scale == "log"


class Values(NamedTuple):
    """Parsed values, in the order written, and whether they were asked for log-spaced."""

    values: list[float]
    log: bool


def parse_range(text: str | float | list[Any], where: str) -> Range:
    """The values ``text`` names (see the module docstring) as a :class:`Range`.

    Args:
        text: ``"A:B:N"``, ``"A:B:N:log"``, ``"a,b,c"`` or one number; specs may also give a
            number or a list of numbers.
        where: where the text came from, for messages (``--vary length``,
            ``spec.toml: robustness.vary.length``).

    Raises:
        UserError: one line naming ``where`` and the accepted forms: a part that is not a
            number, N below 1 or not a whole number, a log range with a bound ≤ 0, an empty
            list or list item.
    """
    if isinstance(text, bool):
        raise UserError(f"{where}: expected numbers, got {text!r} ({SYNTAX})")
    if isinstance(text, int | float):
        return Range((_number(text, where),), "list")
    if isinstance(text, list):
        if not text:
            raise UserError(f"{where}: the list of values is empty")
        return Range(tuple(_number(v, where) for v in text), "list")
    if not isinstance(text, str):
        raise UserError(f"{where}: expected {SYNTAX}, got {text!r}")
    text = text.strip()
    if not text:
        raise UserError(f"{where}: no values given; write {SYNTAX}")
    if ":" not in text:
        items = [item.strip() for item in text.split(",")]
        if any(not item for item in items):
            raise UserError(f"{where}: empty item in the list '{text}'; write {SYNTAX}")
        return Range(tuple(_number(item, where) for item in items), "list")
    parts = [part.strip() for part in text.split(":")]
    log = len(parts) == 4 and parts[3] == "log"
    if len(parts) != 3 and not log:
        raise UserError(f"{where}: '{text}' is not a range; write {SYNTAX}")
    low, high = _number(parts[0], where), _number(parts[1], where)
    if not parts[2].isdigit():
        raise UserError(f"{where}: N in '{text}' must be a whole number, got '{parts[2]}'")
    count = int(parts[2])
    if count < 1:
        raise UserError(f"{where}: N in '{text}' must be at least 1, got {count}")
    if log:
        if low <= 0 or high <= 0:
            raise UserError(f"{where}: a log range needs bounds above 0, got '{text}'")
        grid = np.geomspace(low, high, count)
    else:
        grid = np.linspace(low, high, count)
    # 12 significant digits: 0.1:0.3:3 reads back as 0.2, not 0.19999999999999998 (the ends
    # stay exact: geomspace and linspace return A and B themselves).
    values = tuple(float(f"{v:.12g}") for v in grid)
    return Range(values, "log" if log else "linear", low, high)


def parse_values(text: str | float | list[Any], where: str) -> Values:
    """The values ``text`` names and whether they are log-spaced (see :func:`parse_range`):
    ``values, log = parse_values("1e-4:1e-2:3:log", "--vary lr")`` gives
    ``[1e-4, 1e-3, 1e-2]`` and True."""
    parsed = parse_range(text, where)
    return Values(list(parsed.values), parsed.log)


def parse_vary(text: str, where: str) -> tuple[str, Values]:
    """``NAME=VALUES`` (``length=0.05:2.0:32``) as the name and its :func:`parse_values`.

    Raises:
        UserError: no ``=``, an empty name, or values :func:`parse_values` rejects.
    """
    name, equals, values = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise UserError(f"{where}: expected NAME=VALUES (e.g. length=0.05:2.0:32), got '{text}'")
    return name, parse_values(values, f"{where} {name}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise UserError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: '{value}' is not a number ({SYNTAX})") from None
    if not math.isfinite(number):
        raise UserError(f"{where}: '{value}' is not a finite number")
    return number
